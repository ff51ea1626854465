//! `/checkout`, `/orders`, `/admin/orders`: correct under concurrency, idempotent, with a
//! lifecycle.

use std::collections::HashMap;

use actix_web::http::Method;
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser};

async fn stock(app: &TestApp, product: i64) -> i64 {
    app.get(&format!("/products/{product}")).await.json()["stock"]
        .as_i64()
        .unwrap()
}

#[actix_web::test]
async fn fifty_buyers_race_for_the_last_unit_and_exactly_one_wins_twenty_times_over() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let buyers: Vec<TestUser> = join_all((0..50).map(|_| app.user())).await;
    for round in 0..20 {
        let product = app.product(&admin, 9.99, 1).await;
        let added = join_all(buyers.iter().map(|b| app.add_to_cart(b, product, 1))).await;
        assert!(
            added.iter().all(|r| r.status == 200),
            "round {round}: every cart holds the last unit"
        );

        let responses = join_all(buyers.iter().map(|b| app.checkout(b))).await;
        let created: Vec<&crate::helpers::TestResponse> =
            responses.iter().filter(|r| r.status == 201).collect();
        let refused = responses
            .iter()
            .filter(|r| r.status == 409 && r.json()["code"] == "insufficient_stock")
            .count();
        assert_eq!((created.len(), refused), (1, 49), "round {round}");
        assert_eq!(
            stock(&app, product).await,
            0,
            "round {round}: never below zero"
        );
        let winner = created[0].json();
        assert_eq!(winner["items"][0]["product_id"], product);
        let all = app
            .get_as("/admin/orders?page_size=100", &admin.access)
            .await
            .json();
        assert_eq!(
            all["total"],
            round + 1,
            "round {round}: no order lost, none extra"
        );

        join_all(
            buyers
                .iter()
                .map(|b| app.send(app.request_as(Method::DELETE, "/cart", &b.access))),
        )
        .await;
    }
}

#[actix_web::test]
async fn twenty_concurrent_checkouts_with_one_key_make_one_order_and_answer_alike() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let buyer = app.user().await;
    let product = app.product(&admin, 12.5, 10).await;
    app.add_to_cart(&buyer, product, 2).await;
    let responses = join_all((0..20).map(|_| {
        app.send(
            app.request_as(Method::POST, "/checkout", &buyer.access)
                .insert_header(("Idempotency-Key", "checkout-7f3a")),
        )
    }))
    .await;
    assert!(responses.iter().all(|r| r.status == 201));
    let first = &responses[0].body;
    assert!(
        responses.iter().all(|r| r.body == *first),
        "every response is the same"
    );
    let fresh = responses
        .iter()
        .filter(|r| r.header("idempotent-replayed").is_none())
        .count();
    assert_eq!(
        fresh, 1,
        "one response made the order; the others replayed it"
    );
    assert!(
        responses
            .iter()
            .filter(|r| r.header("idempotent-replayed").is_some())
            .all(|r| r.header("idempotent-replayed").as_deref() == Some("true"))
    );
    assert_eq!(
        app.get_as("/orders", &buyer.access).await.json()["total"],
        1
    );
    assert_eq!(stock(&app, product).await, 8);

    // Later: the cart is empty, the retry still replays.
    let retry = app
        .send(
            app.request_as(Method::POST, "/checkout", &buyer.access)
                .insert_header(("Idempotency-Key", "checkout-7f3a")),
        )
        .await;
    assert_eq!((retry.status, &retry.body), (201, first));
    // A different cart with the same key is refused; a new key orders it.
    app.add_to_cart(&buyer, product, 1).await;
    app.send(
        app.request_as(Method::POST, "/checkout", &buyer.access)
            .insert_header(("Idempotency-Key", "checkout-7f3a")),
    )
    .await
    .assert_problem(409, "idempotency_key_reused");
    let second = app
        .send(
            app.request_as(Method::POST, "/checkout", &buyer.access)
                .insert_header(("Idempotency-Key", "checkout-8b1c")),
        )
        .await;
    assert_eq!(second.status, 201);
    let long_key = "k".repeat(256);
    app.send(
        app.request_as(Method::POST, "/checkout", &buyer.access)
            .insert_header(("Idempotency-Key", long_key.as_str())),
    )
    .await
    .assert_problem(422, "validation_failed");
}

