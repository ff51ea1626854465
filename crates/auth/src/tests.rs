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
    let url = format!("sqlite:///{}", dir.join("unused-auth-unit.db").display());
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

fn account(db: &TestDb, config: &AuthConfig, email: &str, role: Role) -> User {
    let account = NewAccount {
        name: "Grace".into(),
        email: emporium_core::Email::parse(email).unwrap(),
        password: Password::parse("correct horse battery").unwrap(),
        role,
        email_verified: true,
    };
    accounts::create_account(&mut db.conn(), config, account, chrono::Utc::now()).unwrap()
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

#[test]
fn signup_queues_exactly_one_verification_mail_in_the_same_transaction() {
    let db = TestDb::new();
    let config = config();
    let request = SignupRequest {
        name: Some("Ada".into()),
        email: Some("ada@example.com".into()),
        password: Some("correct horse".into()),
    };
    accounts::signup(
        &mut db.conn(),
        &config,
        request.clone().try_into().unwrap(),
        now(),
    )
    .unwrap();
    let queued = emporium_mail::outbox::all(&mut db.conn()).unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].kind, "verification");
    assert!(
        queued[0]
            .text_body
            .contains("https://shop.test/auth/verify-email?token=")
    );

    // A duplicate fails and queues nothing more.
    let again = accounts::signup(&mut db.conn(), &config, request.try_into().unwrap(), now());
    assert!(matches!(again, Err(AuthError::EmailTaken)));
    assert_eq!(emporium_mail::outbox::all(&mut db.conn()).unwrap().len(), 1);
}

#[test]
fn signup_input_reports_every_bad_field() {
    let errors = accounts::Signup::try_from(SignupRequest {
        name: Some(" ".into()),
        email: Some("x".into()),
        password: None,
    })
    .unwrap_err();
    let fields: Vec<_> = errors.fields().iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["name", "email", "password"]);
}

#[test]
fn sessions_end_on_logout_and_refresh_reuse() {
    let db = TestDb::new();
    let config = config();
    account(&db, &config, "grace@example.com", Role::User);
    let pair = sessions::signin(
        &mut db.conn(),
        &config,
        "Grace@Example.com",
        "correct horse battery",
        Some("10.0.0.1"),
        now(),
    )
    .unwrap();
    let principal =
        sessions::authenticate(&mut db.conn(), &config, &pair.access_token, now()).unwrap();
    assert_eq!(principal.role, Role::User);

    let rotated = sessions::refresh(&mut db.conn(), &config, &pair.refresh_token, now()).unwrap();
    assert!(matches!(
        sessions::refresh(&mut db.conn(), &config, &pair.refresh_token, now()),
        Err(AuthError::RefreshTokenReused)
    ));
    assert!(matches!(
        sessions::authenticate(&mut db.conn(), &config, &rotated.access_token, now()),
        Err(AuthError::InvalidAccessToken)
    ));

    let pair = sessions::signin(
        &mut db.conn(),
        &config,
        "grace@example.com",
        "correct horse battery",
        None,
        now(),
    )
    .unwrap();
    let principal =
        sessions::authenticate(&mut db.conn(), &config, &pair.access_token, now()).unwrap();
    sessions::logout(&mut db.conn(), &principal, false, now()).unwrap();
    assert!(matches!(
        sessions::authenticate(&mut db.conn(), &config, &pair.access_token, now()),
        Err(AuthError::InvalidAccessToken)
    ));
}

#[test]
fn throttling_counts_failures_per_email_and_lifts_after_the_window() {
    let db = TestDb::new();
    let config = config();
    account(&db, &config, "grace@example.com", Role::User);
    let start = now();
    for _ in 0..5 {
        let outcome = sessions::signin(
            &mut db.conn(),
            &config,
            "grace@example.com",
            "wrong password",
            None,
            start,
        );
        assert!(matches!(outcome, Err(AuthError::InvalidCredentials)));
    }
    match sessions::signin(
        &mut db.conn(),
        &config,
        "grace@example.com",
        "correct horse battery",
        None,
        start,
    ) {
        Err(AuthError::Throttled { retry_after_secs }) => assert!(
            (899..=901).contains(&retry_after_secs),
            "{retry_after_secs}"
        ),
        other => panic!("expected throttling, got {other:?}"),
    }
    let later = start + chrono::Duration::minutes(15) + chrono::Duration::seconds(1);
    assert!(
        sessions::signin(
            &mut db.conn(),
            &config,
            "grace@example.com",
            "correct horse battery",
            None,
            later
        )
        .is_ok()
    );
}

