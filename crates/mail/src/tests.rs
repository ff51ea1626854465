//! Delivery through a real SMTP server (mailcrab, in-process on a free port).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use emporium_core::Email;
use emporium_core::settings::{EmailBackend, MailSettings, MailTls};
use emporium_db::{TestDb, write_transaction};
use serde_json::Value;

use crate::outbox::{self, RetryPolicy, Status};
use crate::{Mailer, MessageKind, OutgoingMail, WorkerConfig, templates, worker};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn smtp_settings(port: u16) -> MailSettings {
    MailSettings {
        backend: EmailBackend::Mailpit,
        host: "127.0.0.1".into(),
        port,
        tls: MailTls::None,
        username: None,
        password: None,
        from: Email::parse("shop@emporium.test").unwrap(),
        from_name: "Emporium".into(),
        max_attempts: 10,
        retry_base_ms: 50,
        poll_interval_ms: 100,
        max_per_address_15min: 0,
        max_per_address_day: 0,
        ca_file: None,
    }
}

fn fast(settings: &MailSettings) -> WorkerConfig {
    let mut config = WorkerConfig::from_settings(settings);
    config.policy.max_delay = Duration::from_millis(200);
    config
}

fn verification_mail(to: &str) -> OutgoingMail {
    OutgoingMail {
        kind: MessageKind::Verification,
        to: Email::parse(to).unwrap(),
        to_name: "Ada <Lovelace>".into(),
        content: templates::verification(
            "Emporium",
            "Ada <Lovelace>",
            "http://shop.test/auth/verify-email?token=tok_123",
            24,
        ),
    }
}

/// Reads the next message mailcrab received, as JSON (its fields are private but it is
/// `Serialize`).
async fn next_message(
    rx: &mut tokio::sync::broadcast::Receiver<mailcrab::MailMessage>,
    within: Duration,
) -> Option<Value> {
    match tokio::time::timeout(within, rx.recv()).await {
        Ok(Ok(message)) => Some(serde_json::to_value(message).unwrap()),
        _ => None,
    }
}

async fn wait_until(db: &TestDb, what: &str, done: impl Fn(&[outbox::OutboxEntry]) -> bool) {
    for _ in 0..200 {
        let entries = outbox::all(&mut db.conn()).unwrap();
        if done(&entries) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "timed out waiting until {what}: {:?}",
        outbox::all(&mut db.conn()).unwrap()
    );
}

#[tokio::test]
async fn committed_mail_is_delivered_once_with_both_parts() {
    let port = free_port();
    let mut server = mailcrab::development_mail_server([127, 0, 0, 1], port).await;
    let db = TestDb::new();
    let settings = smtp_settings(port);
    let mailer = Arc::new(Mailer::from_settings(&settings).unwrap());
    let worker = worker::spawn(db.pool().clone(), mailer, fast(&settings));

    write_transaction(&mut db.conn(), |conn| {
        outbox::enqueue(conn, &verification_mail("Ada@Example.com"), Utc::now())
    })
    .unwrap();
    worker.wake();

    let message = next_message(&mut server.rx, Duration::from_secs(10))
        .await
        .expect("delivered");
    assert_eq!(
        message["subject"],
        "Confirm your email address for Emporium"
    );
    assert_eq!(message["to"][0]["email"], "ada@example.com");
    assert_eq!(message["from"]["email"], "shop@emporium.test");
    let text = message["text"].as_str().unwrap();
    let html = message["html"].as_str().unwrap();
    assert!(
        text.contains("http://shop.test/auth/verify-email?token=tok_123"),
        "{text}"
    );
    assert!(
        html.contains("href=\"http://shop.test/auth/verify-email?token=tok_123\""),
        "{html}"
    );
    assert!(
        html.contains("Ada &lt;Lovelace&gt;"),
        "names are escaped in HTML: {html}"
    );

    wait_until(&db, "the message is marked sent", |entries| {
        entries.len() == 1 && entries[0].status() == Status::Sent
    })
    .await;
    let entry = &outbox::all(&mut db.conn()).unwrap()[0];
    assert_eq!(entry.attempts, 1);
    assert!(
        entry.text_body.is_empty() && entry.html_body.is_empty(),
        "bodies with links are blanked"
    );
    assert!(entry.sent_at.is_some());

    assert!(
        next_message(&mut server.rx, Duration::from_millis(500))
            .await
            .is_none(),
        "exactly one"
    );
    worker.stop().await;
    server.token.cancel();
}

