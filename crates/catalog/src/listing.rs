//! Listing, search and categories: filters, a whitelisted sort with an id tie-breaker, and
//! pagination. Every query is served by an index over live products.

use diesel::dsl::count_star;
use diesel::expression::BoxableExpression;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use emporium_core::settings::DatabaseBackend;
use emporium_core::{Money, Page, PageRequest, ValidationErrors};
use emporium_db::fts::{self, products_fts};
use emporium_db::schema::{catalog_version, products};
use emporium_db::{Conn, MultiBackend};
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use emporium_core::ProductId;

use crate::CatalogError;
use crate::cache::{ListingCache, MAX_RANKED};
use crate::product::{Product, ProductRow};

/// The longest search query, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

/// How a list is ordered. Ascending sorts break ties by ascending id, descending ones by
/// descending id, so pages never repeat or skip rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sort {
    /// Cheapest first (`price_asc`, alias `price`).
    PriceAsc,
    /// Dearest first (`price_desc`).
    PriceDesc,
    /// A to Z, case-insensitive (`name_asc`, alias `name`).
    NameAsc,
    /// Z to A (`name_desc`).
    NameDesc,
    /// Most recently created first (`newest`).
    Newest,
    /// Oldest first (`oldest`): the listing's default.
    Oldest,
}

impl Sort {
    /// Parses a `sort_by` value.
    pub fn parse(text: &str) -> Result<Sort, String> {
        Ok(match text {
            "price_asc" | "price" => Sort::PriceAsc,
            "price_desc" => Sort::PriceDesc,
            "name_asc" | "name" => Sort::NameAsc,
            "name_desc" => Sort::NameDesc,
            "newest" => Sort::Newest,
            "oldest" => Sort::Oldest,
            other => {
                return Err(format!(
                    "'{other}' is not one of price_asc, price_desc, name_asc, name_desc, newest, oldest (or price, name)"
                ));
            }
        })
    }
}

/// The query parameters of `GET /products` and `GET /products/search`, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListQuery {
    /// 1-based page.
    pub page: Option<emporium_core::IntegerText>,
    /// Rows per page, 1..=100.
    pub page_size: Option<emporium_core::IntegerText>,
    /// Exact category, case-insensitive.
    pub category: Option<String>,
    /// Lowest price (inclusive).
    pub min_price: Option<String>,
    /// Highest price (inclusive).
    pub max_price: Option<String>,
    /// `true`: only products with stock; `false` or absent: all.
    pub in_stock: Option<bool>,
    /// One of the [`Sort`] names.
    pub sort_by: Option<String>,
    /// Search text (search only).
    pub q: Option<String>,
    /// Alias of `q`.
    pub keyword: Option<String>,
}

/// Checked filters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Filters {
    /// Lower-cased category.
    pub category: Option<String>,
    /// Lowest price.
    pub min_price: Option<Money>,
    /// Highest price.
    pub max_price: Option<Money>,
    /// Only products with stock.
    pub in_stock: bool,
}

/// A checked listing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// Filters.
    pub filters: Filters,
    /// Order (`None` on search means best match first; on the listing, oldest first).
    pub sort: Option<Sort>,
    /// The page.
    pub page: PageRequest,
}

/// A checked search request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// The text as given.
    pub text: String,
    /// Filters, sort and page.
    pub listing: Listing,
}

impl ListQuery {
    fn checked_listing(&self, errors: &mut ValidationErrors) -> Option<Listing> {
        let page = PageRequest::from_query(self.page.map(|p| p.0), self.page_size.map(|p| p.0));
        let page = match page {
            Ok(page) => Some(page),
            Err(page_errors) => {
                errors.extend(page_errors);
                None
            }
        };
        let category = match &self.category {
            None => Some(None),
            Some(c) => errors.check(
                "category",
                crate::product::parse_category(c).map(|c| Some(c.to_lowercase())),
            ),
        };
        let money = |v: &Option<String>| v.as_deref().map(Money::parse).transpose();
        let min_price = errors.check("min_price", money(&self.min_price));
        let max_price = errors.check("max_price", money(&self.max_price));
        // A range with max below min is valid and simply matches nothing.
        let sort = errors.check(
            "sort_by",
            self.sort_by.as_deref().map(Sort::parse).transpose(),
        );
        Some(Listing {
            filters: Filters {
                category: category?,
                min_price: min_price?,
                max_price: max_price?,
                in_stock: self.in_stock == Some(true),
            },
            sort: sort?,
            page: page?,
        })
    }

