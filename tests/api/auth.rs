//! `/auth`: the whole account flow over HTTP, with mail through a real SMTP server.

use actix_web::http::Method;
use base64::Engine;
use emporium::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{
    PUBLIC_BASE_URL, TEST_JWT_SECRET, TestApp, link_in, path_of, token_of, unique_email,
};

async fn signup(app: &TestApp, email: &str, password: &str) -> Value {
    let response = app
        .post_json(
            "/auth/signup",
            &json!({"name": "Ada", "email": email, "password": password}),
        )
        .await;
    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.json()
}

#[actix_web::test]
async fn signup_verify_signin_refresh_logout() {
    let app = TestApp::spawn().await;
    let email = unique_email("Flow.");
    let user = signup(&app, &email, "correct horse battery").await;
    assert_eq!(user["email"], email.to_lowercase());
    assert_eq!(user["role"], "user");
    assert_eq!(user["email_verified"], false);
    assert_eq!(user["is_active"], true);
    assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(user.get("password_hash").is_none() && user.get("password").is_none());

    // Exactly one verification mail, with a working link to PUBLIC_BASE_URL.
    let mail = app.next_mail().await;
    assert_eq!(mail["to"][0]["email"], email.to_lowercase());
    assert!(
        mail["subject"]
            .as_str()
            .unwrap()
            .contains("Confirm your email")
    );
    let link = link_in(&mail);
    assert!(
        link.starts_with(&format!("{PUBLIC_BASE_URL}/auth/verify-email?token=")),
        "{link}"
    );
    assert!(mail["html"].as_str().unwrap().contains(&link));
    assert!(token_of(&link).len() >= 43, "at least 256 bits");
    assert!(app.no_mail_within(300).await, "only one mail");

    app.signin(&email, "correct horse battery")
        .await
        .assert_problem(403, "email_not_verified");

    let verified = app.get(&path_of(&link)).await;
    assert_eq!(
        verified.status, 200,
        "the link answers 200 without a redirect"
    );
    assert_eq!(verified.json()["email_verified"], true);
    let welcome = app.next_mail().await;
    assert!(welcome["subject"].as_str().unwrap().contains("Welcome"));
    app.get(&path_of(&link))
        .await
        .assert_problem(400, "token_used");

    let tokens = app
        .signin(&email.to_uppercase(), "correct horse battery")
        .await;
    assert_eq!(tokens.status, 200);
    let tokens = tokens.json();
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 900);
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    let me = app.get_as("/users/me", &access).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["email"], email.to_lowercase());

    // Refresh rotates: a new pair, the old refresh token spent.
    let rotated = app
        .post_json("/auth/refresh", &json!({"refresh_token": refresh}))
        .await;
    assert_eq!(rotated.status, 200);
    let rotated = rotated.json();
    let access2 = rotated["access_token"].as_str().unwrap().to_string();
    let refresh2 = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh2, refresh);
    assert_eq!(app.get_as("/users/me", &access2).await.status, 200);

    // Logout ends the session at once.
    let logout = app
        .send(app.request_as(Method::POST, "/auth/logout", &access2))
        .await;
    assert_eq!(logout.status, 204);
    app.get_as("/users/me", &access2)
        .await
        .assert_problem(401, "invalid_token");
    app.get_as("/users/me", &access)
        .await
        .assert_problem(401, "invalid_token");
    app.post_json("/auth/refresh", &json!({"refresh_token": refresh2}))
        .await
        .assert_problem(401, "invalid_refresh_token");
}