#[tokio::test]
async fn a_rolled_back_transaction_sends_nothing() {
    let port = free_port();
    let mut server = mailcrab::development_mail_server([127, 0, 0, 1], port).await;
    let db = TestDb::new();
    let settings = smtp_settings(port);
    let worker = worker::spawn(
        db.pool().clone(),
        Arc::new(Mailer::from_settings(&settings).unwrap()),
        fast(&settings),
    );

    let rolled_back: Result<(), diesel::result::Error> =
        write_transaction(&mut db.conn(), |conn| {
            outbox::enqueue(conn, &verification_mail("ghost@example.com"), Utc::now())?;
            // The change the mail belongs to fails, so the whole transaction rolls back.
            Err(diesel::result::Error::RollbackTransaction)
        });
    assert!(rolled_back.is_err());
    assert!(outbox::all(&mut db.conn()).unwrap().is_empty());

    // A committed mail afterwards is the first and only one the server sees.
    write_transaction(&mut db.conn(), |conn| {
        outbox::enqueue(conn, &verification_mail("real@example.com"), Utc::now())
    })
    .unwrap();
    worker.wake();
    let message = next_message(&mut server.rx, Duration::from_secs(10))
        .await
        .expect("delivered");
    assert_eq!(message["to"][0]["email"], "real@example.com");
    assert!(
        next_message(&mut server.rx, Duration::from_millis(500))
            .await
            .is_none()
    );
    worker.stop().await;
    server.token.cancel();
}

#[tokio::test]
async fn delivery_is_retried_while_the_server_is_down_and_succeeds_once_it_is_back() {
    let port = free_port();
    let db = TestDb::new();
    let settings = smtp_settings(port);
    let worker = worker::spawn(
        db.pool().clone(),
        Arc::new(Mailer::from_settings(&settings).unwrap()),
        fast(&settings),
    );
    write_transaction(&mut db.conn(), |conn| {
        outbox::enqueue(conn, &verification_mail("patient@example.com"), Utc::now())
    })
    .unwrap();
    worker.wake();

    wait_until(&db, "two attempts have failed", |entries| {
        entries[0].attempts >= 2
    })
    .await;
    let entry = &outbox::all(&mut db.conn()).unwrap()[0];
    assert_eq!(entry.status(), Status::Pending);
    assert!(entry.last_error.as_deref().is_some_and(|e| !e.is_empty()));
    assert!(
        !entry.text_body.is_empty(),
        "a pending message keeps its body"
    );

    let mut server = mailcrab::development_mail_server([127, 0, 0, 1], port).await;
    let message = next_message(&mut server.rx, Duration::from_secs(10))
        .await
        .expect("delivered once back");
    assert_eq!(message["to"][0]["email"], "patient@example.com");
    wait_until(&db, "the message is marked sent", |entries| {
        entries[0].status() == Status::Sent
    })
    .await;
    assert!(outbox::all(&mut db.conn()).unwrap()[0].attempts >= 3);
    worker.stop().await;
    server.token.cancel();
}

#[tokio::test]
async fn delivery_gives_up_after_the_last_attempt() {
    let db = TestDb::new();
    let mut settings = smtp_settings(free_port());
    settings.max_attempts = 3;
    let worker = worker::spawn(
        db.pool().clone(),
        Arc::new(Mailer::from_settings(&settings).unwrap()),
        fast(&settings),
    );
    write_transaction(&mut db.conn(), |conn| {
        outbox::enqueue(conn, &verification_mail("nobody@example.com"), Utc::now())
    })
    .unwrap();
    worker.wake();
    wait_until(&db, "the message is marked failed", |entries| {
        entries[0].status() == Status::Failed
    })
    .await;
    let entry = &outbox::all(&mut db.conn()).unwrap()[0];
    assert_eq!(entry.attempts, 3);
    assert!(
        entry.text_body.is_empty(),
        "a failed message's links are blanked too"
    );
    let counts = outbox::counts(&mut db.conn()).unwrap();
    assert_eq!((counts.pending, counts.sent, counts.failed), (0, 0, 1));
    worker.stop().await;
}

