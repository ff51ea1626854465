//! The auth crate driven directly, as an embedding program would.

use emporium_core::Settings;
use emporium_db::TestDb;

use super::*;

pub(crate) fn config() -> AuthConfig {
    let dir = std::env::temp_dir();
    let vars = [
        ("JWT_SECRET", "unit-test-secret-0123456789abcdef-xyz"),
        ("PUBLIC_BASE_URL", "https://shop.test"),
    ];
    let url = format!("sqlite://{}", dir.join("unused-auth-unit.db").display());
    let settings = Settings::from_lookup(|name| {
        if name == "DATABASE_URL" {
            return Some(url.clone());
        }
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    })
    .unwrap();
    AuthConfig::from_settings(&settings).unwrap()
}

#[test]
fn smoke_signup_creates_an_unverified_user() {
    let db = TestDb::new();
    let config = config();
    let request = SignupRequest {
        name: Some("Ada".into()),
        email: Some("Ada@Example.com".into()),
        password: Some("correct horse".into()),
    };
    let user = accounts::signup(
        &mut db.conn(),
        &config,
        request.try_into().unwrap(),
        chrono::Utc::now(),
    )
    .unwrap();
    assert_eq!(user.email.as_str(), "ada@example.com");
    assert_eq!(user.role, Role::User);
    assert!(!user.email_verified);
}