#[actix_web::test]
async fn a_reused_refresh_token_revokes_the_whole_session() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let first = app
        .post_json("/auth/refresh", &json!({"refresh_token": user.refresh}))
        .await
        .json();
    let new_access = first["access_token"].as_str().unwrap().to_string();
    let new_refresh = first["refresh_token"].as_str().unwrap().to_string();

    // The old one again: theft is assumed and the session ends.
    app.post_json("/auth/refresh", &json!({"refresh_token": user.refresh}))
        .await
        .assert_problem(401, "refresh_token_reused");
    app.get_as("/users/me", &new_access)
        .await
        .assert_problem(401, "invalid_token");
    app.post_json("/auth/refresh", &json!({"refresh_token": new_refresh}))
        .await
        .assert_problem(401, "invalid_refresh_token");
    // Other sessions of the account are untouched.
    let other = app.signin(&user.email, &user.password).await.json();
    assert_eq!(
        app.get_as("/users/me", other["access_token"].as_str().unwrap())
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn logout_all_sessions_ends_every_session() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let second = app.signin(&user.email, &user.password).await.json();
    let second_access = second["access_token"].as_str().unwrap();
    let response = app
        .post_json_as("/auth/logout", &user.access, &json!({"all_sessions": true}))
        .await;
    assert_eq!(response.status, 204);
    app.get_as("/users/me", second_access)
        .await
        .assert_problem(401, "invalid_token");
    app.get_as("/users/me", &user.access)
        .await
        .assert_problem(401, "invalid_token");
}

#[actix_web::test]
async fn signup_validation_lists_every_bad_field_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let response = app
        .post_json(
            "/auth/signup",
            &json!({"name": "A", "email": "not-an-email", "password": "short"}),
        )
        .await;
    response.assert_problem(422, "validation_failed");
    assert_eq!(response.error_fields(), ["email", "password"]);

    let response = app.post_json("/auth/signup", &json!({})).await;
    assert_eq!(response.error_fields(), ["name", "email", "password"]);

    let response = app
        .post_json(
            "/auth/signup",
            &json!({"name": "A", "email": "a@example.com", "password": "x".repeat(129)}),
        )
        .await;
    assert_eq!(response.error_fields(), ["password"]);
    assert!(app.no_mail_within(300).await, "no account, no mail");
    app.signin("a@example.com", &"x".repeat(129))
        .await
        .assert_problem(401, "invalid_credentials");
}

#[actix_web::test]
async fn duplicate_emails_are_refused_case_insensitively() {
    let app = TestApp::spawn().await;
    let email = unique_email("dup");
    signup(&app, &email, "correct horse battery").await;
    let response = app
        .post_json(
            "/auth/signup",
            &json!({"name": "B", "email": email.to_uppercase(), "password": "another password"}),
        )
        .await;
    response.assert_problem(409, "email_taken");
}

#[actix_web::test]
async fn signup_never_takes_a_role() {
    let app = TestApp::spawn().await;
    let email = unique_email("sneaky");
    let response = app
        .post_json(
            "/auth/signup",
            &json!({"name": "Eve", "email": email, "password": "correct horse battery", "role": "admin", "is_active": true, "email_verified": true}),
        )
        .await;
    assert_eq!(response.status, 201);
    assert_eq!(response.json()["role"], "user");
    assert_eq!(response.json()["email_verified"], false);
}

#[actix_web::test]
async fn unknown_email_and_wrong_password_are_the_same_401() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let unknown = app
        .signin("nobody@example.com", "correct horse battery")
        .await;
    let wrong = app.signin(&user.email, "wrong horse battery").await;
    let a = unknown.assert_problem(401, "invalid_credentials");
    let b = wrong.assert_problem(401, "invalid_credentials");
    assert_eq!(a, b, "the bodies do not tell the cases apart");
    app.signin("not an email", "whatever1")
        .await
        .assert_problem(401, "invalid_credentials");

    let response = app
        .post_json("/auth/signin", &json!({"email": user.email}))
        .await;
    response.assert_problem(422, "validation_failed");
    assert_eq!(response.error_fields(), ["password"]);
}

