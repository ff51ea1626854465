//! The catalog driven directly, as an embedding program would.

use chrono::{Duration, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Integer, Text};
use emporium_core::settings::DatabaseBackend;
use emporium_core::{Money, PageRequest, ProductId, UserId};
use emporium_db::MultiBackend;
use emporium_db::TestDb;
use emporium_db::schema::users;

use crate::listing::{self, Filters, Listing, Search, Sort};
use crate::product::ProductFields;
use crate::{CatalogError, ProductInput, manage};

fn owner(db: &TestDb, email: &str) -> UserId {
    diesel::insert_into(users::table)
        .values((
            users::name.eq("Owner"),
            users::email.eq(email),
            users::password_hash.eq("x"),
            users::role.eq("admin"),
            users::created_at.eq(Utc::now().naive_utc()),
            users::updated_at.eq(Utc::now().naive_utc()),
        ))
        .returning(users::id)
        .get_result(&mut db.conn())
        .unwrap()
}

fn fields(name: &str, cents: i64, stock: i32, category: &str) -> ProductFields {
    ProductFields {
        name: name.into(),
        description: format!("All about the {name}."),
        price: Money::from_cents(cents),
        stock,
        category: category.into(),
        image_url: None,
    }
}

fn listing(filters: Filters, sort: Option<Sort>, page: i64, size: i64) -> Listing {
    Listing {
        filters,
        sort,
        page: PageRequest::new(page, size).unwrap(),
    }
}

#[test]
fn input_is_checked_field_by_field() {
    let input: ProductInput = serde_json::from_value(serde_json::json!({
        "name": "", "price": 19.999, "stock": -1, "category": "x".repeat(101), "image_url": "ftp://x"
    }))
    .unwrap();
    let errors = input.into_fields().unwrap_err();
    let fields: Vec<_> = errors.fields().iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["name", "price", "stock", "category", "image_url"]);

    let ok: ProductInput = serde_json::from_value(serde_json::json!({
        "name": " Lamp ", "price": 19.99, "stock": 3, "category": "Home", "image_url": null
    }))
    .unwrap();
    let fields = ok.into_fields().unwrap();
    assert_eq!(
        (fields.name.as_str(), fields.price.cents(), fields.image_url),
        ("Lamp", 1999, None)
    );

    let patch: ProductInput =
        serde_json::from_value(serde_json::json!({"image_url": null, "price": 5})).unwrap();
    let patch = patch.into_patch().unwrap();
    assert_eq!(patch.image_url, Some(None));
    assert_eq!(patch.price, Some(Money::from_cents(500)));
    assert_eq!(patch.name, None);
    let null_name: ProductInput =
        serde_json::from_value(serde_json::json!({"name": null})).unwrap();
    assert_eq!(
        null_name.into_patch().unwrap_err().fields()[0].field,
        "name"
    );
}

#[test]
fn only_the_owner_changes_or_deletes_and_deleted_products_vanish() {
    let db = TestDb::new();
    let alice = owner(&db, "alice@example.com");
    let bob = owner(&db, "bob@example.com");
    let now = Utc::now();
    let lamp = manage::create(&mut db.conn(), alice, fields("Lamp", 1999, 5, "Home"), now).unwrap();
    assert_eq!(lamp.owner_id, alice);
    assert_eq!(lamp.price.cents(), 1999);

    let err = manage::replace(
        &mut db.conn(),
        bob,
        lamp.id,
        fields("Stolen", 1, 1, "Home"),
        now,
    )
    .unwrap_err();
    assert!(matches!(err, CatalogError::NotOwner));
    assert!(matches!(
        manage::delete(&mut db.conn(), bob, lamp.id, now),
        Err(CatalogError::NotOwner)
    ));
    let patched = manage::patch(
        &mut db.conn(),
        alice,
        lamp.id,
        crate::ProductPatch {
            stock: Some(9),
            ..Default::default()
        },
        now,
    )
    .unwrap();
    assert_eq!((patched.stock, patched.name.as_str()), (9, "Lamp"));

    manage::delete(&mut db.conn(), alice, lamp.id, now).unwrap();
    assert!(matches!(
        manage::get(&mut db.conn(), lamp.id),
        Err(CatalogError::NotFound)
    ));
    assert!(matches!(
        manage::delete(&mut db.conn(), alice, lamp.id, now),
        Err(CatalogError::NotFound)
    ));
    let all = listing::list(&mut db.conn(), &listing(Filters::default(), None, 1, 100)).unwrap();
    assert_eq!(all.total, 0);
    let search = Search {
        text: "lamp".into(),
        listing: listing(Filters::default(), None, 1, 100),
    };
    assert_eq!(listing::search(&mut db.conn(), &search).unwrap().total, 0);
    assert!(listing::categories(&mut db.conn()).unwrap().is_empty());
}