#[actix_web::test]
async fn checkout_errors_change_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let buyer = app.user().await;
    app.checkout(&buyer).await.assert_problem(409, "cart_empty");

    let (a, b, c) = (
        app.product(&admin, 1.0, 5).await,
        app.product(&admin, 2.0, 5).await,
        app.product(&admin, 3.0, 5).await,
    );
    for p in [a, b, c] {
        app.add_to_cart(&buyer, p, 4).await;
    }
    for p in [a, c] {
        app.patch_json_as(
            &format!("/products/{p}"),
            &admin.access,
            &json!({"stock": 1}),
        )
        .await;
    }
    let short = app.checkout(&buyer).await;
    let body = short.assert_problem(409, "insufficient_stock");
    assert_eq!(
        body["errors"],
        json!([{"product_id": a, "requested": 4, "available": 1}, {"product_id": c, "requested": 4, "available": 1}])
    );
    assert_eq!(body["detail"], "Not enough stock for 2 products");
    for p in [a, c] {
        app.patch_json_as(
            &format!("/products/{p}"),
            &admin.access,
            &json!({"stock": 5}),
        )
        .await;
    }

    let declined = app
        .post_json_as(
            "/checkout",
            &buyer.access,
            &json!({"payment": {"method": "dummy", "card_number": "4000000000000002"}}),
        )
        .await;
    declined.assert_problem(402, "payment_declined");
    assert_eq!((stock(&app, a).await, stock(&app, b).await), (5, 5));
    assert_eq!(
        app.get_as("/cart", &buyer.access).await.json()["item_count"],
        12,
        "the cart is unchanged"
    );
    assert_eq!(
        app.get_as("/orders", &buyer.access).await.json()["total"],
        0
    );

    let array = app
        .post_json_as(
            "/checkout",
            &buyer.access,
            &json!({"payment": [null, null]}),
        )
        .await;
    array.assert_problem(422, "validation_failed");
    assert_eq!(array.error_fields(), ["payment"]);
    let bad = app
        .post_json_as(
            "/checkout",
            &buyer.access,
            &json!({"payment": {"method": "bitcoin", "card_number": "1234"}}),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(
        bad.error_fields(),
        ["payment.method", "payment.card_number"]
    );

    let paid = app
        .post_json_as(
            "/checkout",
            &buyer.access,
            &json!({"payment": {"method": "dummy", "card_number": "4242424242424242"}}),
        )
        .await;
    assert_eq!(paid.status, 201);
    let order = paid.json();
    assert_eq!(
        paid.header("location"),
        Some(format!("/orders/{}", order["id"]))
    );
    assert_eq!(order["status"], "paid");
    assert_eq!(order["total"], json!(24.0));
    assert_eq!(
        app.get_as("/cart", &buyer.access).await.json()["items"],
        json!([])
    );
    let mail = app.next_mail().await;
    assert!(
        mail["subject"]
            .as_str()
            .unwrap()
            .contains(&format!("#{}", order["id"]))
    );
}

#[actix_web::test]
async fn past_orders_keep_their_prices_and_lines_after_changes_and_deletion() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let buyer = app.user().await;
    let product = app.product(&admin, 19.99, 5).await;
    app.add_to_cart(&buyer, product, 2).await;
    let order = app.checkout(&buyer).await.json();
    app.patch_json_as(
        &format!("/products/{product}"),
        &admin.access,
        &json!({"price": 99.0, "name": "Renamed"}),
    )
    .await;
    app.send(app.request_as(
        Method::DELETE,
        &format!("/products/{product}"),
        &admin.access,
    ))
    .await;

    let again = app
        .get_as(&format!("/orders/{}", order["id"]), &buyer.access)
        .await;
    assert_eq!(again.status, 200);
    let again = again.json();
    assert_eq!(again, order);
    assert_eq!(again["items"][0]["unit_price"], json!(19.99));
    assert_eq!(again["items"][0]["line_total"], json!(39.98));
    assert_eq!(again["items"][0]["product_id"], product);
    assert_ne!(again["items"][0]["product_name"], "Renamed");
    let summary = app.get_as("/orders", &buyer.access).await.json();
    assert_eq!(summary["items"][0]["item_count"], 2);
    assert!(summary["items"][0].get("items").is_none());
}