#[actix_web::test]
async fn signin_accepts_the_oauth2_password_form() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let form = format!(
        "grant_type=password&username={}&password={}&scope=",
        user.email.replace('@', "%40"),
        user.password.replace(' ', "+")
    );
    let request = app
        .request(Method::POST, "/auth/signin")
        .insert_header(("content-type", "application/x-www-form-urlencoded"));
    let response = app.send_body(request, form).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.json()["token_type"], "bearer");

    let request = app
        .request(Method::POST, "/auth/signin")
        .insert_header(("content-type", "text/plain"));
    app.send_body(request, "hello")
        .await
        .assert_problem(415, "unsupported_media_type");
}

#[actix_web::test]
async fn repeated_failures_for_one_email_are_throttled_even_with_the_right_password() {
    let app = TestApp::spawn_with(&[("LOGIN_MAX_FAILURES_PER_EMAIL", "3")], |_| {}).await;
    let user = app.user().await;
    for _ in 0..3 {
        app.signin(&user.email, "wrong horse battery")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    let throttled = app.signin(&user.email, &user.password).await;
    throttled.assert_problem(429, "too_many_attempts");
    let retry_after: u64 = throttled.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=15 * 60 + 1).contains(&retry_after), "{retry_after}");
    // Another account from the same address is not affected by this email's limit.
    let other = app.user().await;
    assert_eq!(app.signin(&other.email, &other.password).await.status, 200);
}

#[actix_web::test]
async fn guesses_sent_at_once_get_no_more_answers_than_the_limit() {
    // Four hashing threads, so guesses are checked side by side, not one after another.
    let app = TestApp::spawn_with(
        &[
            ("LOGIN_MAX_FAILURES_PER_EMAIL", "3"),
            ("PASSWORD_HASH_CONCURRENCY", "4"),
        ],
        |_| {},
    )
    .await;
    let user = app.user().await;
    let guesses = futures_util::future::join_all(
        (0..12).map(|_| app.signin(&user.email, "wrong horse battery")),
    )
    .await;
    let statuses: Vec<u16> = guesses.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 401).count(),
        3,
        "the limit's worth of guesses learn their answer: {statuses:?}"
    );
    for response in guesses.iter().filter(|r| r.status != 401) {
        response.assert_problem(429, "too_many_attempts");
    }
    app.signin(&user.email, &user.password)
        .await
        .assert_problem(429, "too_many_attempts");
}

#[actix_web::test]
async fn repeated_failures_from_one_address_are_throttled() {
    let app = TestApp::spawn_with(
        &[
            ("LOGIN_MAX_FAILURES_PER_IP", "4"),
            ("LOGIN_MAX_FAILURES_PER_EMAIL", "0"),
        ],
        |_| {},
    )
    .await;
    let user = app.user().await;
    for n in 0..4 {
        app.signin(&format!("guess{n}@example.com"), "wrong horse battery")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    let throttled = app.signin(&user.email, &user.password).await;
    throttled.assert_problem(429, "too_many_attempts");
    let retry_after: u64 = throttled.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=61).contains(&retry_after), "{retry_after}");
}

fn forge(claims: &Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes());
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &key,
    )
    .unwrap()
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[actix_web::test]
async fn tokens_are_only_accepted_where_they_belong() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    assert_eq!(claims_of(&user.access)["typ"], "access");
    assert_eq!(claims_of(&user.refresh)["typ"], "refresh");
    assert_eq!(
        claims_of(&user.access)["sid"],
        claims_of(&user.refresh)["sid"],
        "both name the session"
    );

    app.get_as("/users/me", &user.refresh)
        .await
        .assert_problem(401, "invalid_token");
    app.post_json("/auth/refresh", &json!({"refresh_token": user.access}))
        .await
        .assert_problem(401, "invalid_refresh_token");

    // Expired (well past the leeway), signed with the right key.
    let mut expired = claims_of(&user.access);
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 120);
    app.get_as("/users/me", &forge(&expired))
        .await
        .assert_problem(401, "invalid_token");

    // alg "none" with the same claims.
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none = format!(
        "{}.{}.",
        engine.encode(r#"{"alg":"none","typ":"JWT"}"#),
        user.access.split('.').nth(1).unwrap()
    );
    app.get_as("/users/me", &none)
        .await
        .assert_problem(401, "invalid_token");

    // Tampered: another user's id in a token signed by someone else.
    let mut tampered = claims_of(&user.access);
    tampered["sub"] = json!("999");
    let mut parts: Vec<&str> = user.access.split('.').collect();
    let payload = engine.encode(tampered.to_string());
    parts[1] = &payload;
    app.get_as("/users/me", &parts.join("."))
        .await
        .assert_problem(401, "invalid_token");
    // Re-signed properly but for a user the session does not belong to.
    app.get_as("/users/me", &forge(&tampered))
        .await
        .assert_problem(401, "invalid_token");

    app.get_as("/users/me", "garbage")
        .await
        .assert_problem(401, "invalid_token");
    app.get("/users/me")
        .await
        .assert_problem(401, "not_authenticated");
    let basic = app
        .request(Method::GET, "/users/me")
        .insert_header(("Authorization", "Basic dXNlcjpwYXNz"));
    app.send(basic).await.assert_problem(401, "invalid_token");
}

