//! Two servers on one database, as behind a load balancer: every promise of the contract holds
//! whichever server a request reaches. (On PostgreSQL this is the scale-out setup; on SQLite,
//! two processes on one machine sharing the file.) Each server has its own pool, caches, mail
//! worker and port; only the database (and here the SMTP server) is shared.

use std::collections::HashMap;

use actix_web::http::Method;
use diesel::prelude::*;
use emporium::core::Email;
use emporium::core::settings::DatabaseBackend;
use emporium::mail::{MessageKind, OutgoingMail, templates};
use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{TestApp, TestUser};

/// The app and a peer on its database.
async fn two_servers(vars: &[(&str, &str)]) -> (TestApp, TestApp) {
    let a = TestApp::spawn_with(vars, |_| {}).await;
    let b = a.spawn_peer().await;
    (a, b)
}

/// `a` for even `n`, `b` for odd: requests spread over both servers.
fn either<'a>(a: &'a TestApp, b: &'a TestApp, n: usize) -> &'a TestApp {
    if n.is_multiple_of(2) { a } else { b }
}

async fn stock(app: &TestApp, product: i64) -> i64 {
    app.get(&format!("/products/{product}")).await.json()["stock"]
        .as_i64()
        .unwrap()
}

#[actix_web::test]
async fn fifty_checkouts_of_the_last_unit_across_two_servers_make_one_order() {
    let (a, b) = two_servers(&[]).await;
    let admin = a.admin().await;
    let buyers: Vec<TestUser> = join_all((0..50).map(|n| either(&a, &b, n).user())).await;
    for round in 0..5 {
        let product = a.product(&admin, 9.99, 1).await;
        let added = join_all(
            buyers
                .iter()
                .enumerate()
                .map(|(n, buyer)| either(&a, &b, n + 1).add_to_cart(buyer, product, 1)),
        )
        .await;
        assert!(added.iter().all(|r| r.status == 200), "round {round}");

        let responses = join_all(
            buyers
                .iter()
                .enumerate()
                .map(|(n, buyer)| either(&a, &b, n).checkout(buyer)),
        )
        .await;
        let created = responses.iter().filter(|r| r.status == 201).count();
        let refused = responses
            .iter()
            .filter(|r| r.status == 409 && r.json()["code"] == "insufficient_stock")
            .count();
        assert_eq!((created, refused), (1, 49), "round {round}");
        assert_eq!(stock(&a, product).await, 0, "round {round}");
        assert_eq!(stock(&b, product).await, 0, "round {round}");
        for server in [&a, &b] {
            let all = server
                .get_as("/admin/orders?page_size=100", &admin.access)
                .await
                .json();
            assert_eq!(all["total"], round + 1, "round {round}: one order per unit");
        }
        join_all(
            buyers
                .iter()
                .map(|buyer| a.send(a.request_as(Method::DELETE, "/cart", &buyer.access))),
        )
        .await;
    }
}

#[actix_web::test]
async fn one_idempotency_key_sent_to_both_servers_at_once_makes_one_order() {
    let (a, b) = two_servers(&[]).await;
    let admin = a.admin().await;
    let buyer = a.user().await;
    let product = a.product(&admin, 12.5, 100).await;
    for round in 0..10 {
        a.add_to_cart(&buyer, product, 2).await;
        let key = format!("two-servers-{round}");
        let responses = join_all((0..6).map(|n| {
            let server = either(&a, &b, n);
            server.send(
                server
                    .request_as(Method::POST, "/checkout", &buyer.access)
                    .insert_header(("Idempotency-Key", key.as_str())),
            )
        }))
        .await;
        assert!(
            responses.iter().all(|r| r.status == 201),
            "round {round}: {:?}",
            responses.iter().map(|r| r.status).collect::<Vec<_>>()
        );
        assert!(
            responses.iter().all(|r| r.body == responses[0].body),
            "round {round}: every server answers with the first response"
        );
        let fresh = responses
            .iter()
            .filter(|r| r.header("idempotent-replayed").is_none())
            .count();
        assert_eq!(
            fresh, 1,
            "round {round}: one made the order, the rest replayed"
        );
        assert_eq!(
            b.get_as("/orders", &buyer.access).await.json()["total"],
            round + 1
        );
    }
    assert_eq!(stock(&b, product).await, 100 - 2 * 10);
}

