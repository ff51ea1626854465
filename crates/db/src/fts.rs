//! Full-text search over products: the backend-specific half of product search.
//!
//! - SQLite: an FTS5 table, declared by hand because it is a virtual table (`diesel
//!   print-schema` is told to skip it), ranked by bm25 with name : description : category
//!   weighted 10 : 1 : 2.
//! - PostgreSQL: a GIN index over `emporium_search_document(name, description, category)`, a
//!   `tsvector` with the three fields weighted A, B, C, ranked by `ts_rank` with the same
//!   10 : 1 : 2 weights.
//!
//! Both split text into words of letters and digits, lower-case them, drop diacritics, and
//! match every word of the query as a prefix (`lapt` finds "laptop"). What a user types is
//! never interpreted as query syntax on either backend: it is reduced to words first.

use diesel::expression::AsExpression;
use diesel::expression::BoxableExpression;
use diesel::sql_types::{Bool, Float, Text};

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
        /// Relevance of the current match (bm25, weighted name 10 : description 1 :
        /// category 2); lower is better. Only meaningful in a `MATCH` query.
        rank -> Double,
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

/// PostgreSQL: the same words as a `tsquery` (`lapt:* & red:*`): every word a prefix, all
/// required. Words hold only letters and digits, so no input can form `tsquery` syntax.
/// `None` when the input has no words.
pub fn ts_query(text: &str) -> Option<String> {
    let words: Vec<String> = words(text).iter().map(|word| format!("{word}:*")).collect();
    (!words.is_empty()).then(|| words.join(" & "))
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

/// PostgreSQL: relevance of a product to `ts_query`; higher is better. Weights for
/// {D, C, B, A} = {-, category, description, name}: 0.2 : 0.1 : 1.0 is bm25's 2 : 1 : 10.
pub fn pg_rank(
    ts_query: &str,
) -> Box<dyn BoxableExpression<products::table, MultiBackend, SqlType = Float>> {
    Box::new(
        diesel::dsl::sql::<Float>(&format!(
            "ts_rank('{{0.1, 0.2, 0.1, 1.0}}', {DOCUMENT}, to_tsquery('emporium_search'::regconfig, "
        ))
        .bind::<Text, _>(ts_query.to_string())
        .sql("))"),
    )
}

#[cfg(test)]
mod tests {
    use super::{match_query, ts_query};

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
