//! Shipping: the address book, checkout to an address, tracking and the emails about it.

use awc::http::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser};

fn home() -> Value {
    json!({
        "name": "Ada Lovelace",
        "line1": "12 St James's Square",
        "city": "London",
        "postal_code": "SW1Y 4JH",
        "country": "GB",
        "phone": "+44 20 7946 0958"
    })
}

async fn delete_as(app: &TestApp, path: &str, user: &TestUser) -> crate::helpers::TestResponse {
    app.send(app.request_as(Method::DELETE, path, &user.access))
        .await
}

#[actix_web::test]
async fn the_address_book_is_private_to_its_owner() {
    let app = TestApp::spawn().await;
    let ada = app.user().await;
    let bob = app.user().await;

    let created = app
        .post_json_as("/users/me/addresses", &ada.access, &home())
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let address = created.json();
    let id = address["id"].as_i64().unwrap();
    assert_eq!(
        created.header("location").as_deref(),
        Some(format!("/users/me/addresses/{id}").as_str())
    );
    assert_eq!(address["phone"], "+442079460958", "stored in E.164 form");
    assert_eq!(address["line2"], Value::Null);
    assert_eq!(
        address["is_default"], true,
        "the first address is the default"
    );
    assert!(address["created_at"].as_str().unwrap().ends_with('Z'));

    let mut office = home();
    office["name"] = json!("Ada at work");
    office["is_default"] = json!(true);
    let office = app
        .post_json_as("/users/me/addresses", &ada.access, &office)
        .await
        .json();
    let listed = app.get_as("/users/me/addresses", &ada.access).await.json();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ada at work", "Ada Lovelace"], "default first");
    assert_eq!(listed[1]["is_default"], false);

    let path = format!("/users/me/addresses/{id}");
    let changed = app
        .patch_json_as(
            &path,
            &ada.access,
            &json!({"line2": "Flat 3", "phone": null}),
        )
        .await;
    assert_eq!(changed.status, 200);
    assert_eq!(changed.json()["line2"], "Flat 3");
    assert_eq!(changed.json()["phone"], Value::Null);

    // Someone else's address does not exist for them.
    app.get_as(&path, &bob.access)
        .await
        .assert_problem(404, "not_found");
    app.patch_json_as(&path, &bob.access, &json!({"city": "Paris"}))
        .await
        .assert_problem(404, "not_found");
    delete_as(&app, &path, &bob)
        .await
        .assert_problem(404, "not_found");
    assert_eq!(
        app.get_as("/users/me/addresses", &bob.access).await.json(),
        json!([])
    );

    // Every bad field is named.
    let bad = app
        .post_json_as(
            "/users/me/addresses",
            &ada.access,
            &json!({"name": " ", "country": "XX", "phone": "0301234", "postal_code": "!!"}),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(
        bad.error_fields(),
        ["name", "line1", "city", "postal_code", "country", "phone"]
    );

    // Deleting the default passes it on.
    let office_path = format!("/users/me/addresses/{}", office["id"]);
    assert_eq!(delete_as(&app, &office_path, &ada).await.status, 204);
    app.get_as(&office_path, &ada.access)
        .await
        .assert_problem(404, "not_found");
    assert_eq!(
        app.get_as(&path, &ada.access).await.json()["is_default"],
        true
    );

    // At most twenty.
    for _ in 1..20 {
        let saved = app
            .post_json_as("/users/me/addresses", &ada.access, &home())
            .await;
        assert_eq!(saved.status, 201);
    }
    app.post_json_as("/users/me/addresses", &ada.access, &home())
        .await
        .assert_problem(409, "address_limit");
    assert_eq!(
        app.get_as("/users/me/addresses", &ada.access)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        20
    );
}

#[actix_web::test]
async fn checkout_ships_to_an_inline_or_saved_address_and_keeps_a_copy() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let buyer = app.user().await;
    let lamp = app.product(&admin, 19.99, 10).await;

    // Inline.
    app.add_to_cart(&buyer, lamp, 1).await;
    let inline = app
        .post_json_as(
            "/checkout",
            &buyer.access,
            &json!({"shipping_address": home()}),
        )
        .await;
    assert_eq!(inline.status, 201, "{:?}", inline.body);
    let order = inline.json();
    assert_eq!(order["shipping_address"]["postal_code"], "SW1Y 4JH");
    assert_eq!(order["shipping_address"]["phone"], "+442079460958");
    assert_eq!(order["carrier"], Value::Null);

    // Saved; then the address book changes and the order does not.
    let saved = app
        .post_json_as("/users/me/addresses", &buyer.access, &home())
        .await
        .json();
    app.add_to_cart(&buyer, lamp, 2).await;
    let placed = app
        .post_json_as(
            "/checkout",
            &buyer.access,
            &json!({"address_id": saved["id"]}),
        )
        .await;
    assert_eq!(placed.status, 201, "{:?}", placed.body);
    let order_path = format!("/orders/{}", placed.json()["id"]);
    let address_path = format!("/users/me/addresses/{}", saved["id"]);
    app.patch_json_as(&address_path, &buyer.access, &json!({"city": "Bath"}))
        .await;
    assert_eq!(
        app.get_as(&order_path, &buyer.access).await.json()["shipping_address"]["city"],
        "London"
    );
    delete_as(&app, &address_path, &buyer).await;
    let order = app.get_as(&order_path, &buyer.access).await.json();
    assert_eq!(order["shipping_address"]["name"], "Ada Lovelace");

    // Both is a 422 naming both; someone else's (or a deleted) address is a 404; a bad inline
    // field is named with its prefix. None of these changes the cart.
    app.add_to_cart(&buyer, lamp, 1).await;
    let both = app
        .post_json_as(
            "/checkout",
            &buyer.access,
            &json!({"shipping_address": home(), "address_id": 1}),
        )
        .await;
    both.assert_problem(422, "validation_failed");
    assert_eq!(both.error_fields(), ["shipping_address", "address_id"]);
    app.post_json_as(
        "/checkout",
        &buyer.access,
        &json!({"address_id": saved["id"]}),
    )
    .await
    .assert_problem(404, "not_found");
    let mut wrong = home();
    wrong["country"] = json!("United Kingdom");
    let wrong = app
        .post_json_as(
            "/checkout",
            &buyer.access,
            &json!({"shipping_address": wrong}),
        )
        .await;
    assert_eq!(wrong.error_fields(), ["shipping_address.country"]);
    assert_eq!(
        app.get_as("/cart", &buyer.access).await.json()["item_count"],
        1
    );
    // A body-less checkout still works (REQUIRE_SHIPPING_ADDRESS defaults to false).
    let bare = app.checkout(&buyer).await;
    assert_eq!(bare.status, 201);
    assert_eq!(bare.json()["shipping_address"], Value::Null);
}

