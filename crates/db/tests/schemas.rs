//! The SQLite and PostgreSQL migrations produce the same logical schema: tables, columns with
//! their types and nullability, unique constraints and primary keys, and every named index
//! (columns and partial-index condition). Only the full-text search objects differ by design
//! (FTS5 tables on SQLite, a GIN index on PostgreSQL).
//!
//! Needs both backends, so it runs in the PostgreSQL half of the suite
//! (`EMPORIUM_TEST_POSTGRES_URL`, set by `scripts/test.sh`).
#![cfg(feature = "testing")]
#![expect(clippy::unwrap_used, reason = "test code")]

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use emporium_db::TestDb;

/// One column: normalised type and whether it is NOT NULL.
type Columns = BTreeMap<String, (String, bool)>;

#[derive(Debug, Default, PartialEq, Eq)]
struct Schema {
    columns: BTreeMap<String, Columns>,
    /// Per table: the column lists that are unique (primary key included), sorted.
    unique: BTreeMap<String, Vec<Vec<String>>>,
    /// Named (explicitly created) indexes: table, columns, normalised WHERE condition.
    indexes: BTreeMap<String, (String, Vec<String>, String)>,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = BigInt)]
    notnull: i64,
    #[diesel(sql_type = BigInt)]
    pk: i64,
}

#[derive(QueryableByName)]
struct SqliteIndex {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    unique: i64,
    #[diesel(sql_type = Nullable<Text>)]
    sql: Option<String>,
}

/// `(deleted_at IS NULL) AND (stock > 0)` and `deleted_at IS NULL AND stock > 0` alike, and
/// PostgreSQL's `'pending'::text` as SQLite's `'pending'`.
fn normalise_condition(text: &str) -> String {
    text.replace("::text", "")
        .replace(['(', ')'], "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The part of an index definition after `WHERE`, normalised.
fn condition_of(definition: &str) -> String {
    let upper = definition.to_uppercase();
    upper
        .find(" WHERE ")
        .map(|at| normalise_condition(&definition[at + 7..]))
        .unwrap_or_default()
}

/// The column list of `CREATE … INDEX name ON table [USING x] (a, b) [WHERE …]`.
fn columns_of(definition: &str) -> Vec<String> {
    let open = definition.find('(').unwrap();
    let close = open + definition[open..].find(')').unwrap();
    definition[open + 1..close]
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_lowercase())
        .collect()
}

fn sqlite_schema(db: &TestDb) -> Schema {
    let mut conn = db.conn();
    let tables: Vec<Name> = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name NOT LIKE 'products_fts%' AND name <> '__diesel_schema_migrations' ORDER BY name",
    )
    .load(&mut *conn)
    .unwrap();
    let mut schema = Schema::default();
    for table in tables.iter().map(|t| t.name.clone()) {
        let columns: Vec<SqliteColumn> = diesel::sql_query(
            "SELECT name, type AS kind, \"notnull\", pk FROM pragma_table_info(?)",
        )
        .bind::<Text, _>(&table)
        .load(&mut *conn)
        .unwrap();
        let mut pk: Vec<(i64, String)> = Vec::new();
        let mut cols = Columns::new();
        for c in columns {
            if c.pk > 0 {
                pk.push((c.pk, c.name.clone()));
            }
            cols.insert(c.name, (c.kind.to_uppercase(), c.notnull == 1 || c.pk > 0));
        }
        pk.sort();
        let mut unique = vec![pk.into_iter().map(|(_, name)| name).collect::<Vec<_>>()];
        let indexes: Vec<SqliteIndex> = diesel::sql_query(
            "SELECT il.name AS name, il.\"unique\" AS \"unique\", m.sql AS sql \
             FROM pragma_index_list(?) il LEFT JOIN sqlite_master m ON m.name = il.name",
        )
        .bind::<Text, _>(&table)
        .load(&mut *conn)
        .unwrap();
        for index in indexes {
            let columns: Vec<Name> =
                diesel::sql_query("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
                    .bind::<Text, _>(&index.name)
                    .load(&mut *conn)
                    .unwrap();
            let columns: Vec<String> = columns.into_iter().map(|c| c.name).collect();
            match index.sql {
                Some(sql) => {
                    schema
                        .indexes
                        .insert(index.name, (table.clone(), columns, condition_of(&sql)));
                }
                None if index.unique == 1 => unique.push(columns),
                None => {}
            }
        }
        unique.sort();
        unique.dedup();
        schema.unique.insert(table.clone(), unique);
        schema.columns.insert(table, cols);
    }
    schema
}

#[derive(QueryableByName)]
struct PgColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
}

#[derive(QueryableByName)]
struct PgIndex {
    #[diesel(sql_type = Text)]
    tablename: String,
    #[diesel(sql_type = Text)]
    indexname: String,
    #[diesel(sql_type = Text)]
    indexdef: String,
}

fn pg_type(data_type: &str) -> String {
    match data_type {
        "integer" => "INTEGER",
        "bigint" => "BIGINT",
        "text" => "TEXT",
        "boolean" => "BOOLEAN",
        "timestamp without time zone" => "TIMESTAMP",
        other => other,
    }
    .to_string()
}

