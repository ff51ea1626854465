//! `/openapi.json` and `/docs`: the document matches the server exactly.

use std::collections::BTreeSet;

use actix_web::http::Method;
use serde_json::Value;

use crate::helpers::TestApp;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect()
}

#[actix_web::test]
async fn the_document_lists_exactly_the_routes_the_server_serves() {
    let app = TestApp::spawn().await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status, 200);
    let doc = response.json();
    assert_eq!(doc["openapi"], "3.1.0");

    let served: BTreeSet<(String, String)> = emporium_server::routes::endpoints()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let documented = documented(&doc);
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let phantom: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but not documented: {undocumented:?}"
    );
    assert!(phantom.is_empty(), "documented but not served: {phantom:?}");

    // Every documented operation reaches a handler: never the "no such route" 404 nor a 405.
    for (method, path) in &documented {
        let concrete = path
            .replace("{id}", "1")
            .replace("{product_id}", "1")
            .replace("{file}", "index.css");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let response = app.send(app.request(method.clone(), &concrete)).await;
        assert_ne!(response.status, 405, "{method} {path}");
        if response.status == 404 {
            assert_ne!(
                response.json()["detail"],
                "There is nothing at this address.",
                "{method} {path} has no route"
            );
        }
    }
}

#[actix_web::test]
async fn every_operation_documents_its_errors_security_and_ids() {
    let app = TestApp::spawn().await;
    let doc = app.get("/openapi.json").await.json();
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS.iter().filter(|m| item.get(**m).is_some()) {
            let op = &item[*method];
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(ids.insert(id.to_string()), "duplicate operationId {id}");
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("500"), "{id}");
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &response["content"]["application/problem+json"]["schema"]["$ref"];
                    assert_eq!(schema, "#/components/schemas/ProblemDoc", "{id} {status}");
                    assert!(
                        response["description"].as_str().unwrap().contains('`'),
                        "{id} {status} lists its codes"
                    );
                }
            }
            if op.get("security").is_some() {
                assert!(
                    responses.contains_key("401") && responses.contains_key("403"),
                    "{id}"
                );
            }
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(responses.contains_key(status), "{id} {status}");
                }
            }
        }
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(
        schemes["oauth2"]["flows"]["password"]["tokenUrl"],
        "/auth/signin"
    );
    let checkout = &doc["paths"]["/checkout"]["post"]["responses"]["201"]["links"]["GetOrder"];
    assert_eq!(checkout["operationId"], "get_order");
    let signup =
        &doc["paths"]["/auth/signup"]["post"]["responses"]["201"]["links"]["ResendVerification"];
    assert_eq!(signup["operationId"], "resend_verification");
}

#[actix_web::test]
async fn the_document_is_snapshotted_so_changes_are_reviewed() {
    let app = TestApp::spawn().await;
    let doc = app.get("/openapi.json").await.json();
    insta::assert_json_snapshot!("openapi", doc);
}

#[actix_web::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = TestApp::spawn().await;
    for path in ["/docs", "/docs/"] {
        let page = app.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            page.header("content-type")
                .unwrap()
                .starts_with("text/html")
        );
        let html = String::from_utf8_lossy(&page.body);
        assert!(html.contains("<base href=\"/docs/\">") && html.contains("swagger-ui-bundle.js"));
    }
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "index.css",
    ] {
        let response = app.get(&format!("/docs/{asset}")).await;
        assert_eq!(response.status, 200, "{asset}");
        assert!(response.body.len() > 100, "{asset}");
    }
    let init =
        String::from_utf8_lossy(&app.get("/docs/swagger-initializer.js").await.body).to_string();
    assert!(init.contains("\"url\": \"/openapi.json\""), "{init}");
    app.get("/docs/nope.js")
        .await
        .assert_problem(404, "not_found");
}
