//! Configuration from the environment, with `.env` read when present.
//!
//! Every variable is documented in `.env.example` at the root of the repository. A value that
//! cannot be used stops start-up with a [`SettingsError`] that names the variable.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::Email;

/// Everything the shop is configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `HOST`: address to listen on.
    pub host: String,
    /// `PORT`: port to listen on (0 picks a free one).
    pub port: u16,
    /// `PUBLIC_BASE_URL`: base of the links in emails, without a trailing slash.
    pub public_base_url: String,
    /// `WORKERS`: HTTP worker threads; `None` means one per core.
    pub workers: Option<usize>,
    /// `SHUTDOWN_TIMEOUT_SECS`: how long a graceful shutdown waits for in-flight requests.
    pub shutdown_timeout_secs: u64,
    /// `CORS_ALLOWED_ORIGINS`: origins allowed to call the API from a browser (`*` for any).
    pub cors_allowed_origins: Vec<String>,
    /// The database.
    pub database: DatabaseSettings,
    /// Token signing and lifetimes.
    pub jwt: JwtSettings,
    /// Password hashing cost.
    pub argon2: Argon2Settings,
    /// `PASSWORD_HASH_CONCURRENCY`: password hashes computed at once (each takes
    /// `ARGON2_MEMORY_KIB` of memory and a core for ~20 ms); further signins wait their turn.
    pub password_hash_concurrency: usize,
    /// `PASSWORD_HASH_CORES`: cores kept for the hashing threads while they hash; the
    /// threads that serve requests leave those cores meanwhile and have every core again
    /// when no hash is running. 0 turns this off (the scheduler places everything).
    pub password_hash_cores: usize,
    /// Outgoing mail.
    pub mail: MailSettings,
    /// `ADMIN_EMAIL`: a verified admin with this address is created at start if absent.
    pub admin_email: Option<Email>,
    /// `ADMIN_PASSWORD`: the password of that admin (also read by `emporium admin create`).
    pub admin_password: Option<Secret>,
    /// `REQUIRE_EMAIL_VERIFICATION`: signin refused until the email is verified.
    pub require_email_verification: bool,
    /// `LOGIN_MAX_FAILURES_PER_EMAIL`: failed signins per email per 15 minutes (0 = no limit).
    pub login_max_failures_per_email: u32,
    /// `LOGIN_MAX_FAILURES_PER_IP`: failed signins per client address per minute (0 = no limit).
    pub login_max_failures_per_ip: u32,
    /// `TRUSTED_PROXIES`: proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// `MAIL_REQUESTS_MAX_PER_IP`: signup, resend-verification and forgot-password requests
    /// (together) one client address may make per minute (0 = no limit).
    pub mail_requests_max_per_ip: u32,
    /// `METRICS_TOKEN`: when set, `GET /metrics` needs `Authorization: Bearer` with it.
    pub metrics_token: Option<Secret>,
    /// `CATALOG_CACHE_MAX_AGE_SECS`: `max-age` of public catalog responses (0: caches
    /// revalidate every time, which their `ETag` makes cheap).
    pub catalog_cache_max_age_secs: u32,
    /// `DB_QUEUE_MAX`: requests' database work that may wait for a database thread (there
    /// are `DB_POOL_SIZE` threads); past it a request is answered 503 `busy`.
    pub db_queue_max: usize,
    /// `REQUIRE_SHIPPING_ADDRESS`: checkout needs a `shipping_address` or `address_id`.
    pub require_shipping_address: bool,
    /// Webhook delivery.
    pub webhooks: WebhookSettings,
    /// Logging.
    pub log: LogSettings,
}

/// How webhook events are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookSettings {
    /// `WEBHOOK_MAX_ATTEMPTS`: delivery attempts before a delivery is marked failed.
    pub max_attempts: u32,
    /// `WEBHOOK_RETRY_BASE_MS`: wait after the first failed attempt; doubles each time, up to
    /// one hour.
    pub retry_base_ms: u64,
    /// `WEBHOOK_POLL_INTERVAL_MS`: how often the worker looks for due deliveries when not
    /// woken (deliveries queued by another server, retries coming due).
    pub poll_interval_ms: u64,
    /// `WEBHOOK_ALLOW_PRIVATE_URLS`: allow `http` and loopback, private and link-local
    /// addresses (tests and local development only).
    pub allow_private_urls: bool,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            max_attempts: 12,
            retry_base_ms: 5_000,
            poll_interval_ms: 1_000,
            allow_private_urls: false,
        }
    }
}

/// Where the data lives and how SQLite is tuned.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `DATABASE_URL` as given.
    pub url: String,
    /// Which database server `DATABASE_URL` names.
    pub backend: DatabaseBackend,
    /// The SQLite file that URL names (`-wal`/`-shm` live beside it); empty on PostgreSQL.
    pub path: PathBuf,
    /// `SQLITE_SYNCHRONOUS`: durability of commits.
    pub synchronous: Synchronous,
    /// `DB_BUSY_TIMEOUT_MS`: how long a connection waits for a lock before giving up.
    pub busy_timeout_ms: u32,
    /// `DB_POOL_SIZE`: connections in the pool (the server runs request work on this many
    /// threads, and adds a connection per password-hashing thread and one for background
    /// work; see `emporium_server::open_database`).
    pub pool_size: u32,
    /// `SQLITE_CACHE_KIB`: each SQLite connection's page cache, in KiB (the operating system
    /// caches the file besides).
    pub sqlite_cache_kib: u32,
}

impl DatabaseSettings {
    /// The default of `SQLITE_CACHE_KIB`: an eighth of SQLite's own 2 MiB. Every pooled
    /// connection keeps its own cache, and pages it misses are a copy from the operating
    /// system's file cache away: at 256 KiB the catalog reads were as fast as at 2 MiB, at
    /// 10k and at 1M products, with 15 MiB less memory for a pool of eight (BENCHMARKS.md).
    pub const DEFAULT_SQLITE_CACHE_KIB: u32 = 256;
}

/// The database behind `DATABASE_URL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseBackend {
    /// An embedded SQLite file (the default): one server process, or several on one machine.
    Sqlite,
    /// A PostgreSQL server (`postgres://` or `postgresql://`): any number of server processes
    /// on any number of machines.
    Postgres,
}