    /// The listing request, every bad parameter named.
    pub fn into_listing(self) -> Result<Listing, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let listing = self.checked_listing(&mut errors);
        errors.finish(listing)
    }

    /// The search request: `q` (or `keyword`) is required, 1..=200 characters.
    pub fn into_search(self) -> Result<Search, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let (field, value) = match (&self.q, &self.keyword) {
            (Some(q), _) => ("q", Some(q.clone())),
            (None, Some(k)) => ("keyword", Some(k.clone())),
            (None, None) => ("q", None),
        };
        let text = errors.check(
            field,
            match value {
                None => Err("is required".to_string()),
                Some(t) if t.trim().is_empty() => Err("must not be empty".to_string()),
                Some(t) if t.chars().count() > MAX_QUERY_CHARS => {
                    Err(format!("must be at most {MAX_QUERY_CHARS} characters"))
                }
                Some(t) => Ok(t),
            },
        );
        let listing = self.checked_listing(&mut errors);
        errors.finish(
            text.zip(listing)
                .map(|(text, listing)| Search { text, listing }),
        )
    }
}

type Condition<QS> = Box<dyn BoxableExpression<QS, MultiBackend, SqlType = Bool>>;

/// The filters as one SQL condition over any query source that has `products` in it.
fn condition<QS: 'static>(filters: &Filters) -> Condition<QS>
where
    products::deleted_at: SelectableExpression<QS>,
    products::category_key: SelectableExpression<QS>,
    products::price_cents: SelectableExpression<QS>,
    products::in_stock: SelectableExpression<QS>,
{
    let mut condition: Condition<QS> = Box::new(products::deleted_at.is_null());
    if let Some(category) = &filters.category {
        condition = Box::new(condition.and(products::category_key.eq(category.clone())));
    }
    if let Some(min) = filters.min_price {
        condition = Box::new(condition.and(products::price_cents.ge(min)));
    }
    if let Some(max) = filters.max_price {
        condition = Box::new(condition.and(products::price_cents.le(max)));
    }
    if filters.in_stock {
        // The flag itself, not `= true` with a bound value: SQLite and PostgreSQL use a
        // partial index (`WHERE … in_stock`) only when the query states the same condition.
        condition = Box::new(condition.and(products::in_stock));
    }
    condition
}

/// Orders a query by `$sort`; ties by id in the sort's direction.
macro_rules! order_by_sort {
    ($query:expr, $sort:expr) => {
        match $sort {
            Sort::PriceAsc => $query.order((products::price_cents.asc(), products::id.asc())),
            Sort::PriceDesc => $query.order((products::price_cents.desc(), products::id.desc())),
            Sort::NameAsc => $query.order((products::name_key.asc(), products::id.asc())),
            Sort::NameDesc => $query.order((products::name_key.desc(), products::id.desc())),
            Sort::Newest => $query.order((products::created_at.desc(), products::id.desc())),
            Sort::Oldest => $query.order((products::created_at.asc(), products::id.asc())),
        }
    };
}

/// The listing query for `listing`, before pagination (public for query-plan checks).
pub fn listing_query(
    listing: &Listing,
) -> products::BoxedQuery<
    'static,
    MultiBackend,
    diesel::dsl::SqlTypeOf<diesel::dsl::AsSelect<ProductRow, MultiBackend>>,
> {
    let query = products::table
        .filter(condition::<products::table>(&listing.filters))
        .select(ProductRow::as_select())
        .into_boxed();
    order_by_sort!(query, listing.sort.unwrap_or(Sort::Oldest))
}

/// One page of live products matching the filters.
pub fn list(conn: &mut Conn, listing: &Listing) -> Result<Page<Product>, CatalogError> {
    let total: i64 = products::table
        .filter(condition::<products::table>(&listing.filters))
        .select(count_star())
        .first(conn)?;
    let rows: Vec<ProductRow> = listing_query(listing)
        .limit(listing.page.limit())
        .offset(listing.page.offset())
        .load(conn)?;
    Ok(Page::new(
        rows.into_iter().map(ProductRow::into_product).collect(),
        listing.page,
        total,
    ))
}

/// A search's text as its backend takes it.
enum Terms {
    /// SQLite: the whole match (an FTS5 query) and its relevance tiers ([`fts::match_tiers`]).
    Sqlite { all: String, tiers: [String; 3] },
    /// PostgreSQL: the whole match (a `tsquery`) and the tiers' queries ([`fts::ts_tiers`]).
    Postgres {
        all: String,
        tiers: (String, String),
    },
}

