//! Keeping webhooks from reaching into the shop's own network (server-side request forgery).
//!
//! An endpoint URL must be `https` and its host must not be, or resolve to, a loopback,
//! private, link-local, carrier-grade NAT, multicast, reserved or cloud-metadata address. The
//! URL is checked when it is saved, and every address its name resolves to is checked again
//! on every delivery, right before connecting to exactly those addresses — so a name that
//! later starts resolving to `127.0.0.1` (DNS rebinding) is refused too.
//! `WEBHOOK_ALLOW_PRIVATE_URLS=true` turns all of this off (and allows `http`), for tests and
//! local development.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use std::sync::OnceLock;

use regex::Regex;
use url::Url;

/// Longest endpoint URL, in characters.
pub const MAX_URL_CHARS: usize = 2048;

/// What an endpoint URL must look like (unless private URLs are allowed): `https://`, a DNS
/// name of at least two labels whose last one starts with a letter (so never an IP literal or
/// a bare `localhost`), an optional port, path and query, no fragment, no credentials. The
/// OpenAPI document publishes this same pattern.
pub const URL_PATTERN: &str = r"^https://(?:[a-z0-9]+(?:-[a-z0-9]+)*\.)+[a-z][a-z0-9]*(?:-[a-z0-9]+)*(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?(?:/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(?:\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$";

#[expect(
    clippy::expect_used,
    reason = "a constant pattern, compiled by the tests"
)]
fn url_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| Regex::new(URL_PATTERN).expect("URL_PATTERN is a valid regex"))
}

/// Why `ip` may not be called, or `None` when it is a public address.
pub fn forbidden_ip(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local or cloud metadata address")
    } else if a == 0 || ip.is_broadcast() {
        Some("an unspecified or broadcast address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a carrier-grade NAT address")
    } else if ip.is_multicast() || a >= 240 {
        Some("a multicast or reserved address")
    } else if (a, b, c) == (192, 0, 0) || (a == 198 && (b == 18 || b == 19)) {
        Some("a special-purpose address")
    } else if ip.is_documentation() {
        Some("a documentation address")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address that is what is reached.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = segments[6].to_be_bytes();
        let [c, d] = segments[7].to_be_bytes();
        return forbidden_v4(Ipv4Addr::new(a, b, c, d));
    }
    if segments[0] == 0x2002 {
        let [a, b] = segments[1].to_be_bytes();
        let [c, d] = segments[2].to_be_bytes();
        return forbidden_v4(Ipv4Addr::new(a, b, c, d));
    }
    if ip.is_loopback() || ip.is_unspecified() {
        Some("a loopback or unspecified address")
    } else if ip.is_unique_local() {
        Some("a private address")
    } else if ip.is_unicast_link_local() || segments[0] & 0xffc0 == 0xfec0 {
        Some("a link-local address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if segments[0] == 0x2001 && segments[1] == 0x0db8 {
        Some("a documentation address")
    } else if segments[..5] == [0, 0, 0, 0, 0] {
        Some("an IPv4-compatible address")
    } else {
        None
    }
}

/// Checks an endpoint URL as an admin gives it, at most 2,048 characters. Without
/// `allow_private` it must match [`URL_PATTERN`] (`https`, a DNS name — never an IP literal or
/// `localhost`); the addresses that name resolves to are checked on every delivery. With
/// `allow_private` any `http://` or `https://` URL with a host and no credentials will do.
pub fn check_url(text: &str, allow_private: bool) -> Result<String, String> {
    if text.chars().count() > MAX_URL_CHARS {
        return Err(format!("must be at most {MAX_URL_CHARS} characters"));
    }
    if !allow_private && !url_pattern().is_match(text) {
        return Err(
            "must be an https:// URL with a public host name (no IP address, \
                    no localhost, no credentials, no #fragment); set \
                    WEBHOOK_ALLOW_PRIVATE_URLS=true for local development"
                .into(),
        );
    }
    let url = Url::parse(text).map_err(|e| format!("is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http:// or https:// URL".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password".into());
    }
    if url.fragment().is_some() {
        return Err("must not contain a #fragment".into());
    }
    if url.host().is_none() {
        return Err("must name a host".into());
    }
    Ok(url.to_string())
}

/// Resolves `netloc` (`host:port`) and returns its addresses, or an error naming the first
/// forbidden one (unless private URLs are allowed). Used as the HTTP client's resolver, so the
/// addresses checked are the addresses connected to.
pub fn resolve(netloc: &str, allow_private: bool) -> std::io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{netloc} has no address"),
        ));
    }
    if !allow_private {
        for addr in &addrs {
            if let Some(why) = forbidden_ip(addr.ip()) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("refused: {netloc} resolves to {}, {why}", addr.ip()),
                ));
            }
        }
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forbidden(text: &str) -> bool {
        forbidden_ip(text.parse().unwrap()).is_some()
    }

    #[test]
    fn private_and_special_addresses_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "100.100.100.200",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "::127.0.0.1",
        ] {
            assert!(forbidden(ip), "{ip} should be forbidden");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700::1111"] {
            assert!(!forbidden(ip), "{ip} is public");
        }
    }

    #[test]
    fn urls_must_be_https_and_public_unless_allowed() {
        assert_eq!(
            check_url("https://erp.example.com/hooks?x=1", false).unwrap(),
            "https://erp.example.com/hooks?x=1"
        );
        for bad in [
            "http://erp.example.com/hooks",
            "https://127.0.0.1/hooks",
            "https://[::1]:8443/",
            "https://10.0.0.5/",
            "https://169.254.169.254/latest/meta-data",
            "https://localhost/",
            "https://0x7f.1/",
            "https://erp.example.com:99999/",
            "https://user:pw@erp.example.com/",
            "ftp://erp.example.com/",
            "not a url",
            "https://erp.example.com/#x",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad} should be refused");
        }
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_url("ftp://127.0.0.1/", true).is_err());
        assert!(check_url(&format!("https://e.com/{}", "a".repeat(2048)), false).is_err());
    }

    #[test]
    fn resolution_refuses_names_of_private_addresses() {
        let error = resolve("localhost:443", false).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::PermissionDenied);
        assert!(error.to_string().contains("refused"), "{error}");
        assert!(resolve("127.0.0.1:80", true).is_ok());
    }
}
