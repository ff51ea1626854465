//! `/users`: the signed-in account and admin management.

use emporium::auth::Role;
use serde_json::json;

use crate::helpers::TestApp;

#[actix_web::test]
async fn me_can_be_read_and_renamed_but_nothing_else() {
    let app = TestApp::spawn().await;
    let user = app.user().await;
    let me = app.get_as("/users/me", &user.access).await.json();
    assert_eq!(me["email"], user.email);
    for key in [
        "id",
        "name",
        "email",
        "role",
        "is_active",
        "email_verified",
        "created_at",
    ] {
        assert!(me.get(key).is_some(), "{key}");
    }
    assert_eq!(
        me.as_object().unwrap().len(),
        7,
        "exactly the User fields: {me}"
    );

    let renamed = app
        .patch_json_as(
            "/users/me",
            &user.access,
            &json!({"name": "  Grace Hopper ", "role": "admin", "email": "x@example.com"}),
        )
        .await;
    assert_eq!(renamed.status, 200);
    let renamed = renamed.json();
    assert_eq!(renamed["name"], "Grace Hopper");
    assert_eq!(renamed["role"], "user");
    assert_eq!(renamed["email"], user.email);
    let empty = app
        .patch_json_as("/users/me", &user.access, &json!({"name": "   "}))
        .await;
    assert_eq!(empty.error_fields(), ["name"]);
}

#[actix_web::test]
async fn admins_list_and_read_accounts_and_nobody_else_can() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.user().await;
    let page = app.get_as("/users?page=1&page_size=1", &admin.access).await;
    assert_eq!(page.status, 200);
    let page = page.json();
    assert_eq!(
        (page["total"].as_i64(), page["total_pages"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], admin.id, "oldest first");
    let second = app
        .get_as("/users/?page=2&page_size=1", &admin.access)
        .await
        .json();
    assert_eq!(second["items"][0]["id"], user.id);
    app.get_as("/users?page=0", &admin.access)
        .await
        .assert_problem(422, "validation_failed");
    app.get_as("/users?page_size=101", &admin.access)
        .await
        .assert_problem(422, "validation_failed");

    let one = app
        .get_as(&format!("/users/{}", user.id), &admin.access)
        .await;
    assert_eq!(one.json()["email"], user.email);
    app.get_as("/users/99999", &admin.access)
        .await
        .assert_problem(404, "not_found");

    app.get_as("/users", &user.access)
        .await
        .assert_problem(403, "admin_required");
    app.get_as(&format!("/users/{}", admin.id), &user.access)
        .await
        .assert_problem(403, "admin_required");
    app.patch_json_as(
        &format!("/users/{}", user.id),
        &user.access,
        &json!({"role": "admin"}),
    )
    .await
    .assert_problem(403, "admin_required");
    app.get("/users")
        .await
        .assert_problem(401, "not_authenticated");
}

#[actix_web::test]
async fn a_role_change_takes_effect_on_the_next_request() {
    let app = TestApp::spawn().await;
    let boss = app.admin().await;
    let deputy = app.admin().await;
    assert_eq!(app.get_as("/users", &deputy.access).await.status, 200);

    let demoted = app
        .patch_json_as(
            &format!("/users/{}", deputy.id),
            &boss.access,
            &json!({"role": "user"}),
        )
        .await;
    assert_eq!(demoted.status, 200);
    assert_eq!(demoted.json()["role"], "user");
    // The deputy's existing token now belongs to a user.
    app.get_as("/users", &deputy.access)
        .await
        .assert_problem(403, "admin_required");
    assert_eq!(
        app.get_as("/users/me", &deputy.access).await.json()["role"],
        "user"
    );

    let promoted = app
        .patch_json_as(
            &format!("/users/{}", deputy.id),
            &boss.access,
            &json!({"role": "admin"}),
        )
        .await;
    assert_eq!(promoted.json()["role"], "admin");
    assert_eq!(app.get_as("/users", &deputy.access).await.status, 200);

    app.patch_json_as(
        &format!("/users/{}", deputy.id),
        &boss.access,
        &json!({"role": "emperor"}),
    )
    .await
    .assert_problem(422, "validation_failed");
}

#[actix_web::test]
async fn a_disabled_account_is_refused_at_once_and_can_be_enabled_again() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.user().await;
    let disabled = app
        .patch_json_as(
            &format!("/users/{}", user.id),
            &admin.access,
            &json!({"is_active": false}),
        )
        .await;
    assert_eq!(disabled.json()["is_active"], false);
    app.get_as("/users/me", &user.access)
        .await
        .assert_problem(403, "account_disabled");
    app.post_json("/auth/refresh", &json!({"refresh_token": user.refresh}))
        .await
        .assert_problem(403, "account_disabled");
    app.signin(&user.email, &user.password)
        .await
        .assert_problem(403, "account_disabled");
    app.signin(&user.email, "wrong password!")
        .await
        .assert_problem(401, "invalid_credentials");

    app.patch_json_as(
        &format!("/users/{}", user.id),
        &admin.access,
        &json!({"is_active": true}),
    )
    .await;
    assert_eq!(app.signin(&user.email, &user.password).await.status, 200);
}

#[actix_web::test]
async fn the_last_active_admin_cannot_be_demoted_or_disabled() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let path = format!("/users/{}", admin.id);
    app.patch_json_as(&path, &admin.access, &json!({"role": "user"}))
        .await
        .assert_problem(409, "last_admin");
    app.patch_json_as(&path, &admin.access, &json!({"is_active": false}))
        .await
        .assert_problem(409, "last_admin");
    assert_eq!(
        app.get_as("/users/me", &admin.access).await.json()["role"],
        "admin"
    );
    let other = app.create_account(
        "second-admin@example.com",
        "another password",
        Role::Admin,
        true,
    );
    assert_eq!(
        app.patch_json_as(&path, &admin.access, &json!({"role": "user"}))
            .await
            .status,
        200
    );
    assert_eq!(other.role, Role::Admin);
}
