//! The product catalog of Emporium — not filled yet.
//!
//! This crate will own products (with their owning admin and a soft-delete mark), listing with
//! filters, sorting and pagination, full-text search (SQLite FTS5), and categories: plain
//! synchronous functions over `&mut emporium_db::Conn`, with no HTTP in them.