impl DatabaseSettings {
    /// What the start-up log and error messages call the database: the absolute path of the
    /// SQLite file, or the PostgreSQL URL with any password masked.
    pub fn describe(&self) -> String {
        match self.backend {
            DatabaseBackend::Sqlite => std::path::absolute(&self.path)
                .unwrap_or_else(|_| self.path.clone())
                .display()
                .to_string(),
            DatabaseBackend::Postgres => mask_password(&self.url),
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// SQLite's `synchronous` pragma.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// No fsync: fast, and a power loss can lose or corrupt recent commits.
    Off,
    /// With WAL, a power loss can lose the latest commits but never corrupts.
    Normal,
    /// Every commit is on disk before it is acknowledged (the default).
    Full,
    /// Like `Full`, and also syncs the directory.
    Extra,
}

impl Synchronous {
    /// The pragma value.
    pub fn as_sql(self) -> &'static str {
        match self {
            Synchronous::Off => "OFF",
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
            Synchronous::Extra => "EXTRA",
        }
    }
}

/// Token signing and lifetimes.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    /// `JWT_SECRET`: the HS256 key, at least 32 bytes.
    pub secret: Secret,
    /// Where the secret came from (for the start-up log).
    pub source: SecretSource,
    /// `ACCESS_TOKEN_TTL_SECS`.
    pub access_ttl_secs: u64,
    /// `REFRESH_TOKEN_TTL_SECS`.
    pub refresh_ttl_secs: u64,
    /// `VERIFICATION_TOKEN_TTL_SECS`: how long an email-verification link works.
    pub verification_ttl_secs: u64,
    /// `RESET_TOKEN_TTL_SECS`: how long a password-reset link works.
    pub reset_ttl_secs: u64,
}

impl JwtSettings {
    /// Puts in the secret kept in the database (see [`SecretSource::Database`]), after checking
    /// it as `JWT_SECRET` would be checked.
    pub fn set_database_secret(&mut self, secret: String) -> Result<(), SettingsError> {
        check_jwt_secret(&secret).map_err(|m| {
            invalid(
                "JWT_SECRET",
                format!("the secret stored in the database (table shared_secrets) {m}"),
            )
        })?;
        self.secret = Secret(secret);
        Ok(())
    }

    /// Whether a usable secret is in place (false only on PostgreSQL before
    /// [`JwtSettings::set_database_secret`]).
    pub fn has_secret(&self) -> bool {
        !self.secret.0.is_empty()
    }
}

/// A new random 256-bit secret, as 64 hex characters.
pub fn generate_secret() -> io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Argon2id cost for new password hashes. Never below the OWASP minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Settings {
    /// `ARGON2_MEMORY_KIB` (at least 19456).
    pub memory_kib: u32,
    /// `ARGON2_ITERATIONS` (at least 2).
    pub iterations: u32,
    /// `ARGON2_PARALLELISM` (at least 1).
    pub parallelism: u32,
}

/// Where the JWT secret came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `JWT_SECRET` was set.
    Environment,
    /// No `JWT_SECRET`: a new secret was generated and stored in this file.
    Generated(PathBuf),
    /// No `JWT_SECRET`: the secret generated on an earlier start was read from this file.
    Stored(PathBuf),
    /// No `JWT_SECRET` on PostgreSQL: the secret is generated once and kept in the database
    /// (table `shared_secrets`), so every server process shares it. Until the server has read
    /// it from there ([`JwtSettings::set_database_secret`]) the secret is empty and no token
    /// can be signed or checked.
    Database,
}

/// A secret string whose `Debug` output does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself. Call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Outgoing mail transport.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `EMAIL_BACKEND`.
    pub backend: EmailBackend,
    /// `MAIL_HOST`.
    pub host: String,
    /// `MAIL_PORT`.
    pub port: u16,
    /// `MAIL_TLS`.
    pub tls: MailTls,
    /// `MAIL_USERNAME`.
    pub username: Option<String>,
    /// `MAIL_PASSWORD`.
    pub password: Option<Secret>,
    /// `MAIL_FROM`: the sender address.
    pub from: Email,
    /// `MAIL_FROM_NAME`: the sender's display name (also the shop name in messages).
    pub from_name: String,
    /// `MAIL_MAX_ATTEMPTS`: delivery attempts before a message is marked failed.
    pub max_attempts: u32,
    /// `MAIL_RETRY_BASE_MS`: wait after the first failed attempt; doubles each time, up to
    /// an hour.
    pub retry_base_ms: u64,
    /// `MAIL_POLL_INTERVAL_MS`: how often the worker looks for due messages when nothing
    /// wakes it.
    pub poll_interval_ms: u64,
    /// `MAIL_MAX_PER_ADDRESS_15MIN`: verification or reset mails one address may get in any
    /// 15 minutes, per kind (0 = no limit).
    pub max_per_address_15min: u32,
    /// `MAIL_MAX_PER_ADDRESS_DAY`: the same in any 24 hours (0 = no limit).
    pub max_per_address_day: u32,
    /// `MAIL_CA_FILE`: a PEM bundle trusted for the SMTP server's TLS certificate, in addition
    /// to the system's roots (a private CA).
    pub ca_file: Option<PathBuf>,
}

/// How mail leaves the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailBackend {
    /// Messages are written to the log (the default: no mail server needed).
    Log,
    /// SMTP to a local catcher (Mailpit, mailtutan): localhost:1025, no TLS, no auth.
    Mailpit,
    /// Gmail's SMTP with an app password.
    Gmail,
    /// Any SMTP server.
    Smtp,
}

/// Transport security for SMTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailTls {
    /// Plain text.
    None,
    /// Upgrade a plain connection with STARTTLS (required, not opportunistic).
    StartTls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

/// Logging output.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// `RUST_LOG`: the filter (`info`, `emporium=debug,actix_web=info`).
    pub filter: String,
    /// `LOG_FORMAT`.
    pub format: LogFormat,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// An address or a CIDR range (`10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// True when `ip` lies in this range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("'{s}' is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{s}' has a bad prefix length"))?,
        };
        Ok(IpNet { addr, prefix })
    }
}

/// Why the settings cannot be used. The message names the variable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A variable has a value that cannot be used.
    #[error("{variable}: {message}")]
    Invalid {
        /// The environment variable.
        variable: &'static str,
        /// What is wrong and what would be accepted.
        message: String,
    },
    /// `.env` exists but cannot be read.
    #[error(".env: {0}")]
    DotEnv(String),
    /// The generated JWT secret could not be stored or read.
    #[error("JWT_SECRET is not set and the generated secret could not be kept in {path}: {source}")]
    SecretFile {
        /// The secret file beside the database.
        path: PathBuf,
        /// The I/O failure.
        source: io::Error,
    },
}

impl SettingsError {
    /// The variable at fault, if one is.
    pub fn variable(&self) -> Option<&str> {
        match self {
            SettingsError::Invalid { variable, .. } => Some(variable),
            SettingsError::SecretFile { .. } => Some("JWT_SECRET"),
            SettingsError::DotEnv(_) => None,
        }
    }
}

fn invalid(variable: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        variable,
        message: message.into(),
    }
}

/// The placeholder `.env.example` shows for `JWT_SECRET`; refused at start-up.
pub const EXAMPLE_JWT_SECRET: &str = "change-me-to-a-long-random-string";

