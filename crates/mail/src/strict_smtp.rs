//! A strict SMTP server for tests, like a real submission server: it offers AUTH only after
//! STARTTLS, refuses MAIL before a successful AUTH PLAIN, and checks the credentials.

use std::sync::{Arc, Mutex};

use base64::Engine;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Received {
    /// The user that authenticated.
    pub user: String,
    /// The `MAIL FROM` address.
    pub from: String,
    /// The `RCPT TO` addresses.
    pub to: Vec<String>,
    /// The message as sent after `DATA`.
    pub data: String,
}

/// A running server.
pub struct StrictSmtp {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The PEM of its self-signed certificate (for `localhost`), for the client to trust.
    pub certificate_pem: String,
    /// What it accepted.
    pub received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StrictSmtp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Account {
    user: String,
    password: String,
}

/// Starts a server that accepts `user`/`password`.
pub async fn start(user: &str, password: &str) -> StrictSmtp {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let account = Account {
        user: user.into(),
        password: password.into(),
    };
    let task = {
        let received = Arc::clone(&received);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, account, received) =
                    (acceptor.clone(), account.clone(), Arc::clone(&received));
                tokio::spawn(async move {
                    let _ = serve(stream, acceptor, account, received).await;
                });
            }
        })
    };
    StrictSmtp {
        port,
        certificate_pem: certified.cert.pem(),
        received,
        task,
    }
}

async fn reply<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    text: &str,
) -> std::io::Result<()> {
    stream.get_mut().write_all(text.as_bytes()).await?;
    stream.get_mut().flush().await
}

async fn line<S: AsyncRead + Unpin>(stream: &mut BufReader<S>) -> std::io::Result<Option<String>> {
    let mut text = String::new();
    let n = stream.read_line(&mut text).await?;
    Ok((n > 0).then(|| text.trim_end_matches(['\r', '\n']).to_string()))
}

fn verb(text: &str) -> String {
    text.split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

async fn serve(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    account: Account,
    received: Arc<Mutex<Vec<Received>>>,
) -> std::io::Result<()> {
    let mut plain = BufReader::new(stream);
    reply(&mut plain, "220 strict.test ESMTP\r\n").await?;
    // Before TLS: only EHLO, STARTTLS and QUIT.
    loop {
        let Some(text) = line(&mut plain).await? else {
            return Ok(());
        };
        match verb(&text).as_str() {
            "EHLO" => {
                reply(
                    &mut plain,
                    "250-strict.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
                )
                .await?
            }
            "STARTTLS" => {
                reply(&mut plain, "220 2.0.0 Ready to start TLS\r\n").await?;
                break;
            }
            "QUIT" => return reply(&mut plain, "221 2.0.0 Bye\r\n").await,
            "NOOP" | "RSET" => reply(&mut plain, "250 2.0.0 OK\r\n").await?,
            _ => {
                reply(
                    &mut plain,
                    "530 5.7.0 Must issue a STARTTLS command first\r\n",
                )
                .await?
            }
        }
    }
    let tls = acceptor.accept(plain.into_inner()).await?;
    session(&mut BufReader::new(tls), &account, &received).await
}

async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    account: &Account,
    received: &Mutex<Vec<Received>>,
) -> std::io::Result<()> {
    let mut user: Option<String> = None;
    let mut from = String::new();
    let mut to = Vec::new();
    loop {
        let Some(text) = line(stream).await? else {
            return Ok(());
        };
        match verb(&text).as_str() {
            "EHLO" => {
                reply(
                    stream,
                    "250-strict.test\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n",
                )
                .await?
            }
            "AUTH" => {
                let mut words = text.split_whitespace().skip(1);
                if words.next().map(str::to_ascii_uppercase).as_deref() != Some("PLAIN") {
                    reply(stream, "504 5.5.4 Unrecognized authentication type\r\n").await?;
                    continue;
                }
                let encoded = match words.next() {
                    Some(encoded) => encoded.to_string(),
                    None => {
                        reply(stream, "334 \r\n").await?;
                        line(stream).await?.unwrap_or_default()
                    }
                };
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .unwrap_or_default();
                let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
                if parts.len() == 3
                    && parts[1] == account.user.as_bytes()
                    && parts[2] == account.password.as_bytes()
                {
                    user = Some(account.user.clone());
                    reply(stream, "235 2.7.0 Authentication successful\r\n").await?;
                } else {
                    reply(stream, "535 5.7.8 Authentication credentials invalid\r\n").await?;
                }
            }
            "MAIL" if user.is_none() => {
                reply(stream, "530 5.7.0 Authentication required\r\n").await?
            }
            "MAIL" => {
                from = text.to_string();
                to.clear();
                reply(stream, "250 2.1.0 OK\r\n").await?;
            }
            "RCPT" => {
                to.push(text.to_string());
                reply(stream, "250 2.1.5 OK\r\n").await?;
            }
            "DATA" => {
                reply(stream, "354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                let mut data = String::new();
                while let Some(text) = line(stream).await? {
                    if text == "." {
                        break;
                    }
                    data.push_str(&text);
                    data.push('\n');
                }
                received.lock().unwrap().push(Received {
                    user: user.clone().unwrap_or_default(),
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    data,
                });
                reply(stream, "250 2.0.0 Queued\r\n").await?;
            }
            "RSET" => {
                from.clear();
                to.clear();
                reply(stream, "250 2.0.0 OK\r\n").await?;
            }
            "NOOP" => reply(stream, "250 2.0.0 OK\r\n").await?,
            "QUIT" => return reply(stream, "221 2.0.0 Bye\r\n").await,
            _ => reply(stream, "502 5.5.2 Command not recognized\r\n").await?,
        }
    }
}
