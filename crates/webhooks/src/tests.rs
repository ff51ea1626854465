//! Webhooks driven directly, as an embedding program would.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use emporium_core::{PageRequest, WebhookId};
use emporium_db::TestDb;
use emporium_db::schema::{outbox, users, webhook_deliveries, webhook_events};

use crate::delivery::{self, AfterAttempt, Attempt, DeliveryStatus, RetryPolicy};
use crate::endpoint::{self, WebhookInput};
use crate::{EventType, WebhookError, publish, worker};

fn input(url: &str, events: &[&str]) -> WebhookInput {
    WebhookInput {
        url: Some(Some(url.into())),
        events: Some(Some(events.iter().map(|e| e.to_string()).collect())),
        description: None,
        enabled: None,
    }
}

fn register(db: &TestDb, url: &str, events: &[&str]) -> WebhookId {
    let changes = input(url, events).check(true, true).unwrap();
    endpoint::create(&mut db.conn(), changes, Utc::now())
        .unwrap()
        .id
}

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_secs(5),
        max_delay: Duration::from_secs(3600),
    }
}

fn deliveries(db: &TestDb) -> Vec<(WebhookId, String, i32)> {
    webhook_deliveries::table
        .order(webhook_deliveries::id.asc())
        .select((
            webhook_deliveries::endpoint_id,
            webhook_deliveries::status,
            webhook_deliveries::attempts,
        ))
        .load(&mut db.conn())
        .unwrap()
}

fn failure(code: u16) -> Attempt {
    Attempt {
        status: Some(code),
        body: Some("nope".into()),
        error: Some(format!("the endpoint answered {code}")),
    }
}

#[test]
fn endpoints_are_checked_and_secrets_shown_once() {
    let db = TestDb::new();
    let errors = WebhookInput::default().check(true, false).unwrap_err();
    let fields: Vec<&str> = errors.fields().iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["url", "events"]);
    let errors = input("http://127.0.0.1:9/", &["order.paid", "order.refunded"])
        .check(true, false)
        .unwrap_err();
    assert_eq!(errors.fields().len(), 2, "{errors}");
    assert!(
        input("https://10.1.2.3/", &["order.paid"])
            .check(true, false)
            .is_err()
    );
    assert!(
        input("https://erp.example/", &[])
            .check(true, false)
            .is_err()
    );

    let changes = input(
        "https://erp.example/hooks",
        &["order.shipped", "order.paid", "order.paid"],
    )
    .check(true, false)
    .unwrap();
    let created = endpoint::create(&mut db.conn(), changes, Utc::now()).unwrap();
    assert!(created.secret.as_deref().unwrap().starts_with("whsec_"));
    assert_eq!(
        created.events,
        [EventType::OrderPaid, EventType::OrderShipped]
    );
    assert!(created.enabled);
    let listed = endpoint::list(&mut db.conn()).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].secret, None, "never listed with its secret");

    let rotated = endpoint::rotate_secret(&mut db.conn(), created.id, Utc::now()).unwrap();
    assert_ne!(rotated.secret, created.secret);
    let patch = WebhookInput {
        description: Some(Some("  ERP  ".into())),
        enabled: Some(Some(false)),
        ..WebhookInput::default()
    }
    .check(false, false)
    .unwrap();
    let changed = endpoint::update(&mut db.conn(), created.id, patch, Utc::now()).unwrap();
    assert_eq!(changed.description.as_deref(), Some("ERP"));
    assert!(!changed.enabled);
    assert_eq!(changed.url, "https://erp.example/hooks");
    endpoint::delete(&mut db.conn(), created.id).unwrap();
    assert!(matches!(
        endpoint::get(&mut db.conn(), created.id),
        Err(WebhookError::NotFound)
    ));
}

#[test]
fn an_event_goes_to_each_enabled_subscribed_endpoint_and_only_with_its_change() {
    let db = TestDb::new();
    let now = Utc::now();
    // Nobody listens: nothing is written.
    assert_eq!(
        publish(&mut db.conn(), EventType::OrderPaid, &"x", now).unwrap(),
        None
    );
    let orders = register(&db, "http://127.0.0.1:9/orders", &["order.paid"]);
    let stock = register(&db, "http://127.0.0.1:9/stock", &["product.out_of_stock"]);
    let off = register(&db, "http://127.0.0.1:9/off", &["order.paid"]);
    let disable = WebhookInput {
        enabled: Some(Some(false)),
        ..WebhookInput::default()
    }
    .check(false, true)
    .unwrap();
    endpoint::update(&mut db.conn(), off, disable, now).unwrap();

    let event = publish(
        &mut db.conn(),
        EventType::OrderPaid,
        &serde_json::json!({"id": 1}),
        now,
    )
    .unwrap()
    .unwrap();
    assert_eq!(deliveries(&db), [(orders, "pending".to_string(), 0)]);
    let body: String = webhook_events::table
        .find(event)
        .select(webhook_events::body)
        .first(&mut db.conn())
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["type"], "order.paid");
    assert_eq!(body["data"]["id"], 1);
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));

    // A rolled-back change leaves no event.
    let result: Result<(), diesel::result::Error> =
        emporium_db::write_transaction(&mut db.conn(), |conn| {
            publish(conn, EventType::ProductOutOfStock, &"gone", now)?;
            Err(diesel::result::Error::RollbackTransaction)
        });
    assert!(result.is_err());
    assert_eq!(deliveries(&db).len(), 1);
    publish(&mut db.conn(), EventType::ProductOutOfStock, &"gone", now).unwrap();
    assert_eq!(deliveries(&db)[1].0, stock);
}