/// Secrets that tutorials and templates ship with. All are refused.
const KNOWN_PLACEHOLDERS: &[&str] = &[
    EXAMPLE_JWT_SECRET,
    "secret",
    "changeme",
    "change-me",
    "change_me",
    "jwt-secret",
    "jwt_secret",
    "jwtsecret",
    "secret-key",
    "secret_key",
    "secretkey",
    "your-secret-key",
    "your_secret_key",
    "supersecret",
    "super-secret",
    "password",
    "default",
    "test",
    // The key from FastAPI's OAuth2/JWT tutorial, which shops built on it often keep.
    "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7",
];

/// Refuses a JWT secret that is a known placeholder, shorter than 32 bytes, or made of very
/// few distinct bytes. The error says why (without repeating the secret).
pub fn check_jwt_secret(secret: &str) -> Result<(), String> {
    let lower = secret.trim().to_ascii_lowercase();
    let placeholder_words = [
        "change-me",
        "changeme",
        "change_me",
        "placeholder",
        "your-secret",
    ];
    if KNOWN_PLACEHOLDERS.contains(&lower.as_str())
        || placeholder_words.iter().any(|w| lower.contains(w))
    {
        return Err("is a placeholder; set a random value of at least 32 bytes \
                    (for example `openssl rand -hex 32`) or remove it to have one generated"
            .into());
    }
    if secret.len() < 32 {
        return Err(format!(
            "is {} bytes long; it must be at least 32 bytes (for example `openssl rand -hex 32`)",
            secret.len()
        ));
    }
    let mut distinct = secret.bytes().collect::<Vec<_>>();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 8 {
        return Err("has too little variety to be a random key; use `openssl rand -hex 32`".into());
    }
    Ok(())
}

impl Settings {
    /// Reads the process environment, falling back to `.env` (searched from the current
    /// directory upwards) for variables the environment does not set.
    ///
    /// When `JWT_SECRET` is unset a secret is generated once and kept beside the database
    /// (see [`SecretSource`]).
    pub fn from_env() -> Result<Settings, SettingsError> {
        let dotenv = read_dotenv()?;
        Settings::from_lookup(|name| {
            std::env::var(name)
                .ok()
                .or_else(|| dotenv.get(name).cloned())
        })
    }

    /// Builds the settings from `lookup`, which answers a variable's value. Empty values count
    /// as unset. Used by tests and by programs that embed the shop with their own config.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };

