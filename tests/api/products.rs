//! `/products`: admin management with ownership, public listing, search and categories.

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser};

fn lamp() -> Value {
    json!({"name": "Desk Lamp", "description": "A warm light.", "price": 19.99, "stock": 5, "category": "Home", "image_url": "https://img.example/lamp.jpg"})
}

async fn create(app: &TestApp, admin: &TestUser, body: &Value) -> Value {
    let response = app.post_json_as("/products", &admin.access, body).await;
    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.json()
}

#[actix_web::test]
async fn an_admin_creates_and_anyone_reads_with_money_exact() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let response = app.post_json_as("/products/", &admin.access, &lamp()).await;
    assert_eq!(response.status, 201);
    let product = response.json();
    assert_eq!(
        response.header("location"),
        Some(format!("/products/{}", product["id"]))
    );
    assert_eq!(product["price"], json!(19.99));
    assert_eq!(product["owner_id"], admin.id);
    assert_eq!(product["image_url"], "https://img.example/lamp.jpg");
    for key in [
        "id",
        "name",
        "description",
        "price",
        "stock",
        "category",
        "image_url",
        "owner_id",
        "created_at",
        "updated_at",
    ] {
        assert!(product.get(key).is_some(), "{key}");
    }
    let fetched = app.get(&format!("/products/{}", product["id"])).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json(), product);
    assert!(
        String::from_utf8_lossy(&fetched.body).contains("\"price\":19.99"),
        "exactly 19.99 on the wire"
    );

    for price in [0.01, 0.1, 1.15, 999999.99, 1000000.0, 5.0] {
        let mut body = lamp();
        body["price"] = json!(price);
        assert_eq!(create(&app, &admin, &body).await["price"], json!(price));
    }
}

#[actix_web::test]
async fn product_input_is_validated_field_by_field() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for (field, value) in [
        ("price", json!(19.999)),
        ("price", json!(0)),
        ("price", json!(-1)),
        ("price", json!(1000000.01)),
        ("price", json!("19.99")),
        ("stock", json!(-1)),
        ("stock", json!(1.5)),
        ("stock", json!(1000001)),
        ("name", json!("")),
        ("name", json!("n".repeat(201))),
        ("category", json!("c".repeat(101))),
        ("description", json!("d".repeat(10001))),
        ("image_url", json!("ftp://img.example/x.jpg")),
        ("image_url", json!("javascript:alert(1)")),
        // Bounds apply to the text as sent, surrounding spaces included, as the schema says.
        ("category", json!(format!("\u{a0}{}", "c".repeat(100)))),
        ("name", json!("\nLamp")),
    ] {
        let mut body = lamp();
        body[field] = value.clone();
        let response = app.post_json_as("/products", &admin.access, &body).await;
        response.assert_problem(422, "validation_failed");
        assert_eq!(response.error_fields(), [field], "{field} = {value}");
    }
    let response = app
        .post_json_as("/products", &admin.access, &json!({}))
        .await;
    assert_eq!(
        response.error_fields(),
        ["name", "price", "stock", "category"]
    );
    assert_eq!(
        app.get("/products").await.json()["total"],
        0,
        "nothing was created"
    );
    // Characters, not bytes: 200 × "é" is a valid name.
    let mut body = lamp();
    body["name"] = json!("é".repeat(200));
    create(&app, &admin, &body).await;
}