#[actix_web::test]
async fn long_and_multibyte_passwords_round_trip_exactly() {
    let app = TestApp::spawn().await;
    let hundred = "p".repeat(99) + "!";
    let multibyte = "é".repeat(40) + "ü"; // 82 bytes: past bcrypt's 72-byte limit
    assert!(multibyte.len() > 72);
    for password in [hundred, multibyte] {
        let email = unique_email("long");
        app.create_account(&email, &password, Role::User, true);
        assert_eq!(
            app.signin(&email, &password).await.status,
            200,
            "{password}"
        );
        let mut changed: Vec<char> = password.chars().collect();
        let last = changed.len() - 1;
        changed[last] = 'x';
        let changed: String = changed.into_iter().collect();
        app.signin(&email, &changed)
            .await
            .assert_problem(401, "invalid_credentials");
        let trailing_space = format!("{password} ");
        app.signin(&email, &trailing_space)
            .await
            .assert_problem(401, "invalid_credentials");
    }
}

/// Made with Python's `bcrypt` 5.0.0: `bcrypt.hashpw(b"correct horse battery", bcrypt.gensalt(12))`.
const PYTHON_BCRYPT: &str = "$2b$12$5xJoN/4dzlMZ5s7k53yA2OLjbtX6hORCkrm2rn.pJ19rOvGEZUHpG";

fn stored_hash(app: &TestApp, email: &str) -> String {
    use diesel::prelude::*;
    use emporium::db::schema::users;
    users::table
        .filter(users::email.eq(email))
        .select(users::password_hash)
        .first(&mut app.pool.get().unwrap())
        .unwrap()
}

#[actix_web::test]
async fn a_bcrypt_hash_from_the_old_shop_signs_in_and_is_replaced_by_argon2id() {
    use diesel::prelude::*;
    use emporium::db::schema::users;

    let app = TestApp::spawn().await;
    let email = unique_email("legacy");
    app.create_account(&email, "placeholder password", Role::User, true);
    diesel::update(users::table.filter(users::email.eq(&email)))
        .set(users::password_hash.eq(PYTHON_BCRYPT))
        .execute(&mut app.pool.get().unwrap())
        .unwrap();

    app.signin(&email, "correct horse batterY")
        .await
        .assert_problem(401, "invalid_credentials");
    assert_eq!(
        stored_hash(&app, &email),
        PYTHON_BCRYPT,
        "a failed signin changes nothing"
    );
    assert_eq!(
        app.signin(&email, "correct horse battery").await.status,
        200
    );
    let rehashed = stored_hash(&app, &email);
    assert!(
        rehashed.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{rehashed}"
    );
    assert_eq!(
        app.signin(&email, "correct horse battery").await.status,
        200,
        "the new hash works"
    );
}