        let host = get("HOST").unwrap_or_else(|| "127.0.0.1".into());
        let port: u16 = parse_var(&get, "PORT", 8080, "a port number (0..=65535)")?;
        let public_base_url = match get("PUBLIC_BASE_URL") {
            Some(url) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 9 {
                    return Err(invalid(
                        "PUBLIC_BASE_URL",
                        format!("'{url}' must start with http:// or https://"),
                    ));
                }
                url.trim_end_matches('/').to_string()
            }
            None if host.contains(':') => format!("http://[{host}]:{port}"),
            None => format!("http://{host}:{port}"),
        };
        let workers = match get("WORKERS") {
            None => None,
            Some(v) => Some(
                v.parse::<usize>()
                    .ok()
                    .filter(|n| (1..=256).contains(n))
                    .ok_or_else(|| {
                        invalid("WORKERS", format!("'{v}' must be a number from 1 to 256"))
                    })?,
            ),
        };
        let shutdown_timeout_secs =
            parse_var(&get, "SHUTDOWN_TIMEOUT_SECS", 30, "a number of seconds")?;
        let cors_allowed_origins = list(get("CORS_ALLOWED_ORIGINS"));
        for origin in &cors_allowed_origins {
            if origin != "*" && !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(invalid(
                    "CORS_ALLOWED_ORIGINS",
                    format!("'{origin}' must be an origin such as https://shop.example or *"),
                ));
            }
        }

        let database = database_settings(&get)?;
        // JWT_SECRET, or the FastAPI shop's name for it when JWT_SECRET is unset.
        let configured = match get("JWT_SECRET") {
            Some(secret) => Some(("JWT_SECRET", secret)),
            None => get("SECRET_KEY").map(|secret| ("SECRET_KEY", secret)),
        };
        let (secret, source) = resolve_jwt_secret(configured, &database)?;
        // ACCESS_TOKEN_EXPIRE_MINUTES is the FastAPI shop's name; ACCESS_TOKEN_TTL_SECS wins.
        let access_ttl_secs = match (
            get("ACCESS_TOKEN_TTL_SECS"),
            get("ACCESS_TOKEN_EXPIRE_MINUTES"),
        ) {
            (None, Some(_)) => {
                let minutes: u64 = parse_var(
                    &get,
                    "ACCESS_TOKEN_EXPIRE_MINUTES",
                    15,
                    "a number of minutes",
                )?;
                minutes.saturating_mul(60)
            }
            _ => parse_var(&get, "ACCESS_TOKEN_TTL_SECS", 900, "a number of seconds")?,
        };
        let refresh_ttl_secs = parse_var(
            &get,
            "REFRESH_TOKEN_TTL_SECS",
            1_209_600,
            "a number of seconds",
        )?;
        if access_ttl_secs == 0 {
            return Err(invalid("ACCESS_TOKEN_TTL_SECS", "must be at least 1"));
        }
        if refresh_ttl_secs <= access_ttl_secs {
            return Err(invalid(
                "REFRESH_TOKEN_TTL_SECS",
                "must be longer than ACCESS_TOKEN_TTL_SECS",
            ));
        }
        let verification_ttl_secs = parse_var(
            &get,
            "VERIFICATION_TOKEN_TTL_SECS",
            86_400,
            "a number of seconds",
        )?;
        let reset_ttl_secs = parse_var(&get, "RESET_TOKEN_TTL_SECS", 1_800, "a number of seconds")?;
        for (name, value) in [
            ("VERIFICATION_TOKEN_TTL_SECS", verification_ttl_secs),
            ("RESET_TOKEN_TTL_SECS", reset_ttl_secs),
        ] {
            if value == 0 {
                return Err(invalid(name, "must be at least 1"));
            }
        }
        let jwt = JwtSettings {
            secret,
            source,
            access_ttl_secs,
            refresh_ttl_secs,
            verification_ttl_secs,
            reset_ttl_secs,
        };
        let argon2 = Argon2Settings {
            memory_kib: parse_var(&get, "ARGON2_MEMORY_KIB", 19_456, "a number of KiB")?,
            iterations: parse_var(&get, "ARGON2_ITERATIONS", 2, "a count")?,
            parallelism: parse_var(&get, "ARGON2_PARALLELISM", 1, "a count")?,
        };
        if argon2.memory_kib < 19_456 {
            return Err(invalid(
                "ARGON2_MEMORY_KIB",
                "must be at least 19456 (OWASP minimum)",
            ));
        }
        if argon2.iterations < 2 {
            return Err(invalid(
                "ARGON2_ITERATIONS",
                "must be at least 2 (OWASP minimum)",
            ));
        }
        if !(1..=16).contains(&argon2.parallelism) {
            return Err(invalid("ARGON2_PARALLELISM", "must be from 1 to 16"));
        }
        // Leave a core for everything else: a signin flood must not starve the catalog.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let password_hash_concurrency = parse_var(
            &get,
            "PASSWORD_HASH_CONCURRENCY",
            cores.saturating_sub(1).max(1),
            "a count",
        )?;
        if !(1..=256).contains(&password_hash_concurrency) {
            return Err(invalid(
                "PASSWORD_HASH_CONCURRENCY",
                "must be from 1 to 256",
            ));
        }
        // By default the hashing threads may keep half the cores to themselves, at most one
        // each: a core that hashes next to request threads makes those requests wait a
        // scheduler tick behind it (BENCHMARKS.md, step 10).
        let password_hash_cores = parse_var(
            &get,
            "PASSWORD_HASH_CORES",
            password_hash_concurrency.min(cores / 2),
            "a count",
        )?;
        if password_hash_cores >= cores {
            return Err(invalid(
                "PASSWORD_HASH_CORES",
                format!(
                    "must be less than the {cores} cores this process may use \
                     (requests need at least one), or 0 for off"
                ),
            ));
        }

        let mail = mail_settings(&get)?;
        let admin_email = match get("ADMIN_EMAIL") {
            None => None,
            Some(v) => {
                Some(Email::parse(&v).map_err(|e| invalid("ADMIN_EMAIL", format!("'{v}' {e}")))?)
            }
        };
        // The password is taken exactly as given: no trimming.
        let admin_password = lookup("ADMIN_PASSWORD")
            .filter(|v| !v.is_empty())
            .map(Secret);

        let require_email_verification = parse_bool(&get, "REQUIRE_EMAIL_VERIFICATION", true)?;
        let login_max_failures_per_email = parse_var(
            &get,
            "LOGIN_MAX_FAILURES_PER_EMAIL",
            5,
            "a count (0 turns the limit off)",
        )?;
        let login_max_failures_per_ip = parse_var(
            &get,
            "LOGIN_MAX_FAILURES_PER_IP",
            20,
            "a count (0 turns the limit off)",
        )?;
        let trusted_proxies = list(get("TRUSTED_PROXIES"))
            .iter()
            .map(|p| {
                p.parse::<IpNet>()
                    .map_err(|e| invalid("TRUSTED_PROXIES", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mail_requests_max_per_ip = parse_var(
            &get,
            "MAIL_REQUESTS_MAX_PER_IP",
            10,
            "a count per minute (0 turns the limit off)",
        )?;
        let db_queue_max: usize = parse_var(&get, "DB_QUEUE_MAX", 1_000, "a number of requests")?;
        let catalog_cache_max_age_secs: u32 =
            parse_var(&get, "CATALOG_CACHE_MAX_AGE_SECS", 0, "a number of seconds")?;
        if db_queue_max == 0 {
            return Err(invalid("DB_QUEUE_MAX", "must be at least 1"));
        }
        let metrics_token = match get("METRICS_TOKEN") {
            Some(token) if token.len() < 16 => {
                return Err(invalid(
                    "METRICS_TOKEN",
                    "must be at least 16 characters (for example `openssl rand -hex 16`)",
                ));
            }
            token => token.map(Secret),
        };

        let require_shipping_address = parse_bool(&get, "REQUIRE_SHIPPING_ADDRESS", false)?;
        let webhooks = WebhookSettings {
            max_attempts: parse_var(&get, "WEBHOOK_MAX_ATTEMPTS", 12, "a count")?,
            retry_base_ms: parse_var(
                &get,
                "WEBHOOK_RETRY_BASE_MS",
                5_000,
                "a number of milliseconds",
            )?,
            poll_interval_ms: parse_var(
                &get,
                "WEBHOOK_POLL_INTERVAL_MS",
                1_000,
                "a number of milliseconds",
            )?,
            allow_private_urls: parse_bool(&get, "WEBHOOK_ALLOW_PRIVATE_URLS", false)?,
        };
        if webhooks.max_attempts == 0 {
            return Err(invalid("WEBHOOK_MAX_ATTEMPTS", "must be at least 1"));
        }
        if webhooks.poll_interval_ms == 0 {
            return Err(invalid("WEBHOOK_POLL_INTERVAL_MS", "must be at least 1"));
        }

        let format = match get("LOG_FORMAT")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(
                    "LOG_FORMAT",
                    format!("'{other}' must be text or json"),
                ));
            }
        };
        let log = LogSettings {
            filter: get("RUST_LOG").unwrap_or_else(|| "info".into()),
            format,
        };

        Ok(Settings {
            host,
            port,
            public_base_url,
            workers,
            shutdown_timeout_secs,
            cors_allowed_origins,
            database,
            jwt,
            argon2,
            password_hash_concurrency,
            password_hash_cores,
            mail,
            admin_email,
            admin_password,
            require_email_verification,
            login_max_failures_per_email,
            login_max_failures_per_ip,
            trusted_proxies,
            mail_requests_max_per_ip,
            metrics_token,
            db_queue_max,
            catalog_cache_max_age_secs,
            require_shipping_address,
            webhooks,
            log,
        })
    }
}

fn read_dotenv() -> Result<HashMap<String, String>, SettingsError> {
    match dotenvy::dotenv_iter() {
        Ok(iter) => iter
            .map(|item| item.map_err(|e| SettingsError::DotEnv(e.to_string())))
            .collect(),
        Err(e) if e.not_found() => Ok(HashMap::new()),
        Err(e) => Err(SettingsError::DotEnv(e.to_string())),
    }
}

fn parse_var<T: FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
    expected: &str,
) -> Result<T, SettingsError> {
    match get(name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| invalid(name, format!("'{v}' is not {expected}"))),
    }
}

fn parse_bool(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, SettingsError> {
    match get(name).map(|v| v.to_ascii_lowercase()).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(other) => Err(invalid(name, format!("'{other}' must be true or false"))),
    }
}

