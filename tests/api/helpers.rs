//! `TestApp`: the real application on a fresh temporary database, a free port, and its own
//! real SMTP server (mailcrab, in-process) that the mail worker delivers to.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::Method;
use actix_web::http::header::HeaderMap;
use actix_web::web::{Bytes, ServiceConfig};
use emporium::auth::accounts::{self, NewAccount};
use emporium::auth::{AuthConfig, Password, Role, User};
use emporium::core::{Email, Settings};
use emporium::db::{Pool, TestDb};
use emporium_server::Application;
use serde_json::{Value, json};

/// The signing key of every test app, so tests can forge tokens with it.
pub const TEST_JWT_SECRET: &str = "test-only-5d41402abc4b2a76b9719d911017c592-7f3e";
/// Where links in test emails point.
pub const PUBLIC_BASE_URL: &str = "http://shop.test";

static NEXT_EMAIL: AtomicUsize = AtomicUsize::new(1);

/// A fresh address no other test uses.
pub fn unique_email(prefix: &str) -> String {
    format!(
        "{prefix}{}@example.com",
        NEXT_EMAIL.fetch_add(1, Ordering::Relaxed)
    )
}

/// A running server on its own database, with its own SMTP server.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The pool the server itself uses.
    pub pool: Pool,
    /// The server's account rules (same settings), for creating accounts directly.
    pub auth: Arc<AuthConfig>,
    handle: ServerHandle,
    client: awc::Client,
    mail: tokio::sync::Mutex<tokio::sync::broadcast::Receiver<mailcrab::MailMessage>>,
    mail_server: Arc<MailServer>,
    // The environment the app was built from (a peer is built from the same).
    env: HashMap<String, String>,
    // Keeps the database until every app on it is dropped.
    db: Arc<TestDb>,
}

/// The SMTP server of a test app (and of its peers), stopped when the last of them goes.
struct MailServer {
    handle: mailcrab::TestMailServerHandle,
    rx: tokio::sync::broadcast::Receiver<mailcrab::MailMessage>,
}

impl Drop for MailServer {
    fn drop(&mut self) {
        self.handle.token.cancel();
    }
}