#[actix_web::test]
async fn password_reset_through_the_emailed_link() {
    let app = TestApp::spawn().await;
    let user = app.user().await;

    let unknown = app
        .post_json(
            "/auth/forgot-password",
            &json!({"email": "nobody@example.com"}),
        )
        .await;
    let known = app
        .post_json(
            "/auth/forgot-password",
            &json!({"email": user.email.to_uppercase()}),
        )
        .await;
    assert_eq!((unknown.status, known.status), (202, 202));
    assert_eq!(
        unknown.body, known.body,
        "the same answer whether or not the account exists"
    );

    let mail = app.next_mail().await;
    assert_eq!(mail["to"][0]["email"], user.email);
    let link = link_in(&mail);
    assert!(
        link.starts_with(&format!("{PUBLIC_BASE_URL}/auth/reset-password?token=")),
        "{link}"
    );
    assert!(
        app.no_mail_within(300).await,
        "no mail for the unknown address"
    );

    let page = app.get(&path_of(&link)).await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(String::from_utf8_lossy(&page.body).contains("new password"));

    let token = token_of(&link);
    let short = app
        .post_json(
            "/auth/reset-password",
            &json!({"token": token, "new_password": "short"}),
        )
        .await;
    assert_eq!(short.error_fields(), ["new_password"]);
    let reset = app
        .post_json(
            "/auth/reset-password",
            &json!({"token": token, "new_password": "a brand new password"}),
        )
        .await;
    assert_eq!(reset.status, 200);
    let notice = app.next_mail().await;
    assert!(
        notice["subject"]
            .as_str()
            .unwrap()
            .contains("password was changed")
    );

    app.get_as("/users/me", &user.access)
        .await
        .assert_problem(401, "invalid_token");
    app.post_json("/auth/refresh", &json!({"refresh_token": user.refresh}))
        .await
        .assert_problem(401, "invalid_refresh_token");
    app.signin(&user.email, &user.password)
        .await
        .assert_problem(401, "invalid_credentials");
    assert_eq!(
        app.signin(&user.email, "a brand new password").await.status,
        200
    );
    app.post_json(
        "/auth/reset-password",
        &json!({"token": token, "new_password": "yet another password"}),
    )
    .await
    .assert_problem(400, "token_used");
    app.post_json(
        "/auth/reset-password",
        &json!({"token": "made-up", "new_password": "yet another password"}),
    )
    .await
    .assert_problem(400, "token_invalid");
}

#[actix_web::test]
async fn a_new_reset_request_invalidates_the_earlier_link() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    app.post_json("/auth/forgot-password", &json!({"email": user.email}))
        .await;
    let first = token_of(&link_in(&app.next_mail().await));
    app.post_json("/auth/forgot-password", &json!({"email": user.email}))
        .await;
    let second = token_of(&link_in(&app.next_mail().await));
    assert_ne!(first, second);
    app.post_json(
        "/auth/reset-password",
        &json!({"token": first, "new_password": "a brand new password"}),
    )
    .await
    .assert_problem(400, "token_used");
    let response = app
        .post_json(
            "/auth/reset-password",
            &json!({"token": second, "new_password": "a brand new password"}),
        )
        .await;
    assert_eq!(response.status, 200);
}

#[actix_web::test]
async fn expired_links_are_refused() {
    let app = TestApp::spawn_with(
        &[
            ("RESET_TOKEN_TTL_SECS", "1"),
            ("VERIFICATION_TOKEN_TTL_SECS", "1"),
        ],
        |_| {},
    )
    .await;
    let user = app.user().await;
    app.post_json("/auth/forgot-password", &json!({"email": user.email}))
        .await;
    let reset = token_of(&link_in(&app.next_mail().await));
    let email = unique_email("late");
    signup(&app, &email, "correct horse battery").await;
    let verify = link_in(&app.next_mail().await);
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1500)).await;
    app.post_json(
        "/auth/reset-password",
        &json!({"token": reset, "new_password": "a brand new password"}),
    )
    .await
    .assert_problem(400, "token_expired");
    app.get(&path_of(&verify))
        .await
        .assert_problem(400, "token_expired");
    app.post_json("/auth/verify-email", &json!({"token": token_of(&verify)}))
        .await
        .assert_problem(400, "token_expired");
}