#[test]
fn reset_tokens_are_single_use_expire_and_supersede_each_other() {
    let db = TestDb::new();
    let config = config();
    account(&db, &config, "grace@example.com", Role::User);
    let email = emporium_core::Email::parse("grace@example.com").unwrap();
    let token_of = |db: &TestDb| {
        let mail = emporium_mail::outbox::all(&mut db.conn())
            .unwrap()
            .pop()
            .unwrap();
        mail.text_body
            .split("token=")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    accounts::forgot_password(&mut db.conn(), &config, &email, now()).unwrap();
    let first = token_of(&db);
    accounts::forgot_password(&mut db.conn(), &config, &email, now()).unwrap();
    let second = token_of(&db);
    let password = Password::parse("a brand new password").unwrap();
    assert!(matches!(
        accounts::reset_password(&mut db.conn(), &config, &first, &password, now()),
        Err(AuthError::TokenUsed)
    ));
    let late = now() + chrono::Duration::minutes(31);
    assert!(matches!(
        accounts::reset_password(&mut db.conn(), &config, &second, &password, late),
        Err(AuthError::TokenExpired)
    ));
    accounts::reset_password(&mut db.conn(), &config, &second, &password, now()).unwrap();
    assert!(matches!(
        accounts::reset_password(&mut db.conn(), &config, &second, &password, now()),
        Err(AuthError::TokenUsed)
    ));
    assert!(
        sessions::signin(
            &mut db.conn(),
            &config,
            "grace@example.com",
            "a brand new password",
            None,
            now()
        )
        .is_ok()
    );

    // An unknown address: nothing queued, and the same Ok.
    let before = emporium_mail::outbox::all(&mut db.conn()).unwrap().len();
    let nobody = emporium_core::Email::parse("nobody@example.com").unwrap();
    accounts::forgot_password(&mut db.conn(), &config, &nobody, now()).unwrap();
    assert_eq!(
        emporium_mail::outbox::all(&mut db.conn()).unwrap().len(),
        before
    );
}

#[test]
fn roles_are_read_per_request_and_the_last_admin_is_kept() {
    let db = TestDb::new();
    let config = config();
    let boss = account(&db, &config, "boss@example.com", Role::Admin);
    let deputy = account(&db, &config, "deputy@example.com", Role::Admin);
    let pair = sessions::signin(
        &mut db.conn(),
        &config,
        "deputy@example.com",
        "correct horse battery",
        None,
        now(),
    )
    .unwrap();
    assert!(
        sessions::authenticate(&mut db.conn(), &config, &pair.access_token, now())
            .unwrap()
            .is_admin()
    );
    let changes = accounts::AdminChanges {
        role: Some(Role::User),
        is_active: None,
    };
    accounts::admin_update(&mut db.conn(), deputy.id, changes, now()).unwrap();
    assert!(
        !sessions::authenticate(&mut db.conn(), &config, &pair.access_token, now())
            .unwrap()
            .is_admin()
    );
    assert!(matches!(
        accounts::admin_update(&mut db.conn(), boss.id, changes, now()),
        Err(AuthError::LastAdmin)
    ));
    let disable = accounts::AdminChanges {
        role: None,
        is_active: Some(false),
    };
    accounts::admin_update(&mut db.conn(), deputy.id, disable, now()).unwrap();
    assert!(matches!(
        sessions::authenticate(&mut db.conn(), &config, &pair.access_token, now()),
        Err(AuthError::AccountDisabled)
    ));
}

#[test]
fn ensure_admin_creates_once() {
    let db = TestDb::new();
    let config = config();
    let email = emporium_core::Email::parse("root@example.com").unwrap();
    let password = Password::parse("root password!").unwrap();
    let created =
        accounts::ensure_admin(&mut db.conn(), &config, &email, &password, now()).unwrap();
    assert_eq!(created.unwrap().role, Role::Admin);
    assert!(
        accounts::ensure_admin(&mut db.conn(), &config, &email, &password, now())
            .unwrap()
            .is_none()
    );
}

#[test]
fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let db = TestDb::new();
    let config = config();
    let demote = accounts::AdminChanges {
        role: Some(Role::User),
        is_active: None,
    };
    let promote = accounts::AdminChanges {
        role: Some(Role::Admin),
        is_active: None,
    };
    let a = account(&db, &config, "first-admin@example.com", Role::Admin);
    let b = account(&db, &config, "second-admin@example.com", Role::Admin);
    for round in 0..10 {
        let outcomes: Vec<Result<User, AuthError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = [a.id, b.id]
                .map(|id| {
                    let db = &db;
                    scope.spawn(move || accounts::admin_update(&mut db.conn(), id, demote, now()))
                })
                .into_iter()
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let demoted = outcomes.iter().filter(|o| o.is_ok()).count();
        let refused = outcomes
            .iter()
            .filter(|o| matches!(o, Err(AuthError::LastAdmin)))
            .count();
        assert_eq!((demoted, refused), (1, 1), "round {round}");
        for id in [a.id, b.id] {
            accounts::admin_update(&mut db.conn(), id, promote, now()).unwrap();
        }
    }
}

