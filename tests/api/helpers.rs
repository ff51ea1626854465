//! `TestApp`: the real application on a fresh temporary database and a free port.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::Method;
use actix_web::http::header::HeaderMap;
use actix_web::web::{Bytes, ServiceConfig};
use emporium::core::Settings;
use emporium::db::{Pool, TestDb};
use emporium_server::Application;
use serde_json::Value;

/// A strong secret so tests never write a secret file.
const TEST_JWT_SECRET: &str = "test-only-5d41402abc4b2a76b9719d911017c592-7f3e";

/// A running server on its own database.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// Keeps the server's database folder until the app is dropped.
    _db: TestDb,
    /// The pool the server itself uses.
    pub pool: Pool,
    handle: ServerHandle,
    client: awc::Client,
}

/// A response, fully read.
#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestApp {
    /// The app with default test settings.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(&[], |_| {}).await
    }

    /// The app with extra environment variables and extra routes.
    pub async fn spawn_with(vars: &[(&str, &str)], routes: fn(&mut ServiceConfig)) -> TestApp {
        let db = TestDb::new();
        let mut env: HashMap<String, String> = HashMap::from([
            ("HOST".into(), "127.0.0.1".into()),
            ("PORT".into(), "0".into()),
            ("DATABASE_URL".into(), db.settings().url.clone()),
            ("JWT_SECRET".into(), TEST_JWT_SECRET.into()),
            ("SQLITE_SYNCHRONOUS".into(), "NORMAL".into()),
            ("WORKERS".into(), "2".into()),
            ("SHUTDOWN_TIMEOUT_SECS".into(), "1".into()),
        ]);
        for (name, value) in vars {
            env.insert(name.to_string(), value.to_string());
        }
        let settings = Settings::from_lookup(|name| env.get(name).cloned()).expect("test settings");
        let app = Application::build_with_routes(settings, routes)
            .await
            .expect("app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let pool = app.pool().clone();
        let handle = app.handle();
        actix_web::rt::spawn(app.run_until_stopped());
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish();
        TestApp {
            address,
            _db: db,
            pool,
            handle,
            client,
        }
    }

    /// A request to `path` on this app, to be sent with [`TestApp::send`] or
    /// [`TestApp::send_body`].
    pub fn request(&self, method: Method, path: &str) -> awc::ClientRequest {
        self.client
            .request(method, format!("{}{path}", self.address))
    }

    /// Sends a request without a body.
    pub async fn send(&self, request: awc::ClientRequest) -> TestResponse {
        read(request.send().await.expect("request sent")).await
    }

    /// Sends a request with a raw body.
    pub async fn send_body(
        &self,
        request: awc::ClientRequest,
        body: impl Into<Bytes>,
    ) -> TestResponse {
        let body: Bytes = body.into();
        read(request.send_body(body).await.expect("request sent")).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(self.request(Method::GET, path)).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> TestResponse {
        let request = self.request(Method::POST, path);
        read(request.send_json(body).await.expect("request sent")).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The stop command is sent at once; the returned future only waits for completion.
        drop(self.handle.stop(false));
    }
}

async fn read<S>(mut response: awc::ClientResponse<S>) -> TestResponse
where
    S: futures_util::Stream<Item = Result<Bytes, awc::error::PayloadError>> + Unpin,
{
    let body = response
        .body()
        .limit(16 * 1024 * 1024)
        .await
        .expect("response body");
    TestResponse {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body,
    }
}

impl TestResponse {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    }

    /// Asserts a problem+json response with `status` and `code`, in the shape API.md gives,
    /// and returns its body.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(
            self.status,
            status,
            "status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/problem+json")
        );
        let body = self.json();
        assert_eq!(body["type"], "about:blank", "{body}");
        assert_eq!(body["status"], status, "{body}");
        assert_eq!(body["code"], code, "{body}");
        assert!(
            body["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{body}"
        );
        assert!(
            body["detail"].as_str().is_some_and(|t| !t.is_empty()),
            "{body}"
        );
        assert!(
            self.header("x-request-id").is_some(),
            "every response carries X-Request-Id"
        );
        body
    }

    /// The `field` names of a 422's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.json()["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["field"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}
