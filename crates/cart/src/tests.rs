//! The cart driven directly.

use chrono::Utc;
use diesel::prelude::*;
use emporium_core::{ProductId, UserId};
use emporium_db::TestDb;
use emporium_db::schema::{products, users};

use crate::{CartError, add, clear, get, remove, update};

fn user(db: &TestDb, email: &str) -> UserId {
    diesel::insert_into(users::table)
        .values((
            users::name.eq("Buyer"),
            users::email.eq(email),
            users::password_hash.eq("x"),
            users::created_at.eq(Utc::now().naive_utc()),
            users::updated_at.eq(Utc::now().naive_utc()),
        ))
        .returning(users::id)
        .get_result(&mut db.conn())
        .unwrap()
}

fn product(db: &TestDb, owner: UserId, cents: i64, stock: i32) -> ProductId {
    let at = Utc::now().naive_utc();
    diesel::insert_into(products::table)
        .values((
            products::name.eq("Thing"),
            products::name_key.eq("thing"),
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

#[test]
fn lines_merge_update_remove_and_respect_stock() {
    let db = TestDb::new();
    let buyer = user(&db, "b@example.com");
    let p = product(&db, buyer, 333, 5);
    let now = Utc::now();
    add(&mut db.conn(), buyer, p, 2, now).unwrap();
    let cart = add(&mut db.conn(), buyer, p, 2, now).unwrap();
    assert_eq!(
        (cart.items.len(), cart.items[0].quantity, cart.item_count),
        (1, 4, 4)
    );
    assert_eq!(
        (
            cart.items[0].line_total.cents(),
            cart.subtotal.cents(),
            cart.items[0].available
        ),
        (1332, 1332, 5)
    );
    match add(&mut db.conn(), buyer, p, 2, now) {
        Err(CartError::InsufficientStock(lines)) => {
            assert_eq!((lines[0].requested, lines[0].available), (6, 5))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        update(&mut db.conn(), buyer, p, 6),
        Err(CartError::InsufficientStock(_))
    ));
    assert_eq!(update(&mut db.conn(), buyer, p, 1).unwrap().item_count, 1);
    assert!(
        update(&mut db.conn(), buyer, p, 0)
            .unwrap()
            .items
            .is_empty()
    );
    assert!(matches!(
        update(&mut db.conn(), buyer, p, 1),
        Err(CartError::NotInCart)
    ));
    assert!(matches!(
        remove(&mut db.conn(), buyer, p),
        Err(CartError::NotInCart)
    ));
    assert!(matches!(
        add(&mut db.conn(), buyer, ProductId(999), 1, now),
        Err(CartError::ProductNotFound)
    ));
    add(&mut db.conn(), buyer, p, 1, now).unwrap();
    assert!(clear(&mut db.conn(), buyer).unwrap().items.is_empty());
}

#[test]
fn deleted_products_leave_the_cart() {
    let db = TestDb::new();
    let buyer = user(&db, "b@example.com");
    let p = product(&db, buyer, 100, 5);
    add(&mut db.conn(), buyer, p, 1, Utc::now()).unwrap();
    diesel::update(products::table.find(p))
        .set(products::deleted_at.eq(Some(Utc::now().naive_utc())))
        .execute(&mut db.conn())
        .unwrap();
    assert!(get(&mut db.conn(), buyer).unwrap().items.is_empty());
    assert!(matches!(
        update(&mut db.conn(), buyer, p, 2),
        Err(CartError::NotInCart)
    ));
    assert!(matches!(
        add(&mut db.conn(), buyer, p, 1, Utc::now()),
        Err(CartError::ProductNotFound)
    ));
}

#[test]
fn concurrent_adds_of_one_product_sum_up() {
    let db = TestDb::new();
    let buyer = user(&db, "b@example.com");
    let p = product(&db, buyer, 100, 1000);
    std::thread::scope(|scope| {
        for n in 1..=12 {
            let pool = db.pool().clone();
            scope.spawn(move || add(&mut pool.get().unwrap(), buyer, p, n, Utc::now()).unwrap());
        }
    });
    assert_eq!(
        get(&mut db.conn(), buyer).unwrap().items[0].quantity,
        (1..=12).sum::<i32>()
    );
}