#[actix_web::test]
async fn require_shipping_address_makes_one_mandatory() {
    let app = TestApp::spawn_with(&[("REQUIRE_SHIPPING_ADDRESS", "true")], |_| {}).await;
    let admin = app.admin().await;
    let buyer = app.user().await;
    let lamp = app.product(&admin, 5.0, 3).await;
    app.add_to_cart(&buyer, lamp, 1).await;
    let refused = app.checkout(&buyer).await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(refused.error_fields(), ["shipping_address"]);
    let refused = app
        .post_json_as(
            "/checkout",
            &buyer.access,
            &json!({"payment": {"method": "dummy", "card_number": "4242424242424242"}}),
        )
        .await;
    assert_eq!(refused.error_fields(), ["shipping_address"]);
    assert_eq!(
        app.get_as("/cart", &buyer.access).await.json()["item_count"],
        1,
        "nothing changed"
    );
    let placed = app
        .post_json_as(
            "/checkout",
            &buyer.access,
            &json!({"shipping_address": home()}),
        )
        .await;
    assert_eq!(placed.status, 201);
}

#[actix_web::test]
async fn shipping_with_tracking_is_shown_and_emailed_and_an_admin_cancel_is_emailed() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let buyer = app.user().await;
    let lamp = app.product(&admin, 19.99, 10).await;
    app.add_to_cart(&buyer, lamp, 1).await;
    let order = app
        .post_json_as(
            "/checkout",
            &buyer.access,
            &json!({"shipping_address": home()}),
        )
        .await
        .json();
    let confirmation = app.next_mail().await;
    assert!(
        confirmation["subject"]
            .as_str()
            .unwrap()
            .contains("confirmed")
    );
    let path = format!("/admin/orders/{}", order["id"]);

    // Tracking needs a shipped order; bad tracking fields are named.
    app.patch_json_as(&path, &admin.access, &json!({"carrier": "DHL"}))
        .await
        .assert_problem(409, "not_shipped");
    let bad = app
        .patch_json_as(
            &path,
            &admin.access,
            &json!({"status": "shipped", "carrier": "", "tracking_url": "ftp://x"}),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(bad.error_fields(), ["carrier", "tracking_url"]);
    app.patch_json_as(&path, &buyer.access, &json!({"status": "shipped"}))
        .await
        .assert_problem(403, "admin_required");

    let shipped = app
        .patch_json_as(
            &path,
            &admin.access,
            &json!({
                "status": "shipped",
                "carrier": "DHL",
                "tracking_number": "JD014600006281230704",
                "tracking_url": "https://www.dhl.com/track?id=JD014600006281230704"
            }),
        )
        .await;
    assert_eq!(shipped.status, 200, "{:?}", shipped.body);
    let shown = app
        .get_as(&format!("/orders/{}", order["id"]), &buyer.access)
        .await
        .json();
    assert_eq!(shown["status"], "shipped");
    assert_eq!(shown["carrier"], "DHL");
    assert_eq!(shown["tracking_number"], "JD014600006281230704");
    assert_eq!(
        shown["tracking_url"],
        "https://www.dhl.com/track?id=JD014600006281230704"
    );

    let mail = app.next_mail().await;
    assert!(
        mail["subject"].as_str().unwrap().contains("has shipped"),
        "{mail}"
    );
    assert_eq!(mail["to"][0]["email"], buyer.email.as_str(), "{mail}");
    let text = mail["text"].as_str().unwrap();
    assert!(text.contains("DHL"), "{text}");
    assert!(text.contains("JD014600006281230704"), "{text}");
    assert!(
        text.contains("https://www.dhl.com/track?id=JD014600006281230704"),
        "{text}"
    );

    // A tracking correction is allowed while shipped; the other fields stay.
    let corrected = app
        .patch_json_as(&path, &admin.access, &json!({"tracking_number": "JD0147"}))
        .await
        .json();
    assert_eq!(corrected["tracking_number"], "JD0147");
    assert_eq!(corrected["carrier"], "DHL");

    // An admin cancels: the buyer is told.
    let cancelled = app
        .patch_json_as(&path, &admin.access, &json!({"status": "cancelled"}))
        .await;
    assert_eq!(cancelled.status, 200);
    let mail = app.next_mail().await;
    assert!(
        mail["subject"].as_str().unwrap().contains("was cancelled"),
        "{mail}"
    );
}