#[test]
fn two_reset_requests_at_once_leave_one_working_link() {
    use diesel::prelude::*;
    use emporium_db::schema::email_tokens;
    let db = TestDb::new();
    let config = config();
    let user = account(&db, &config, "forgetful@example.com", Role::User);
    for round in 0..10 {
        std::thread::scope(|scope| {
            for _ in 0..2 {
                let (db, config, email) = (&db, &config, &user.email);
                scope.spawn(move || {
                    accounts::forgot_password(&mut db.conn(), config, email, now()).unwrap();
                });
            }
        });
        let valid: i64 = email_tokens::table
            .filter(email_tokens::user_id.eq(user.id))
            .filter(email_tokens::purpose.eq("reset_password"))
            .filter(email_tokens::used_at.is_null())
            .count()
            .get_result(&mut db.conn())
            .unwrap();
        assert_eq!(valid, 1, "round {round}");
    }
}

/// Counts the recorded signin failures.
fn failures(db: &TestDb) -> i64 {
    use diesel::prelude::*;
    emporium_db::schema::login_failures::table
        .count()
        .get_result(&mut db.conn())
        .unwrap()
}

#[test]
fn guesses_begun_together_get_answers_only_up_to_the_limit() {
    let db = TestDb::new();
    let config = config();
    account(&db, &config, "grace@example.com", Role::User);
    let start = now();
    // Six wrong guesses and the right password, all past the throttle before any failure is
    // recorded (as concurrent requests are), each hashed, then finished one by one.
    let mut checked: Vec<_> = ["wrong password"; 6]
        .into_iter()
        .chain(["correct horse battery"])
        .map(|password| {
            sessions::begin_signin(&mut db.conn(), &config, "grace@example.com", None, start)
                .unwrap()
                .check_password(&config, password)
                .unwrap()
        })
        .collect();
    let right = checked.pop().unwrap();
    for _ in 0..5 {
        let wrong = checked.remove(0);
        assert!(matches!(
            sessions::finish_signin(&mut db.conn(), &config, wrong, start),
            Err(AuthError::InvalidCredentials)
        ));
    }
    assert!(matches!(
        sessions::finish_signin(&mut db.conn(), &config, checked.remove(0), start),
        Err(AuthError::Throttled { .. })
    ));
    assert!(
        matches!(
            sessions::finish_signin(&mut db.conn(), &config, right, start),
            Err(AuthError::Throttled { .. })
        ),
        "past the limit even the right password learns nothing"
    );
    assert_eq!(failures(&db), 5, "answers past the limit record nothing");
}

/// Asks for a reset link and follows it to set `password`.
fn reset_by_mail(db: &TestDb, config: &AuthConfig, email: &emporium_core::Email, password: &str) {
    accounts::forgot_password(&mut db.conn(), config, email, now()).unwrap();
    let mail = emporium_mail::outbox::all(&mut db.conn())
        .unwrap()
        .pop()
        .unwrap();
    let token = mail.text_body.split("token=").nth(1).unwrap();
    let token = token.split_whitespace().next().unwrap();
    let password = Password::parse(password).unwrap();
    accounts::reset_password(&mut db.conn(), config, token, &password, now()).unwrap();
}