#[tokio::test]
async fn the_log_backend_delivers_without_a_server() {
    let db = TestDb::new();
    let mut settings = smtp_settings(1);
    settings.backend = EmailBackend::Log;
    let worker = worker::spawn(
        db.pool().clone(),
        Arc::new(Mailer::from_settings(&settings).unwrap()),
        fast(&settings),
    );
    write_transaction(&mut db.conn(), |conn| {
        outbox::enqueue(conn, &verification_mail("log@example.com"), Utc::now())
    })
    .unwrap();
    worker.wake();
    wait_until(&db, "the message is marked sent", |entries| {
        entries[0].status() == Status::Sent
    })
    .await;
    worker.stop().await;
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let policy = RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_secs(5),
        max_delay: Duration::from_secs(60),
    };
    let delays: Vec<u64> = (1..=6).map(|n| policy.delay_after(n).as_secs()).collect();
    assert_eq!(delays, [5, 10, 20, 40, 60, 60]);
    assert_eq!(policy.delay_after(1000), Duration::from_secs(60));
}

#[test]
fn claimed_messages_are_leased() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let now = Utc::now();
    outbox::enqueue(&mut conn, &verification_mail("a@example.com"), now).unwrap();
    let first = outbox::claim_due(&mut conn, now, Duration::from_secs(60), 10).unwrap();
    assert_eq!(first.len(), 1);
    let again = outbox::claim_due(&mut conn, now, Duration::from_secs(60), 10).unwrap();
    assert!(again.is_empty(), "a leased message is not handed out twice");
    let after_lease = outbox::claim_due(
        &mut conn,
        now + Duration::from_secs(61),
        Duration::from_secs(60),
        10,
    )
    .unwrap();
    assert_eq!(
        after_lease.len(),
        1,
        "a crashed sender's message comes back after the lease"
    );
}

#[test]
fn a_worker_whose_lease_ran_out_does_not_send_what_another_took_over() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let now = Utc::now();
    let lease = Duration::from_secs(60);
    outbox::enqueue(&mut conn, &verification_mail("a@example.com"), now).unwrap();
    // Worker A claims, then stalls past its lease (a slow batch, a paused process).
    let a = outbox::claim_due(&mut conn, now, lease, 10)
        .unwrap()
        .remove(0);
    // Worker B (another server) claims the message once A's lease has run out.
    let later = now + Duration::from_secs(61);
    let b = outbox::claim_due(&mut conn, later, lease, 10)
        .unwrap()
        .remove(0);
    assert_eq!(a.id, b.id);
    assert_eq!(
        outbox::renew_lease(&mut conn, a.id, a.next_attempt_at, later, lease).unwrap(),
        None,
        "A finds its lease gone and skips the message"
    );
    assert!(
        outbox::renew_lease(&mut conn, b.id, b.next_attempt_at, later, lease)
            .unwrap()
            .is_some(),
        "B holds the lease and sends"
    );
    outbox::mark_sent(&mut conn, b.id, later).unwrap();
    assert_eq!(
        outbox::renew_lease(
            &mut conn,
            b.id,
            b.next_attempt_at,
            later + Duration::from_secs(300),
            lease
        )
        .unwrap(),
        None,
        "a sent message is never renewed"
    );
}

fn submission_settings(port: u16, password: &str, tls: MailTls) -> MailSettings {
    MailSettings {
        backend: EmailBackend::Smtp,
        host: "localhost".into(),
        tls,
        username: Some("shop@emporium.test".into()),
        password: Some(emporium_core::settings::Secret::new(password)),
        ..smtp_settings(port)
    }
}

async fn deliver_one(settings: &MailSettings, roots: &[Vec<u8>], to: &str) -> TestDb {
    let mailer = Mailer::from_settings_with_roots(settings, roots).unwrap();
    deliver_with(mailer, settings, to).await
}

async fn deliver_with(mailer: Mailer, settings: &MailSettings, to: &str) -> TestDb {
    let db = TestDb::new();
    let worker = worker::spawn(db.pool().clone(), Arc::new(mailer), fast(settings));
    write_transaction(&mut db.conn(), |conn| {
        outbox::enqueue(conn, &verification_mail(to), Utc::now())
    })
    .unwrap();
    worker.wake();
    wait_until(&db, "an attempt has finished", |entries| {
        entries[0].status() == Status::Sent || entries[0].attempts >= 1
    })
    .await;
    worker.stop().await;
    db
}