impl Terms {
    /// The whole match, as the backend takes it: what a cached ranking is keyed by.
    fn all(&self) -> &str {
        match self {
            Terms::Sqlite { all, .. } | Terms::Postgres { all, .. } => all,
        }
    }

    /// `None` when the text has no words (only punctuation): nothing matches then.
    fn of(conn: &Conn, text: &str) -> Option<Terms> {
        Some(match conn.backend() {
            DatabaseBackend::Sqlite => Terms::Sqlite {
                all: fts::match_query(text)?,
                tiers: fts::match_tiers(text)?,
            },
            DatabaseBackend::Postgres => Terms::Postgres {
                all: fts::ts_query(text)?,
                tiers: fts::ts_tiers(text)?,
            },
        })
    }
}

/// `COUNT(*) OVER ()`: the number of matches, carried on every row of the page, so the match
/// is evaluated once per request.
fn total_column() -> diesel::expression::SqlLiteral<diesel::sql_types::BigInt> {
    diesel::dsl::sql::<diesel::sql_types::BigInt>("COUNT(*) OVER ()")
}

/// SQLite: the number of live products matching `query` (an FTS5 query) and `filters`.
/// Without filters this reads only the full-text index, which holds live products only.
fn count_matches(conn: &mut Conn, query: &str, filters: &Filters) -> QueryResult<i64> {
    let matching = products_fts::table.filter(fts::matches(query.to_string()));
    if *filters == Filters::default() {
        matching.select(count_star()).first(conn)
    } else {
        matching
            .inner_join(products::table.on(products::id.eq(products_fts::rowid)))
            .filter(condition(filters))
            .select(count_star())
            .first(conn)
    }
}