#[actix_web::test]
async fn orders_are_private_and_admin_routes_are_for_admins() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (buyer, other) = (app.user().await, app.user().await);
    let product = app.product(&admin, 5.0, 5).await;
    app.add_to_cart(&buyer, product, 1).await;
    let order = app.checkout(&buyer).await.json();
    let path = format!("/orders/{}", order["id"]);

    app.get_as(&path, &other.access)
        .await
        .assert_problem(404, "not_found");
    app.send(app.request_as(Method::POST, &format!("{path}/cancel"), &other.access))
        .await
        .assert_problem(404, "not_found");
    assert_eq!(
        app.get_as("/orders", &other.access).await.json()["total"],
        0
    );
    assert_eq!(
        app.get_as(&path, &admin.access).await.status,
        200,
        "admins see every order"
    );
    app.get_as("/admin/orders", &buyer.access)
        .await
        .assert_problem(403, "admin_required");
    app.patch_json_as(
        &format!("/admin/orders/{}", order["id"]),
        &buyer.access,
        &json!({"status": "shipped"}),
    )
    .await
    .assert_problem(403, "admin_required");
    app.get("/orders")
        .await
        .assert_problem(401, "not_authenticated");
    app.get_as("/orders/999999", &buyer.access)
        .await
        .assert_problem(404, "not_found");
    app.get_as("/admin/orders?status=lost", &admin.access)
        .await
        .assert_problem(422, "validation_failed");
}

#[actix_web::test]
async fn the_lifecycle_follows_its_transitions() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let buyer = app.user().await;
    let product = app.product(&admin, 5.0, 10).await;
    let place = async || {
        app.add_to_cart(&buyer, product, 2).await;
        app.checkout(&buyer).await.json()["id"].as_i64().unwrap()
    };
    let first = place().await;
    let second = place().await;
    let third = place().await;
    assert_eq!(stock(&app, product).await, 4);
    let set = async |id: i64, status: &str| {
        app.patch_json_as(
            &format!("/admin/orders/{id}"),
            &admin.access,
            &json!({"status": status}),
        )
        .await
    };
    let cancel = async |id: i64, user: &TestUser| {
        app.send(app.request_as(Method::POST, &format!("/orders/{id}/cancel"), &user.access))
            .await
    };

    // Owner cancels a paid order: restocked.
    assert_eq!(cancel(first, &buyer).await.json()["status"], "cancelled");
    assert_eq!(stock(&app, product).await, 6);
    cancel(first, &buyer)
        .await
        .assert_problem(409, "invalid_transition");
    set(first, "shipped")
        .await
        .assert_problem(409, "invalid_transition");

    // paid → shipped → delivered; delivered is final.
    assert_eq!(set(second, "shipped").await.json()["status"], "shipped");
    cancel(second, &buyer)
        .await
        .assert_problem(409, "invalid_transition");
    set(second, "paid")
        .await
        .assert_problem(409, "invalid_transition");
    assert_eq!(set(second, "delivered").await.json()["status"], "delivered");
    cancel(second, &admin)
        .await
        .assert_problem(409, "invalid_transition");

    // An admin may cancel a shipped order.
    set(third, "shipped").await;
    assert_eq!(cancel(third, &admin).await.json()["status"], "cancelled");
    set(third, "delivered")
        .await
        .assert_problem(409, "invalid_transition");

    let all = app.get_as("/admin/orders", &admin.access).await.json();
    let ids: Vec<i64> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [third, second, first], "newest first");
    let cancelled = app
        .get_as("/admin/orders?status=cancelled", &admin.access)
        .await
        .json();
    assert_eq!(cancelled["total"], 2);
    let mine = app
        .get_as("/orders?page_size=2", &buyer.access)
        .await
        .json();
    assert_eq!(
        (mine["total"].as_i64(), mine["total_pages"].as_i64()),
        (Some(3), Some(2))
    );
    set(first, "lost")
        .await
        .assert_problem(422, "validation_failed");
}

/// A small deterministic generator for the random mix.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n
    }
}