/// A catalog with ties on every sort key, created at distinct times.
fn seeded(db: &TestDb) -> Vec<crate::Product> {
    let alice = owner(db, "alice@example.com");
    let base = Utc::now() - Duration::hours(1);
    let specs = [
        ("banana", 300, 0, "Fruit"),
        ("Apple", 100, 5, "fruit"),
        ("cherry", 300, 2, "FRUIT"),
        ("apple", 100, 0, "Veg"),
        ("Date", 250, 7, "Fruit"),
        ("eggplant", 999, 1, "Veg"),
        ("Fig", 250, 3, "Fruit"),
        ("grape", 50, 9, "Fruit"),
        ("Herb", 300, 4, "Veg"),
        ("iceberg", 120, 0, "Veg"),
        ("Jalapeno", 75, 6, "Veg"),
        ("kale", 75, 2, "Veg"),
    ];
    specs
        .iter()
        .enumerate()
        .map(|(n, (name, cents, stock, category))| {
            // Two products share each timestamp, so creation order has ties too.
            let at = base + Duration::seconds((n / 2) as i64);
            manage::create(
                &mut db.conn(),
                alice,
                fields(name, *cents, *stock, category),
                at,
            )
            .unwrap()
        })
        .collect()
}

fn expected(all: &[crate::Product], filters: &Filters, sort: Sort) -> Vec<ProductId> {
    let mut rows: Vec<&crate::Product> = all
        .iter()
        .filter(|p| {
            filters
                .category
                .as_ref()
                .is_none_or(|c| p.category.to_lowercase() == *c)
        })
        .filter(|p| filters.min_price.is_none_or(|m| p.price >= m))
        .filter(|p| filters.max_price.is_none_or(|m| p.price <= m))
        .filter(|p| !filters.in_stock || p.stock > 0)
        .collect();
    rows.sort_by(|a, b| match sort {
        Sort::PriceAsc => (a.price, a.id).cmp(&(b.price, b.id)),
        Sort::PriceDesc => (b.price, b.id).cmp(&(a.price, a.id)),
        Sort::NameAsc => (a.name.to_lowercase(), a.id).cmp(&(b.name.to_lowercase(), b.id)),
        Sort::NameDesc => (b.name.to_lowercase(), b.id).cmp(&(a.name.to_lowercase(), a.id)),
        Sort::Newest => (b.created_at, b.id).cmp(&(a.created_at, a.id)),
        Sort::Oldest => (a.created_at, a.id).cmp(&(b.created_at, b.id)),
    });
    rows.iter().map(|p| p.id).collect()
}

#[test]
fn every_filter_and_sort_matches_an_independent_expectation_across_pages() {
    let db = TestDb::new();
    let all = seeded(&db);
    let sorts = [
        Sort::PriceAsc,
        Sort::PriceDesc,
        Sort::NameAsc,
        Sort::NameDesc,
        Sort::Newest,
        Sort::Oldest,
    ];
    let filter_sets = [
        Filters::default(),
        Filters {
            category: Some("fruit".into()),
            ..Default::default()
        },
        Filters {
            min_price: Some(Money::from_cents(100)),
            max_price: Some(Money::from_cents(300)),
            ..Default::default()
        },
        Filters {
            in_stock: true,
            ..Default::default()
        },
        Filters {
            category: Some("veg".into()),
            in_stock: true,
            min_price: Some(Money::from_cents(75)),
            max_price: None,
        },
    ];
    for filters in &filter_sets {
        for sort in sorts {
            let want = expected(&all, filters, sort);
            for size in [1, 3, 5, 100] {
                let mut got = Vec::new();
                let mut page = 1;
                loop {
                    let result = listing::list(
                        &mut db.conn(),
                        &listing(filters.clone(), Some(sort), page, size),
                    )
                    .unwrap();
                    assert_eq!(result.total, want.len() as i64);
                    assert_eq!(result.total_pages, (want.len() as i64 + size - 1) / size);
                    if result.items.is_empty() {
                        break;
                    }
                    got.extend(result.items.iter().map(|p| p.id));
                    page += 1;
                }
                assert_eq!(
                    got, want,
                    "{filters:?} {sort:?} page size {size}: no repeats, no gaps, right order"
                );
            }
        }
    }
    // The default order is oldest first.
    let default =
        listing::list(&mut db.conn(), &listing(Filters::default(), None, 1, 100)).unwrap();
    assert_eq!(
        default.items.iter().map(|p| p.id).collect::<Vec<_>>(),
        expected(&all, &Filters::default(), Sort::Oldest)
    );
}