#[test]
fn failures_back_off_then_give_up_and_success_settles() {
    let db = TestDb::new();
    let hook = register(&db, "http://127.0.0.1:9/", &["order.paid"]);
    let now = Utc::now();
    publish(&mut db.conn(), EventType::OrderPaid, &1, now).unwrap();
    let claimed = delivery::claim_due(&mut db.conn(), now, Duration::from_secs(60), 8).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        claimed[0].message_id(),
        format!("evt_{}", claimed[0].event_id)
    );
    // Leased: a second worker gets nothing.
    assert!(
        delivery::claim_due(&mut db.conn(), now, Duration::from_secs(60), 8)
            .unwrap()
            .is_empty()
    );
    let id = claimed[0].id;
    let after =
        delivery::record(&mut db.conn(), id, &failure(500), now, &policy(2), "Shop").unwrap();
    assert_eq!(after, AfterAttempt::RetryAt(now + Duration::from_secs(5)));
    let page = delivery::list(&mut db.conn(), hook, PageRequest::new(1, 20).unwrap()).unwrap();
    let shown = &page.items[0];
    assert_eq!(
        (shown.status, shown.attempts, shown.last_response_code),
        (DeliveryStatus::Pending, 1, Some(500))
    );
    assert!(shown.next_attempt_at.is_some());
    let after =
        delivery::record(&mut db.conn(), id, &failure(502), now, &policy(2), "Shop").unwrap();
    assert_eq!(after, AfterAttempt::GaveUp);
    assert_eq!(deliveries(&db)[0].1, "failed");

    // A manual retry queues it again; a success settles it and keeps at most 1 KiB.
    delivery::retry(&mut db.conn(), hook, id, now).unwrap();
    let ok = Attempt {
        status: Some(204),
        body: Some("é".repeat(1000)),
        error: None,
    };
    let after = delivery::record(&mut db.conn(), id, &ok, now, &policy(2), "Shop").unwrap();
    assert_eq!(after, AfterAttempt::Succeeded);
    let shown = delivery::get(&mut db.conn(), hook, id).unwrap();
    assert_eq!(shown.status, DeliveryStatus::Succeeded);
    assert_eq!(shown.next_attempt_at, None);
    assert!(shown.last_response_body.unwrap().len() <= 1024);
}

#[test]
fn an_endpoint_failing_for_three_days_is_disabled_and_admins_are_told() {
    let db = TestDb::new();
    let at = |hours: i64| -> DateTime<Utc> { Utc::now() + chrono::Duration::hours(hours) };
    diesel::insert_into(users::table)
        .values((
            users::name.eq("Root"),
            users::email.eq("root@example.com"),
            users::password_hash.eq("x"),
            users::role.eq("admin"),
            users::email_verified.eq(true),
            users::created_at.eq(at(0).naive_utc()),
            users::updated_at.eq(at(0).naive_utc()),
        ))
        .execute(&mut db.conn())
        .unwrap();
    let hook = register(&db, "http://127.0.0.1:9/", &["order.paid"]);
    publish(&mut db.conn(), EventType::OrderPaid, &1, at(0)).unwrap();
    let id = deliveries_ids(&db)[0];
    let many = policy(1000);
    let first = delivery::record(&mut db.conn(), id, &failure(500), at(0), &many, "Shop").unwrap();
    assert!(matches!(first, AfterAttempt::RetryAt(_)));
    let later = delivery::record(&mut db.conn(), id, &failure(500), at(71), &many, "Shop").unwrap();
    assert!(matches!(later, AfterAttempt::RetryAt(_)));
    let last = delivery::record(&mut db.conn(), id, &failure(500), at(72), &many, "Shop").unwrap();
    assert_eq!(last, AfterAttempt::EndpointDisabled);
    assert!(!endpoint::get(&mut db.conn(), hook).unwrap().enabled);
    let mails: Vec<(String, String)> = outbox::table
        .select((outbox::kind, outbox::to_email))
        .load(&mut db.conn())
        .unwrap();
    assert_eq!(
        mails,
        [(
            "webhook_disabled".to_string(),
            "root@example.com".to_string()
        )]
    );
    // Disabled: nothing is claimed or retried, and new events are not queued for it.
    assert!(
        delivery::claim_due(&mut db.conn(), at(100), Duration::from_secs(60), 8)
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        delivery::retry(&mut db.conn(), hook, id, at(100)),
        Err(WebhookError::Disabled)
    ));
    assert_eq!(
        publish(&mut db.conn(), EventType::OrderPaid, &2, at(100)).unwrap(),
        None
    );
    // Enabled again: its pending delivery resumes.
    let enable = WebhookInput {
        enabled: Some(Some(true)),
        ..WebhookInput::default()
    }
    .check(false, true)
    .unwrap();
    endpoint::update(&mut db.conn(), hook, enable, at(100)).unwrap();
    let claimed = delivery::claim_due(&mut db.conn(), at(101), Duration::from_secs(60), 8).unwrap();
    assert_eq!(claimed.len(), 1);
}

