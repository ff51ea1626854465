//! Errors are problem+json everywhere; request ids; limits; trailing slashes.
//!
//! The foundation has no JSON route of its own yet, so these tests mount probe routes behind
//! the real middleware stack and extractors (`Application::build_with_routes`).

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use emporium::core::PageRequest;
use emporium_server::ApiError;
use emporium_server::extract::{ApiJson, ApiQuery};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::helpers::TestApp;

#[derive(Deserialize)]
struct Probe {
    name: String,
    quantity: i64,
}

#[derive(Deserialize)]
struct PageProbe {
    page: Option<i64>,
    page_size: Option<i64>,
}

async fn echo(ApiJson(probe): ApiJson<Probe>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"name": probe.name, "quantity": probe.quantity}))
}

async fn paged(ApiQuery(query): ApiQuery<PageProbe>) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::from_query(query.page, query.page_size)?;
    Ok(HttpResponse::Ok().json(json!({"page": page.page(), "page_size": page.page_size()})))
}

async fn item(id: web::Path<i32>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"id": id.into_inner()}))
}

async fn boom() -> Result<HttpResponse, ApiError> {
    Err(ApiError::internal(anyhow::anyhow!(
        "connection to 10.1.2.3 refused; password=hunter2"
    )))
}

async fn explode() -> HttpResponse {
    panic!("handler bug")
}

/// Database work that takes a while: holds a database thread for 800 ms.
async fn slow(state: web::Data<emporium_server::AppState>) -> Result<HttpResponse, ApiError> {
    state
        .db(|_conn| {
            std::thread::sleep(std::time::Duration::from_millis(800));
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({"done": true})))
}

fn probes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/probe/echo").route(web::post().to(echo)))
        .service(web::resource("/probe/paged").route(web::get().to(paged)))
        .service(web::resource("/probe/items/{id}").route(web::get().to(item)))
        .service(web::resource("/probe/boom").route(web::get().to(boom)))
        .service(web::resource("/probe/panic").route(web::get().to(explode)))
        .service(web::resource("/probe/slow").route(web::get().to(slow)));
}

async fn app() -> TestApp {
    TestApp::spawn_with(&[], probes).await
}

fn json_post(app: &TestApp, path: &str) -> awc::ClientRequest {
    app.request(Method::POST, path)
        .insert_header(("content-type", "application/json"))
}

#[actix_web::test]
async fn unknown_route_is_a_404_problem_with_a_request_id() {
    let app = app().await;
    let response = app.get("/no/such/route").await;
    response.assert_problem(404, "not_found");
    let id = response.header("x-request-id").unwrap();
    assert!(uuid_like(&id), "a generated id is a UUID: {id}");
}

fn uuid_like(text: &str) -> bool {
    text.len() == 36 && text.chars().filter(|c| *c == '-').count() == 4
}

#[actix_web::test]
async fn request_id_is_echoed_when_usable_and_replaced_when_not() {
    let app = app().await;
    let response = app
        .send(
            app.request(Method::GET, "/health")
                .insert_header(("X-Request-Id", "trace-42.a_b:c")),
        )
        .await;
    assert_eq!(
        response.header("x-request-id").as_deref(),
        Some("trace-42.a_b:c")
    );

    for bad in ["has spaces", "<script>", &"x".repeat(200)] {
        let response = app
            .send(
                app.request(Method::GET, "/health")
                    .insert_header(("X-Request-Id", bad)),
            )
            .await;
        let id = response.header("x-request-id").unwrap();
        assert!(
            uuid_like(&id),
            "{bad:?} was replaced by a fresh id, got {id}"
        );
    }
    let first = app.get("/health").await.header("x-request-id").unwrap();
    let second = app.get("/health").await.header("x-request-id").unwrap();
    assert_ne!(first, second);
}

#[actix_web::test]
async fn wrong_method_is_a_405_problem() {
    let app = app().await;
    let response = app.send(app.request(Method::DELETE, "/health")).await;
    response.assert_problem(405, "method_not_allowed");
    assert_eq!(response.header("allow").as_deref(), Some("GET"));
    let response = app.send(app.request(Method::GET, "/probe/echo")).await;
    response.assert_problem(405, "method_not_allowed");
}

#[actix_web::test]
async fn well_formed_json_is_accepted_with_and_without_trailing_slash() {
    let app = app().await;
    for path in ["/probe/echo", "/probe/echo/"] {
        let response = app
            .post_json(path, &json!({"name": "lamp", "quantity": 2}))
            .await;
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.json(), json!({"name": "lamp", "quantity": 2}));
    }
}

#[actix_web::test]
async fn malformed_json_is_a_400_problem() {
    let app = app().await;
    for body in [
        "{\"name\": ",
        "not json",
        "{\"name\": \"a\", \"quantity\": 1} trailing",
        "",
    ] {
        let response = app
            .send_body(json_post(&app, "/probe/echo"), body.to_string())
            .await;
        response.assert_problem(400, "malformed_body");
    }
}