#[test]
fn categories_count_live_products_case_insensitively() {
    let db = TestDb::new();
    seeded(&db);
    let categories = listing::categories(&mut db.conn()).unwrap();
    let counts: Vec<(String, i64)> = categories
        .iter()
        .map(|c| (c.name.to_lowercase(), c.product_count))
        .collect();
    assert_eq!(counts, [("fruit".to_string(), 6), ("veg".to_string(), 6)]);
}

#[test]
fn search_ranks_name_matches_first_finds_prefixes_and_treats_syntax_as_text() {
    let db = TestDb::new();
    let alice = owner(&db, "alice@example.com");
    let now = Utc::now();
    let mut described = fields("Desk Lamp", 1000, 1, "Home");
    described.description = "Pairs well with any laptop stand.".into();
    let described = manage::create(&mut db.conn(), alice, described, now).unwrap();
    let named = manage::create(
        &mut db.conn(),
        alice,
        fields("Laptop Stand", 2000, 1, "Office"),
        now,
    )
    .unwrap();
    manage::create(
        &mut db.conn(),
        alice,
        fields("Teapot", 500, 1, "Kitchen"),
        now,
    )
    .unwrap();

    let search = |text: &str| {
        let search = Search {
            text: text.into(),
            listing: listing(Filters::default(), None, 1, 100),
        };
        listing::search(&mut db.conn(), &search)
            .unwrap()
            .items
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        search("laptop"),
        [named.id, described.id],
        "a name match ranks above a description match"
    );
    assert_eq!(
        search("lapt"),
        [named.id, described.id],
        "word prefixes match"
    );
    assert_eq!(search("LAPTOP stand"), [named.id, described.id]);
    assert_eq!(search("kitchen").len(), 1, "category is searched");
    for hostile in [
        "\"",
        "*",
        "NEAR",
        "-",
        ":",
        "lap*",
        "\"laptop",
        "laptop NEAR(stand)",
        "-laptop",
        "name:laptop",
        "AND",
        "OR laptop",
        "(",
        ")",
        "^",
        "'",
        "\\",
        "%",
        "_",
    ] {
        // None of these may be an error; syntax characters are only separators.
        let search = Search {
            text: hostile.into(),
            listing: listing(Filters::default(), None, 1, 100),
        };
        listing::search(&mut db.conn(), &search).unwrap_or_else(|e| panic!("{hostile:?}: {e}"));
    }
    assert_eq!(
        search("-laptop"),
        [named.id, described.id],
        "a leading minus is not NOT"
    );
    assert!(search(&"é".repeat(200)).is_empty());
}

/// SQLite's `EXPLAIN QUERY PLAN` around any query, to check which indexes it uses.
#[derive(QueryId)]
struct ExplainSqlite<Q>(Q);

impl<Q: QueryFragment<MultiBackend>> QueryFragment<MultiBackend> for ExplainSqlite<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        out.push_sql("EXPLAIN QUERY PLAN ");
        self.0.walk_ast(out.reborrow())
    }
}

impl<Q> Query for ExplainSqlite<Q> {
    type SqlType = (Integer, Integer, Integer, Text);
}

impl<Q> RunQueryDsl<emporium_db::Conn> for ExplainSqlite<Q> {}

/// PostgreSQL's `EXPLAIN` around any query.
#[derive(QueryId)]
struct ExplainPostgres<Q>(Q);

impl<Q: QueryFragment<MultiBackend>> QueryFragment<MultiBackend> for ExplainPostgres<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        out.push_sql("EXPLAIN (COSTS OFF) ");
        self.0.walk_ast(out.reborrow())
    }
}

impl<Q> Query for ExplainPostgres<Q> {
    type SqlType = Text;
}