/// SQLite: the ids of live products matching `query` and `filters`, newest first, `limit`
/// of them after skipping `offset`. The index yields matches in rowid order, so this reads
/// `offset + limit` matches, not all of them.
fn walk_matches(
    conn: &mut Conn,
    query: &str,
    filters: &Filters,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<ProductId>> {
    let matching = products_fts::table.filter(fts::matches(query.to_string()));
    if *filters == Filters::default() {
        matching
            .select(products_fts::rowid)
            .order(products_fts::rowid.desc())
            .limit(limit)
            .offset(offset)
            .load(conn)
    } else {
        matching
            .inner_join(products::table.on(products::id.eq(products_fts::rowid)))
            .filter(condition(filters))
            .select(products_fts::rowid)
            .order(products_fts::rowid.desc())
            .limit(limit)
            .offset(offset)
            .load(conn)
    }
}

/// Counts the matches of an FTS5 query and filters: [`count_matches`], or a cached count.
type Counter<'a> = dyn FnMut(&mut Conn, &str, &Filters) -> Result<i64, CatalogError> + 'a;

/// SQLite, best match first: the ids of matches `offset..offset + limit`, taken tier after
/// tier. `count` is asked for a tier's size only when the range starts beyond that tier.
fn relevance_ids(
    conn: &mut Conn,
    tiers: &[String; 3],
    filters: &Filters,
    (offset, limit): (i64, i64),
    count: &mut Counter<'_>,
) -> Result<Vec<ProductId>, CatalogError> {
    let (mut skip, mut wanted) = (offset, limit);
    let mut ids = Vec::new();
    for tier in tiers {
        if wanted == 0 {
            break;
        }
        let found = walk_matches(conn, tier, filters, wanted, skip)?;
        if found.is_empty() && skip > 0 {
            // The page starts beyond this tier.
            skip -= count(conn, tier, filters)?.min(skip);
        } else {
            skip = 0;
        }
        wanted -= found.len() as i64;
        ids.extend(found);
    }
    Ok(ids)
}

/// The products with `ids`, in that order.
fn products_in_order(conn: &mut Conn, ids: &[ProductId]) -> QueryResult<Vec<Product>> {
    let mut rows: Vec<ProductRow> = products::table
        .filter(products::id.eq_any(ids))
        .filter(products::deleted_at.is_null())
        .select(ProductRow::as_select())
        .load(conn)?;
    rows.sort_by_key(|row| ids.iter().position(|id| *id == row.id));
    Ok(rows.into_iter().map(ProductRow::into_product).collect())
}

/// The ids of matches `offset..offset + limit` in the search's order, in one query, with the
/// number of all matches (`None` when no row came back to carry it). For every search but
/// SQLite's best-match-first, which [`relevance_ids`] walks instead.
fn ranked_ids(
    conn: &mut Conn,
    terms: &Terms,
    listing: &Listing,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ProductId>, Option<i64>), CatalogError> {
    let rows: Vec<(ProductId, i64)> = match terms {
        Terms::Sqlite { all, .. } => {
            let ranked = products::table
                .inner_join(products_fts::table.on(products_fts::rowid.eq(products::id)))
                .filter(fts::matches(all.clone()))
                .filter(condition(&listing.filters))
                .select((products::id, total_column()))
                .into_boxed();
            // Best match first never comes here on SQLite: `relevance_ids` walks it.
            let sort = listing.sort.unwrap_or(Sort::Newest);
            order_by_sort!(ranked, sort)
                .limit(limit)
                .offset(offset)
                .load(conn)?
        }
        Terms::Postgres { all, tiers } => {
            let ranked = products::table
                .filter(fts::pg_matches(all))
                .filter(condition::<products::table>(&listing.filters))
                .select((products::id, total_column()))
                .into_boxed();
            let ranked = match listing.sort {
                Some(sort) => order_by_sort!(ranked, sort),
                None => ranked.order((
                    fts::pg_tier((&tiers.0, &tiers.1)).asc(),
                    products::id.desc(),
                )),
            };
            ranked.limit(limit).offset(offset).load(conn)?
        }
    };
    let total = rows.first().map(|(_, total)| *total);
    Ok((rows.into_iter().map(|(id, _)| id).collect(), total))
}

/// The number of live products matching the search and the filters.
fn count_all(conn: &mut Conn, terms: &Terms, filters: &Filters) -> Result<i64, CatalogError> {
    Ok(match terms {
        Terms::Sqlite { all, .. } => count_matches(conn, all, filters)?,
        Terms::Postgres { all, .. } => products::table
            .filter(fts::pg_matches(all))
            .filter(condition::<products::table>(filters))
            .select(count_star())
            .first(conn)?,
    })
}

/// The ids of matches `offset..offset + limit` in the search's order and the number of all
/// matches. SQLite's full-text counts go through `count`.
fn search_ids(
    conn: &mut Conn,
    terms: &Terms,
    listing: &Listing,
    (offset, limit): (i64, i64),
    count: &mut Counter<'_>,
) -> Result<(Vec<ProductId>, i64), CatalogError> {
    Ok(match (terms, listing.sort) {
        (Terms::Sqlite { all, tiers }, None) => {
            let filters = &listing.filters;
            let total = count(conn, all, filters)?;
            let ids = relevance_ids(conn, tiers, filters, (offset, limit), count)?;
            (ids, total)
        }
        _ => {
            let (ids, total) = ranked_ids(conn, terms, listing, limit, offset)?;
            let total = match total {
                Some(total) => total,
                // A page past the end has no row to carry the total: count separately.
                None => count_all(conn, terms, &listing.filters)?,
            };
            (ids, total)
        }
    })
}

/// [`search`] inside its read transaction.
fn search_in(
    conn: &mut Conn,
    terms: &Terms,
    listing: &Listing,
    count: &mut Counter<'_>,
) -> Result<Page<Product>, CatalogError> {
    let range = (listing.page.offset(), listing.page.limit());
    let (ids, total) = search_ids(conn, terms, listing, range, count)?;
    Ok(Page::new(
        products_in_order(conn, &ids)?,
        listing.page,
        total,
    ))
}

/// One page of live products matching the search text and the filters: best match first
/// unless a sort is given. Best match first means every word in the name, then every word
/// in the name or category, then the rest; within each, the most recently added first.
pub fn search(conn: &mut Conn, search: &Search) -> Result<Page<Product>, CatalogError> {
    let listing = &search.listing;
    let Some(terms) = Terms::of(conn, &search.text) else {
        return Ok(Page::new(Vec::new(), listing.page, 0));
    };
    emporium_db::read_transaction(conn, |conn| {
        search_in(conn, &terms, listing, &mut |conn, query, filters| {
            Ok(count_matches(conn, query, filters)?)
        })
    })
}

fn catalog_version(conn: &mut Conn) -> Result<i64, CatalogError> {
    Ok(catalog_version::table
        .find(1)
        .select(catalog_version::version)
        .first(conn)?)
}

/// [`list`], with the total taken from `cache` while the catalog has not changed. The same
/// answer as `list`, from one consistent read of the database.
pub fn list_cached(
    conn: &mut Conn,
    cache: &ListingCache,
    listing: &Listing,
) -> Result<Page<Product>, CatalogError> {
    emporium_db::read_transaction(conn, |conn| {
        let version = catalog_version(conn)?;
        let total = match cache.total(version, &listing.filters) {
            Some(total) => total,
            None => cache.single_flight(
                format!("total:{version}:{:?}", listing.filters),
                || cache.total(version, &listing.filters),
                || -> Result<i64, CatalogError> {
                    let total: i64 = products::table
                        .filter(condition::<products::table>(&listing.filters))
                        .select(count_star())
                        .first(conn)?;
                    cache.put_total(version, &listing.filters, total);
                    Ok(total)
                },
            )?,
        };
        let rows: Vec<ProductRow> = listing_query(listing)
            .limit(listing.page.limit())
            .offset(listing.page.offset())
            .load(conn)?;
        Ok(Page::new(
            rows.into_iter().map(ProductRow::into_product).collect(),
            listing.page,
            total,
        ))
    })
}

/// SQLite: [`count_matches`], kept in `cache` while the catalog has not changed.
fn cached_count(
    conn: &mut Conn,
    cache: &ListingCache,
    version: i64,
    query: &str,
    filters: &Filters,
) -> Result<i64, CatalogError> {
    let key = (query.to_string(), filters.clone());
    if let Some(count) = cache.count(version, &key) {
        return Ok(count);
    }
    cache.single_flight(
        format!("count:{version}:{key:?}"),
        || cache.count(version, &key),
        || -> Result<i64, CatalogError> {
            let count = count_matches(conn, query, filters)?;
            cache.put_count(version, key.clone(), count);
            Ok(count)
        },
    )
}

/// [`search`], with what grows with the number of matches taken from `cache` while the
/// catalog has not changed: the first `MAX_RANKED` ids in order and the number of matches
/// are computed once per query and version, and a page is then a handful of primary-key
/// reads. The same answer as `search`, from one consistent read.
///
/// On SQLite, best match first walks the index tier by tier (see [`search`]): computing the
/// first ids costs what they hold, not what the whole match holds, so a search right after a
/// catalog change stays fast however many products match.
pub fn search_cached(
    conn: &mut Conn,
    cache: &ListingCache,
    search: &Search,
) -> Result<Page<Product>, CatalogError> {
    let listing = &search.listing;
    let Some(terms) = Terms::of(conn, &search.text) else {
        return Ok(Page::new(Vec::new(), listing.page, 0));
    };
    emporium_db::read_transaction(conn, |conn| {
        let version = catalog_version(conn)?;
        let mut count = |conn: &mut Conn, query: &str, filters: &Filters| {
            cached_count(conn, cache, version, query, filters)
        };
        let key = (
            terms.all().to_string(),
            listing.filters.clone(),
            listing.sort,
        );
        let (ids, total) = match cache.ranked(version, &key) {
            Some(found) => found,
            None => cache.single_flight(
                format!("ranked:{version}:{key:?}"),
                || cache.ranked(version, &key),
                || -> Result<(Arc<[ProductId]>, i64), CatalogError> {
                    let range = (0, MAX_RANKED as i64);
                    let (ids, total) = search_ids(conn, &terms, listing, range, &mut count)?;
                    let ids: Arc<[ProductId]> = ids.into();
                    cache.put_ranked(version, key.clone(), Arc::clone(&ids), total);
                    Ok((ids, total))
                },
            )?,
        };
        let offset = usize::try_from(listing.page.offset()).unwrap_or(usize::MAX);
        let limit = usize::try_from(listing.page.limit()).unwrap_or(0);
        if offset.saturating_add(limit) > ids.len() && total > ids.len() as i64 {
            // Deeper than the cached ranking reaches: search directly.
            return search_in(conn, &terms, listing, &mut count);
        }
        let wanted: Vec<ProductId> = ids.iter().skip(offset).take(limit).copied().collect();
        Ok(Page::new(
            products_in_order(conn, &wanted)?,
            listing.page,
            total,
        ))
    })
}

/// A category and how many live products it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Category {
    /// The category's name (categories differing only in case are one).
    pub name: String,
    /// Live products in it.
    pub product_count: i64,
}

/// Every category with live products, A to Z.
pub fn categories(conn: &mut Conn) -> Result<Vec<Category>, CatalogError> {
    let rows: Vec<(String, Option<String>, i64)> = products::table
        .filter(products::deleted_at.is_null())
        .group_by(products::category_key)
        .select((
            products::category_key,
            diesel::dsl::min(products::category),
            count_star(),
        ))
        .order(products::category_key.asc())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(key, name, product_count)| Category {
            name: name.unwrap_or(key),
            product_count,
        })
        .collect())
}
