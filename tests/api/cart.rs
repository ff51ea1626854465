//! `/cart`: one cart per account, stock-aware.

use actix_web::http::Method;
use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::TestApp;

#[actix_web::test]
async fn adding_merges_updating_to_zero_removes_and_totals_are_in_cents() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let buyer = app.user().await;
    let lamp = app.product(&admin, 19.99, 10).await;
    let mug = app.product(&admin, 0.1, 10).await;

    let empty = app.get_as("/cart/", &buyer.access).await.json();
    assert_eq!(
        empty,
        json!({"items": [], "item_count": 0, "subtotal": 0.0})
    );
    app.add_to_cart(&buyer, lamp, 2).await;
    let cart = app
        .post_json_as("/cart/add", &buyer.access, &json!({"product_id": lamp}))
        .await;
    assert_eq!(cart.status, 200);
    let cart = app.add_to_cart(&buyer, mug, 3).await.json();
    assert_eq!(
        cart["items"][0]["quantity"], 3,
        "the default quantity is 1 and adding merges"
    );
    assert_eq!(cart["items"][0]["line_total"], json!(59.97));
    assert_eq!(
        cart["items"][1]["line_total"],
        json!(0.3),
        "3 × 0.10 in cents, not 0.30000000000000004"
    );
    assert_eq!(cart["subtotal"], json!(60.27));
    assert_eq!(cart["item_count"], 6);
    assert_eq!(cart["items"][0]["available"], 10);
    for key in [
        "product_id",
        "name",
        "unit_price",
        "quantity",
        "line_total",
        "available",
    ] {
        assert!(cart["items"][0].get(key).is_some(), "{key}");
    }

    let updated = app
        .send_json(
            app.request_as(Method::PUT, &format!("/cart/update/{lamp}"), &buyer.access),
            &json!({"quantity": 1}),
        )
        .await;
    assert_eq!(updated.json()["items"][0]["quantity"], 1);
    let removed = app
        .send_json(
            app.request_as(Method::PUT, &format!("/cart/update/{lamp}"), &buyer.access),
            &json!({"quantity": 0}),
        )
        .await;
    assert_eq!(removed.json()["items"].as_array().unwrap().len(), 1);
    app.send_json(
        app.request_as(Method::PUT, &format!("/cart/update/{lamp}"), &buyer.access),
        &json!({"quantity": 1}),
    )
    .await
    .assert_problem(404, "not_in_cart");
    let removed = app
        .send(app.request_as(
            Method::DELETE,
            &format!("/cart/remove/{mug}"),
            &buyer.access,
        ))
        .await;
    assert_eq!(removed.json()["items"], json!([]));
    app.send(app.request_as(
        Method::DELETE,
        &format!("/cart/remove/{mug}"),
        &buyer.access,
    ))
    .await
    .assert_problem(404, "not_in_cart");
    app.add_to_cart(&buyer, mug, 1).await;
    let cleared = app
        .send(app.request_as(Method::DELETE, "/cart", &buyer.access))
        .await;
    assert_eq!(cleared.json()["items"], json!([]));
}

#[actix_web::test]
async fn stock_limits_unknown_products_and_bad_input() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let buyer = app.user().await;
    let lamp = app.product(&admin, 5.0, 3).await;
    app.add_to_cart(&buyer, lamp, 2).await;
    let response = app.add_to_cart(&buyer, lamp, 2).await;
    let body = response.assert_problem(409, "insufficient_stock");
    assert_eq!(
        body["errors"],
        json!([{"product_id": lamp, "requested": 4, "available": 3}])
    );
    assert_eq!(
        app.get_as("/cart", &buyer.access).await.json()["items"][0]["quantity"],
        2,
        "nothing changed"
    );
    app.send_json(
        app.request_as(Method::PUT, &format!("/cart/update/{lamp}"), &buyer.access),
        &json!({"quantity": 4}),
    )
    .await
    .assert_problem(409, "insufficient_stock");

    app.add_to_cart(&buyer, 999_999, 1)
        .await
        .assert_problem(404, "product_not_found");
    let plenty = app.product(&admin, 1.0, 5000).await;
    assert_eq!(app.add_to_cart(&buyer, plenty, 999).await.status, 200);
    app.add_to_cart(&buyer, plenty, 1)
        .await
        .assert_problem(409, "line_limit");
    app.send(app.request_as(
        Method::DELETE,
        &format!("/cart/remove/{plenty}"),
        &buyer.access,
    ))
    .await;
    for (body, field) in [
        (json!({"product_id": lamp, "quantity": 0}), "quantity"),
        (json!({"product_id": lamp, "quantity": 1000}), "quantity"),
        (json!({"quantity": 1}), "product_id"),
        (json!({"product_id": "seven"}), "product_id"),
        (json!({"product_id": lamp, "quantity": 1.5}), "quantity"),
    ] {
        let response = app.post_json_as("/cart/add", &buyer.access, &body).await;
        response.assert_problem(422, "validation_failed");
        assert_eq!(response.error_fields(), [field], "{body}");
    }
    app.send_json(
        app.request_as(Method::PUT, &format!("/cart/update/{lamp}"), &buyer.access),
        &json!({"quantity": -1}),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.get("/cart")
        .await
        .assert_problem(401, "not_authenticated");
}

#[actix_web::test]
async fn a_deleted_product_leaves_every_cart() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (first, second) = (app.user().await, app.user().await);
    let lamp = app.product(&admin, 5.0, 3).await;
    let mug = app.product(&admin, 2.0, 3).await;
    for buyer in [&first, &second] {
        app.add_to_cart(buyer, lamp, 1).await;
        app.add_to_cart(buyer, mug, 1).await;
    }
    let deleted = app
        .send(app.request_as(Method::DELETE, &format!("/products/{lamp}"), &admin.access))
        .await;
    assert_eq!(deleted.status, 204);
    for buyer in [&first, &second] {
        let cart = app.get_as("/cart", &buyer.access).await.json();
        assert_eq!(cart["items"].as_array().unwrap().len(), 1);
        assert_eq!(cart["items"][0]["product_id"], mug);
        assert_eq!(cart["subtotal"], json!(2.0));
    }
    app.add_to_cart(&first, lamp, 1)
        .await
        .assert_problem(404, "product_not_found");
}

#[actix_web::test]
async fn concurrent_adds_from_one_account_sum_up() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let buyer = app.user().await;
    let product = app.product(&admin, 1.0, 1000).await;
    let responses = join_all((1..=20).map(|n| app.add_to_cart(&buyer, product, n))).await;
    assert!(responses.iter().all(|r| r.status == 200));
    let cart = app.get_as("/cart", &buyer.access).await.json();
    assert_eq!(cart["items"][0]["quantity"], (1..=20).sum::<i64>());
}