#[actix_web::test]
async fn only_the_owning_admin_changes_or_deletes() {
    let app = TestApp::spawn().await;
    let owner = app.admin().await;
    let rival = app.admin().await;
    let shopper = app.user().await;
    let product = create(&app, &owner, &lamp()).await;
    let path = format!("/products/{}", product["id"]);
    let replacement =
        json!({"name": "Floor Lamp", "price": 49.5, "stock": 2, "category": "Lighting"});

    for token in [&rival.access] {
        app.send_json(app.request_as(Method::PUT, &path, token), &replacement)
            .await
            .assert_problem(403, "not_owner");
        app.patch_json_as(&path, token, &json!({"stock": 0}))
            .await
            .assert_problem(403, "not_owner");
        app.send(app.request_as(Method::DELETE, &path, token))
            .await
            .assert_problem(403, "not_owner");
    }
    app.send_json(
        app.request_as(Method::PUT, &path, &shopper.access),
        &replacement,
    )
    .await
    .assert_problem(403, "admin_required");
    app.send(app.request_as(Method::DELETE, &path, &shopper.access))
        .await
        .assert_problem(403, "admin_required");
    app.send_json(app.request(Method::PUT, &path), &replacement)
        .await
        .assert_problem(401, "not_authenticated");
    app.post_json("/products", &lamp())
        .await
        .assert_problem(401, "not_authenticated");
    app.post_json_as("/products", &shopper.access, &lamp())
        .await
        .assert_problem(403, "admin_required");
    assert_eq!(app.get(&path).await.json(), product, "nothing changed");

    // PUT replaces everything: the description and image go back to their defaults.
    let replaced = app
        .send_json(
            app.request_as(Method::PUT, &path, &owner.access),
            &replacement,
        )
        .await;
    assert_eq!(replaced.status, 200);
    let replaced = replaced.json();
    assert_eq!(
        (replaced["name"].as_str(), replaced["price"].as_f64()),
        (Some("Floor Lamp"), Some(49.5))
    );
    assert_eq!(
        (
            replaced["description"].as_str(),
            replaced["image_url"].clone()
        ),
        (Some(""), Value::Null)
    );
    assert_eq!(replaced["created_at"], product["created_at"]);

    // PATCH changes only what it names; null clears the image.
    app.patch_json_as(
        &path,
        &owner.access,
        &json!({"image_url": "https://img.example/2.jpg"}),
    )
    .await;
    let patched = app
        .patch_json_as(
            &path,
            &owner.access,
            &json!({"stock": 7, "image_url": null}),
        )
        .await
        .json();
    assert_eq!(
        (patched["stock"].as_i64(), patched["name"].as_str()),
        (Some(7), Some("Floor Lamp"))
    );
    assert_eq!(patched["image_url"], Value::Null);
    app.patch_json_as(&path, &owner.access, &json!({"price": null}))
        .await
        .assert_problem(422, "validation_failed");

    let deleted = app
        .send(app.request_as(Method::DELETE, &path, &owner.access))
        .await;
    assert_eq!(deleted.status, 204);
    app.get(&path).await.assert_problem(404, "not_found");
    app.patch_json_as(&path, &owner.access, &json!({"stock": 1}))
        .await
        .assert_problem(404, "not_found");
    app.send(app.request_as(Method::DELETE, &path, &owner.access))
        .await
        .assert_problem(404, "not_found");
    assert_eq!(app.get("/products").await.json()["total"], 0);
    assert_eq!(app.get("/products/search?q=lamp").await.json()["total"], 0);
    assert_eq!(app.get("/products/categories").await.json(), json!([]));
    app.get("/products/999999")
        .await
        .assert_problem(404, "not_found");
    app.get("/products/abc")
        .await
        .assert_problem(422, "validation_failed");
}