fn list(value: Option<String>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn database_settings(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<DatabaseSettings, SettingsError> {
    let url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://emporium.db".into());
    let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
    // SQLite: readers (the writer has its own connection), on one machine; a read is CPU work
    // on pages the operating system keeps in memory, so threads past twice the cores only
    // wait, and each keeps a page cache and a malloc arena. PostgreSQL: per server process;
    // ten leaves room for several servers under PostgreSQL's default of 100 connections.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let default_pool = if postgres {
        10
    } else {
        (2 * cores).clamp(4, 8) as u32
    };
    let pool_size: u32 = parse_var(get, "DB_POOL_SIZE", default_pool, "a number of connections")?;
    if !(1..=64).contains(&pool_size) {
        return Err(invalid(
            "DB_POOL_SIZE",
            format!("'{pool_size}' must be from 1 to 64"),
        ));
    }
    let busy_timeout_ms = parse_var(get, "DB_BUSY_TIMEOUT_MS", 5_000, "a number of milliseconds")?;
    let sqlite_cache_kib: u32 = parse_var(
        get,
        "SQLITE_CACHE_KIB",
        DatabaseSettings::DEFAULT_SQLITE_CACHE_KIB,
        "a number of KiB",
    )?;
    if !(64..=4_194_304).contains(&sqlite_cache_kib) {
        return Err(invalid(
            "SQLITE_CACHE_KIB",
            format!("'{sqlite_cache_kib}' must be from 64 to 4194304 (4 GiB)"),
        ));
    }
    if postgres {
        let rest = url.split_once("://").map_or("", |(_, rest)| rest);
        if rest.is_empty() || rest == "/" {
            return Err(invalid(
                "DATABASE_URL",
                "a PostgreSQL URL names a host and a database, such as \
                 postgres://emporium:PASSWORD@db.internal:5432/emporium",
            ));
        }
        return Ok(DatabaseSettings {
            url,
            backend: DatabaseBackend::Postgres,
            path: PathBuf::new(),
            synchronous: Synchronous::Full,
            busy_timeout_ms,
            pool_size,
            sqlite_cache_kib,
        });
    }
    let path = sqlite_path(&url).map_err(|message| invalid("DATABASE_URL", message))?;
    let synchronous = match get("SQLITE_SYNCHRONOUS")
        .map(|v| v.to_ascii_uppercase())
        .as_deref()
    {
        None | Some("FULL") => Synchronous::Full,
        Some("NORMAL") => Synchronous::Normal,
        Some("EXTRA") => Synchronous::Extra,
        Some("OFF") => Synchronous::Off,
        Some(other) => {
            return Err(invalid(
                "SQLITE_SYNCHRONOUS",
                format!("'{other}' must be FULL, NORMAL, EXTRA or OFF"),
            ));
        }
    };
    Ok(DatabaseSettings {
        backend: DatabaseBackend::Sqlite,
        path,
        url,
        synchronous,
        busy_timeout_ms,
        pool_size,
        sqlite_cache_kib,
    })
}

/// The SQLite file a `DATABASE_URL` names, read as SQLAlchemy (the FastAPI shop) reads it:
///
/// - `sqlite:///relative/path` and `sqlite:///./x.db`: relative to the working directory;
/// - `sqlite:////absolute/path`: absolute (the fourth slash starts the path);
/// - `sqlite://x.db`, `sqlite:x.db` and a bare path: the path as written;
/// - `file:x.db` and `file:///absolute/path`: the path of the URI.
///
/// An in-memory database is refused: every pooled connection would get its own empty one,
/// and everything would be lost at exit.
fn sqlite_path(url: &str) -> Result<PathBuf, String> {
    let example = "name a file, such as sqlite:///emporium.db (relative) or \
                   sqlite:////var/lib/emporium/shop.db (absolute)";
    if url.ends_with(":memory:") || url.contains("mode=memory") {
        return Err(format!(
            "'{url}' is an in-memory database: each pooled connection would get its own empty \
             one and everything would be lost at exit; {example}"
        ));
    }
    let path = if let Some(rest) = url.strip_prefix("sqlite:///") {
        rest
    } else if let Some(rest) = url.strip_prefix("sqlite://") {
        rest
    } else if let Some(rest) = url.strip_prefix("file://") {
        rest
    } else if let Some(rest) = url.strip_prefix("file:") {
        rest
    } else if let Some(rest) = url.strip_prefix("sqlite:") {
        rest
    } else if url.contains("://") {
        return Err(format!(
            "'{url}' has an unknown scheme; use sqlite:///PATH or postgres://…"
        ));
    } else {
        url
    };
    if path.is_empty() {
        return Err(format!("'{url}' names no file; {example}"));
    }
    if path.contains('?') {
        return Err(format!(
            "'{url}' has URL options, which are not supported; {example}"
        ));
    }
    Ok(PathBuf::from(path))
}

fn mail_settings(get: &impl Fn(&str) -> Option<String>) -> Result<MailSettings, SettingsError> {
    let backend = match get("EMAIL_BACKEND")
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("log" | "console") => EmailBackend::Log,
        Some("mailpit") => EmailBackend::Mailpit,
        Some("gmail") => EmailBackend::Gmail,
        Some("smtp") => EmailBackend::Smtp,
        Some(other) => {
            return Err(invalid(
                "EMAIL_BACKEND",
                format!("'{other}' must be log, mailpit, gmail or smtp"),
            ));
        }
    };
    let tls = match get("MAIL_TLS").map(|v| v.to_ascii_lowercase()).as_deref() {
        None => match backend {
            EmailBackend::Log | EmailBackend::Mailpit => MailTls::None,
            EmailBackend::Gmail | EmailBackend::Smtp => MailTls::StartTls,
        },
        Some("none") => MailTls::None,
        Some("starttls") => MailTls::StartTls,
        Some("tls") => MailTls::Tls,
        Some(other) => {
            return Err(invalid(
                "MAIL_TLS",
                format!("'{other}' must be none, starttls or tls"),
            ));
        }
    };
    // MAIL_SERVER is the FastAPI shop's (fastapi-mail's) name; MAIL_HOST wins.
    let host = match (get("MAIL_HOST").or_else(|| get("MAIL_SERVER")), backend) {
        (Some(host), _) => host,
        (None, EmailBackend::Gmail) => "smtp.gmail.com".into(),
        (None, EmailBackend::Smtp) => {
            return Err(invalid("MAIL_HOST", "is required when EMAIL_BACKEND=smtp"));
        }
        (None, _) => "localhost".into(),
    };
    let default_port = match (backend, tls) {
        (EmailBackend::Log | EmailBackend::Mailpit, _) => 1025,
        (_, MailTls::None) => 25,
        (_, MailTls::StartTls) => 587,
        (_, MailTls::Tls) => 465,
    };
    let port = parse_var(get, "MAIL_PORT", default_port, "a port number")?;
    let username = get("MAIL_USERNAME");
    let password = get("MAIL_PASSWORD").map(Secret);
    if backend == EmailBackend::Gmail {
        if username.is_none() {
            return Err(invalid(
                "MAIL_USERNAME",
                "is required when EMAIL_BACKEND=gmail (your Gmail address)",
            ));
        }
        if password.is_none() {
            return Err(invalid(
                "MAIL_PASSWORD",
                "is required when EMAIL_BACKEND=gmail (a Google app password)",
            ));
        }
    }
    if password.is_some() != username.is_some() {
        let missing = if username.is_none() {
            "MAIL_USERNAME"
        } else {
            "MAIL_PASSWORD"
        };
        return Err(invalid(
            missing,
            "MAIL_USERNAME and MAIL_PASSWORD must be set together",
        ));
    }
    let from_text = match (get("MAIL_FROM"), backend, &username) {
        (Some(from), _, _) => from,
        (None, EmailBackend::Gmail, Some(user)) => user.clone(),
        _ => "no-reply@emporium.localhost".into(),
    };
    let from =
        Email::parse(&from_text).map_err(|e| invalid("MAIL_FROM", format!("'{from_text}' {e}")))?;
    let from_name = get("MAIL_FROM_NAME").unwrap_or_else(|| "Emporium".into());
    let max_attempts: u32 = parse_var(get, "MAIL_MAX_ATTEMPTS", 10, "a count")?;
    if max_attempts == 0 {
        return Err(invalid("MAIL_MAX_ATTEMPTS", "must be at least 1"));
    }
    let retry_base_ms: u64 =
        parse_var(get, "MAIL_RETRY_BASE_MS", 5_000, "a number of milliseconds")?;
    let poll_interval_ms: u64 = parse_var(
        get,
        "MAIL_POLL_INTERVAL_MS",
        1_000,
        "a number of milliseconds",
    )?;
    if poll_interval_ms == 0 {
        return Err(invalid("MAIL_POLL_INTERVAL_MS", "must be at least 1"));
    }
    let max_per_address_15min = parse_var(
        get,
        "MAIL_MAX_PER_ADDRESS_15MIN",
        3,
        "a count (0 turns the limit off)",
    )?;
    let max_per_address_day = parse_var(
        get,
        "MAIL_MAX_PER_ADDRESS_DAY",
        10,
        "a count (0 turns the limit off)",
    )?;
    let ca_file = get("MAIL_CA_FILE").map(PathBuf::from);
    if let Some(path) = &ca_file
        && !path.is_file()
    {
        return Err(invalid(
            "MAIL_CA_FILE",
            format!(
                "{} is not a readable file (a PEM bundle of CA certificates)",
                path.display()
            ),
        ));
    }
    Ok(MailSettings {
        backend,
        host,
        port,
        tls,
        username,
        password,
        from,
        from_name,
        max_attempts,
        retry_base_ms,
        poll_interval_ms,
        max_per_address_15min,
        max_per_address_day,
        ca_file,
    })
}