#[actix_web::test]
async fn resend_verification_answers_the_same_and_mails_only_unverified_accounts() {
    let app = TestApp::spawn().await;
    let email = unique_email("resend");
    signup(&app, &email, "correct horse battery").await;
    let first = link_in(&app.next_mail().await);

    let unknown = app
        .post_json(
            "/auth/resend-verification",
            &json!({"email": "ghost@example.com"}),
        )
        .await;
    let known = app
        .post_json("/auth/resend-verification", &json!({"email": email}))
        .await;
    assert_eq!((unknown.status, known.status), (202, 202));
    assert_eq!(unknown.body, known.body);
    let second = link_in(&app.next_mail().await);
    assert_ne!(first, second);
    let verified = app
        .post_json("/auth/verify-email", &json!({"token": token_of(&second)}))
        .await;
    assert_eq!(verified.status, 200);
    app.next_mail().await; // welcome

    app.post_json("/auth/resend-verification", &json!({"email": email}))
        .await;
    assert!(
        app.no_mail_within(400).await,
        "a verified account gets no new link"
    );
    app.post_json("/auth/resend-verification", &json!({"email": "bad"}))
        .await
        .assert_problem(422, "validation_failed");
    app.post_json("/auth/verify-email", &json!({}))
        .await
        .assert_problem(422, "validation_failed");
}

#[actix_web::test]
async fn change_password_keeps_this_session_and_ends_the_others() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let other = app.signin(&user.email, &user.password).await.json();

    let wrong = app
        .post_json_as(
            "/auth/change-password",
            &user.access,
            &json!({"current_password": "nope nope", "new_password": "a brand new password"}),
        )
        .await;
    wrong.assert_problem(403, "invalid_current_password");

    let changed = app
        .post_json_as(
            "/auth/change-password",
            &user.access,
            &json!({"current_password": user.password, "new_password": "a brand new password"}),
        )
        .await;
    assert_eq!(changed.status, 200);
    assert_eq!(
        app.get_as("/users/me", &user.access).await.status,
        200,
        "this session goes on"
    );
    app.get_as("/users/me", other["access_token"].as_str().unwrap())
        .await
        .assert_problem(401, "invalid_token");
    app.signin(&user.email, &user.password)
        .await
        .assert_problem(401, "invalid_credentials");
    assert_eq!(
        app.signin(&user.email, "a brand new password").await.status,
        200
    );
    let notice = app.next_mail().await;
    assert!(
        notice["subject"]
            .as_str()
            .unwrap()
            .contains("password was changed")
    );
}

#[actix_web::test]
async fn with_verification_off_unverified_accounts_sign_in() {
    let app = TestApp::spawn_with(&[("REQUIRE_EMAIL_VERIFICATION", "false")], |_| {}).await;
    let email = unique_email("casual");
    signup(&app, &email, "correct horse battery").await;
    let tokens = app.signin(&email, "correct horse battery").await;
    assert_eq!(tokens.status, 200);
    let me = app
        .get_as("/users/me", tokens.json()["access_token"].as_str().unwrap())
        .await;
    assert_eq!(me.json()["email_verified"], false);
}

#[actix_web::test]
async fn admin_email_creates_a_verified_admin_at_start() {
    let app = TestApp::spawn_with(
        &[
            ("ADMIN_EMAIL", "Boss@Shop.Test"),
            ("ADMIN_PASSWORD", "the boss password"),
        ],
        |_| {},
    )
    .await;
    let tokens = app.signin("boss@shop.test", "the boss password").await;
    assert_eq!(tokens.status, 200);
    let me = app
        .get_as("/users/me", tokens.json()["access_token"].as_str().unwrap())
        .await
        .json();
    assert_eq!(me["role"], "admin");
    assert_eq!(me["email_verified"], true);
}