impl<Q> RunQueryDsl<emporium_db::Conn> for ExplainPostgres<Q> {}

/// The query plan, one line per step joined by " | ".
fn plan<Q: QueryFragment<MultiBackend> + QueryId>(db: &TestDb, query: Q) -> String {
    let mut conn = db.conn();
    match db.backend() {
        DatabaseBackend::Sqlite => {
            let rows: Vec<(i32, i32, i32, String)> = ExplainSqlite(query).load(&mut *conn).unwrap();
            rows.into_iter()
                .map(|r| r.3)
                .collect::<Vec<_>>()
                .join(" | ")
        }
        DatabaseBackend::Postgres => {
            // A handful of rows is cheapest to scan; forbid that to see whether an index
            // can serve the query at all (if none can, PostgreSQL still scans).
            conn.batch_execute("SET enable_seqscan = off").unwrap();
            let rows: Vec<String> = ExplainPostgres(query).load(&mut *conn).unwrap();
            conn.batch_execute("RESET enable_seqscan").unwrap();
            rows.join(" | ")
        }
    }
}

#[test]
fn every_listing_filter_and_sort_is_served_by_an_index() {
    let db = TestDb::new();
    seeded(&db);
    diesel::sql_query("ANALYZE")
        .execute(&mut db.conn())
        .unwrap();
    let sorts = [
        None,
        Some(Sort::PriceAsc),
        Some(Sort::PriceDesc),
        Some(Sort::NameAsc),
        Some(Sort::NameDesc),
        Some(Sort::Newest),
        Some(Sort::Oldest),
    ];
    let filter_sets = [
        Filters::default(),
        Filters {
            category: Some("fruit".into()),
            ..Default::default()
        },
        Filters {
            min_price: Some(Money::from_cents(100)),
            max_price: Some(Money::from_cents(300)),
            ..Default::default()
        },
        Filters {
            in_stock: true,
            ..Default::default()
        },
        Filters {
            category: Some("veg".into()),
            in_stock: true,
            min_price: Some(Money::from_cents(75)),
            max_price: Some(Money::from_cents(500)),
        },
    ];
    for filters in &filter_sets {
        for sort in sorts {
            let listing = listing(filters.clone(), sort, 2, 5);
            let query = listing::listing_query(&listing).limit(5).offset(5);
            let plan = plan(&db, query);
            match db.backend() {
                DatabaseBackend::Sqlite => {
                    assert!(
                        plan.contains("USING INDEX") || plan.contains("USING COVERING INDEX"),
                        "{filters:?} {sort:?}: {plan}"
                    );
                    assert!(
                        !plan.contains("SCAN products |") && !plan.ends_with("SCAN products"),
                        "full scan for {filters:?} {sort:?}: {plan}"
                    );
                    // In-stock listings walk the indexes over in-stock products only.
                    assert_eq!(
                        plan.contains("products_instock_"),
                        filters.in_stock,
                        "{filters:?} {sort:?}: {plan}"
                    );
                }
                DatabaseBackend::Postgres => {
                    assert!(plan.contains("Index"), "{filters:?} {sort:?}: {plan}");
                    assert!(
                        !plan.contains("Seq Scan"),
                        "full scan for {filters:?} {sort:?}: {plan}"
                    );
                }
            }
        }
    }
}