/// The file that keeps the generated JWT secret: `<database file>.jwt-secret`.
pub fn jwt_secret_path(database: &Path) -> PathBuf {
    let mut name = database
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".jwt-secret");
    database.with_file_name(name)
}

fn resolve_jwt_secret(
    configured: Option<(&'static str, String)>,
    database: &DatabaseSettings,
) -> Result<(Secret, SecretSource), SettingsError> {
    if let Some((variable, secret)) = configured {
        check_jwt_secret(&secret).map_err(|m| match variable {
            "SECRET_KEY" => invalid(
                variable,
                format!(
                    "(read as the token signing key because JWT_SECRET is unset) {m}; \
                     or set JWT_SECRET, which wins"
                ),
            ),
            _ => invalid(variable, m),
        })?;
        return Ok((Secret(secret), SecretSource::Environment));
    }
    if database.backend == DatabaseBackend::Postgres {
        // A file beside a server's URL means nothing; the key lives in the database.
        return Ok((Secret(String::new()), SecretSource::Database));
    }
    let path = jwt_secret_path(&database.path);
    let file_error = |source| SettingsError::SecretFile {
        path: path.clone(),
        source,
    };
    match fs::read_to_string(&path) {
        Ok(stored) => {
            let stored = stored.trim().to_string();
            check_jwt_secret(&stored).map_err(|m| {
                invalid(
                    "JWT_SECRET",
                    format!("the secret stored in {} {m}", path.display()),
                )
            })?;
            return Ok((Secret(stored), SecretSource::Stored(path)));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(file_error(e)),
    }
    let secret = generate_secret().map_err(file_error)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(file_error)?;
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(secret.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(file_error)?;
            Ok((Secret(secret), SecretSource::Generated(path)))
        }
        // Another process generated it at the same moment: use theirs.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let stored = fs::read_to_string(&path)
                .map_err(file_error)?
                .trim()
                .to_string();
            Ok((Secret(stored), SecretSource::Stored(path)))
        }
        Err(e) => Err(file_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(dir: &Path, vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let mut map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.entry("DATABASE_URL".into())
            .or_insert_with(|| format!("sqlite:///{}", dir.join("shop.db").display()));
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    fn error_variable(result: Result<Settings, SettingsError>) -> String {
        result.unwrap_err().variable().unwrap_or("").to_string()
    }

    #[test]
    fn defaults_with_no_environment() {
        let dir = tempfile::tempdir().unwrap();
        let s = with(dir.path(), &[]).unwrap();
        assert_eq!((s.host.as_str(), s.port), ("127.0.0.1", 8080));
        assert_eq!(s.public_base_url, "http://127.0.0.1:8080");
        assert_eq!(s.jwt.access_ttl_secs, 900);
        assert_eq!(s.jwt.refresh_ttl_secs, 1_209_600);
        assert_eq!(s.mail.backend, EmailBackend::Log);
        assert_eq!(s.database.synchronous, Synchronous::Full);
        assert!(s.require_email_verification);
        assert_eq!(
            (s.login_max_failures_per_email, s.login_max_failures_per_ip),
            (5, 20)
        );
        assert_eq!(s.log.format, LogFormat::Text);
        assert_eq!(s.database.path, dir.path().join("shop.db"));
        // Twice the cores, from 4 to 8, on SQLite.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        assert_eq!(s.database.pool_size as usize, (2 * cores).clamp(4, 8));
    }

    #[test]
    fn hashing_keeps_at_most_half_the_cores_and_always_leaves_one_for_requests() {
        let dir = tempfile::tempdir().unwrap();
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let s = with(dir.path(), &[]).unwrap();
        assert_eq!(
            s.password_hash_cores,
            s.password_hash_concurrency.min(cores / 2)
        );
        let one = with(dir.path(), &[("PASSWORD_HASH_CONCURRENCY", "1")]).unwrap();
        assert_eq!(one.password_hash_cores, usize::from(cores >= 2));
        let off = with(dir.path(), &[("PASSWORD_HASH_CORES", "0")]).unwrap();
        assert_eq!(off.password_hash_cores, 0);
        let all = cores.to_string();
        for value in [all.as_str(), "1000", "-1", "half"] {
            assert_eq!(
                error_variable(with(dir.path(), &[("PASSWORD_HASH_CORES", value)])),
                "PASSWORD_HASH_CORES",
                "{value}"
            );
        }
    }

    #[test]
    fn default_database_url_is_a_local_file() {
        let s = database_settings(&|_: &str| None).unwrap();
        assert_eq!(s.path, PathBuf::from("emporium.db"));
        // SQLAlchemy's rule (the FastAPI shop's .env): three slashes and a relative path, four
        // and an absolute one; the other forms as written.
        let cases = [
            ("sqlite:///./db.sqlite3", "./db.sqlite3"),
            ("sqlite:///data/shop.db", "data/shop.db"),
            ("sqlite:////tmp/x/shop.db", "/tmp/x/shop.db"),
            ("sqlite://shop.db", "shop.db"),
            ("sqlite:shop.db", "shop.db"),
            ("sqlite:/tmp/x/shop.db", "/tmp/x/shop.db"),
            ("/tmp/x/shop.db", "/tmp/x/shop.db"),
            ("shop.db", "shop.db"),
            ("file:shop.db", "shop.db"),
            ("file:///tmp/x/shop.db", "/tmp/x/shop.db"),
        ];
        for (url, path) in cases {
            let s = database_settings(&|name: &str| (name == "DATABASE_URL").then(|| url.into()))
                .unwrap();
            assert_eq!(s.path, PathBuf::from(path), "{url}");
        }
        for url in [
            "sqlite::memory:",
            ":memory:",
            "file::memory:?cache=shared",
            "sqlite://",
        ] {
            let error =
                database_settings(&|name: &str| (name == "DATABASE_URL").then(|| url.into()))
                    .unwrap_err();
            assert_eq!(error.variable(), Some("DATABASE_URL"), "{url}");
        }
        let memory = database_settings(&|name: &str| {
            (name == "DATABASE_URL").then(|| "sqlite::memory:".into())
        })
        .unwrap_err();
        assert!(memory.to_string().contains("in-memory"), "{memory}");
    }

    #[test]
    fn secret_key_is_read_when_jwt_secret_is_unset() {
        let dir = tempfile::tempdir().unwrap();
        let good = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978";
        let s = with(dir.path(), &[("SECRET_KEY", good)]).unwrap();
        assert_eq!(s.jwt.secret.expose(), good);
        assert_eq!(s.jwt.source, SecretSource::Environment);
        let other = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718";
        let s = with(dir.path(), &[("SECRET_KEY", good), ("JWT_SECRET", other)]).unwrap();
        assert_eq!(s.jwt.secret.expose(), other, "JWT_SECRET wins");
        let error = with(dir.path(), &[("SECRET_KEY", "your-secret")]).unwrap_err();
        assert_eq!(error.variable(), Some("SECRET_KEY"));
        assert!(error.to_string().contains("placeholder"), "{error}");
        // The FastAPI shop's other names: minutes for the access token, MAIL_SERVER.
        let s = with(
            dir.path(),
            &[
                ("SECRET_KEY", good),
                ("ACCESS_TOKEN_EXPIRE_MINUTES", "30"),
                ("EMAIL_BACKEND", "smtp"),
                ("MAIL_SERVER", "smtp.old-shop.example"),
            ],
        )
        .unwrap();
        assert_eq!(s.jwt.access_ttl_secs, 1800);
        assert_eq!(s.mail.host, "smtp.old-shop.example");
        // A good JWT_SECRET makes a placeholder SECRET_KEY irrelevant.
        assert!(
            with(
                dir.path(),
                &[("SECRET_KEY", "your-secret"), ("JWT_SECRET", other)]
            )
            .is_ok()
        );
    }

    #[test]
    fn mail_limits_ca_file_and_metrics_token() {
        let dir = tempfile::tempdir().unwrap();
        let s = with(dir.path(), &[]).unwrap();
        assert_eq!(
            (s.mail.max_per_address_15min, s.mail.max_per_address_day),
            (3, 10)
        );
        assert_eq!(s.mail_requests_max_per_ip, 10);
        assert!(s.mail.ca_file.is_none() && s.metrics_token.is_none());
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let s = with(
            dir.path(),
            &[
                ("MAIL_MAX_PER_ADDRESS_15MIN", "0"),
                ("MAIL_MAX_PER_ADDRESS_DAY", "4"),
                ("MAIL_REQUESTS_MAX_PER_IP", "0"),
                ("MAIL_CA_FILE", ca.to_str().unwrap()),
                ("METRICS_TOKEN", "scrape-token-0123456789"),
            ],
        )
        .unwrap();
        assert_eq!(
            (s.mail.max_per_address_15min, s.mail.max_per_address_day),
            (0, 4)
        );
        assert_eq!(s.mail_requests_max_per_ip, 0);
        assert_eq!(s.mail.ca_file.as_deref(), Some(ca.as_path()));
        assert_eq!(
            s.metrics_token.as_ref().map(Secret::expose),
            Some("scrape-token-0123456789")
        );
        let missing = dir.path().join("missing.pem");
        for (name, value) in [
            ("MAIL_CA_FILE", missing.to_str().unwrap()),
            ("METRICS_TOKEN", "short"),
            ("MAIL_REQUESTS_MAX_PER_IP", "many"),
        ] {
            assert_eq!(
                error_variable(with(dir.path(), &[(name, value)])),
                name,
                "{name}={value}"
            );
        }
    }

    #[test]
    fn postgres_urls_select_postgres_and_keep_the_key_in_the_database() {
        let dir = tempfile::tempdir().unwrap();
        for url in [
            "postgres://shop:s3cret@db.internal:5432/emporium",
            "postgresql://shop:s3cret@db.internal/emporium?sslmode=require",
        ] {
            let s = with(dir.path(), &[("DATABASE_URL", url), ("DB_POOL_SIZE", "16")]).unwrap();
            assert_eq!(s.database.backend, DatabaseBackend::Postgres, "{url}");
            assert_eq!(s.database.pool_size, 16);
            assert_eq!(s.database.url, url);
            assert!(!s.database.describe().contains("s3cret"), "{url}");
            assert!(s.database.describe().contains("shop:***@db.internal"));
            assert_eq!(s.jwt.source, SecretSource::Database);
            assert!(!s.jwt.has_secret(), "read from the database at start-up");
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no key file beside a PostgreSQL URL"
        );
        let mut s = with(
            dir.path(),
            &[
                ("DATABASE_URL", "postgres://db/emporium"),
                (
                    "JWT_SECRET",
                    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c",
                ),
            ],
        )
        .unwrap();
        assert_eq!(s.jwt.source, SecretSource::Environment, "JWT_SECRET wins");
        assert!(s.jwt.set_database_secret("short".into()).is_err());
        s.jwt
            .set_database_secret(
                "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae".into(),
            )
            .unwrap();
        assert!(s.jwt.has_secret());
    }

    #[test]
    fn missing_secret_is_generated_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let first = with(dir.path(), &[]).unwrap();
        let path = dir.path().join("shop.db.jwt-secret");
        assert_eq!(first.jwt.source, SecretSource::Generated(path.clone()));
        assert_eq!(first.jwt.secret.expose().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = with(dir.path(), &[]).unwrap();
        assert_eq!(second.jwt.source, SecretSource::Stored(path));
        assert_eq!(second.jwt.secret, first.jwt.secret);
        assert!(!format!("{:?}", second.jwt).contains(first.jwt.secret.expose()));
    }

    #[test]
    fn weak_or_placeholder_secrets_stop_start_up() {
        let dir = tempfile::tempdir().unwrap();
        for weak in [
            EXAMPLE_JWT_SECRET,
            "secret",
            "changeme",
            "CHANGEME",
            "short-but-random-Xq93",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "please-change-me-before-production-0123456789",
            "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7",
        ] {
            let err = with(dir.path(), &[("JWT_SECRET", weak)]).unwrap_err();
            assert_eq!(err.variable(), Some("JWT_SECRET"), "{weak}");
            assert!(err.to_string().starts_with("JWT_SECRET: "), "{err}");
            assert!(
                !err.to_string().contains(weak),
                "the message must not echo the secret"
            );
        }
        let good = "3f9a1c0e7b5d2468ace13579bdf02468a1b2c3d4e5f60718293a4b5c6d7e8f90";
        let s = with(dir.path(), &[("JWT_SECRET", good)]).unwrap();
        assert_eq!(s.jwt.source, SecretSource::Environment);
        assert!(!dir.path().join("shop.db.jwt-secret").exists());
    }

    #[test]
    fn bad_values_name_their_variable() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(error_variable(with(d, &[("PORT", "eighty")])), "PORT");
        assert_eq!(error_variable(with(d, &[("PORT", "70000")])), "PORT");
        assert_eq!(
            error_variable(with(d, &[("ACCESS_TOKEN_TTL_SECS", "-1")])),
            "ACCESS_TOKEN_TTL_SECS"
        );
        assert_eq!(
            error_variable(with(d, &[("REQUIRE_EMAIL_VERIFICATION", "maybe")])),
            "REQUIRE_EMAIL_VERIFICATION"
        );
        assert_eq!(
            error_variable(with(d, &[("EMAIL_BACKEND", "pigeon")])),
            "EMAIL_BACKEND"
        );
        assert_eq!(
            error_variable(with(d, &[("EMAIL_BACKEND", "smtp")])),
            "MAIL_HOST"
        );
        assert_eq!(
            error_variable(with(d, &[("EMAIL_BACKEND", "gmail")])),
            "MAIL_USERNAME"
        );
        assert_eq!(
            error_variable(with(d, &[("MAIL_TLS", "maybe")])),
            "MAIL_TLS"
        );
        assert_eq!(
            error_variable(with(d, &[("DATABASE_URL", ":memory:")])),
            "DATABASE_URL"
        );
        assert_eq!(
            error_variable(with(d, &[("DATABASE_URL", "postgres://")])),
            "DATABASE_URL"
        );
        assert_eq!(
            error_variable(with(d, &[("DATABASE_URL", "mysql://x")])),
            "DATABASE_URL"
        );
        assert_eq!(
            error_variable(with(d, &[("SQLITE_SYNCHRONOUS", "SOMETIMES")])),
            "SQLITE_SYNCHRONOUS"
        );
        assert_eq!(
            error_variable(with(d, &[("DB_POOL_SIZE", "0")])),
            "DB_POOL_SIZE"
        );
        for cache in ["32", "lots"] {
            assert_eq!(
                error_variable(with(d, &[("SQLITE_CACHE_KIB", cache)])),
                "SQLITE_CACHE_KIB"
            );
        }
        assert_eq!(
            error_variable(with(d, &[("LOG_FORMAT", "xml")])),
            "LOG_FORMAT"
        );
        assert_eq!(
            error_variable(with(d, &[("TRUSTED_PROXIES", "10.0.0.0/33")])),
            "TRUSTED_PROXIES"
        );
        assert_eq!(
            error_variable(with(d, &[("ADMIN_EMAIL", "root")])),
            "ADMIN_EMAIL"
        );
        assert_eq!(
            error_variable(with(d, &[("PUBLIC_BASE_URL", "shop.example")])),
            "PUBLIC_BASE_URL"
        );
        assert_eq!(
            error_variable(with(d, &[("CORS_ALLOWED_ORIGINS", "shop.example")])),
            "CORS_ALLOWED_ORIGINS"
        );
        assert_eq!(error_variable(with(d, &[("WORKERS", "0")])), "WORKERS");
    }

    #[test]
    fn mail_backends_have_sensible_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let s = with(dir.path(), &[("EMAIL_BACKEND", "mailpit")]).unwrap();
        assert_eq!(
            (s.mail.host.as_str(), s.mail.port, s.mail.tls),
            ("localhost", 1025, MailTls::None)
        );
        let s = with(
            dir.path(),
            &[
                ("EMAIL_BACKEND", "gmail"),
                ("MAIL_USERNAME", "shop@gmail.com"),
                ("MAIL_PASSWORD", "app pass"),
            ],
        )
        .unwrap();
        assert_eq!(
            (s.mail.host.as_str(), s.mail.port, s.mail.tls),
            ("smtp.gmail.com", 587, MailTls::StartTls)
        );
        assert_eq!(s.mail.from.as_str(), "shop@gmail.com");
        let s = with(
            dir.path(),
            &[
                ("EMAIL_BACKEND", "smtp"),
                ("MAIL_HOST", "mx.example"),
                ("MAIL_TLS", "tls"),
            ],
        )
        .unwrap();
        assert_eq!(s.mail.port, 465);
    }

    #[test]
    fn env_example_documents_every_variable() {
        let example = include_str!("../../../.env.example");
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:///{}", dir.path().join("shop.db").display());
        let asked = std::cell::RefCell::new(Vec::new());
        Settings::from_lookup(|name| {
            asked.borrow_mut().push(name.to_string());
            (name == "DATABASE_URL").then(|| url.clone())
        })
        .unwrap();
        let asked = asked.into_inner();
        assert!(asked.len() > 20, "{asked:?}");
        for name in asked {
            assert!(
                example.contains(&format!("# {name}=")),
                ".env.example does not document {name}"
            );
        }
    }

    #[test]
    fn options_parse() {
        let dir = tempfile::tempdir().unwrap();
        let s = with(
            dir.path(),
            &[
                ("HOST", "0.0.0.0"),
                ("PORT", "9000"),
                ("PUBLIC_BASE_URL", "https://shop.example/"),
                ("TRUSTED_PROXIES", "10.0.0.0/8, ::1"),
                (
                    "CORS_ALLOWED_ORIGINS",
                    "https://a.example,https://b.example",
                ),
                ("REQUIRE_EMAIL_VERIFICATION", "false"),
                ("LOGIN_MAX_FAILURES_PER_EMAIL", "0"),
                ("ADMIN_EMAIL", "Root@Shop.Example"),
                ("ADMIN_PASSWORD", " spaces kept "),
                ("LOG_FORMAT", "json"),
            ],
        )
        .unwrap();
        assert_eq!(s.public_base_url, "https://shop.example");
        assert!(s.trusted_proxies[0].contains("10.1.2.3".parse().unwrap()));
        assert!(!s.trusted_proxies[0].contains("11.1.2.3".parse().unwrap()));
        assert!(s.trusted_proxies[1].contains("::1".parse().unwrap()));
        assert_eq!(s.cors_allowed_origins.len(), 2);
        assert!(!s.require_email_verification);
        assert_eq!(s.login_max_failures_per_email, 0);
        assert_eq!(s.admin_email.unwrap().as_str(), "root@shop.example");
        assert_eq!(s.admin_password.unwrap().expose(), " spaces kept ");
        assert_eq!(s.log.format, LogFormat::Json);
    }
}
