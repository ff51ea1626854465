//! Full-text search over products: the backend-specific half of product search.
//!
//! - SQLite: an FTS5 table, declared by hand because it is a virtual table (`diesel
//!   print-schema` is told to skip it).
//! - PostgreSQL: a GIN index over `emporium_search_document(name, description, category)`, a
//!   `tsvector` with the three fields weighted A, B, C.
//!
//! Relevance is the same on both: a product with every word in its name comes first, then one
//! with every word in its name or category, then the rest (a word found only in the
//! description); within a tier, the most recently added first. Unlike a score such as bm25,
//! which must be computed for every match before the best twenty are known, these tiers can
//! be walked in index order: on SQLite, a page of a search that matches a hundred thousand
//! products reads the page, not the hundred thousand.
//!
//! Both split text into words of letters and digits, lower-case them, drop diacritics, and
//! match every word of the query as a prefix (`lapt` finds "laptop"). What a user types is
//! never interpreted as query syntax on either backend: it is reduced to words first.

use diesel::expression::AsExpression;
use diesel::expression::BoxableExpression;
use diesel::sql_types::{Bool, Integer, Text};

use crate::MultiBackend;
use crate::schema::products;

diesel::table! {
    /// SQLite only: the FTS5 index over live products' name, description and category (see
    /// the catalog migration; triggers keep it in step with `products`).
    products_fts (rowid) {
        /// The product id.
        rowid -> Integer,
        /// The hidden column named after the table: the left side of `MATCH`.
        #[sql_name = "products_fts"]
        document -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(products_fts, products);

diesel::infix_operator!(Matches, " MATCH ");

/// SQLite only: `products_fts MATCH query`, where `query` comes from [`match_query`].
pub fn matches(
    query: String,
) -> Matches<products_fts::document, <String as AsExpression<Text>>::Expression> {
    Matches::new(
        products_fts::document,
        AsExpression::<Text>::as_expression(query),
    )
}

/// The words of what a user typed: runs of letters and digits, lower-cased, at most 32.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .take(32)
        .map(str::to_lowercase)
        .collect()
}

/// SQLite: turns what a user typed into an FTS5 query that treats every character as text:
/// each word is quoted and matched as a prefix, and all words must match. FTS5 syntax in the
/// input (`"`, `*`, `NEAR`, `-`, `:`, `AND`, parentheses) is never interpreted. `None` when the
/// input has no words.
pub fn match_query(text: &str) -> Option<String> {
    let words: Vec<String> = words(text)
        .iter()
        .map(|word| format!("\"{word}\"*"))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// SQLite: the relevance tiers of a search, best first, as FTS5 queries that partition its
/// matches ([`match_query`]): every word in the name; every word in the name or the category
/// (but not all in the name); the rest (some word only in the description). A search walks
/// the tiers in order, each by descending rowid, so a page costs what the page holds rather
/// than what the whole match holds. `None` when the text has no words.
pub fn match_tiers(text: &str) -> Option<[String; 3]> {
    let all = match_query(text)?;
    Some([
        format!("{{name}} : ({all})"),
        format!("{{name category}} : ({all}) NOT {{name}} : ({all})"),
        format!("({all}) NOT {{name category}} : ({all})"),
    ])
}

/// PostgreSQL: the same words as a `tsquery` (`lapt:* & red:*`): every word a prefix, all
/// required. Words hold only letters and digits, so no input can form `tsquery` syntax.
/// `None` when the input has no words.
pub fn ts_query(text: &str) -> Option<String> {
    let words: Vec<String> = words(text).iter().map(|word| format!("{word}:*")).collect();
    (!words.is_empty()).then(|| words.join(" & "))
}

/// PostgreSQL: the `tsquery`s behind the relevance tiers of [`match_tiers`]: every word in
/// the name (weight A), and every word in the name or the category (weights A and C).
/// `None` when the text has no words.
pub fn ts_tiers(text: &str) -> Option<(String, String)> {
    let words = words(text);
    let weighted = |weights: &str| {
        words
            .iter()
            .map(|word| format!("{word}:*{weights}"))
            .collect::<Vec<_>>()
            .join(" & ")
    };
    (!words.is_empty()).then(|| (weighted("A"), weighted("AC")))
}

/// The document expression the GIN index `products_search` is built over: a query must name
/// it exactly for PostgreSQL to use the index.
const DOCUMENT: &str =
    "emporium_search_document(products.name, products.description, products.category)";

/// PostgreSQL: a live product's document matches `ts_query` (from [`ts_query`]).
pub fn pg_matches(
    ts_query: &str,
) -> Box<dyn BoxableExpression<products::table, MultiBackend, SqlType = Bool>> {
    Box::new(
        diesel::dsl::sql::<Bool>(&format!(
            "{DOCUMENT} @@ to_tsquery('emporium_search'::regconfig, "
        ))
        .bind::<Text, _>(ts_query.to_string())
        .sql(")"),
    )
}

/// PostgreSQL: the relevance tier of a matching product (0 best), from [`ts_tiers`]: the
/// same partition as SQLite's [`match_tiers`].
pub fn pg_tier(
    (name, name_or_category): (&str, &str),
) -> Box<dyn BoxableExpression<products::table, MultiBackend, SqlType = Integer>> {
    Box::new(
        diesel::dsl::sql::<Integer>(&format!(
            "CASE WHEN {DOCUMENT} @@ to_tsquery('emporium_search'::regconfig, "
        ))
        .bind::<Text, _>(name.to_string())
        .sql(&format!(
            ") THEN 0 WHEN {DOCUMENT} @@ to_tsquery('emporium_search'::regconfig, "
        ))
        .bind::<Text, _>(name_or_category.to_string())
        .sql(") THEN 1 ELSE 2 END"),
    )
}

#[cfg(test)]
mod tests {
    use super::{match_query, match_tiers, ts_query, ts_tiers};

    #[test]
    fn user_text_becomes_quoted_prefix_terms() {
        assert_eq!(match_query("Lapt").as_deref(), Some("\"lapt\"*"));
        assert_eq!(
            match_query("red  laptop").as_deref(),
            Some("\"red\"* \"laptop\"*")
        );
        assert_eq!(
            match_query("a\"b* NEAR(c) -d:e").as_deref(),
            Some("\"a\"* \"b\"* \"near\"* \"c\"* \"d\"* \"e\"*")
        );
        assert_eq!(match_query("café").as_deref(), Some("\"café\"*"));
        assert_eq!(match_query("*** \" -"), None);
    }

    #[test]
    fn relevance_tiers_partition_the_match() {
        let [name, name_or_category, rest] = match_tiers("Lapt, red").unwrap();
        assert_eq!(name, "{name} : (\"lapt\"* \"red\"*)");
        assert_eq!(
            name_or_category,
            "{name category} : (\"lapt\"* \"red\"*) NOT {name} : (\"lapt\"* \"red\"*)"
        );
        assert_eq!(
            rest,
            "(\"lapt\"* \"red\"*) NOT {name category} : (\"lapt\"* \"red\"*)"
        );
        assert_eq!(match_tiers("{name}:"), Some(match_tiers("name").unwrap()));
        assert_eq!(match_tiers("* -"), None);
        assert_eq!(
            ts_tiers("Lapt red").unwrap(),
            (
                "lapt:*A & red:*A".to_string(),
                "lapt:*AC & red:*AC".to_string()
            )
        );
        assert_eq!(ts_tiers("&|!"), None);
    }

    #[test]
    fn user_text_becomes_a_prefix_tsquery() {
        assert_eq!(ts_query("Lapt").as_deref(), Some("lapt:*"));
        assert_eq!(ts_query("red  laptop").as_deref(), Some("red:* & laptop:*"));
        assert_eq!(
            ts_query("a&b|!c <-> (d):*'e'").as_deref(),
            Some("a:* & b:* & c:* & d:* & e:*")
        );
        assert_eq!(ts_query("café").as_deref(), Some("café:*"));
        assert_eq!(ts_query("*** \" - & | !"), None);
    }
}