#[actix_web::test]
async fn json_of_the_wrong_shape_is_a_422_naming_the_field() {
    let app = app().await;
    let response = app.post_json("/probe/echo", &json!({"name": "lamp"})).await;
    response.assert_problem(422, "validation_failed");
    assert_eq!(response.error_fields(), ["quantity"]);
    assert_eq!(response.json()["errors"][0]["message"], "is required");

    let response = app
        .post_json("/probe/echo", &json!({"name": "lamp", "quantity": "many"}))
        .await;
    response.assert_problem(422, "validation_failed");
    assert_eq!(response.error_fields(), ["quantity"]);

    let response = app.post_json("/probe/echo", &json!([1, 2])).await;
    response.assert_problem(422, "validation_failed");
    assert_eq!(response.error_fields(), ["body"]);
}

#[actix_web::test]
async fn wrong_content_type_is_a_415_problem() {
    let app = app().await;
    let body = r#"{"name": "lamp", "quantity": 2}"#;
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
    ] {
        let request = app
            .request(Method::POST, "/probe/echo")
            .insert_header(("content-type", content_type));
        app.send_body(request, body)
            .await
            .assert_problem(415, "unsupported_media_type");
    }
    let no_content_type = app.request(Method::POST, "/probe/echo");
    app.send_body(no_content_type, body)
        .await
        .assert_problem(415, "unsupported_media_type");
    let with_charset = app
        .request(Method::POST, "/probe/echo")
        .insert_header(("content-type", "application/json; charset=utf-8"));
    assert_eq!(app.send_body(with_charset, body).await.status, 200);
}

#[actix_web::test]
async fn bodies_over_64_kib_are_a_413_problem() {
    let app = app().await;
    let name = "x".repeat(64 * 1024);
    let response = app
        .post_json("/probe/echo", &json!({"name": name, "quantity": 1}))
        .await;
    response.assert_problem(413, "payload_too_large");

    let just_under = "x".repeat(64 * 1024 - 40);
    let response = app
        .post_json("/probe/echo", &json!({"name": just_under, "quantity": 1}))
        .await;
    assert_eq!(response.status, 200, "a body just under the limit is fine");
}

#[actix_web::test]
async fn bad_query_parameters_are_a_422_naming_every_field() {
    let app = app().await;
    let response = app.get("/probe/paged?page=0&page_size=101").await;
    response.assert_problem(422, "validation_failed");
    assert_eq!(response.error_fields(), ["page", "page_size"]);

    let response = app.get("/probe/paged?page=abc").await;
    response.assert_problem(422, "validation_failed");
    assert_eq!(response.error_fields(), ["page"]);

    let response = app.get("/probe/paged/?page=2&page_size=100").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), json!({"page": 2, "page_size": 100}));
    assert_eq!(
        app.get("/probe/paged").await.json(),
        json!({"page": 1, "page_size": 20})
    );
}

#[actix_web::test]
async fn unparsable_path_segments_are_a_422_problem() {
    let app = app().await;
    assert_eq!(app.get("/probe/items/7").await.json(), json!({"id": 7}));
    for path in ["/probe/items/abc", "/probe/items/99999999999"] {
        app.get(path).await.assert_problem(422, "validation_failed");
    }
}

#[actix_web::test]
async fn internal_errors_reveal_nothing_but_the_request_id() {
    let app = app().await;
    let request = app
        .request(Method::GET, "/probe/boom")
        .insert_header(("X-Request-Id", "incident-7"));
    let response = app.send(request).await;
    let body: Value = response.assert_problem(500, "internal_error");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("incident-7"), "{detail}");
    let text = String::from_utf8_lossy(&response.body);
    assert!(
        !text.contains("hunter2") && !text.contains("10.1.2.3"),
        "{text}"
    );
}

#[actix_web::test]
async fn a_panicking_handler_is_a_500_problem_and_the_server_survives() {
    let app = app().await;
    let response = app.get("/probe/panic").await;
    let body = response.assert_problem(500, "internal_error");
    let id = response.header("x-request-id").unwrap();
    assert!(body["detail"].as_str().unwrap().contains(&id));
    assert_eq!(app.get("/health").await.status, 200);
}

#[actix_web::test]
async fn a_full_database_queue_is_a_503_busy_at_once() {
    // One database thread and room for one waiting job.
    let app = TestApp::spawn_with(&[("DB_POOL_SIZE", "1"), ("DB_QUEUE_MAX", "1")], probes).await;
    let running = app.get("/probe/slow");
    let (first, (second, third)) = futures_util::future::join(running, async {
        // Let the first take the thread, then two more: one waits, one finds the queue full.
        actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
        futures_util::future::join(app.get("/probe/slow"), async {
            actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
            app.get("/probe/slow").await
        })
        .await
    })
    .await;
    assert_eq!(first.status, 200);
    assert_eq!(second.status, 200, "the waiting one runs in its turn");
    // Refused, not queued behind the others (a queued one would have answered 200).
    third.assert_problem(503, "busy");
    assert_eq!(third.header("retry-after").as_deref(), Some("1"));
    // And the shop serves again once the queue drains.
    assert_eq!(app.get("/products").await.status, 200);
}