#[test]
fn best_match_first_is_name_then_name_or_category_then_the_rest_newest_first_on_every_page() {
    use crate::ListingCache;

    let db = TestDb::new();
    let alice = owner(&db, "alice@example.com");
    let base = Utc::now() - Duration::hours(1);
    let specs = [
        ("Desk Lamp", "A lamp for a desk.", "Home", 3),
        ("Shade", "Linen.", "Lamps", 0),
        ("Bulb", "Fits any lamp.", "Home", 2),
        ("Lamp Post", "Cast iron.", "Garden", 0),
        ("Cord", "Braided.", "Lamps", 4),
        ("Switch", "For a lamp.", "Home", 1),
        ("Teapot", "Porcelain.", "Kitchen", 5),
    ];
    let ids: Vec<_> = specs
        .iter()
        .enumerate()
        .map(|(n, (name, description, category, stock))| {
            let mut fields = fields(name, 100, *stock, category);
            fields.description = (*description).into();
            let at = base + Duration::seconds(n as i64);
            manage::create(&mut db.conn(), alice, fields, at)
                .unwrap()
                .id
        })
        .collect();
    let [desk, shade, bulb, post, cord, switch, _teapot] = ids[..] else {
        unreachable!()
    };
    let cache = ListingCache::new(64);
    let pages = |text: &str, filters: &Filters, size: i64| {
        let mut seen = Vec::new();
        for page in 1..=8 {
            let search = Search {
                text: text.into(),
                listing: listing(filters.clone(), None, page, size),
            };
            let plain = listing::search(&mut db.conn(), &search).unwrap();
            assert_eq!(
                listing::search_cached(&mut db.conn(), &cache, &search).unwrap(),
                plain,
                "{text} page {page} of {size}"
            );
            seen.push((
                plain.total,
                plain.items.iter().map(|p| p.id).collect::<Vec<_>>(),
            ));
        }
        let total = seen[0].0;
        assert!(seen.iter().all(|(t, _)| *t == total), "{text}: one total");
        (
            total,
            seen.into_iter()
                .flat_map(|(_, ids)| ids)
                .collect::<Vec<_>>(),
        )
    };
    let all = Filters::default();
    let in_stock = Filters {
        in_stock: true,
        ..Default::default()
    };
    for size in 1..=4 {
        assert_eq!(
            pages("lamp", &all, size),
            (6, vec![post, desk, cord, shade, switch, bulb]),
            "every word in the name, then in the name or category, then the rest; \
             newest first within each (pages of {size})"
        );
        assert_eq!(
            pages("LAMP", &in_stock, size),
            (4, vec![desk, cord, switch, bulb]),
            "filters apply within every tier (pages of {size})"
        );
    }
    assert_eq!(pages("lamp desk", &all, 2), (1, vec![desk]));
    assert_eq!(
        pages("lamps shade", &all, 2),
        (1, vec![shade]),
        "one word in the name, one in the category"
    );
    assert_eq!(pages("lamp fits", &all, 2), (1, vec![bulb]));
    assert_eq!(pages("lampshade", &all, 2), (0, vec![]));
}

#[test]
fn cached_listings_and_searches_answer_exactly_as_uncached_ones_across_changes() {
    use crate::ListingCache;

    let db = TestDb::new();
    let products = seeded(&db);
    let owner = products[0].owner_id;
    let cache = ListingCache::new(64);
    let filter_sets = [
        Filters::default(),
        Filters {
            category: Some("fruit".into()),
            in_stock: true,
            ..Default::default()
        },
        Filters {
            min_price: Some(Money::from_cents(100)),
            ..Default::default()
        },
    ];
    let check = |label: &str| {
        for filters in &filter_sets {
            for page in 1..=3 {
                let listing = listing(filters.clone(), Some(Sort::PriceAsc), page, 4);
                let plain = listing::list(&mut db.conn(), &listing).unwrap();
                // Twice: a miss, then a hit.
                for _ in 0..2 {
                    assert_eq!(
                        listing::list_cached(&mut db.conn(), &cache, &listing).unwrap(),
                        plain,
                        "{label} {filters:?}"
                    );
                }
            }
            for text in ["a", "apple", "fruit", "zzz"] {
                for (sort, page) in [(None, 1), (None, 2), (None, 5), (Some(Sort::NameAsc), 2)] {
                    let search = Search {
                        text: text.into(),
                        listing: listing(filters.clone(), sort, page, 2),
                    };
                    let plain = listing::search(&mut db.conn(), &search).unwrap();
                    for _ in 0..2 {
                        assert_eq!(
                            listing::search_cached(&mut db.conn(), &cache, &search).unwrap(),
                            plain,
                            "{label} {text} {sort:?} page {page}"
                        );
                    }
                }
            }
        }
    };
    check("seeded");
    let now = Utc::now();
    manage::create(
        &mut db.conn(),
        owner,
        fields("Apricot", 90, 3, "Fruit"),
        now,
    )
    .unwrap();
    check("after a create");
    let patch = crate::ProductPatch {
        price: Some(Money::from_cents(5)),
        name: Some("Zapple".into()),
        ..Default::default()
    };
    manage::patch(&mut db.conn(), owner, products[1].id, patch, now).unwrap();
    check("after a rename and re-price");
    // Stock crossing zero changes in_stock listings; the catalog version must move.
    diesel::update(emporium_db::schema::products::table.find(products[0].id))
        .set(emporium_db::schema::products::stock.eq(7))
        .execute(&mut db.conn())
        .unwrap();
    check("after stock crossed zero");
    manage::delete(&mut db.conn(), owner, products[2].id, now).unwrap();
    check("after a delete");
}

