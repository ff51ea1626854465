//! Accounts for Emporium — not filled yet.
//!
//! This crate will own users, roles, password hashing (Argon2id, with verification of bcrypt
//! hashes carried over from the FastAPI shop), sessions, rotating refresh tokens, email
//! verification and password-reset tokens, and login throttling: plain synchronous functions
//! over `&mut emporium_db::Conn`, with no HTTP in them.
