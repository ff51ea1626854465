//! Carts for Emporium — not filled yet.
//!
//! This crate will own one cart per account: adding (merging quantities), updating, removing
//! and clearing lines, checked against stock, with totals computed in cents: plain synchronous
//! functions over `&mut emporium_db::Conn`, with no HTTP in them.