#[actix_web::test]
async fn listing_filters_sorts_and_paginates() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for (name, price, stock, category) in [
        ("Banana", 3.0, 0, "Fruit"),
        ("apple", 1.0, 5, "fruit"),
        ("Cherry", 3.0, 2, "Fruit"),
        ("Kale", 0.75, 2, "Veg"),
        ("Date", 2.5, 7, "FRUIT"),
    ] {
        create(
            &app,
            &admin,
            &json!({"name": name, "price": price, "stock": stock, "category": category}),
        )
        .await;
    }
    let names = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    let page = app
        .get("/products?category=fruit&in_stock=true&sort_by=price_desc")
        .await
        .json();
    assert_eq!(names(&page), ["Cherry", "Date", "apple"]);
    assert_eq!(
        (
            page["total"].as_i64(),
            page["total_pages"].as_i64(),
            page["page"].as_i64(),
            page["page_size"].as_i64()
        ),
        (Some(3), Some(1), Some(1), Some(20))
    );
    let page = app
        .get("/products/?min_price=1&max_price=2.50&sort_by=name")
        .await
        .json();
    assert_eq!(names(&page), ["apple", "Date"]);
    let page = app
        .get("/products?sort_by=name_desc&page=2&page_size=2")
        .await
        .json();
    assert_eq!(
        names(&page),
        ["Cherry", "Banana"],
        "Kale, Date | Cherry, Banana | apple"
    );
    assert_eq!(page["total_pages"], 3);

    for (query, field) in [
        ("page_size=101", "page_size"),
        ("page_size=0", "page_size"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=x", "page"),
        ("sort_by=popularity", "sort_by"),
        ("min_price=abc", "min_price"),
        ("min_price=1.001", "min_price"),
        ("max_price=0", "max_price"),
        ("in_stock=maybe", "in_stock"),
    ] {
        let response = app.get(&format!("/products?{query}")).await;
        response.assert_problem(422, "validation_failed");
        assert_eq!(response.error_fields(), [field], "{query}");
    }
    let empty = app.get("/products?min_price=5&max_price=1").await;
    assert_eq!(
        (empty.status, empty.json()["total"].as_i64()),
        (200, Some(0)),
        "an empty range matches nothing"
    );
    let response = app.get("/products?page=0&page_size=101").await;
    assert_eq!(response.error_fields(), ["page", "page_size"]);

    let categories = app.get("/products/categories").await.json();
    assert_eq!(categories.as_array().unwrap().len(), 2);
    assert_eq!(categories[0]["product_count"], 4);
    assert_eq!(
        categories[0]["name"].as_str().unwrap().to_lowercase(),
        "fruit"
    );
    assert_eq!(categories[1], json!({"name": "Veg", "product_count": 1}));
}

#[actix_web::test]
async fn search_ranks_filters_and_survives_any_text() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let described = create(&app, &admin, &json!({"name": "Desk Lamp", "description": "Sits well beside a laptop.", "price": 10, "stock": 1, "category": "Home"})).await;
    let named = create(
        &app,
        &admin,
        &json!({"name": "Laptop Sleeve", "price": 20, "stock": 0, "category": "Bags"}),
    )
    .await;
    let ids = |page: &Value| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].clone())
            .collect::<Vec<_>>()
    };

    let page = app.get("/products/search?q=lapt").await.json();
    assert_eq!(
        ids(&page),
        [named["id"].clone(), described["id"].clone()],
        "name match first, prefixes match"
    );
    assert_eq!(page["total"], 2);
    let page = app
        .get("/products/search?keyword=laptop&in_stock=true")
        .await
        .json();
    assert_eq!(
        ids(&page),
        [described["id"].clone()],
        "keyword alias and filters"
    );
    let page = app
        .get("/products/search?q=laptop&sort_by=price_desc")
        .await
        .json();
    assert_eq!(ids(&page), [named["id"].clone(), described["id"].clone()]);

    for text in [
        "%22",
        "*",
        "NEAR",
        "-",
        ":",
        "%22laptop",
        "lap*",
        "laptop%20NEAR(desk)",
        "name:laptop",
        "(",
        "%5C",
        "'",
        "AND%20OR",
        "%25",
    ] {
        let response = app.get(&format!("/products/search?q={text}")).await;
        assert_eq!(
            response.status,
            200,
            "{text}: {}",
            String::from_utf8_lossy(&response.body)
        );
    }
    let long = "%C3%A9".repeat(200);
    assert_eq!(
        app.get(&format!("/products/search?q={long}")).await.status,
        200,
        "200 characters of é is fine"
    );
    let too_long = "%C3%A9".repeat(201);
    let response = app.get(&format!("/products/search?q={too_long}")).await;
    assert_eq!(response.error_fields(), ["q"]);
    assert_eq!(app.get("/products/search").await.error_fields(), ["q"]);
    assert_eq!(app.get("/products/search?q=").await.error_fields(), ["q"]);
    assert_eq!(
        app.get("/products/search?q=x&page_size=101")
            .await
            .error_fields(),
        ["page_size"]
    );
}
