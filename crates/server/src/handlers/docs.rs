//! `/openapi.json` and `/docs` (Swagger UI, compiled into the binary: no network needed).

use std::sync::{Arc, OnceLock};

use actix_web::{HttpResponse, web};
use utoipa_swagger_ui::Config;

use crate::error::ApiError;

/// `GET /openapi.json`: the OpenAPI 3.1 document of every route.
#[utoipa::path(
    get, path = "/openapi.json", tag = "operations", operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object, content_type = "application/json"))
)]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(crate::openapi::json())
}

fn config() -> Arc<Config<'static>> {
    static CONFIG: OnceLock<Arc<Config<'static>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            Arc::new(
                Config::from("/openapi.json")
                    .persist_authorization(true)
                    .try_it_out_enabled(true),
            )
        })
        .clone()
}

fn file(path: &str) -> Result<HttpResponse, ApiError> {
    match utoipa_swagger_ui::serve(path, config()) {
        Ok(Some(file)) => {
            let mut bytes = file.bytes.into_owned();
            if path == "index.html" {
                // Served at /docs (no trailing slash), so the page's relative asset paths
                // need a base to resolve under /docs/.
                let html = String::from_utf8_lossy(&bytes).replacen(
                    "<head>",
                    "<head><base href=\"/docs/\">",
                    1,
                );
                bytes = html.into_bytes();
            }
            Ok(HttpResponse::Ok()
                .content_type(file.content_type)
                .body(bytes))
        }
        Ok(None) => Err(ApiError::not_found("There is nothing at this address.")),
        Err(error) => Err(ApiError::internal(anyhow::anyhow!("swagger ui: {error}"))),
    }
}

/// `GET /docs`: Swagger UI; its Authorize button signs in through `/auth/signin`.
#[utoipa::path(
    get, path = "/docs", tag = "operations", operation_id = "docs",
    responses((status = 200, description = "Swagger UI", body = String, content_type = "text/html"))
)]
pub async fn swagger_ui() -> Result<HttpResponse, ApiError> {
    file("index.html")
}

/// `GET /docs/{file}`: Swagger UI's scripts and styles.
#[utoipa::path(
    get, path = "/docs/{file}", tag = "operations", operation_id = "docs_file",
    params(("file" = String, Path, description = "A Swagger UI asset, e.g. `swagger-ui.css`")),
    responses(
        (status = 200, description = "The asset", body = String, content_type = "text/plain"),
        (status = 404, description = "`not_found`: no such asset", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn swagger_file(name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    file(&name.into_inner())
}