#[test]
fn a_signin_checked_before_a_password_reset_does_not_finish_after_it() {
    use diesel::prelude::*;
    use emporium_db::schema::{sessions as session_rows, users};
    let db = TestDb::new();
    let config = config();
    let user = account(&db, &config, "grace@example.com", Role::User);
    // A carried-over bcrypt hash of "correct horse battery", so the signin also rehashes.
    let bcrypt = bcrypt::hash("correct horse battery", 4).unwrap();
    diesel::update(users::table.find(user.id))
        .set(users::password_hash.eq(&bcrypt))
        .execute(&mut db.conn())
        .unwrap();
    let checked = sessions::begin_signin(&mut db.conn(), &config, "grace@example.com", None, now())
        .unwrap()
        .check_password(&config, "correct horse battery")
        .unwrap();

    // Meanwhile the password is reset.
    reset_by_mail(&db, &config, &user.email, "a brand new password");
    let reset_hash: String = users::table
        .find(user.id)
        .select(users::password_hash)
        .first(&mut db.conn())
        .unwrap();

    assert!(matches!(
        sessions::finish_signin(&mut db.conn(), &config, checked, now()),
        Err(AuthError::InvalidCredentials)
    ));
    let stored: String = users::table
        .find(user.id)
        .select(users::password_hash)
        .first(&mut db.conn())
        .unwrap();
    assert_eq!(
        stored, reset_hash,
        "the rehash of the old password was not written"
    );
    let sessions: i64 = session_rows::table
        .count()
        .get_result(&mut db.conn())
        .unwrap();
    assert_eq!(sessions, 0, "no session was started");
    assert_eq!(failures(&db), 0, "not counted as a wrong guess");
    assert!(
        sessions::signin(
            &mut db.conn(),
            &config,
            "grace@example.com",
            "a brand new password",
            None,
            now()
        )
        .is_ok()
    );
}

#[test]
fn a_password_change_checked_before_a_reset_does_not_overwrite_it() {
    let db = TestDb::new();
    let config = config();
    let user = account(&db, &config, "grace@example.com", Role::User);
    let pair = sessions::signin(
        &mut db.conn(),
        &config,
        "grace@example.com",
        "correct horse battery",
        None,
        now(),
    )
    .unwrap();
    let principal =
        sessions::authenticate(&mut db.conn(), &config, &pair.access_token, now()).unwrap();
    let wanted = Password::parse("the change I asked for").unwrap();
    let change = accounts::begin_password_change(&mut db.conn(), &principal)
        .unwrap()
        .check(&config, "correct horse battery", &wanted)
        .unwrap();

    reset_by_mail(&db, &config, &user.email, "the reset's password");

    assert!(matches!(
        accounts::finish_password_change(&mut db.conn(), &config, &principal, change, now()),
        Err(AuthError::WrongCurrentPassword)
    ));
    let signin = |password: &str| {
        sessions::signin(
            &mut db.conn(),
            &config,
            "grace@example.com",
            password,
            None,
            now(),
        )
    };
    assert!(signin("the reset's password").is_ok(), "the reset stands");
    assert!(matches!(
        signin("the change I asked for"),
        Err(AuthError::InvalidCredentials)
    ));

    // Unhindered, the three steps change the password.
    let principal = sessions::authenticate(
        &mut db.conn(),
        &config,
        &signin("the reset's password").unwrap().access_token,
        now(),
    )
    .unwrap();
    let wrong = accounts::begin_password_change(&mut db.conn(), &principal)
        .unwrap()
        .check(&config, "not the password", &wanted);
    assert!(matches!(wrong, Err(AuthError::WrongCurrentPassword)));
    let change = accounts::begin_password_change(&mut db.conn(), &principal)
        .unwrap()
        .check(&config, "the reset's password", &wanted)
        .unwrap();
    accounts::finish_password_change(&mut db.conn(), &config, &principal, change, now()).unwrap();
    assert!(signin("the change I asked for").is_ok());
}