fn deliveries_ids(db: &TestDb) -> Vec<emporium_core::DeliveryId> {
    webhook_deliveries::table
        .order(webhook_deliveries::id.asc())
        .select(webhook_deliveries::id)
        .load(&mut db.conn())
        .unwrap()
}

/// A one-request HTTP receiver: answers `status` and hands over what it received.
fn receiver(status: u16) -> (String, mpsc::Receiver<(Vec<String>, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut headers = Vec::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end().to_string();
            if line.is_empty() {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
            headers.push(line);
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
        )
        .unwrap();
        tx.send((headers, String::from_utf8(body).unwrap()))
            .unwrap();
    });
    (url, rx)
}

#[test]
fn a_sent_delivery_is_signed_so_a_standard_library_verifies_it() {
    let db = TestDb::new();
    let (url, received) = receiver(200);
    let changes = input(&url, &["order.paid"]).check(true, true).unwrap();
    let created = endpoint::create(&mut db.conn(), changes, Utc::now()).unwrap();
    publish(
        &mut db.conn(),
        EventType::OrderPaid,
        &serde_json::json!({"id": 7}),
        Utc::now(),
    )
    .unwrap();
    let claim = delivery::claim_due(&mut db.conn(), Utc::now(), Duration::from_secs(60), 8)
        .unwrap()
        .remove(0);
    let attempt = worker::send(&worker::client(true), &claim);
    assert!(attempt.succeeded(), "{attempt:?}");
    assert_eq!(attempt.body.as_deref(), Some("ok"));
    let (headers, body) = received.recv_timeout(Duration::from_secs(10)).unwrap();
    let mut map = http::HeaderMap::new();
    for line in headers.iter().skip(1) {
        let (name, value) = line.split_once(':').unwrap();
        let name: http::HeaderName = name.trim().to_ascii_lowercase().parse().unwrap();
        map.insert(name, value.trim().parse().unwrap());
    }
    assert_eq!(map["webhook-id"], claim.message_id().as_str());
    standardwebhooks::Webhook::new(created.secret.as_deref().unwrap())
        .unwrap()
        .verify(body.as_bytes(), &map)
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["data"]["id"], 7);
}

#[test]
fn without_the_flag_private_addresses_are_refused_at_send_time() {
    let db = TestDb::new();
    // Saved while private URLs were allowed; the worker now runs without the flag.
    let (url, received) = receiver(200);
    let url = url.replace("127.0.0.1", "localhost");
    register(&db, &url, &["order.paid"]);
    publish(&mut db.conn(), EventType::OrderPaid, &1, Utc::now()).unwrap();
    let claim = delivery::claim_due(&mut db.conn(), Utc::now(), Duration::from_secs(60), 8)
        .unwrap()
        .remove(0);
    let attempt = worker::send(&worker::client(false), &claim);
    assert!(!attempt.succeeded());
    assert_eq!(attempt.status, None);
    assert!(
        attempt.error.as_deref().unwrap_or("").contains("refused"),
        "{attempt:?}"
    );
    assert!(received.recv_timeout(Duration::from_millis(300)).is_err());
}

#[test]
fn redirects_are_not_followed() {
    let db = TestDb::new();
    let (url, _received) = receiver(302);
    register(&db, &url, &["order.paid"]);
    publish(&mut db.conn(), EventType::OrderPaid, &1, Utc::now()).unwrap();
    let claim = delivery::claim_due(&mut db.conn(), Utc::now(), Duration::from_secs(60), 8)
        .unwrap()
        .remove(0);
    let attempt = worker::send(&worker::client(true), &claim);
    assert_eq!(attempt.status, Some(302));
    assert!(!attempt.succeeded());
}
