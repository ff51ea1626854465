//! How a message leaves the shop: to the log, or over SMTP.

use std::time::Duration;

use emporium_core::settings::{EmailBackend, MailSettings, MailTls};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::outbox::OutboxEntry;

/// Why the mailer could not be built or a message not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The sender or recipient address is not usable in a mail header.
    #[error("bad address: {0}")]
    Address(String),
    /// The message could not be assembled.
    #[error("could not build the message: {0}")]
    Build(String),
    /// The SMTP transport could not be configured (bad host or TLS settings).
    #[error("SMTP configuration: {0}")]
    Config(String),
    /// The SMTP server refused the message or could not be reached.
    #[error("SMTP delivery: {0}")]
    Smtp(String),
}

/// Delivers messages. Cheap to share behind an `Arc`; the SMTP variant keeps a connection pool.
pub enum Mailer {
    /// Writes each message, links included, to the log (`EMAIL_BACKEND=log`).
    Log,
    /// Sends over SMTP.
    Smtp {
        /// The pooled async transport.
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// The `From:` mailbox.
        from: Mailbox,
    },
}

/// Every `-----BEGIN CERTIFICATE-----` block of a PEM bundle, each as its own PEM.
fn pem_certificates(bundle: &str) -> Vec<Vec<u8>> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut certificates = Vec::new();
    let mut rest = bundle;
    while let Some(start) = rest.find(BEGIN) {
        let Some(length) = rest[start..].find(END) else {
            break;
        };
        let end = start + length + END.len();
        certificates.push(format!("{}\n", &rest[start..end]).into_bytes());
        rest = &rest[end..];
    }
    certificates
}

/// How long one SMTP exchange may take before the attempt counts as failed.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

impl Mailer {
    /// The mailer `settings` describe, trusting the certificates of `MAIL_CA_FILE` (if set)
    /// besides the system's roots. Must be called inside a Tokio runtime (the SMTP
    /// transport's pool lives there).
    pub fn from_settings(settings: &MailSettings) -> Result<Mailer, MailError> {
        let roots = match &settings.ca_file {
            Some(path) => {
                let bundle = std::fs::read_to_string(path).map_err(|e| {
                    MailError::Config(format!("MAIL_CA_FILE {}: {e}", path.display()))
                })?;
                let roots = pem_certificates(&bundle);
                if roots.is_empty() {
                    return Err(MailError::Config(format!(
                        "MAIL_CA_FILE {}: no PEM certificate in it",
                        path.display()
                    )));
                }
                roots
            }
            None => Vec::new(),
        };
        Mailer::from_settings_with_roots(settings, &roots)
    }

    /// Like [`Mailer::from_settings`], also trusting the given PEM root certificates for TLS
    /// (a private CA, or a test server's self-signed certificate).
    pub fn from_settings_with_roots(
        settings: &MailSettings,
        extra_roots_pem: &[Vec<u8>],
    ) -> Result<Mailer, MailError> {
        if settings.backend == EmailBackend::Log {
            return Ok(Mailer::Log);
        }
        let from = Mailbox::new(
            Some(settings.from_name.clone()),
            settings
                .from
                .as_str()
                .parse()
                .map_err(|e| MailError::Address(format!("MAIL_FROM: {e}")))?,
        );
        let tls = if settings.tls == MailTls::None {
            Tls::None
        } else {
            let mut params = TlsParameters::builder(settings.host.clone());
            for pem in extra_roots_pem {
                let root =
                    Certificate::from_pem(pem).map_err(|e| MailError::Config(e.to_string()))?;
                params = params.add_root_certificate(root);
            }
            let params = params
                .build()
                .map_err(|e| MailError::Config(e.to_string()))?;
            match settings.tls {
                MailTls::StartTls => Tls::Required(params),
                _ => Tls::Wrapper(params),
            }
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.as_str())
                .port(settings.port)
                .tls(tls)
                .timeout(Some(SMTP_TIMEOUT));
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        Ok(Mailer::Smtp {
            transport: builder.build(),
            from,
        })
    }

    /// Delivers one queued message.
    pub async fn send(&self, entry: &OutboxEntry) -> Result<(), MailError> {
        match self {
            Mailer::Log => {
                tracing::info!(
                    to = %entry.to_email,
                    kind = %entry.kind,
                    subject = %entry.subject,
                    "email (EMAIL_BACKEND=log; configure SMTP to send it):\n{}",
                    entry.text_body
                );
                Ok(())
            }
            Mailer::Smtp { transport, from } => {
                let to = Mailbox::new(
                    Some(entry.to_name.clone()),
                    entry
                        .to_email
                        .parse()
                        .map_err(|e| MailError::Address(format!("{e}")))?,
                );
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(entry.subject.clone())
                    .multipart(MultiPart::alternative_plain_html(
                        entry.text_body.clone(),
                        entry.html_body.clone(),
                    ))
                    .map_err(|e| MailError::Build(e.to_string()))?;
                transport
                    .send(message)
                    .await
                    .map_err(|e| MailError::Smtp(e.to_string()))?;
                Ok(())
            }
        }
    }
}
