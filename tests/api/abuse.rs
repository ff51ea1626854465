//! The shop cannot be used to flood someone's inbox: verification and reset mails are limited
//! per address (answered as always, not sent), requests that send mail are limited per client
//! address (429), and suppressions show in `/metrics`, which a token can close.

use actix_web::http::Method;
use serde_json::json;

use crate::helpers::{TestApp, link_in, path_of, token_of};

#[actix_web::test]
async fn the_fourth_reset_mail_in_fifteen_minutes_is_not_sent_and_the_answer_stays_the_same() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let body = json!({"email": user.email});
    let forgot = || app.post_json("/auth/forgot-password", &body);

    let mut links = Vec::new();
    let mut answers = Vec::new();
    for _ in 0..3 {
        let answer = forgot().await;
        assert_eq!(answer.status, 202);
        answers.push(answer.body);
        links.push(link_in(&app.next_mail().await));
    }
    let fourth = forgot().await;
    assert_eq!(fourth.status, 202);
    let unknown = app
        .post_json(
            "/auth/forgot-password",
            &json!({"email": "nobody@example.com"}),
        )
        .await;
    for body in answers.iter().chain([&fourth.body, &unknown.body]) {
        assert_eq!(
            body, &answers[0],
            "one answer for sent, suppressed and unknown"
        );
    }
    assert!(
        app.no_mail_within(1500).await,
        "the fourth mail is not sent"
    );

    // The suppressed request did not invalidate the last link that was sent.
    let reset = app
        .post_json(
            "/auth/reset-password",
            &json!({"token": token_of(&links[2]), "new_password": "a brand new password"}),
        )
        .await;
    assert_eq!(
        reset.status,
        200,
        "{}",
        String::from_utf8_lossy(&reset.body)
    );
    app.post_json(
        "/auth/reset-password",
        &json!({"token": token_of(&links[1]), "new_password": "another new password"}),
    )
    .await
    .assert_problem(400, "token_used");
    assert!(path_of(&links[0]).starts_with("/auth/reset-password"));

    // Counted in /metrics (the password-changed notice of the reset is never limited).
    let metrics = String::from_utf8(app.get("/metrics").await.body.to_vec()).unwrap();
    assert!(
        metrics.contains("emporium_mail_suppressed{kind=\"password_reset\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("emporium_mail_suppressed{kind=\"verification\"} 0"));
}

#[actix_web::test]
async fn verification_mails_stop_at_three_per_address_including_the_signup_one() {
    let app = TestApp::spawn().await;
    let email = crate::helpers::unique_email("unverified");
    let signup = app
        .post_json(
            "/auth/signup",
            &json!({"name": "Una", "email": email, "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(signup.status, 201);
    app.next_mail().await;
    let body = json!({"email": email});
    let resend = || app.post_json("/auth/resend-verification", &body);
    for _ in 0..2 {
        assert_eq!(resend().await.status, 202);
        app.next_mail().await;
    }
    let third = resend().await;
    assert_eq!(third.status, 202);
    assert!(
        app.no_mail_within(1500).await,
        "the fourth verification mail is not sent"
    );
}

#[actix_web::test]
async fn the_eleventh_mail_request_from_one_address_in_a_minute_is_a_429() {
    let app = TestApp::spawn_with(&[("TRUSTED_PROXIES", "127.0.0.1")], |_| {}).await;
    let app = &app;
    let from = |client: &'static str, path: &'static str, body: serde_json::Value| {
        let request = app
            .request(Method::POST, path)
            .insert_header(("X-Forwarded-For", client));
        async move { app.send_json(request, &body).await }
    };
    let client = "203.0.113.7";
    for n in 0..10 {
        let response = match n % 3 {
            0 => {
                from(
                    client,
                    "/auth/signup",
                    json!({"name": "Bot", "email": format!("bot{n}@example.com"), "password": "correct horse battery"}),
                )
                .await
            }
            1 => {
                from(
                    client,
                    "/auth/forgot-password",
                    json!({"email": "victim@example.com"}),
                )
                .await
            }
            _ => {
                from(
                    client,
                    "/auth/resend-verification",
                    json!({"email": "victim@example.com"}),
                )
                .await
            }
        };
        assert_ne!(response.status, 429, "request {n}");
    }
    let eleventh = from(
        client,
        "/auth/forgot-password",
        json!({"email": "victim@example.com"}),
    )
    .await;
    eleventh.assert_problem(429, "too_many_requests");
    let wait: u64 = eleventh.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=61).contains(&wait), "{wait}");
    let signup = from(
        client,
        "/auth/signup",
        json!({"name": "Bot", "email": "bot-late@example.com", "password": "correct horse battery"}),
    )
    .await;
    signup.assert_problem(429, "too_many_requests");

    // Another client behind the same proxy is not affected, and signin is not limited by it.
    let other = from(
        "198.51.100.9",
        "/auth/forgot-password",
        json!({"email": "victim@example.com"}),
    )
    .await;
    assert_eq!(other.status, 202);
    let user = app.user().await;
    assert_eq!(app.signin(&user.email, &user.password).await.status, 200);
}

#[actix_web::test]
async fn metrics_need_the_token_when_one_is_set() {
    let open = TestApp::spawn().await;
    assert_eq!(open.get("/metrics").await.status, 200, "open by default");

    let token = "scrape-4f9c2a7e1d3b";
    let app = TestApp::spawn_with(&[("METRICS_TOKEN", token)], |_| {}).await;
    let none = app.get("/metrics").await;
    none.assert_problem(401, "unauthorized");
    app.get_as("/metrics", "scrape-4f9c2a7e1d3c")
        .await
        .assert_problem(401, "unauthorized");
    app.get_as("/metrics", "scrape")
        .await
        .assert_problem(401, "unauthorized");
    let scraped = app.get_as("/metrics", token).await;
    assert_eq!(scraped.status, 200);
    let body = String::from_utf8(scraped.body.to_vec()).unwrap();
    assert!(body.contains("emporium_http_requests_total"), "{body}");
    // The rest of the shop does not take the token.
    assert_eq!(app.get("/health").await.status, 200);
}
