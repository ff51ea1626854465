//! A fresh database with a catalog and accounts, written through the domain crates.

use std::collections::HashMap;

use anyhow::Context;
use diesel::prelude::*;
use emporium_auth::accounts::{self, NewAccount};
use emporium_auth::{AuthConfig, Password, Role};
use emporium_core::{Email, Settings};
use emporium_db::schema::products;
use tempfile::TempDir;

/// The signing key the seeded accounts' server runs with.
pub const JWT_SECRET: &str = "8c1f3b9e2d7a46f0b5e4c3d2a1908f7e6d5c4b3a29180f7e6d5c4b3a2918f0e1";
/// The seeded admin, who owns every product.
pub const ADMIN_EMAIL: &str = "owner@bench.test";
/// Every seeded shopper's password.
pub const PASSWORD: &str = "bench password 1";

/// What was seeded.
pub struct Seeded {
    /// Holds the database folder (SQLite) and the servers' logs.
    pub dir: TempDir,
    /// `sqlite://…` or `postgres://…` of the database.
    pub url: String,
    /// The PostgreSQL database, kept for its Drop: dropped with this value.
    _postgres: Option<emporium_db::TestDb>,
    /// Products in the catalog (ids 1..=products).
    pub products: usize,
    /// Products with a deep stock, for carts and checkouts.
    pub hot: Vec<i32>,
    /// Their stock when seeded.
    pub initial_stock: HashMap<i32, i64>,
    /// Shoppers' emails (password [`PASSWORD`]).
    pub shoppers: Vec<String>,
    /// The catalog's categories, lower-cased.
    pub categories: Vec<String>,
}

/// Settings naming `url`, as the server will be started.
pub fn settings(url: &str) -> anyhow::Result<Settings> {
    Ok(Settings::from_lookup(|name| match name {
        "DATABASE_URL" => Some(url.to_string()),
        "JWT_SECRET" => Some(JWT_SECRET.to_string()),
        _ => None,
    })?)
}

/// Seeds `products` demo products, `shoppers` verified shoppers, and gives the first `hot`
/// products `hot_stock` units each: in a new SQLite file, or, with `postgres` (a server's
/// admin URL), in a new database on that PostgreSQL server.
pub fn seed(
    products: usize,
    shoppers: usize,
    hot: usize,
    hot_stock: i32,
    postgres: Option<&str>,
) -> anyhow::Result<Seeded> {
    let dir = tempfile::Builder::new()
        .prefix("emporium-bench-")
        .tempdir()?;
    let postgres = postgres.map(emporium_db::TestDb::postgres);
    let url = match &postgres {
        Some(db) => db.settings().url.clone(),
        None => format!("sqlite:///{}", dir.path().join("bench.db").display()),
    };
    let settings = settings(&url)?;
    let (pool, _) = emporium_db::connect(&settings.database)?;
    let mut conn = pool.get()?;
    let auth = AuthConfig::from_settings(&settings)?;
    let now = emporium_core::time::now();
    let account = |email: &str, role| -> anyhow::Result<NewAccount> {
        Ok(NewAccount {
            name: "Bench".into(),
            email: Email::parse(email)?,
            password: Password::parse(PASSWORD).map_err(anyhow::Error::msg)?,
            role,
            email_verified: true,
        })
    };
    let admin =
        accounts::create_account(&mut conn, &auth, account(ADMIN_EMAIL, Role::Admin)?, now)?;
    let mut emails = Vec::with_capacity(shoppers);
    for n in 0..shoppers {
        let email = format!("shopper{n}@bench.test");
        accounts::create_account(&mut conn, &auth, account(&email, Role::User)?, now)?;
        emails.push(email);
    }
    let started = std::time::Instant::now();
    emporium_catalog::demo::load(&mut conn, admin.id, products, now)
        .context("loading the catalog")?;
    eprintln!(
        "seeded {products} products in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let hot_ids: Vec<i32> = (1..=hot.min(products) as i32).collect();
    diesel::update(products::table.filter(products::id.le(hot_ids.len() as i32)))
        .set(products::stock.eq(hot_stock))
        .execute(&mut conn)?;
    let categories: Vec<String> = products::table
        .select(products::category_key)
        .distinct()
        .load(&mut conn)?;
    drop(conn);
    drop(pool);
    if let Some(db) = &postgres {
        // Fresh statistics, as autovacuum would have them on a shop that grew to this size.
        use diesel::connection::SimpleConnection;
        db.conn().batch_execute("VACUUM ANALYZE")?;
    }
    Ok(Seeded {
        url,
        _postgres: postgres,
        products,
        initial_stock: hot_ids
            .iter()
            .map(|id| (*id, i64::from(hot_stock)))
            .collect(),
        hot: hot_ids,
        shoppers: emails,
        categories,
        dir,
    })
}