#[actix_web::test]
async fn queued_mail_is_delivered_exactly_once_with_both_workers_running() {
    let (a, b) = two_servers(&[]).await;
    // Twenty mails committed at once, while both servers' workers poll the outbox.
    {
        let mut conn = a.pool.get().unwrap();
        emporium::db::write_transaction(&mut conn, |conn| {
            for n in 0..20 {
                let mail = OutgoingMail {
                    kind: MessageKind::PasswordReset,
                    to: Email::parse(&format!("reader{n}@example.com")).unwrap(),
                    to_name: format!("Reader {n}"),
                    content: templates::password_reset(
                        "Emporium",
                        &format!("Reader {n}"),
                        &format!("http://shop.test/auth/reset-password?token=t{n}"),
                        30,
                    ),
                };
                emporium::mail::enqueue(conn, &mail, chrono::Utc::now())?;
            }
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
    }
    let mut received: HashMap<String, usize> = HashMap::new();
    for _ in 0..20 {
        let mail = a.next_mail().await;
        let to = mail["to"].to_string();
        *received.entry(to).or_default() += 1;
    }
    assert!(
        a.no_mail_within(1500).await,
        "nothing is delivered a second time"
    );
    assert_eq!(received.len(), 20, "every recipient got their mail");
    assert!(received.values().all(|&n| n == 1), "{received:?}");
    drop(b);
}

#[actix_web::test]
async fn sessions_roles_and_throttling_are_seen_by_every_server_at_once() {
    let (a, b) = two_servers(&[]).await;
    let admin = a.admin().await;
    let user = b.user().await;

    // A token pair from A works on B; refreshing on B rotates it for both.
    assert_eq!(b.get_as("/users/me", &user.access).await.status, 200);
    let rotated = b
        .post_json("/auth/refresh", &json!({"refresh_token": user.refresh}))
        .await;
    assert_eq!(rotated.status, 200);
    let rotated = rotated.json();
    // The old refresh token presented to the other server is a reuse: the session ends.
    a.post_json("/auth/refresh", &json!({"refresh_token": user.refresh}))
        .await
        .assert_problem(401, "refresh_token_reused");
    let new_access = rotated["access_token"].as_str().unwrap();
    b.get_as("/users/me", new_access)
        .await
        .assert_problem(401, "invalid_token");

    // An admin disables an account through B: A refuses its next request.
    let shopper = a.user().await;
    assert_eq!(a.get_as("/users/me", &shopper.access).await.status, 200);
    let disabled = b
        .patch_json_as(
            &format!("/users/{}", shopper.id),
            &admin.access,
            &json!({"is_active": false}),
        )
        .await;
    assert_eq!(disabled.status, 200);
    a.get_as("/users/me", &shopper.access)
        .await
        .assert_problem(403, "account_disabled");

    // A promotion through A is an admin on B at once.
    let promoted = a.user().await;
    b.get_as("/users", &promoted.access)
        .await
        .assert_problem(403, "admin_required");
    a.patch_json_as(
        &format!("/users/{}", promoted.id),
        &admin.access,
        &json!({"role": "admin"}),
    )
    .await;
    assert_eq!(b.get_as("/users", &promoted.access).await.status, 200);

    // Failed signins for one email count together, whichever server sees them.
    let target = a.user().await;
    for n in 0..5 {
        let response = either(&a, &b, n)
            .signin(&target.email, "wrong password!")
            .await;
        response.assert_problem(401, "invalid_credentials");
    }
    for server in [&a, &b] {
        let throttled = server.signin(&target.email, &target.password).await;
        throttled.assert_problem(429, "too_many_attempts");
        assert!(throttled.header("retry-after").is_some());
    }
}

/// The body of `GET path` on `app` once `check` accepts it: polled every 50 ms for up to
/// 2 s, twice the documented bound (`pages::MAX_AGE`) on how late another server's change
/// shows. Panics with the last body if it never does.
async fn within_the_bound(
    app: &TestApp,
    path: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> std::time::Duration {
    let started = std::time::Instant::now();
    loop {
        let body = app.get(path).await.json();
        if check(&body) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{path} still shows {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn a_catalog_change_through_one_server_shows_on_the_other_within_a_second() {
    let (a, b) = two_servers(&[]).await;
    let admin = a.admin().await;
    let product = a.product(&admin, 5.0, 3).await;
    // B keeps the listing, a search and the detail in memory.
    let listed = b.get("/products?in_stock=true").await.json();
    assert_eq!(listed["total"], 1);
    assert_eq!(b.get("/products/search?q=product").await.json()["total"], 1);
    assert_eq!(stock(&b, product).await, 3);

    // A renames and re-prices it; B's answers show it within the bound.
    let patched = a
        .patch_json_as(
            &format!("/products/{product}"),
            &admin.access,
            &json!({"name": "Walnut desk", "price": 7.25}),
        )
        .await;
    assert_eq!(patched.status, 200);
    within_the_bound(&b, "/products?in_stock=true", |listed| {
        listed["items"][0]["name"] == "Walnut desk" && listed["items"][0]["price"] == 7.25
    })
    .await;
    within_the_bound(&b, "/products/search?q=walnut", |found| found["total"] == 1).await;
    within_the_bound(&b, "/products/search?q=product", |found| {
        found["total"] == 0
    })
    .await;

    // A checkout through A sells the last units: B's in-stock listing drops it.
    let buyer = a.user().await;
    a.add_to_cart(&buyer, product, 3).await;
    assert_eq!(a.checkout(&buyer).await.status, 201);
    within_the_bound(&b, "/products?in_stock=true", |listed| listed["total"] == 0).await;
    within_the_bound(&b, &format!("/products/{product}"), |p| p["stock"] == 0).await;
    // The server that made the change shows it at once.
    assert_eq!(a.get("/products?in_stock=true").await.json()["total"], 0);

    // A deletion through B leaves A's listing and search.
    let deleted = b
        .send(b.request_as(
            Method::DELETE,
            &format!("/products/{product}"),
            &admin.access,
        ))
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(b.get("/products").await.json()["total"], 0, "at once on B");
    within_the_bound(&a, "/products", |listed| listed["total"] == 0).await;
    within_the_bound(&a, "/products/search?q=walnut", |found| found["total"] == 0).await;
}

#[actix_web::test]
async fn without_jwt_secret_every_server_signs_with_the_same_generated_key() {
    let (a, b) = two_servers(&[("JWT_SECRET", "")]).await;
    let c = a.spawn_peer().await;
    let user = a.user().await;
    for server in [&a, &b, &c] {
        assert_eq!(
            server.get_as("/users/me", &user.access).await.status,
            200,
            "a token from one server is good on every server"
        );
    }
    let refreshed = c
        .post_json("/auth/refresh", &json!({"refresh_token": user.refresh}))
        .await;
    assert_eq!(refreshed.status, 200);
    let access = refreshed.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(b.get_as("/users/me", &access).await.status, 200);
    // It was generated once and kept where every server finds it: in the database on
    // PostgreSQL, in a file beside the database on SQLite.
    let db = a.db();
    match db.backend() {
        DatabaseBackend::Postgres => {
            use emporium::db::schema::shared_secrets;
            let mut conn = db.conn();
            let keys: Vec<String> = shared_secrets::table
                .filter(shared_secrets::name.eq("jwt"))
                .select(shared_secrets::value)
                .load(&mut *conn)
                .unwrap();
            assert_eq!(keys.len(), 1);
            assert_eq!(keys[0].len(), 64, "256 bits, hex");
        }
        DatabaseBackend::Sqlite => {
            let file = emporium::core::settings::jwt_secret_path(&db.path());
            assert_eq!(std::fs::read_to_string(file).unwrap().trim().len(), 64);
        }
    }
}
