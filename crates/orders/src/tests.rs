//! Cart and orders driven directly, as an embedding program would.

use chrono::Utc;
use diesel::prelude::*;
use emporium_core::{Money, OrderId, PageRequest, ProductId, UserId};
use emporium_db::TestDb;
use emporium_db::schema::{products, users};

use crate::checkout::{self, Outcome, Payment};
use crate::lifecycle::{self, Actor};
use crate::{OrderError, Status, model};

pub(crate) fn user(db: &TestDb, email: &str, role: &str) -> UserId {
    diesel::insert_into(users::table)
        .values((
            users::name.eq("Buyer"),
            users::email.eq(email),
            users::password_hash.eq("x"),
            users::role.eq(role),
            users::email_verified.eq(true),
            users::created_at.eq(Utc::now().naive_utc()),
            users::updated_at.eq(Utc::now().naive_utc()),
        ))
        .returning(users::id)
        .get_result(&mut db.conn())
        .unwrap()
}

pub(crate) fn product(db: &TestDb, owner: UserId, name: &str, cents: i64, stock: i32) -> ProductId {
    let at = Utc::now().naive_utc();
    diesel::insert_into(products::table)
        .values((
            products::name.eq(name),
            products::name_key.eq(name.to_lowercase()),
            products::price_cents.eq(cents),
            products::stock.eq(stock),
            products::category.eq("Test"),
            products::category_key.eq("test"),
            products::owner_id.eq(owner),
            products::created_at.eq(at),
            products::updated_at.eq(at),
        ))
        .returning(products::id)
        .get_result(&mut db.conn())
        .unwrap()
}

fn stock(db: &TestDb, id: ProductId) -> i32 {
    products::table
        .find(id)
        .select(products::stock)
        .first(&mut db.conn())
        .unwrap()
}

fn order_of(outcome: Outcome) -> crate::Order {
    match outcome {
        Outcome::Created { order, .. } => order,
        other => panic!("expected a new order, got {other:?}"),
    }
}

#[test]
fn checkout_copies_lines_decrements_stock_and_empties_the_cart() {
    let db = TestDb::new();
    let admin = user(&db, "admin@example.com", "admin");
    let buyer = user(&db, "buyer@example.com", "user");
    let lamp = product(&db, admin, "Lamp", 1999, 5);
    let mug = product(&db, admin, "Mug", 450, 10);
    let now = Utc::now();
    emporium_cart::add(&mut db.conn(), buyer, lamp, 2, now).unwrap();
    emporium_cart::add(&mut db.conn(), buyer, mug, 3, now).unwrap();
    let cart = emporium_cart::add(&mut db.conn(), buyer, lamp, 1, now).unwrap();
    assert_eq!(cart.items[0].quantity, 3, "adding again merges");
    assert_eq!(cart.subtotal, Money::from_cents(3 * 1999 + 3 * 450));

    let order = order_of(
        checkout::checkout(
            &mut db.conn(),
            buyer,
            None,
            &Payment::default(),
            "Shop",
            now,
        )
        .unwrap(),
    );
    assert_eq!(order.status, Status::Paid);
    assert_eq!(order.total, Money::from_cents(3 * 1999 + 3 * 450));
    assert_eq!(
        order.total.cents(),
        order
            .items
            .iter()
            .map(|i| i.line_total.cents())
            .sum::<i64>()
    );
    assert_eq!((stock(&db, lamp), stock(&db, mug)), (2, 7));
    assert!(
        emporium_cart::get(&mut db.conn(), buyer)
            .unwrap()
            .items
            .is_empty()
    );
    let mail = emporium_mail::outbox::all(&mut db.conn()).unwrap();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].kind, "order_confirmation");

    // Price changes and deletion later do not touch the order.
    diesel::update(products::table.find(lamp))
        .set(products::price_cents.eq(99_999))
        .execute(&mut db.conn())
        .unwrap();
    diesel::update(products::table.find(lamp))
        .set(products::deleted_at.eq(Some(now.naive_utc())))
        .execute(&mut db.conn())
        .unwrap();
    let again = model::load(&mut db.conn(), order.id).unwrap();
    assert_eq!(again, order);
    assert!(matches!(
        checkout::checkout(
            &mut db.conn(),
            buyer,
            None,
            &Payment::default(),
            "Shop",
            now
        ),
        Err(OrderError::CartEmpty)
    ));
}

