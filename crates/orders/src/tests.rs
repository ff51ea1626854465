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
        lifecycle::cancel(&mut db.conn(), first, as_stranger, now),
        Err(OrderError::NotFound)
    ));
    assert!(matches!(
        model::get_for(&mut db.conn(), first, stranger, false),
        Err(OrderError::NotFound)
    ));
    assert!(matches!(
        lifecycle::transition(&mut db.conn(), first, Status::Shipped, as_buyer, now),
        Err(OrderError::InvalidTransition { .. })
    ));
    let cancelled = lifecycle::cancel(&mut db.conn(), first, as_buyer, now).unwrap();
    assert_eq!(cancelled.status, Status::Cancelled);
    assert_eq!(stock(&db, lamp), 5, "restocked");
    assert!(matches!(
        lifecycle::cancel(&mut db.conn(), first, as_buyer, now),
        Err(OrderError::InvalidTransition { .. })
    ));
    assert_eq!(stock(&db, lamp), 5, "not twice");

    let second = place(&db);
    lifecycle::transition(&mut db.conn(), second, Status::Shipped, as_admin, now).unwrap();
    assert!(matches!(
        lifecycle::cancel(&mut db.conn(), second, as_buyer, now),
        Err(OrderError::InvalidTransition { .. })
    ));
    assert!(matches!(
        lifecycle::transition(&mut db.conn(), second, Status::Paid, as_admin, now),
        Err(OrderError::InvalidTransition { .. })
    ));
    lifecycle::transition(&mut db.conn(), second, Status::Delivered, as_admin, now).unwrap();
    assert!(matches!(
        lifecycle::cancel(&mut db.conn(), second, as_admin, now),
        Err(OrderError::InvalidTransition { .. })
    ));

    let third = place(&db);
    lifecycle::transition(&mut db.conn(), third, Status::Shipped, as_admin, now).unwrap();
    lifecycle::cancel(&mut db.conn(), third, as_admin, now).unwrap();
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
