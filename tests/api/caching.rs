//! HTTP caching: public catalog reads carry a strong ETag and answer 304 to a matching
//! If-None-Match; everything private is `no-store`.

use actix_web::http::Method;
use serde_json::json;

use crate::helpers::TestApp;

async fn etag_of(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status, 200, "{path}");
    let etag = response.header("etag").unwrap();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"),
        "a strong ETag: {etag}"
    );
    assert_eq!(
        response.header("cache-control").as_deref(),
        Some("public, max-age=0"),
        "{path}"
    );
    etag
}

async fn revalidate(app: &TestApp, path: &str, etag: &str) -> u16 {
    let response = app
        .send(
            app.request(Method::GET, path)
                .insert_header(("If-None-Match", etag.to_string())),
        )
        .await;
    if response.status == 304 {
        assert!(response.body.is_empty(), "a 304 has no body");
        let current = response.header("etag").unwrap();
        assert!(etag.contains(&current), "the 304 names the matched ETag");
    }
    response.status
}

#[actix_web::test]
async fn catalog_reads_revalidate_to_304_until_the_body_would_change() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let product = app.product(&admin, 4.5, 1).await;
    let paths = [
        "/products?in_stock=true".to_string(),
        "/products/search?q=product".to_string(),
        format!("/products/{product}"),
        "/products/categories".to_string(),
    ];
    let mut etags = Vec::new();
    for path in &paths {
        let etag = etag_of(&app, path).await;
        assert_eq!(revalidate(&app, path, &etag).await, 304, "{path}");
        assert_eq!(
            revalidate(&app, path, &format!("\"other\", {etag}")).await,
            304,
            "{path}: one of a list"
        );
        assert_eq!(revalidate(&app, path, "\"stale\"").await, 200, "{path}");
        etags.push(etag);
    }

    // A checkout takes the last unit: stock changes what the listing, search and detail show.
    let buyer = app.user().await;
    app.add_to_cart(&buyer, product, 1).await;
    assert_eq!(app.checkout(&buyer).await.status, 201);
    for (path, etag) in paths.iter().zip(&etags).take(3) {
        assert_eq!(
            revalidate(&app, path, etag).await,
            200,
            "{path} after a checkout"
        );
    }

    // A rename changes the detail and the search; the categories are unchanged.
    let before = etag_of(&app, &paths[2]).await;
    app.patch_json_as(
        &format!("/products/{product}"),
        &admin.access,
        &json!({"name": "Renamed product"}),
    )
    .await;
    assert_eq!(revalidate(&app, &paths[2], &before).await, 200);
    assert_eq!(revalidate(&app, &paths[3], &etags[3]).await, 304);
}

#[actix_web::test]
async fn max_age_is_configurable_and_private_answers_are_never_stored() {
    let app = TestApp::spawn_with(&[("CATALOG_CACHE_MAX_AGE_SECS", "30")], |_| {}).await;
    assert_eq!(
        app.get("/products")
            .await
            .header("cache-control")
            .as_deref(),
        Some("public, max-age=30")
    );
    let user = app.user().await;
    for path in ["/cart", "/orders", "/users/me"] {
        assert_eq!(
            app.get_as(path, &user.access)
                .await
                .header("cache-control")
                .as_deref(),
            Some("no-store"),
            "{path}"
        );
    }
    assert_eq!(
        app.get("/products/999999")
            .await
            .header("cache-control")
            .as_deref(),
        Some("no-store"),
        "errors are not stored either"
    );
}

/// Every kind of catalog change made through a server shows in that server's very next
/// catalog answers, although they are served from memory.
#[actix_web::test]
async fn every_kind_of_catalog_change_shows_in_the_next_answer() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let buyer = app.user().await;
    let list = "/products?in_stock=true&sort_by=name_asc";
    let search = "/products/search?q=walnut";
    // Warm every page, then change the catalog one way after another.
    for path in [list, search, "/products/categories"] {
        assert_eq!(app.get(path).await.status, 200);
    }

    // Create.
    let created = app
        .post_json_as(
            "/products",
            &admin.access,
            &json!({"name": "Walnut desk", "price": 120.0, "stock": 2, "category": "Office"}),
        )
        .await
        .json();
    let id = created["id"].as_i64().unwrap();
    let detail = format!("/products/{id}");
    assert_eq!(app.get(list).await.json()["total"], 1, "create: listing");
    assert_eq!(app.get(search).await.json()["total"], 1, "create: search");
    assert_eq!(
        app.get("/products/categories").await.json(),
        json!([{"name": "Office", "product_count": 1}]),
        "create: categories"
    );
    assert_eq!(app.get(&detail).await.json()["stock"], 2);

    // Replace.
    app.send_json(
        app.request_as(Method::PUT, &detail, &admin.access),
        &json!({"name": "Walnut table", "price": 150.0, "stock": 2, "category": "Dining"}),
    )
    .await;
    assert_eq!(
        app.get(&detail).await.json()["name"],
        "Walnut table",
        "replace"
    );
    assert_eq!(
        app.get(list).await.json()["items"][0]["price"],
        150.0,
        "replace"
    );
    assert_eq!(
        app.get("/products/categories").await.json()[0]["name"],
        "Dining"
    );

    // Patch.
    app.patch_json_as(&detail, &admin.access, &json!({"price": 99.5}))
        .await;
    assert_eq!(app.get(&detail).await.json()["price"], 99.5, "patch");
    assert_eq!(
        app.get(search).await.json()["items"][0]["price"],
        99.5,
        "patch"
    );

    // A checkout's decrement (not crossing zero), then one crossing zero.
    app.add_to_cart(&buyer, id, 1).await;
    let first = app.checkout(&buyer).await.json();
    assert_eq!(
        app.get(&detail).await.json()["stock"],
        1,
        "checkout decrement"
    );
    assert_eq!(app.get(list).await.json()["items"][0]["stock"], 1);
    app.add_to_cart(&buyer, id, 1).await;
    assert_eq!(app.checkout(&buyer).await.status, 201);
    assert_eq!(
        app.get(list).await.json()["total"],
        0,
        "sold out: not in stock"
    );
    assert_eq!(app.get(&detail).await.json()["stock"], 0);

    // A cancellation's restock brings it back.
    let cancel = format!("/orders/{}/cancel", first["id"]);
    app.send(app.request_as(Method::POST, &cancel, &buyer.access))
        .await;
    assert_eq!(app.get(list).await.json()["total"], 1, "cancel restock");
    assert_eq!(app.get(&detail).await.json()["stock"], 1);

    // An admin sets the stock to zero, then deletes the product.
    app.patch_json_as(&detail, &admin.access, &json!({"stock": 0}))
        .await;
    assert_eq!(app.get(list).await.json()["total"], 0, "stock to zero");
    app.send(app.request_as(Method::DELETE, &detail, &admin.access))
        .await;
    assert_eq!(app.get(&detail).await.status, 404, "delete: detail");
    assert_eq!(app.get(search).await.json()["total"], 0, "delete: search");
    assert_eq!(app.get("/products/categories").await.json(), json!([]));
}