#[test]
fn concurrent_misses_for_one_search_or_total_are_computed_once() {
    use crate::ListingCache;

    let db = TestDb::new();
    seeded(&db);
    let cache = ListingCache::new(64);
    let search = Search {
        text: "a".into(),
        listing: listing(Filters::default(), None, 1, 5),
    };
    let plain = listing::search(&mut db.conn(), &search).unwrap();
    // What one request computes (the ranking, and on SQLite the number of matches).
    let alone = ListingCache::new(64);
    listing::search_cached(&mut db.conn(), &alone, &search).unwrap();
    let one = alone.computed();
    assert!(one >= 1);
    let barrier = std::sync::Barrier::new(8);
    let answers: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (db, cache, search, barrier) = (&db, &cache, &search, &barrier);
                scope.spawn(move || {
                    let mut conn = db.conn();
                    barrier.wait();
                    listing::search_cached(&mut conn, cache, search).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        answers.iter().all(|a| *a == plain),
        "every answer is the plain search's"
    );
    assert_eq!(
        cache.computed(),
        one,
        "eight requests compute what one does"
    );

    let totals = listing(Filters::default(), Some(Sort::PriceAsc), 1, 5);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            let (db, cache, totals) = (&db, &cache, &totals);
            scope.spawn(move || listing::list_cached(&mut db.conn(), cache, totals).unwrap());
        }
    });
    assert_eq!(cache.computed(), one + 1, "one count for eight listings");
}

#[test]
fn stock_crossing_zero_publishes_a_product_event_with_the_product() {
    use emporium_db::schema::webhook_events;
    let db = TestDb::new();
    let admin = owner(&db, "stock@example.com");
    let changes = emporium_webhooks::WebhookInput {
        url: Some(Some("http://127.0.0.1:9/hook".into())),
        events: Some(Some(vec![
            "product.out_of_stock".into(),
            "product.back_in_stock".into(),
        ])),
        ..Default::default()
    }
    .check(true, true)
    .unwrap();
    emporium_webhooks::endpoint::create(&mut db.conn(), changes, Utc::now()).unwrap();
    let events = || -> Vec<(String, serde_json::Value)> {
        webhook_events::table
            .order(webhook_events::id.asc())
            .select((webhook_events::event_type, webhook_events::body))
            .load::<(String, String)>(&mut db.conn())
            .unwrap()
            .into_iter()
            .map(|(kind, body)| (kind, serde_json::from_str(&body).unwrap()))
            .collect()
    };
    let lamp = manage::create(
        &mut db.conn(),
        admin,
        fields("Lamp", 100, 3, "Home"),
        Utc::now(),
    )
    .unwrap();
    assert!(events().is_empty(), "creating is not a crossing");
    let patch = |stock: Option<i64>, name: Option<&str>| {
        ProductInput {
            stock: stock.map(|s| Some(emporium_core::WholeNumber(s))),
            name: name.map(|n| Some(n.to_string())),
            ..ProductInput::default()
        }
        .into_patch()
        .unwrap()
    };
    manage::patch(
        &mut db.conn(),
        admin,
        lamp.id,
        patch(Some(1), None),
        Utc::now(),
    )
    .unwrap();
    manage::patch(
        &mut db.conn(),
        admin,
        lamp.id,
        patch(None, Some("Desk lamp")),
        Utc::now(),
    )
    .unwrap();
    assert!(events().is_empty(), "3 → 1 and a rename cross nothing");
    manage::patch(
        &mut db.conn(),
        admin,
        lamp.id,
        patch(Some(0), None),
        Utc::now(),
    )
    .unwrap();
    manage::replace(
        &mut db.conn(),
        admin,
        lamp.id,
        fields("Lamp", 100, 7, "Home"),
        Utc::now(),
    )
    .unwrap();
    let seen = events();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].0, "product.out_of_stock");
    assert_eq!(seen[0].1["data"]["stock"], 0);
    assert_eq!(seen[0].1["data"]["name"], "Desk lamp");
    assert_eq!(seen[1].0, "product.back_in_stock");
    assert_eq!(seen[1].1["data"]["stock"], 7);
    assert_eq!(seen[1].1["data"]["id"], lamp.id.get());
}