#[actix_web::test]
async fn signin_with_text_that_is_no_email_is_a_401_on_every_backend() {
    // A NUL character (PostgreSQL's text cannot store one) and other junk, as a fuzzer sends.
    let app = TestApp::spawn().await;
    for email in ["4\u{0}\u{10ffff}", "not an email", &"x".repeat(5000)] {
        app.post_json(
            "/auth/signin",
            &json!({"email": email, "password": "whatever it is"}),
        )
        .await
        .assert_problem(401, "invalid_credentials");
    }
    // Failures for such text are still counted (under its digest): the sixth is throttled.
    for _ in 0..4 {
        app.post_json(
            "/auth/signin",
            &json!({"email": "4\u{0}\u{10ffff}", "password": "whatever it is"}),
        )
        .await;
    }
    app.post_json(
        "/auth/signin",
        &json!({"email": "4\u{0}\u{10ffff}", "password": "whatever it is"}),
    )
    .await
    .assert_problem(429, "too_many_attempts");
}

/// The cores the thread serving `GET /probe/cores` may run on, as the kernel lists them.
async fn my_cores() -> actix_web::HttpResponse {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
    let cores = status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .unwrap_or("")
        .trim()
        .to_string();
    actix_web::HttpResponse::Ok().body(cores)
}

#[actix_web::test]
async fn while_a_password_hashes_requests_run_off_its_core_and_after_it_on_every_core() {
    if !std::path::Path::new("/proc/thread-self/status").exists() {
        eprintln!("no /proc/thread-self: thread placement is Linux-only");
        return;
    }
    // A hash that lasts long enough to be seen (50 passes of Argon2: about half a second).
    let app = TestApp::spawn_with(
        &[
            ("ARGON2_ITERATIONS", "50"),
            ("PASSWORD_HASH_CONCURRENCY", "1"),
        ],
        |cfg| {
            cfg.route("/probe/cores", actix_web::web::get().to(my_cores));
        },
    )
    .await;
    let every = app.get("/probe/cores").await.body_text();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        eprintln!("one core ({every}): nothing to keep for hashing");
        return;
    }
    let una =
        json!({"name": "Una", "email": "una@example.com", "password": "correct horse battery"});
    let answered = std::cell::Cell::new(false);
    let signup = async {
        let response = app.post_json("/auth/signup", &una).await;
        answered.set(true);
        response
    };
    let watch = async {
        // Requests sent while the hash runs see every core but the one it keeps.
        let mut seen = Vec::new();
        while !answered.get() {
            let now = app.get("/probe/cores").await.body_text();
            if now != every {
                seen.push(now);
                break;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        seen
    };
    let (signed_up, seen) = futures_util::future::join(signup, watch).await;
    assert_eq!(signed_up.status, 201, "{}", signed_up.body_text());
    assert_eq!(
        seen.len(),
        1,
        "no request ran off the hashing core (all saw {every})"
    );
    assert_ne!(seen[0], every);
    assert!(!seen[0].is_empty());
    // Once the hashing thread finds its queue empty (on a busy machine it may be a moment
    // after the signup's answer), requests have every core again.
    let mut after = String::new();
    for _ in 0..200 {
        after = app.get("/probe/cores").await.body_text();
        if after == every {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(after, every, "requests have every core after the hash");
    // And with PASSWORD_HASH_CORES=0 nothing moves.
    let off = TestApp::spawn_with(
        &[("ARGON2_ITERATIONS", "50"), ("PASSWORD_HASH_CORES", "0")],
        |cfg| {
            cfg.route("/probe/cores", actix_web::web::get().to(my_cores));
        },
    )
    .await;
    let signup = off.post_json("/auth/signup", &una);
    let watch = async {
        let mut seen = Vec::new();
        for _ in 0..20 {
            seen.push(off.get("/probe/cores").await.body_text());
            actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        seen
    };
    let (signed_up, seen) = futures_util::future::join(signup, watch).await;
    assert_eq!(signed_up.status, 201, "{}", signed_up.body_text());
    assert!(seen.iter().all(|cores| *cores == every), "{seen:?}");
}