fn postgres_schema(db: &TestDb) -> Schema {
    let mut conn = db.conn();
    let columns: Vec<PgColumn> = diesel::sql_query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name, \
         data_type::text AS data_type, is_nullable::text AS is_nullable \
         FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
    )
    .load(&mut *conn)
    .unwrap();
    let mut schema = Schema::default();
    for c in columns {
        schema.columns.entry(c.table_name).or_default().insert(
            c.column_name,
            (pg_type(&c.data_type), c.is_nullable == "NO"),
        );
    }
    let indexes: Vec<PgIndex> = diesel::sql_query(
        "SELECT tablename::text AS tablename, indexname::text AS indexname, indexdef \
         FROM pg_indexes WHERE schemaname = 'public' \
         AND tablename <> '__diesel_schema_migrations'",
    )
    .load(&mut *conn)
    .unwrap();
    for table in schema.columns.keys() {
        schema.unique.insert(table.clone(), Vec::new());
    }
    for index in indexes {
        let columns = columns_of(&index.indexdef);
        let generated = index.indexname.ends_with("_pkey") || index.indexname.ends_with("_key");
        if generated {
            schema
                .unique
                .entry(index.tablename)
                .or_default()
                .push(columns);
        } else if index.indexname != "products_search" {
            schema.indexes.insert(
                index.indexname,
                (index.tablename, columns, condition_of(&index.indexdef)),
            );
        }
    }
    for unique in schema.unique.values_mut() {
        unique.sort();
    }
    schema
}

#[test]
fn sqlite_and_postgres_migrations_give_the_same_schema() {
    if !TestDb::is_postgres_run() {
        eprintln!(
            "no PostgreSQL in this run (EMPORIUM_TEST_POSTGRES_URL unset): compared in the PostgreSQL half"
        );
        return;
    }
    let sqlite = sqlite_schema(&TestDb::sqlite());
    let postgres = postgres_schema(&TestDb::new());
    assert!(sqlite.columns.contains_key("products"), "{sqlite:?}");
    assert!(sqlite.indexes.contains_key("products_instock_price"));
    assert_eq!(
        sqlite.columns.keys().collect::<Vec<_>>(),
        postgres.columns.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    for (table, columns) in &sqlite.columns {
        assert_eq!(
            Some(columns),
            postgres.columns.get(table),
            "columns of {table}"
        );
    }
    assert_eq!(
        sqlite.unique, postgres.unique,
        "primary keys and unique constraints"
    );
    assert_eq!(sqlite.indexes, postgres.indexes, "named indexes");
}

#[test]
fn full_text_search_objects_exist_on_their_backend() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let found: Vec<Name> = match db.backend() {
        emporium_core::settings::DatabaseBackend::Sqlite => {
            diesel::sql_query("SELECT name FROM sqlite_master WHERE name = 'products_fts'")
                .load(&mut *conn)
                .unwrap()
        }
        emporium_core::settings::DatabaseBackend::Postgres => diesel::sql_query(
            "SELECT indexname::text AS name FROM pg_indexes WHERE indexname = 'products_search'",
        )
        .load(&mut *conn)
        .unwrap(),
    };
    assert_eq!(found.len(), 1);
}

/// `products.in_stock`, which the in-stock listing indexes key on, equals `stock > 0` after any
/// write, including plain SQL that never names it (the CLI, an embedder, a stock feed): the
/// migration's triggers keep it so on both backends.
#[test]
fn the_in_stock_flag_follows_the_stock_whoever_writes_it() {
    use emporium_db::schema::products;

    let db = TestDb::new();
    let mut conn = db.conn();
    diesel::connection::SimpleConnection::batch_execute(
        &mut *conn,
        "INSERT INTO users (id, email, password_hash, name, role, is_active, email_verified, \
         created_at, updated_at) VALUES (1, 'a@example.com', 'x', 'A', 'admin', TRUE, TRUE, \
         '2026-12-03 00:00:00', '2026-12-03 00:00:00');
         INSERT INTO products (id, owner_id, name, name_key, description, price_cents, stock, \
         category, category_key, created_at, updated_at) VALUES \
         (1, 1, 'Lamp', 'lamp', 'Light', 100, 2, 'Home', 'home', \
          '2026-12-03 00:00:00', '2026-12-03 00:00:00'), \
         (2, 1, 'Desk', 'desk', 'Wood', 100, 0, 'Home', 'home', \
          '2026-12-03 00:00:00', '2026-12-03 00:00:00');",
    )
    .unwrap();
    let flags = |conn: &mut emporium_db::Conn| -> Vec<(i32, i32, bool)> {
        products::table
            .select((products::id, products::stock, products::in_stock))
            .order(products::id)
            .load(conn)
            .unwrap()
    };
    assert_eq!(
        flags(&mut conn),
        [(1, 2, true), (2, 0, false)],
        "set on insert"
    );
    diesel::update(products::table.find(1))
        .set(products::stock.eq(products::stock - 1))
        .execute(&mut *conn)
        .unwrap();
    assert_eq!(flags(&mut conn)[0], (1, 1, true), "a decrement above zero");
    diesel::update(products::table.find(1))
        .set(products::stock.eq(products::stock - 1))
        .execute(&mut *conn)
        .unwrap();
    assert_eq!(flags(&mut conn)[0], (1, 0, false), "crossing zero");
    diesel::update(products::table.find(2))
        .set(products::stock.eq(5))
        .execute(&mut *conn)
        .unwrap();
    assert_eq!(flags(&mut conn)[1], (2, 5, true), "back in stock");
    diesel::update(products::table.find(2))
        .set(products::in_stock.eq(false))
        .execute(&mut *conn)
        .unwrap();
    assert_eq!(
        flags(&mut conn)[1],
        (2, 5, true),
        "a wrong flag is put right"
    );
}
