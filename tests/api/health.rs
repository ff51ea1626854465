//! `/health` and `/ready`.

use crate::helpers::TestApp;

#[actix_web::test]
async fn health_answers_ok_with_and_without_trailing_slash() {
    let app = TestApp::spawn().await;
    for path in ["/health", "/health/"] {
        let response = app.get(path).await;
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.json(), serde_json::json!({"status": "ok"}));
        assert!(response.header("location").is_none(), "no redirect");
    }
}

#[actix_web::test]
async fn ready_when_the_database_answers_and_is_migrated() {
    let app = TestApp::spawn().await;
    let response = app.get("/ready").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["status"], "ready");
}

#[actix_web::test]
async fn not_ready_when_no_database_connection_can_be_had() {
    let app = TestApp::spawn_with(&[("DB_POOL_SIZE", "2")], |_| {}).await;
    // Hold every connection of the server's pool (the database threads' two, and those of the
    // hashing threads and background work): the database no longer answers it.
    let held: Vec<_> = (0..app.pool.max_size())
        .map(|_| app.pool.get().expect("connection"))
        .collect();
    let response = app.get("/ready").await;
    response.assert_problem(503, "not_ready");
    drop(held);
    assert_eq!(
        app.get("/ready").await.status,
        200,
        "ready again once connections are free"
    );
}

#[actix_web::test]
async fn not_ready_when_a_migration_is_pending() {
    use diesel::connection::SimpleConnection;

    let app = TestApp::spawn().await;
    assert_eq!(app.get("/ready").await.status, 200);
    // Forget that the latest migration ran: the binary is now ahead of the database.
    app.pool
        .get()
        .expect("connection")
        .batch_execute(
            "DELETE FROM __diesel_schema_migrations \
             WHERE version = (SELECT MAX(version) FROM __diesel_schema_migrations)",
        )
        .expect("forget a migration");
    app.get("/ready").await.assert_problem(503, "not_ready");
}

#[actix_web::test]
async fn metrics_count_requests_by_route_pattern_and_status() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        app.get("/products/12345").await;
    }
    app.get("/products/999").await;
    app.get("/health").await;
    app.get("/no/such/place/xyz").await;

    let response = app.get("/metrics").await;
    assert_eq!(response.status, 200);
    assert!(
        response
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let text = String::from_utf8_lossy(&response.body);
    assert!(
        text.contains(
            r#"emporium_http_requests_total{endpoint="/products/{id}",method="GET",status="404"} 4"#
        ),
        "counted by route pattern, not raw path:\n{text}"
    );
    assert!(text.contains(
        r#"emporium_http_requests_total{endpoint="/health",method="GET",status="200"} 1"#
    ));
    assert!(
        text.contains(r#"endpoint="UNKNOWN""#),
        "unmatched paths are masked"
    );
    assert!(
        !text.contains("/no/such/place"),
        "raw paths never become labels"
    );
    assert!(text.contains(r#"emporium_http_requests_duration_seconds_bucket{endpoint="/health",method="GET",status="200",le="0.005"}"#));
    for gauge in [
        "emporium_db_pool_connections",
        "emporium_db_pool_idle_connections",
        "emporium_outbox_pending 0",
        "emporium_outbox_failed 0",
    ] {
        assert!(text.contains(gauge), "{gauge}:\n{text}");
    }
}

#[actix_web::test]
async fn cors_is_off_by_default_and_allows_only_configured_origins() {
    use actix_web::http::Method;

    let closed = TestApp::spawn().await;
    let response = closed
        .send(
            closed
                .request(Method::GET, "/health")
                .insert_header(("Origin", "https://shop.example")),
        )
        .await;
    assert_eq!(
        response.status, 200,
        "same-origin rules are the browser's; the server just answers"
    );
    assert!(response.header("access-control-allow-origin").is_none());

    let open =
        TestApp::spawn_with(&[("CORS_ALLOWED_ORIGINS", "https://shop.example")], |_| {}).await;
    let preflight = open
        .send(
            open.request(Method::OPTIONS, "/products")
                .insert_header(("Origin", "https://shop.example"))
                .insert_header(("Access-Control-Request-Method", "POST"))
                .insert_header((
                    "Access-Control-Request-Headers",
                    "authorization, content-type",
                )),
        )
        .await;
    assert_eq!(preflight.status, 200);
    assert_eq!(
        preflight.header("access-control-allow-origin").as_deref(),
        Some("https://shop.example")
    );
    let response = open
        .send(
            open.request(Method::GET, "/health")
                .insert_header(("Origin", "https://shop.example")),
        )
        .await;
    assert_eq!(
        response.header("access-control-allow-origin").as_deref(),
        Some("https://shop.example")
    );
    assert!(
        response
            .header("access-control-expose-headers")
            .is_some_and(|h| h.to_lowercase().contains("x-request-id"))
    );
    let foreign = open
        .send(
            open.request(Method::GET, "/health")
                .insert_header(("Origin", "https://evil.example")),
        )
        .await;
    assert!(
        foreign.header("access-control-allow-origin").is_none(),
        "an unlisted origin gets no grant"
    );
}