/// A response, fully read.
#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// An account and the tokens of one signin.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: i64,
    pub email: String,
    pub password: String,
    pub access: String,
    pub refresh: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl TestApp {
    /// The app with default test settings.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(&[], |_| {}).await
    }

    /// The app with extra environment variables and extra routes.
    pub async fn spawn_with(vars: &[(&str, &str)], routes: fn(&mut ServiceConfig)) -> TestApp {
        let db = Arc::new(TestDb::new());
        let smtp_port = free_port();
        let handle = mailcrab::development_mail_server([127, 0, 0, 1], smtp_port).await;
        let rx = handle.rx.resubscribe();
        let mail_server = Arc::new(MailServer { handle, rx });
        let smtp_port = smtp_port.to_string();
        let mut env: HashMap<String, String> = HashMap::from([
            ("HOST".into(), "127.0.0.1".into()),
            ("PORT".into(), "0".into()),
            ("DATABASE_URL".into(), db.settings().url.clone()),
            ("JWT_SECRET".into(), TEST_JWT_SECRET.into()),
            ("SQLITE_SYNCHRONOUS".into(), "NORMAL".into()),
            ("WORKERS".into(), "2".into()),
            ("SHUTDOWN_TIMEOUT_SECS".into(), "1".into()),
            ("PUBLIC_BASE_URL".into(), PUBLIC_BASE_URL.into()),
            ("EMAIL_BACKEND".into(), "mailpit".into()),
            ("MAIL_HOST".into(), "127.0.0.1".into()),
            ("MAIL_PORT".into(), smtp_port),
            ("MAIL_RETRY_BASE_MS".into(), "100".into()),
            ("MAIL_POLL_INTERVAL_MS".into(), "200".into()),
        ]);
        for (name, value) in vars {
            env.insert(name.to_string(), value.to_string());
        }
        TestApp::start(env, routes, db, mail_server).await
    }

    /// A second server on this app's database and SMTP server, built from the same
    /// environment: what a load balancer puts beside the first. Each has its own pool, caches,
    /// mail worker and port.
    pub async fn spawn_peer(&self) -> TestApp {
        TestApp::start(
            self.env.clone(),
            |_| {},
            Arc::clone(&self.db),
            Arc::clone(&self.mail_server),
        )
        .await
    }

    async fn start(
        env: HashMap<String, String>,
        routes: fn(&mut ServiceConfig),
        db: Arc<TestDb>,
        mail_server: Arc<MailServer>,
    ) -> TestApp {
        let settings = Settings::from_lookup(|name| env.get(name).cloned()).expect("test settings");
        // With no JWT_SECRET on PostgreSQL, the key is read from the database, as the server
        // itself does.
        let mut auth_settings = settings.clone();
        if !auth_settings.jwt.has_secret() {
            emporium_server::open_database(&mut auth_settings).expect("signing key");
        }
        let auth = Arc::new(AuthConfig::from_settings(&auth_settings).expect("auth config"));
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
        let mail = mail_server.rx.resubscribe();
        TestApp {
            address,
            pool,
            auth,
            handle,
            client,
            mail: tokio::sync::Mutex::new(mail),
            mail_server,
            env,
            db,
        }
    }

    /// Stops this server (gracefully: its workers finish what they are sending) and starts a
    /// new one on the same database, SMTP server and environment: a restart.
    pub async fn restart(self) -> TestApp {
        let env = self.env.clone();
        let db = Arc::clone(&self.db);
        let mail_server = Arc::clone(&self.mail_server);
        self.handle.stop(true).await;
        drop(self);
        TestApp::start(env, |_| {}, db, mail_server).await
    }

    /// The test database every server of this app uses.
    pub fn db(&self) -> &TestDb {
        &self.db
    }

    /// A request to `path` on this app.
    pub fn request(&self, method: Method, path: &str) -> awc::ClientRequest {
        self.client
            .request(method, format!("{}{path}", self.address))
    }

    /// A request carrying `Authorization: Bearer token`.
    pub fn request_as(&self, method: Method, path: &str, token: &str) -> awc::ClientRequest {
        self.request(method, path)
            .insert_header(("Authorization", format!("Bearer {token}")))
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

    /// Sends a request with a JSON body.
    pub async fn send_json(&self, request: awc::ClientRequest, body: &Value) -> TestResponse {
        read(request.send_json(body).await.expect("request sent")).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(self.request(Method::GET, path)).await
    }

    /// `GET path` as the holder of `token`.
    pub async fn get_as(&self, path: &str, token: &str) -> TestResponse {
        self.send(self.request_as(Method::GET, path, token)).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> TestResponse {
        self.send_json(self.request(Method::POST, path), body).await
    }

    /// `POST path` with a JSON body, as the holder of `token`.
    pub async fn post_json_as(&self, path: &str, token: &str, body: &Value) -> TestResponse {
        self.send_json(self.request_as(Method::POST, path, token), body)
            .await
    }

    /// `PATCH path` with a JSON body, as the holder of `token`.
    pub async fn patch_json_as(&self, path: &str, token: &str, body: &Value) -> TestResponse {
        self.send_json(self.request_as(Method::PATCH, path, token), body)
            .await
    }

    /// Creates an account directly through the auth crate (no mail).
    pub fn create_account(&self, email: &str, password: &str, role: Role, verified: bool) -> User {
        let account = NewAccount {
            name: "Test Person".into(),
            email: Email::parse(email).expect("email"),
            password: Password::parse(password).expect("password"),
            role,
            email_verified: verified,
        };
        let mut conn = self.pool.get().expect("connection");
        accounts::create_account(&mut conn, &self.auth, account, chrono::Utc::now())
            .expect("account")
    }

    /// `POST /auth/signin` with JSON.
    pub async fn signin(&self, email: &str, password: &str) -> TestResponse {
        self.post_json(
            "/auth/signin",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// A verified account of `role`, signed in.
    pub async fn signed_in(&self, role: Role) -> TestUser {
        let email = unique_email(if role == Role::Admin {
            "admin"
        } else {
            "shopper"
        });
        let password = "correct horse battery".to_string();
        let user = self.create_account(&email, &password, role, true);
        let response = self.signin(&email, &password).await;
        assert_eq!(
            response.status,
            200,
            "signin: {}",
            String::from_utf8_lossy(&response.body)
        );
        let tokens = response.json();
        TestUser {
            id: i64::from(user.id.get()),
            email,
            password,
            access: tokens["access_token"]
                .as_str()
                .expect("access token")
                .into(),
            refresh: tokens["refresh_token"]
                .as_str()
                .expect("refresh token")
                .into(),
        }
    }

    /// A verified shopper, signed in.
    pub async fn user(&self) -> TestUser {
        self.signed_in(Role::User).await
    }

    /// A verified admin, signed in.
    pub async fn admin(&self) -> TestUser {
        self.signed_in(Role::Admin).await
    }

    /// A product created over HTTP by `admin`; returns its id.
    pub async fn product(&self, admin: &TestUser, price: f64, stock: i64) -> i64 {
        let name = format!("Product {}", NEXT_EMAIL.fetch_add(1, Ordering::Relaxed));
        let body = json!({"name": name, "price": price, "stock": stock, "category": "Test"});
        let response = self.post_json_as("/products", &admin.access, &body).await;
        assert_eq!(
            response.status,
            201,
            "{}",
            String::from_utf8_lossy(&response.body)
        );
        response.json()["id"].as_i64().expect("product id")
    }

    /// `POST /cart/add` as `user`.
    pub async fn add_to_cart(&self, user: &TestUser, product: i64, quantity: i64) -> TestResponse {
        self.post_json_as(
            "/cart/add",
            &user.access,
            &json!({"product_id": product, "quantity": quantity}),
        )
        .await
    }

    /// `POST /checkout` as `user` with no body.
    pub async fn checkout(&self, user: &TestUser) -> TestResponse {
        self.send(self.request_as(Method::POST, "/checkout", &user.access))
            .await
    }

    /// The next email the SMTP server received (waits up to 10 s), as JSON with `subject`,
    /// `to`, `text` and `html`.
    pub async fn next_mail(&self) -> Value {
        let mut rx = self.mail.lock().await;
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Ok(message)) => serde_json::to_value(message).expect("mail as JSON"),
            other => panic!("no mail arrived: {other:?}"),
        }
    }

    /// True when no email arrives within `millis`.
    pub async fn no_mail_within(&self, millis: u64) -> bool {
        let mut rx = self.mail.lock().await;
        tokio::time::timeout(Duration::from_millis(millis), rx.recv())
            .await
            .is_err()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The stop command is sent at once; the returned future only waits for completion.
        drop(self.handle.stop(false));
    }
}

/// The first link in a mail's text part.
pub fn link_in(mail: &Value) -> String {
    let text = mail["text"].as_str().expect("text part");
    let start = text.find("http").expect("a link");
    text[start..]
        .split_whitespace()
        .next()
        .expect("link")
        .to_string()
}

/// The path and query of a link to the shop (what the test app is asked for).
pub fn path_of(link: &str) -> String {
    link.strip_prefix(PUBLIC_BASE_URL)
        .unwrap_or_else(|| panic!("{link} is not under {PUBLIC_BASE_URL}"))
        .to_string()
}

/// The `token` query parameter of a link.
pub fn token_of(link: &str) -> String {
    link.split("token=")
        .nth(1)
        .expect("token=")
        .split('&')
        .next()
        .expect("token")
        .to_string()
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

    /// The body as text.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
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
        if status == 401 {
            assert!(
                self.header("www-authenticate")
                    .is_some_and(|v| v.starts_with("Bearer")),
                "a 401 carries WWW-Authenticate: Bearer"
            );
        }
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