#[test]
fn short_stock_and_declined_cards_change_nothing() {
    let db = TestDb::new();
    let admin = user(&db, "admin@example.com", "admin");
    let buyer = user(&db, "buyer@example.com", "user");
    let a = product(&db, admin, "A", 100, 3);
    let b = product(&db, admin, "B", 100, 3);
    let c = product(&db, admin, "C", 100, 3);
    let now = Utc::now();
    for p in [a, b, c] {
        emporium_cart::add(&mut db.conn(), buyer, p, 3, now).unwrap();
    }
    // Two lines go short after they were added.
    diesel::update(products::table.filter(products::id.eq_any([a, c])))
        .set(products::stock.eq(1))
        .execute(&mut db.conn())
        .unwrap();
    match checkout::checkout(
        &mut db.conn(),
        buyer,
        None,
        &Payment::default(),
        "Shop",
        now,
    ) {
        Err(OrderError::InsufficientStock(lines)) => {
            let ids: Vec<_> = lines
                .iter()
                .map(|l| (l.product_id, l.requested, l.available))
                .collect();
            assert_eq!(ids, [(a, 3, 1), (c, 3, 1)], "every short line");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!((stock(&db, a), stock(&db, b), stock(&db, c)), (1, 3, 1));
    assert_eq!(
        emporium_cart::get(&mut db.conn(), buyer)
            .unwrap()
            .items
            .len(),
        3
    );

    diesel::update(products::table)
        .set(products::stock.eq(10))
        .execute(&mut db.conn())
        .unwrap();
    let declined = crate::CheckoutRequest {
        payment: Some(crate::checkout::PaymentInput {
            method: Some("dummy".into()),
            card_number: Some(checkout::DECLINED_CARD.into()),
        }),
        ..crate::CheckoutRequest::default()
    }
    .into_payment()
    .unwrap();
    assert!(matches!(
        checkout::checkout(&mut db.conn(), buyer, Some("k1"), &declined, "Shop", now),
        Err(OrderError::PaymentDeclined)
    ));
    assert_eq!(stock(&db, b), 10);
    assert_eq!(
        model::list_for_user(&mut db.conn(), buyer, PageRequest::default())
            .unwrap()
            .total,
        0
    );
    assert!(
        emporium_mail::outbox::all(&mut db.conn())
            .unwrap()
            .is_empty()
    );
    // The failed attempt did not use up the key.
    let order = order_of(
        checkout::checkout(
            &mut db.conn(),
            buyer,
            Some("k1"),
            &Payment::default(),
            "Shop",
            now,
        )
        .unwrap(),
    );
    assert_eq!(order.items.len(), 3);
}

#[test]
fn an_idempotency_key_replays_the_first_response_and_refuses_another_cart() {
    let db = TestDb::new();
    let admin = user(&db, "admin@example.com", "admin");
    let buyer = user(&db, "buyer@example.com", "user");
    let lamp = product(&db, admin, "Lamp", 1999, 5);
    let now = Utc::now();
    emporium_cart::add(&mut db.conn(), buyer, lamp, 1, now).unwrap();
    let Outcome::Created { order, body } = checkout::checkout(
        &mut db.conn(),
        buyer,
        Some("abc"),
        &Payment::default(),
        "Shop",
        now,
    )
    .unwrap() else {
        panic!("first checkout creates")
    };
    let replay = checkout::checkout(
        &mut db.conn(),
        buyer,
        Some("abc"),
        &Payment::default(),
        "Shop",
        now,
    )
    .unwrap();
    assert_eq!(
        replay,
        Outcome::Replayed {
            status: 201,
            body: body.clone()
        },
        "empty cart: replay"
    );
    emporium_cart::add(&mut db.conn(), buyer, lamp, 1, now).unwrap();
    let replay = checkout::checkout(
        &mut db.conn(),
        buyer,
        Some("abc"),
        &Payment::default(),
        "Shop",
        now,
    )
    .unwrap();
    assert_eq!(
        replay,
        Outcome::Replayed { status: 201, body },
        "the same cart again: replay"
    );
    emporium_cart::add(&mut db.conn(), buyer, lamp, 1, now).unwrap();
    assert!(matches!(
        checkout::checkout(
            &mut db.conn(),
            buyer,
            Some("abc"),
            &Payment::default(),
            "Shop",
            now
        ),
        Err(OrderError::IdempotencyKeyReused)
    ));
    assert_eq!(
        model::list_for_user(&mut db.conn(), buyer, PageRequest::default())
            .unwrap()
            .total,
        1
    );
    assert_eq!(stock(&db, lamp), 4);
    // Keys are per account.
    let other = user(&db, "other@example.com", "user");
    emporium_cart::add(&mut db.conn(), other, lamp, 1, now).unwrap();
    let theirs = order_of(
        checkout::checkout(
            &mut db.conn(),
            other,
            Some("abc"),
            &Payment::default(),
            "Shop",
            now,
        )
        .unwrap(),
    );
    assert_ne!(theirs.id, order.id);
}

#[test]
fn the_lifecycle_allows_only_its_transitions_and_restocks_paid_cancellations() {
    let db = TestDb::new();
    let admin = user(&db, "admin@example.com", "admin");
    let buyer = user(&db, "buyer@example.com", "user");
    let stranger = user(&db, "stranger@example.com", "user");
    let lamp = product(&db, admin, "Lamp", 1999, 5);
    let now = Utc::now();
    let place = |db: &TestDb| -> OrderId {
        emporium_cart::add(&mut db.conn(), buyer, lamp, 2, now).unwrap();
        order_of(
            checkout::checkout(
                &mut db.conn(),
                buyer,
                None,
                &Payment::default(),
                "Shop",
                now,
            )
            .unwrap(),
        )
        .id
    };
    let (as_buyer, as_admin, as_stranger) = (
        Actor {
            user: buyer,
            is_admin: false,
        },
        Actor {
            user: admin,
            is_admin: true,
        },
        Actor {
            user: stranger,
            is_admin: false,
        },
    );

    let first = place(&db);
    assert_eq!(stock(&db, lamp), 3);
    assert!(matches!(
        lifecycle::cancel(&mut db.conn(), first, as_stranger, "Shop", now),
        Err(OrderError::NotFound)
    ));
    assert!(matches!(
        model::get_for(&mut db.conn(), first, stranger, false),
        Err(OrderError::NotFound)
    ));
    assert!(matches!(
        lifecycle::transition(
            &mut db.conn(),
            first,
            Status::Shipped,
            as_buyer,
            "Shop",
            now
        ),
        Err(OrderError::InvalidTransition { .. })
    ));
    let cancelled = lifecycle::cancel(&mut db.conn(), first, as_buyer, "Shop", now).unwrap();
    assert_eq!(cancelled.status, Status::Cancelled);
    assert_eq!(stock(&db, lamp), 5, "restocked");
    assert!(matches!(
        lifecycle::cancel(&mut db.conn(), first, as_buyer, "Shop", now),
        Err(OrderError::InvalidTransition { .. })
    ));
    assert_eq!(stock(&db, lamp), 5, "not twice");

    let second = place(&db);
    lifecycle::transition(
        &mut db.conn(),
        second,
        Status::Shipped,
        as_admin,
        "Shop",
        now,
    )
    .unwrap();
    assert!(matches!(
        lifecycle::cancel(&mut db.conn(), second, as_buyer, "Shop", now),
        Err(OrderError::InvalidTransition { .. })
    ));
    assert!(matches!(
        lifecycle::transition(&mut db.conn(), second, Status::Paid, as_admin, "Shop", now),
        Err(OrderError::InvalidTransition { .. })
    ));
    lifecycle::transition(
        &mut db.conn(),
        second,
        Status::Delivered,
        as_admin,
        "Shop",
        now,
    )
    .unwrap();
    assert!(matches!(
        lifecycle::cancel(&mut db.conn(), second, as_admin, "Shop", now),
        Err(OrderError::InvalidTransition { .. })
    ));

    let third = place(&db);
    lifecycle::transition(
        &mut db.conn(),
        third,
        Status::Shipped,
        as_admin,
        "Shop",
        now,
    )
    .unwrap();
    lifecycle::cancel(&mut db.conn(), third, as_admin, "Shop", now).unwrap();
    assert_eq!(
        stock(&db, lamp),
        1,
        "a shipped order's units are not restocked"
    );

    let all = model::list_all(&mut db.conn(), None, PageRequest::default()).unwrap();
    assert_eq!(
        all.items.iter().map(|o| o.id).collect::<Vec<_>>(),
        [third, second, first],
        "newest first"
    );
    let cancelled = model::list_all(
        &mut db.conn(),
        Some(Status::Cancelled),
        PageRequest::default(),
    )
    .unwrap();
    assert_eq!(cancelled.total, 2);
}

#[test]
fn concurrent_checkouts_of_the_last_unit_sell_it_once() {
    let db = TestDb::new();
    let admin = user(&db, "admin@example.com", "admin");
    let last = product(&db, admin, "Last", 500, 1);
    let buyers: Vec<UserId> = (0..16)
        .map(|n| user(&db, &format!("b{n}@example.com"), "user"))
        .collect();
    for buyer in &buyers {
        emporium_cart::add(&mut db.conn(), *buyer, last, 1, Utc::now()).unwrap();
    }
    let outcomes: Vec<Result<Outcome, OrderError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = buyers
            .iter()
            .map(|buyer| {
                let pool = db.pool().clone();
                scope.spawn(move || {
                    checkout::checkout(
                        &mut pool.get().unwrap(),
                        *buyer,
                        None,
                        &Payment::default(),
                        "Shop",
                        Utc::now(),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let sold = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(Outcome::Created { .. })))
        .count();
    let short = outcomes
        .iter()
        .filter(|o| matches!(o, Err(OrderError::InsufficientStock(_))))
        .count();
    assert_eq!((sold, short), (1, 15));
    assert_eq!(stock(&db, last), 0);
}

fn address_input(name: &str, country: &str) -> crate::AddressInput {
    crate::AddressInput {
        name: Some(Some(name.into())),
        line1: Some(Some("1 Main Street".into())),
        city: Some(Some("Berlin".into())),
        postal_code: Some(Some("10115".into())),
        country: Some(Some(country.into())),
        phone: Some(Some("+49 (30) 123-456".into())),
        ..crate::AddressInput::default()
    }
}

fn save_address(db: &TestDb, owner: UserId, name: &str) -> crate::Address {
    let (fields, is_default) = address_input(name, "DE").into_fields("").unwrap();
    crate::addresses::create(&mut db.conn(), owner, fields, is_default, Utc::now()).unwrap()
}

#[test]
fn the_address_book_keeps_one_default_and_at_most_twenty_per_account() {
    use crate::addresses;
    let db = TestDb::new();
    let ada = user(&db, "ada@example.com", "user");
    let bob = user(&db, "bob@example.com", "user");

    let errors = crate::AddressInput {
        country: Some(Some("de".into())),
        phone: Some(Some("030 123".into())),
        ..crate::AddressInput::default()
    }
    .into_fields("")
    .unwrap_err();
    let fields: Vec<&str> = errors.fields().iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        fields,
        ["name", "line1", "city", "postal_code", "country", "phone"]
    );

    for (phone, ok) in [
        ("+4930123456", true),
        ("+1 (555) 010-9999", true),
        ("+49 30", false),
        ("+0301234567", false),
        ("+1234567890123456", false),
        (" +4930123456", false),
    ] {
        assert_eq!(crate::addresses::parse_phone(phone).is_ok(), ok, "{phone}");
    }
    for (code, ok) in [
        ("10115", true),
        ("SW1A 1AA", true),
        ("-1", false),
        ("", false),
        ("1234567890123456789012", false),
    ] {
        assert_eq!(
            crate::addresses::parse_postal_code(code).is_ok(),
            ok,
            "{code}"
        );
    }
    let home = save_address(&db, ada, "Home");
    assert!(home.is_default, "the first address is the default");
    assert_eq!(
        (home.country.as_str(), home.phone.as_deref()),
        ("DE", Some("+4930123456"))
    );
    let work = save_address(&db, ada, "Work");
    assert!(!work.is_default);
    let listed: Vec<String> = addresses::list(&mut db.conn(), ada)
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(listed, ["Home", "Work"], "default first, then newest");

    let patch = crate::AddressInput {
        is_default: Some(Some(true)),
        line2: Some(Some("Floor 3".into())),
        ..crate::AddressInput::default()
    }
    .into_patch()
    .unwrap();
    let work = addresses::update(&mut db.conn(), ada, work.id, patch).unwrap();
    assert!(work.is_default);
    assert_eq!(work.line2.as_deref(), Some("Floor 3"));
    assert!(
        !addresses::get(&mut db.conn(), ada, home.id)
            .unwrap()
            .is_default
    );

    // Someone else's address does not exist for them.
    assert!(matches!(
        addresses::get(&mut db.conn(), bob, work.id),
        Err(OrderError::AddressNotFound)
    ));
    assert!(matches!(
        addresses::delete(&mut db.conn(), bob, work.id),
        Err(OrderError::AddressNotFound)
    ));

    // Deleting the default makes the newest remaining one the default.
    addresses::delete(&mut db.conn(), ada, work.id).unwrap();
    assert!(
        addresses::get(&mut db.conn(), ada, home.id)
            .unwrap()
            .is_default
    );

    for n in 1..20 {
        save_address(&db, ada, &format!("A{n}"));
    }
    let (fields, _) = address_input("One too many", "FR").into_fields("").unwrap();
    assert!(matches!(
        addresses::create(&mut db.conn(), ada, fields, false, Utc::now()),
        Err(OrderError::AddressLimit)
    ));
    assert_eq!(addresses::list(&mut db.conn(), ada).unwrap().len(), 20);
}

#[test]
fn checkout_keeps_a_copy_of_the_address_and_the_key_covers_it() {
    use crate::checkout::{Checkout, CheckoutRequest, ShipTo};
    let db = TestDb::new();
    let admin = user(&db, "admin@example.com", "admin");
    let buyer = user(&db, "buyer@example.com", "user");
    let other = user(&db, "other@example.com", "user");
    let lamp = product(&db, admin, "Lamp", 1999, 10);
    let saved = save_address(&db, buyer, "Home");
    let foreign = save_address(&db, other, "Theirs");

    // Body rules: both is a 422 naming both; neither is fine unless required.
    let both = CheckoutRequest {
        shipping_address: Some(address_input("X", "DE")),
        address_id: Some(emporium_core::WholeNumber(1)),
        ..CheckoutRequest::default()
    };
    let fields: Vec<String> = both
        .into_checkout(false)
        .unwrap_err()
        .fields()
        .iter()
        .map(|f| f.field.clone())
        .collect();
    assert_eq!(fields, ["shipping_address", "address_id"]);
    assert_eq!(
        CheckoutRequest::default()
            .into_checkout(false)
            .unwrap()
            .ship_to,
        ShipTo::Nowhere
    );
    assert_eq!(
        CheckoutRequest::default()
            .into_checkout(true)
            .unwrap_err()
            .fields()[0]
            .field,
        "shipping_address"
    );
    let bad_inline = CheckoutRequest {
        shipping_address: Some(address_input("X", "ZZ")),
        ..CheckoutRequest::default()
    };
    assert_eq!(
        bad_inline.into_checkout(false).unwrap_err().fields()[0].field,
        "shipping_address.country"
    );

    let now = Utc::now();
    let to_saved = Checkout {
        ship_to: ShipTo::Saved(saved.id),
        ..Checkout::default()
    };
    emporium_cart::add(&mut db.conn(), buyer, lamp, 1, now).unwrap();
    let to_foreign = Checkout {
        ship_to: ShipTo::Saved(foreign.id),
        ..Checkout::default()
    };
    assert!(matches!(
        checkout::checkout_with(&mut db.conn(), buyer, None, &to_foreign, "Shop", now),
        Err(OrderError::AddressNotFound)
    ));
    let order = order_of(
        checkout::checkout_with(&mut db.conn(), buyer, Some("k"), &to_saved, "Shop", now).unwrap(),
    );
    let copy = order.shipping_address.clone().unwrap();
    assert_eq!((copy.name.as_str(), copy.country.as_str()), ("Home", "DE"));

    // Editing or deleting the address book leaves the order's copy alone.
    let patch = crate::AddressInput {
        city: Some(Some("Hamburg".into())),
        ..crate::AddressInput::default()
    }
    .into_patch()
    .unwrap();
    crate::addresses::update(&mut db.conn(), buyer, saved.id, patch).unwrap();
    let reread = model::load(&mut db.conn(), order.id).unwrap();
    assert_eq!(reread.shipping_address.unwrap().city, "Berlin");

    // The same key with the same cart but another address is a different request.
    emporium_cart::add(&mut db.conn(), buyer, lamp, 1, now).unwrap();
    let (fields, _) = address_input("Elsewhere", "FR").into_fields("").unwrap();
    let elsewhere = Checkout {
        ship_to: ShipTo::Address(fields),
        ..Checkout::default()
    };
    assert!(matches!(
        checkout::checkout_with(&mut db.conn(), buyer, Some("k"), &elsewhere, "Shop", now),
        Err(OrderError::IdempotencyKeyReused)
    ));
    let second = order_of(
        checkout::checkout_with(&mut db.conn(), buyer, None, &elsewhere, "Shop", now).unwrap(),
    );
    assert_eq!(second.shipping_address.unwrap().name, "Elsewhere");
}

fn mails(db: &TestDb) -> Vec<(String, String)> {
    use emporium_db::schema::outbox;
    outbox::table
        .order(outbox::id.asc())
        .select((outbox::kind, outbox::subject))
        .load(&mut db.conn())
        .unwrap()
}

fn events(db: &TestDb) -> Vec<String> {
    use emporium_db::schema::webhook_events;
    webhook_events::table
        .order(webhook_events::id.asc())
        .select(webhook_events::event_type)
        .load(&mut db.conn())
        .unwrap()
}

#[test]
fn shipping_with_tracking_emails_the_buyer_and_every_change_publishes_its_event() {
    use crate::lifecycle::{AdminChange, TrackingInput};
    let db = TestDb::new();
    let admin = user(&db, "admin@example.com", "admin");
    let buyer = user(&db, "buyer@example.com", "user");
    let lamp = product(&db, admin, "Lamp", 1999, 2);
    let every: Vec<String> = emporium_webhooks::EventType::ALL
        .iter()
        .map(|e| e.as_str().to_string())
        .collect();
    let changes = emporium_webhooks::WebhookInput {
        url: Some(Some("http://127.0.0.1:9/hook".into())),
        events: Some(Some(every)),
        ..Default::default()
    }
    .check(true, true)
    .unwrap();
    emporium_webhooks::endpoint::create(&mut db.conn(), changes, Utc::now()).unwrap();
    let now = Utc::now();
    let as_admin = Actor {
        user: admin,
        is_admin: true,
    };

    // A declined checkout publishes nothing.
    emporium_cart::add(&mut db.conn(), buyer, lamp, 2, now).unwrap();
    let declined = crate::CheckoutRequest {
        payment: Some(crate::checkout::PaymentInput {
            method: None,
            card_number: Some(checkout::DECLINED_CARD.into()),
        }),
        ..Default::default()
    }
    .into_payment()
    .unwrap();
    assert!(checkout::checkout(&mut db.conn(), buyer, None, &declined, "Shop", now).is_err());
    assert!(events(&db).is_empty());

    // Selling the last units: order.paid and product.out_of_stock.
    let order = order_of(
        checkout::checkout(
            &mut db.conn(),
            buyer,
            None,
            &Payment::default(),
            "Shop",
            now,
        )
        .unwrap(),
    );
    assert_eq!(events(&db), ["product.out_of_stock", "order.paid"]);

    // Tracking needs a shipped order.
    let tracking = TrackingInput {
        carrier: Some(Some("DHL".into())),
        tracking_number: Some(Some("JD0146".into())),
        tracking_url: Some(Some("https://track.example/JD0146".into())),
    }
    .into_tracking()
    .unwrap();
    let only_tracking = AdminChange {
        status: None,
        tracking: tracking.clone(),
    };
    assert!(matches!(
        lifecycle::change(
            &mut db.conn(),
            order.id,
            &only_tracking,
            as_admin,
            "Shop",
            now
        ),
        Err(OrderError::NotShipped(Status::Paid))
    ));
    let bad = TrackingInput {
        tracking_url: Some(Some("http://track.example".into())),
        carrier: Some(Some(" ".into())),
        ..Default::default()
    }
    .into_tracking()
    .unwrap_err();
    assert_eq!(bad.fields().len(), 2);

    let ship = AdminChange {
        status: Some(Status::Shipped),
        tracking,
    };
    let shipped =
        lifecycle::change(&mut db.conn(), order.id, &ship, as_admin, "Shop", now).unwrap();
    assert_eq!(shipped.carrier.as_deref(), Some("DHL"));
    assert_eq!(shipped.tracking_number.as_deref(), Some("JD0146"));
    assert_eq!(
        shipped.tracking_url.as_deref(),
        Some("https://track.example/JD0146")
    );
    let shipped_mail = mails(&db).pop().unwrap();
    assert_eq!(shipped_mail.0, "order_shipped");
    assert!(shipped_mail.1.contains(&format!("#{}", order.id)));

    // A correction of the tracking on a shipped order: no new event, no new mail.
    let correction = AdminChange {
        status: None,
        tracking: TrackingInput {
            tracking_number: Some(Some("JD0147".into())),
            ..Default::default()
        }
        .into_tracking()
        .unwrap(),
    };
    let corrected =
        lifecycle::change(&mut db.conn(), order.id, &correction, as_admin, "Shop", now).unwrap();
    assert_eq!(corrected.tracking_number.as_deref(), Some("JD0147"));
    assert_eq!(corrected.carrier.as_deref(), Some("DHL"));

    // An admin cancels the shipped order: the buyer is told, order.cancelled published.
    lifecycle::cancel(&mut db.conn(), order.id, as_admin, "Shop", now).unwrap();
    let kinds: Vec<String> = mails(&db).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        kinds,
        ["order_confirmation", "order_shipped", "order_cancelled"]
    );
    assert_eq!(
        events(&db),
        [
            "product.out_of_stock",
            "order.paid",
            "order.shipped",
            "order.cancelled"
        ]
    );

    // A buyer's own cancellation of a paid order restocks: product.back_in_stock, and no
    // cancellation mail (they did it themselves).
    diesel::update(products::table.find(lamp))
        .set(products::stock.eq(1))
        .execute(&mut db.conn())
        .unwrap();
    emporium_cart::add(&mut db.conn(), buyer, lamp, 1, now).unwrap();
    let again = order_of(
        checkout::checkout(
            &mut db.conn(),
            buyer,
            None,
            &Payment::default(),
            "Shop",
            now,
        )
        .unwrap(),
    );
    let as_buyer = Actor {
        user: buyer,
        is_admin: false,
    };
    lifecycle::cancel(&mut db.conn(), again.id, as_buyer, "Shop", now).unwrap();
    let tail: Vec<String> = events(&db).split_off(4);
    assert_eq!(
        tail,
        [
            "product.out_of_stock",
            "order.paid",
            "product.back_in_stock",
            "order.cancelled"
        ]
    );
    assert_eq!(
        mails(&db).len(),
        4,
        "only the second confirmation was added"
    );
}