#[tokio::test]
async fn starttls_with_credentials_delivers_to_a_server_that_requires_them() {
    let server = crate::strict_smtp::start("shop@emporium.test", "app-password-123").await;
    let settings = submission_settings(server.port, "app-password-123", MailTls::StartTls);
    let roots = [server.certificate_pem.clone().into_bytes()];
    let db = deliver_one(&settings, &roots, "buyer@example.com").await;

    let entry = &outbox::all(&mut db.conn()).unwrap()[0];
    assert_eq!(entry.status(), Status::Sent, "{:?}", entry.last_error);
    let received = server.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].user, "shop@emporium.test");
    assert!(
        received[0].from.contains("shop@emporium.test"),
        "{}",
        received[0].from
    );
    assert!(received[0].to[0].contains("buyer@example.com"));
    assert!(
        received[0]
            .data
            .contains("Subject: Confirm your email address for Emporium")
    );
}

#[tokio::test]
async fn wrong_credentials_are_refused_and_the_mail_stays_queued() {
    let server = crate::strict_smtp::start("shop@emporium.test", "app-password-123").await;
    let settings = submission_settings(server.port, "wrong-password", MailTls::StartTls);
    let roots = [server.certificate_pem.clone().into_bytes()];
    let db = deliver_one(&settings, &roots, "buyer@example.com").await;

    let entry = &outbox::all(&mut db.conn()).unwrap()[0];
    assert_eq!(entry.status(), Status::Pending);
    let error = entry.last_error.clone().unwrap_or_default();
    assert!(
        error.contains("535") || error.to_lowercase().contains("credentials"),
        "{error}"
    );
    assert!(server.received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn plaintext_is_refused_by_a_server_that_requires_tls() {
    let server = crate::strict_smtp::start("shop@emporium.test", "app-password-123").await;
    let settings = submission_settings(server.port, "app-password-123", MailTls::None);
    let db = deliver_one(&settings, &[], "buyer@example.com").await;
    let entry = &outbox::all(&mut db.conn()).unwrap()[0];
    assert_eq!(entry.status(), Status::Pending);
    assert!(
        server.received.lock().unwrap().is_empty(),
        "nothing crosses the wire unencrypted"
    );
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let server = crate::strict_smtp::start("shop@emporium.test", "app-password-123").await;
    let settings = submission_settings(server.port, "app-password-123", MailTls::StartTls);
    // No extra root: the self-signed certificate is not trusted.
    let db = deliver_one(&settings, &[], "buyer@example.com").await;
    let entry = &outbox::all(&mut db.conn()).unwrap()[0];
    assert_eq!(entry.status(), Status::Pending);
    assert!(server.received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn mail_ca_file_makes_a_private_ca_trusted_and_without_it_the_server_is_refused() {
    let server = crate::strict_smtp::start("shop@emporium.test", "app-password-123").await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("private-ca.pem");
    // A bundle: an unrelated certificate first, then the server's own (its CA).
    let other = rcgen::generate_simple_self_signed(vec!["other.test".into()]).unwrap();
    std::fs::write(
        &ca_file,
        format!("{}\n{}", other.cert.pem(), server.certificate_pem),
    )
    .unwrap();

    let trusted = MailSettings {
        ca_file: Some(ca_file),
        ..submission_settings(server.port, "app-password-123", MailTls::StartTls)
    };
    let db = deliver_with(
        Mailer::from_settings(&trusted).unwrap(),
        &trusted,
        "a@example.com",
    )
    .await;
    let entry = &outbox::all(&mut db.conn()).unwrap()[0];
    assert_eq!(entry.status(), Status::Sent, "{:?}", entry.last_error);

    let untrusted = submission_settings(server.port, "app-password-123", MailTls::StartTls);
    let db = deliver_with(
        Mailer::from_settings(&untrusted).unwrap(),
        &untrusted,
        "b@example.com",
    )
    .await;
    let entry = &outbox::all(&mut db.conn()).unwrap()[0];
    assert_eq!(
        entry.status(),
        Status::Pending,
        "not sent to an untrusted server"
    );
    assert!(entry.last_error.is_some());
    assert_eq!(
        server.received.lock().unwrap().len(),
        1,
        "only the trusted attempt arrived"
    );

    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "no certificates here").unwrap();
    let broken = MailSettings {
        ca_file: Some(empty),
        ..untrusted
    };
    assert!(Mailer::from_settings(&broken).is_err());
}
