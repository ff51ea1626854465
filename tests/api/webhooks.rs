//! Webhooks against a real HTTP receiver started by each test: signed, retried, once per
//! event, refused for private addresses unless allowed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::helpers::{TestApp, TestUser};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: http::HeaderMap,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers[name].to_str().unwrap()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// An HTTP server that records every request and answers 500 to the first `failures`.
struct Receiver {
    url: String,
    rx: mpsc::UnboundedReceiver<Received>,
    answered: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

#[derive(Clone)]
struct ReceiverState {
    tx: mpsc::UnboundedSender<Received>,
    failures: usize,
    answered: Arc<AtomicUsize>,
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<ReceiverState>,
) -> HttpResponse {
    let mut headers = http::HeaderMap::new();
    for (name, value) in req.headers() {
        let name: http::HeaderName = name.as_str().parse().unwrap();
        headers.insert(name, value.to_str().unwrap().parse().unwrap());
    }
    let _ = state.tx.send(Received {
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    });
    if state.answered.fetch_add(1, Ordering::SeqCst) < state.failures {
        HttpResponse::InternalServerError().body("not today")
    } else {
        HttpResponse::NoContent().finish()
    }
}

impl Receiver {
    async fn start(failures: usize) -> Receiver {
        let (tx, rx) = mpsc::unbounded_channel();
        let answered = Arc::new(AtomicUsize::new(0));
        let state = ReceiverState {
            tx,
            failures,
            answered: Arc::clone(&answered),
        };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(state.clone()))
                .default_service(web::to(receive))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/hooks/emporium"),
            rx,
            answered,
            handle,
        }
    }

    /// The next request (waits up to 15 s).
    async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(15), self.rx.recv())
            .await
            .expect("the receiver got a request in time")
            .expect("the receiver is running")
    }

    /// True when nothing arrives within `millis`.
    async fn quiet_for(&mut self, millis: u64) -> bool {
        tokio::time::timeout(Duration::from_millis(millis), self.rx.recv())
            .await
            .is_err()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

const ALLOW: &[(&str, &str)] = &[
    ("WEBHOOK_ALLOW_PRIVATE_URLS", "true"),
    ("WEBHOOK_RETRY_BASE_MS", "100"),
    ("WEBHOOK_POLL_INTERVAL_MS", "100"),
];

const ALL_EVENTS: [&str; 6] = [
    "order.paid",
    "order.shipped",
    "order.delivered",
    "order.cancelled",
    "product.out_of_stock",
    "product.back_in_stock",
];

async fn register(app: &TestApp, admin: &TestUser, url: &str, events: &[&str]) -> Value {
    let created = app
        .post_json_as(
            "/admin/webhooks",
            &admin.access,
            &json!({"url": url, "events": events, "description": "test receiver"}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    created.json()
}

/// The endpoint's newest delivery once `done` holds for it (polls for up to 15 s).
///
/// A receiver sees a request before the worker records its answer, so a test
/// that reads the deliveries right after `Receiver::next` must wait for the record.
async fn newest_delivery(
    app: &TestApp,
    admin: &TestUser,
    hook: &Value,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let path = format!("/admin/webhooks/{}/deliveries", hook["id"]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let deliveries = app.get_as(&path, &admin.access).await.json();
        let newest = &deliveries["items"][0];
        if done(newest) {
            return newest.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the delivery never reached the state: {deliveries}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Checks the signature with the Standard Webhooks library, as a receiver would.
fn verify(secret: &str, received: &Received) {
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(received.body.as_bytes(), &received.headers)
        .unwrap_or_else(|e| panic!("signature does not verify: {e:?}"));
}

#[actix_web::test]
async fn a_receiver_gets_each_order_and_stock_event_signed_once() {
    let app = TestApp::spawn_with(ALLOW, |_| {}).await;
    let mut receiver = Receiver::start(0).await;
    let admin = app.admin().await;
    let buyer = app.user().await;
    let hook = register(&app, &admin, &receiver.url, &ALL_EVENTS).await;
    let secret = hook["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let lamp = app.product(&admin, 19.99, 1).await;

    app.add_to_cart(&buyer, lamp, 1).await;
    let order = app.checkout(&buyer).await.json();
    let mut first_two = vec![receiver.next().await, receiver.next().await];
    first_two.sort_by_key(|r| r.json()["type"].as_str().unwrap().to_string());
    let (paid, sold_out) = (&first_two[0], &first_two[1]);
    for received in &first_two {
        verify(&secret, received);
        assert_eq!(received.header("content-type"), "application/json");
        assert!(received.header("webhook-id").starts_with("evt_"));
        let body = received.json();
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!(paid.json()["type"], "order.paid");
    assert_eq!(
        paid.json()["data"],
        order,
        "data is the order as the API shows it"
    );
    assert_eq!(sold_out.json()["type"], "product.out_of_stock");
    assert_eq!(sold_out.json()["data"]["id"], lamp);
    assert_eq!(sold_out.json()["data"]["stock"], 0);

    // One event per transition.
    let path = format!("/admin/orders/{}", order["id"]);
    for (status, event) in [
        ("shipped", "order.shipped"),
        ("delivered", "order.delivered"),
    ] {
        let changed = app
            .patch_json_as(&path, &admin.access, &json!({"status": status}))
            .await;
        assert_eq!(changed.status, 200);
        let received = receiver.next().await;
        verify(&secret, &received);
        assert_eq!(received.json()["type"], event);
        assert_eq!(received.json()["data"]["status"], status);
    }
    // Restocking by an admin brings the product back.
    app.patch_json_as(
        &format!("/products/{lamp}"),
        &admin.access,
        &json!({"stock": 5}),
    )
    .await;
    let back = receiver.next().await;
    assert_eq!(back.json()["type"], "product.back_in_stock");
    assert_eq!(back.json()["data"]["stock"], 5);
    assert!(receiver.quiet_for(700).await, "each event is sent once");

    let deliveries = app
        .get_as(
            &format!("/admin/webhooks/{}/deliveries", hook["id"]),
            &admin.access,
        )
        .await
        .json();
    assert_eq!(deliveries["total"], 5);
    let first = &deliveries["items"][0];
    assert_eq!(first["event"], "product.back_in_stock", "newest first");
    assert_eq!(first["status"], "succeeded");
    assert_eq!(first["attempts"], 1);
    assert_eq!(first["last_response_code"], 204);
    assert_eq!(first["next_attempt_at"], Value::Null);
}

#[actix_web::test]
async fn a_failing_receiver_is_retried_until_it_answers_2xx() {
    let app = TestApp::spawn_with(ALLOW, |_| {}).await;
    let mut receiver = Receiver::start(2).await;
    let admin = app.admin().await;
    let buyer = app.user().await;
    let hook = register(&app, &admin, &receiver.url, &["order.paid"]).await;
    let lamp = app.product(&admin, 5.0, 10).await;
    app.add_to_cart(&buyer, lamp, 1).await;
    assert_eq!(app.checkout(&buyer).await.status, 201);

    let attempts = [
        receiver.next().await,
        receiver.next().await,
        receiver.next().await,
    ];
    let id = attempts[0].header("webhook-id").to_string();
    for attempt in &attempts {
        assert_eq!(
            attempt.header("webhook-id"),
            id,
            "one message id for every attempt"
        );
        verify(hook["secret"].as_str().unwrap(), attempt);
    }
    assert!(
        receiver.quiet_for(700).await,
        "no attempt after the success"
    );
    assert_eq!(receiver.answered.load(Ordering::SeqCst), 3);
    let deliveries = app
        .get_as(
            &format!("/admin/webhooks/{}/deliveries", hook["id"]),
            &admin.access,
        )
        .await
        .json();
    let delivery = &deliveries["items"][0];
    assert_eq!(delivery["status"], "succeeded");
    assert_eq!(delivery["attempts"], 3);
    assert_eq!(delivery["last_response_code"], 204);

    // An admin can send it again: the same message id, so the receiver can tell.
    let retry = format!(
        "/admin/webhooks/{}/deliveries/{}/retry",
        hook["id"], delivery["id"]
    );
    let queued = app
        .send(app.request_as(awc::http::Method::POST, &retry, &admin.access))
        .await;
    assert_eq!(queued.status, 202);
    assert_eq!(receiver.next().await.header("webhook-id"), id);
    let missing = format!("/admin/webhooks/{}/deliveries/999999/retry", hook["id"]);
    app.send(app.request_as(awc::http::Method::POST, &missing, &admin.access))
        .await
        .assert_problem(404, "not_found");
}

#[actix_web::test]
async fn a_declined_checkout_publishes_nothing() {
    let app = TestApp::spawn_with(ALLOW, |_| {}).await;
    let mut receiver = Receiver::start(0).await;
    let admin = app.admin().await;
    let buyer = app.user().await;
    let hook = register(&app, &admin, &receiver.url, &ALL_EVENTS).await;
    let lamp = app.product(&admin, 5.0, 1).await;
    app.add_to_cart(&buyer, lamp, 1).await;
    let declined = app
        .post_json_as(
            "/checkout",
            &buyer.access,
            &json!({"payment": {"method": "dummy", "card_number": "4000000000000002"}}),
        )
        .await;
    declined.assert_problem(402, "payment_declined");
    assert!(
        receiver.quiet_for(700).await,
        "no order.paid, no product.out_of_stock"
    );
    let deliveries = app
        .get_as(
            &format!("/admin/webhooks/{}/deliveries", hook["id"]),
            &admin.access,
        )
        .await
        .json();
    assert_eq!(deliveries["total"], 0);
}

#[actix_web::test]
async fn several_servers_deliver_each_event_once_and_a_restart_loses_none() {
    let app = TestApp::spawn_with(ALLOW, |_| {}).await;
    let peer = app.spawn_peer().await;
    let mut receiver = Receiver::start(0).await;
    let admin = app.admin().await;
    register(&app, &admin, &receiver.url, &["order.paid"]).await;
    let lamp = app.product(&admin, 5.0, 100).await;
    let mut orders = Vec::new();
    for n in 0..6 {
        let buyer = app.user().await;
        let server = if n % 2 == 0 { &app } else { &peer };
        server.add_to_cart(&buyer, lamp, 1).await;
        orders.push(server.checkout(&buyer).await.json()["id"].clone());
    }
    let mut seen = Vec::new();
    for _ in 0..6 {
        let received = receiver.next().await;
        seen.push((
            received.header("webhook-id").to_string(),
            received.json()["data"]["id"].clone(),
        ));
    }
    assert!(receiver.quiet_for(1000).await, "no event twice");
    seen.sort_by_key(|(id, _)| id.clone());
    seen.dedup();
    assert_eq!(seen.len(), 6);

    // An event queued while the receiver is down is delivered after a restart.
    drop(peer);
    let dead = "http://127.0.0.1:9/hooks".to_string();
    let down = register(&app, &admin, &dead, &["order.paid"]).await;
    let buyer = app.user().await;
    app.add_to_cart(&buyer, lamp, 1).await;
    assert_eq!(app.checkout(&buyer).await.status, 201);
    receiver.next().await; // the live endpoint got it
    let failed_once = |d: &Value| d["attempts"].as_i64().is_some_and(|n| n >= 1);
    let first = newest_delivery(&app, &admin, &down, failed_once).await;
    assert_eq!(first["status"], "pending", "a refused attempt is retried");
    let app = app.restart().await;
    let path = format!("/admin/webhooks/{}", down["id"]);
    let patched = app
        .patch_json_as(&path, &admin.access, &json!({"url": receiver.url}))
        .await;
    assert_eq!(patched.status, 200);
    let redelivered = receiver.next().await;
    assert_eq!(redelivered.json()["type"], "order.paid");
    let delivered = newest_delivery(&app, &admin, &down, |d| d["status"] == "succeeded").await;
    assert!(delivered["attempts"].as_i64().unwrap() >= 2, "{delivered}");
    assert_eq!(delivered["last_response_code"], 204);
}

#[actix_web::test]
async fn admins_manage_endpoints_and_private_urls_are_refused_by_default() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let buyer = app.user().await;
    app.post_json_as(
        "/admin/webhooks",
        &buyer.access,
        &json!({"url": "https://erp.example.com/h", "events": ["order.paid"]}),
    )
    .await
    .assert_problem(403, "admin_required");

    for url in [
        "http://127.0.0.1:9000/hook",
        "https://127.0.0.1/hook",
        "https://10.0.0.7/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://localhost/hook",
        "http://erp.example.com/hook",
    ] {
        let refused = app
            .post_json_as(
                "/admin/webhooks",
                &admin.access,
                &json!({"url": url, "events": ["order.paid"]}),
            )
            .await;
        refused.assert_problem(422, "validation_failed");
        assert_eq!(refused.error_fields(), ["url"], "{url}");
    }
    let bad_events = app
        .post_json_as(
            "/admin/webhooks",
            &admin.access,
            &json!({"url": "https://erp.example.com/h", "events": ["order.refunded"]}),
        )
        .await;
    assert_eq!(bad_events.error_fields(), ["events"]);

    let created = register(
        &app,
        &admin,
        "https://erp.example.com/hooks",
        &["order.paid"],
    )
    .await;
    let path = format!("/admin/webhooks/{}", created["id"]);
    let secret = created["secret"].as_str().unwrap();
    let shown = app.get_as(&path, &admin.access).await.json();
    assert_eq!(
        shown["secret"],
        Value::Null,
        "the secret is shown only once"
    );
    assert_eq!(shown["events"], json!(["order.paid"]));
    assert_eq!(shown["enabled"], true);
    assert_eq!(
        app.get_as("/admin/webhooks", &admin.access).await.json()[0]["id"],
        created["id"]
    );
    let changed = app
        .patch_json_as(
            &path,
            &admin.access,
            &json!({"events": ["order.shipped", "order.paid"], "enabled": false, "description": null}),
        )
        .await
        .json();
    assert_eq!(changed["events"], json!(["order.paid", "order.shipped"]));
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["description"], Value::Null);
    let rotated = app
        .send(app.request_as(
            awc::http::Method::POST,
            &format!("{path}/rotate-secret"),
            &admin.access,
        ))
        .await
        .json();
    assert_ne!(rotated["secret"].as_str().unwrap(), secret);
    let deleted = app
        .send(app.request_as(awc::http::Method::DELETE, &path, &admin.access))
        .await;
    assert_eq!(deleted.status, 204);
    app.get_as(&path, &admin.access)
        .await
        .assert_problem(404, "not_found");
}
