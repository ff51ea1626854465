//! The product catalog of Emporium.
//!
//! Plain synchronous functions over `&mut` [`Conn`](emporium_db::Conn): products owned by the
//! admin who created them ([`manage`]), public listing with filters, sorting and pagination,
//! full-text search and categories ([`listing`]), and a demo catalog ([`demo`]). Deleted
//! products are kept (soft delete) so that order history stays intact, but no read here ever
//! returns them. A stock change that crosses zero, wherever it happens (here, a checkout, a
//! cancellation), publishes `product.out_of_stock` / `product.back_in_stock` through
//! [`manage::stock_changed`] in the same transaction.

pub mod cache;
pub mod demo;
pub mod listing;
pub mod manage;
pub mod product;

pub use cache::ListingCache;
pub use listing::{Category, ListQuery, Listing, Search, Sort};
pub use product::{Product, ProductFields, ProductInput, ProductPatch};

/// Why a catalog operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Input fields are invalid; every bad field is listed.
    #[error("invalid input: {0}")]
    Validation(#[from] emporium_core::ValidationErrors),
    /// No live product has this id.
    #[error("no such product")]
    NotFound,
    /// The product belongs to another admin.
    #[error("the product belongs to another admin")]
    NotOwner,
    /// A database failure.
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
}

impl emporium_db::TransactionError for CatalogError {
    fn is_transient(&self) -> bool {
        matches!(self, CatalogError::Database(e) if emporium_db::TransactionError::is_transient(e))
    }
}

#[cfg(test)]
mod tests;
