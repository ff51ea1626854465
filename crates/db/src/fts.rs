//! Full-text search over products: SQLite FTS5, declared by hand because it is a virtual
//! table (`diesel print-schema` is told to skip it). This is the backend-specific half of
//! product search; a PostgreSQL backend would answer the same two items with a `tsvector`.

use diesel::expression::AsExpression;
use diesel::sql_types::Text;

diesel::table! {
    /// The FTS5 index over live products' name, description and category (see the catalog
    /// migration; triggers keep it in step with `products`).
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

use crate::schema::products;

diesel::allow_tables_to_appear_in_same_query!(products_fts, products);

diesel::infix_operator!(Matches, " MATCH ", backend: diesel::sqlite::Sqlite);

/// `products_fts MATCH query`, where `query` comes from [`match_query`].
pub fn matches(
    query: String,
) -> Matches<products_fts::document, <String as AsExpression<Text>>::Expression> {
    Matches::new(
        products_fts::document,
        AsExpression::<Text>::as_expression(query),
    )
}

/// Turns what a user typed into an FTS5 query that treats every character as text: the input
/// is split into words (letters and digits), each word is quoted and matched as a prefix
/// (`lapt` finds "laptop"), and all words must match. FTS5 syntax in the input (`"`, `*`,
/// `NEAR`, `-`, `:`, `AND`, parentheses) is never interpreted. `None` when the input has no
/// words.
pub fn match_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .take(32)
        .map(|word| format!("\"{}\"*", word.to_lowercase()))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::match_query;

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
}
