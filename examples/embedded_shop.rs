//! A whole shop without a server: a SQLite file, a catalog, a cart and a checkout, through
//! the same functions the HTTP server calls. Run with `cargo run --example embedded_shop`.

use emporium::auth::accounts::{self, NewAccount};
use emporium::auth::{AuthConfig, Password, Role};
use emporium::catalog::{ProductFields, manage};
use emporium::core::{Email, Money, Settings};
use emporium::orders::checkout::{self, Outcome, Payment};

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let database = format!("sqlite:///{}", dir.path().join("shop.db").display());
    // Embedders configure the shop however they like; here, only the database is named
    // (a JWT key is generated beside it).
    let settings =
        Settings::from_lookup(|name| (name == "DATABASE_URL").then(|| database.clone()))?;
    let (pool, migrations) = emporium::db::connect(&settings.database)?;
    println!(
        "created {} with {} migrations",
        settings.database.path.display(),
        migrations.len()
    );
    let mut conn = pool.get()?;
    let auth = AuthConfig::from_settings(&settings)?;
    let now = emporium::core::time::now();

    let account = |email: &str, role| -> anyhow::Result<NewAccount> {
        Ok(NewAccount {
            name: email.split('@').next().unwrap_or("someone").into(),
            email: Email::parse(email)?,
            password: Password::parse("a long example password").map_err(anyhow::Error::msg)?,
            role,
            email_verified: true,
        })
    };
    let admin = accounts::create_account(
        &mut conn,
        &auth,
        account("owner@example.com", Role::Admin)?,
        now,
    )?;
    let shopper = accounts::create_account(
        &mut conn,
        &auth,
        account("ada@example.com", Role::User)?,
        now,
    )?;

    let lamp = manage::create(
        &mut conn,
        admin.id,
        ProductFields {
            name: "Desk Lamp".into(),
            description: "A warm light for late nights.".into(),
            price: Money::parse("19.99")?,
            stock: 5,
            category: "Home".into(),
            image_url: None,
        },
        now,
    )?;
    let cart = emporium::cart::add(&mut conn, shopper.id, lamp.id, 2, now)?;
    println!(
        "cart: {} × {} = {}",
        cart.items[0].quantity, cart.items[0].name, cart.subtotal
    );

    let Outcome::Created { order, .. } = checkout::checkout(
        &mut conn,
        shopper.id,
        None,
        &Payment::default(),
        "Example Shop",
        now,
    )?
    else {
        anyhow::bail!("a first checkout always creates an order");
    };
    println!(
        "order #{}: {} for {} ({} line)",
        order.id,
        order.status.as_str(),
        order.total,
        order.items.len()
    );

    let after = manage::get(&mut conn, lamp.id)?;
    anyhow::ensure!(after.stock == 3, "stock went from 5 to {}", after.stock);
    anyhow::ensure!(
        emporium::cart::get(&mut conn, shopper.id)?.items.is_empty(),
        "the cart is emptied"
    );
    anyhow::ensure!(order.total == Money::from_cents(3998), "2 × 19.99 = 39.98");
    let queued = emporium::mail::outbox::all(&mut conn)?;
    println!(
        "{} email(s) queued: {}",
        queued.len(),
        queued
            .iter()
            .map(|m| m.subject.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    );
    println!("stock left: {}", after.stock);
    Ok(())
}