#[actix_web::test]
async fn a_random_mix_of_operations_keeps_every_invariant() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let buyers: Vec<TestUser> = join_all((0..6).map(|_| app.user())).await;
    let mut products = Vec::new();
    for _ in 0..5 {
        products.push(app.product(&admin, 3.33, 25).await);
    }
    let initial: HashMap<i64, i64> = products.iter().map(|p| (*p, 25)).collect();
    // What the test knows of each order: (buyer index, status).
    let mut known: HashMap<i64, (usize, &'static str)> = HashMap::new();
    let mut restocked: HashMap<i64, i64> = HashMap::new();
    let mut rng = Lcg(42);

    for _batch in 0..30 {
        // Each buyer does at most one thing per batch, and each order is touched at most
        // once, so the outcome of every request is unambiguous; the requests still run at
        // the same time.
        let mut touched = std::collections::HashSet::new();
        let mut ops: Vec<(usize, u8, i64, i64)> = Vec::new();
        for (index, _) in buyers.iter().enumerate() {
            let choice = rng.below(10);
            let product = products[rng.below(products.len())];
            let quantity = rng.below(3) as i64 + 1;
            let order = known
                .iter()
                .filter(|(id, (owner, _))| *owner == index && !touched.contains(*id))
                .map(|(id, _)| *id)
                .min();
            match (choice, order) {
                (0..=4, _) => ops.push((index, 0, product, quantity)),
                (5..=7, _) => ops.push((index, 1, 0, 0)),
                (8, Some(order)) => {
                    touched.insert(order);
                    ops.push((index, 2, order, 0));
                }
                (_, Some(order)) => {
                    touched.insert(order);
                    ops.push((index, 3 + rng.below(2) as u8, order, 0));
                }
                _ => ops.push((index, 1, 0, 0)),
            }
        }
        let (app, admin) = (&app, &admin);
        let responses = join_all(ops.iter().map(|(index, kind, a, b)| {
            let buyer = &buyers[*index];
            async move {
                match kind {
                    0 => app.add_to_cart(buyer, *a, *b).await,
                    1 => app.checkout(buyer).await,
                    2 => {
                        app.send(app.request_as(
                            Method::POST,
                            &format!("/orders/{a}/cancel"),
                            &buyer.access,
                        ))
                        .await
                    }
                    3 => {
                        app.patch_json_as(
                            &format!("/admin/orders/{a}"),
                            &admin.access,
                            &json!({"status": "shipped"}),
                        )
                        .await
                    }
                    _ => {
                        app.send(app.request_as(
                            Method::POST,
                            &format!("/orders/{a}/cancel"),
                            &admin.access,
                        ))
                        .await
                    }
                }
            }
        }))
        .await;
        for ((index, kind, a, _), response) in ops.iter().zip(&responses) {
            assert!(
                response.status < 500,
                "{}",
                String::from_utf8_lossy(&response.body)
            );
            if response.status >= 300 {
                continue;
            }
            match kind {
                1 => {
                    let order = response.json();
                    known.insert(order["id"].as_i64().unwrap(), (*index, "paid"));
                }
                2 | 4 => {
                    let (_, before) = known[a];
                    if before == "paid" {
                        let order = app
                            .get_as(&format!("/orders/{a}"), &admin.access)
                            .await
                            .json();
                        for item in order["items"].as_array().unwrap() {
                            *restocked
                                .entry(item["product_id"].as_i64().unwrap())
                                .or_default() += item["quantity"].as_i64().unwrap();
                        }
                    }
                    known.insert(*a, (*index, "cancelled"));
                }
                3 => {
                    known.insert(*a, (*index, "shipped"));
                }
                _ => {}
            }
        }
    }

    // Invariants, from what the server says now.
    let mut sold: HashMap<i64, i64> = HashMap::new();
    let all = app
        .get_as("/admin/orders?page_size=100", &admin.access)
        .await
        .json();
    assert_eq!(
        all["total"].as_u64().unwrap() as usize,
        known.len(),
        "every acknowledged order exists, no others"
    );
    for summary in all["items"].as_array().unwrap() {
        let order: Value = app
            .get_as(&format!("/orders/{}", summary["id"]), &admin.access)
            .await
            .json();
        let lines: i64 = order["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["line_total"].as_f64().unwrap() * 100.0).round() as i64)
            .sum();
        assert_eq!(
            (order["total"].as_f64().unwrap() * 100.0).round() as i64,
            lines,
            "total = sum of lines"
        );
        assert_eq!(order["status"], known[&order["id"].as_i64().unwrap()].1);
        for item in order["items"].as_array().unwrap() {
            let unit = (item["unit_price"].as_f64().unwrap() * 100.0).round() as i64;
            assert_eq!(
                (item["line_total"].as_f64().unwrap() * 100.0).round() as i64,
                unit * item["quantity"].as_i64().unwrap()
            );
            *sold
                .entry(item["product_id"].as_i64().unwrap())
                .or_default() += item["quantity"].as_i64().unwrap();
        }
    }
    for product in &products {
        let now = stock(&app, *product).await;
        assert!(now >= 0);
        let sold = sold.get(product).copied().unwrap_or(0);
        let back = restocked.get(product).copied().unwrap_or(0);
        assert_eq!(
            initial[product],
            now + sold - back,
            "product {product}: initial = current + sold - restocked"
        );
    }
    assert!(!known.is_empty(), "the mix placed orders");
}
