//! Public catalog answers kept ready in memory: the encoded body and its strong `ETag`, per
//! request path and query.
//!
//! A hit does no database work and no encoding: it is a map lookup and a reference-counted
//! body. Freshness:
//!
//! - every change this process makes to the catalog (product writes, checkouts, cancellations)
//!   calls [`Pages::invalidate`] after its commit and before its response, so a request that
//!   arrives after a change was answered never sees a page from before it;
//! - a page computed while such a change was committing is not kept (the generation it was
//!   computed under has moved on);
//! - a page is kept at most [`MAX_AGE`], so changes made by other processes (a second server,
//!   the CLI) show within that bound.
//!
//! Memory is bounded by [`MAX_BYTES`] of bodies; past it every page is dropped and the cache
//! fills again. Pages past [`MAX_AGE`] are dropped too, at most once per `MAX_AGE` when a page
//! is kept, so the memory of pages no longer asked for goes back to the allocator for other
//! work rather than sitting there until the cache fills.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix_web::http::header::HeaderValue;
use actix_web::web::Bytes;

/// The longest a page is served from memory: the bound on how late a change made by another
/// process shows.
pub const MAX_AGE: Duration = Duration::from_secs(1);
/// Most bytes of page bodies kept. Every list and search page a shop's front page and
/// categories ask for fits many times over (~7 KB each); product details (~0.5 KB each) are
/// the ones that fill it, and at 4 MiB they refill it rather than hold twice the memory.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

/// Largest encoding buffer a thread keeps between answers (a page of 100 products with long
/// descriptions is larger; its buffer is dropped after it).
const MAX_BUFFER: usize = 256 * 1024;

/// An encoded answer and its validator.
#[derive(Debug)]
pub struct Page {
    /// The JSON body.
    pub body: Bytes,
    /// Its strong `ETag`, quoted: the first 128 bits of the body's SHA-256.
    pub etag: HeaderValue,
}

impl Page {
    /// Encodes `value` and computes its ETag.
    pub fn encode(value: &impl serde::Serialize) -> Result<Page, serde_json::Error> {
        use sha2::{Digest, Sha256};
        const HEX: &[u8; 16] = b"0123456789abcdef";
        thread_local! {
            /// Where this thread encodes: it grows once to the largest answer, instead of
            /// every answer growing its own buffer by doubling.
            static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        // The kept body is allocated at its exact size: the cache counts body lengths
        // against MAX_BYTES, and a doubled buffer's spare room would be memory it does not
        // count.
        let body = BUFFER.with_borrow_mut(|buffer| {
            buffer.clear();
            let encoded = serde_json::to_writer(&mut *buffer, value);
            let body = encoded.map(|()| Bytes::copy_from_slice(buffer));
            if buffer.capacity() > MAX_BUFFER {
                *buffer = Vec::new();
            }
            body
        })?;
        let digest = Sha256::digest(&body);
        let mut etag = [b'"'; 34];
        for (i, byte) in digest[..16].iter().enumerate() {
            etag[1 + 2 * i] = HEX[usize::from(byte >> 4)];
            etag[2 + 2 * i] = HEX[usize::from(byte & 0x0f)];
        }
        let etag =
            HeaderValue::from_bytes(&etag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
        Ok(Page { body, etag })
    }
}

struct Entry {
    page: Arc<Page>,
    at: Instant,
}

#[derive(Default)]
struct Inner {
    generation: u64,
    entries: HashMap<String, Entry>,
    bytes: usize,
    /// When stale pages were last dropped.
    swept: Option<Instant>,
}

impl Inner {
    /// Drops the pages older than [`MAX_AGE`] at `now`.
    fn sweep(&mut self, now: Instant) {
        self.entries
            .retain(|_, entry| now.saturating_duration_since(entry.at) < MAX_AGE);
        self.bytes = self
            .entries
            .iter()
            .map(|(key, entry)| key.len() + entry.page.body.len())
            .sum();
        self.swept = Some(now);
    }
}

/// The pages of one server process.
#[derive(Default)]
pub struct Pages {
    inner: RwLock<Inner>,
}

impl Pages {
    /// The page kept for `key` (path and query), if it is fresh.
    pub fn get(&self, key: &str) -> Option<Arc<Page>> {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        inner
            .entries
            .get(key)
            .filter(|entry| entry.at.elapsed() < MAX_AGE)
            .map(|entry| Arc::clone(&entry.page))
    }

    /// The current generation: take it before reading the database for a page, and hand it
    /// to [`Pages::keep`].
    pub fn generation(&self) -> u64 {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .generation
    }

    /// Keeps `page` for `key`, unless the catalog changed (in this process) since
    /// `generation` was taken: then the page may predate that change and is not kept.
    pub fn keep(&self, key: String, generation: u64, page: Arc<Page>, now: Instant) {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if inner.generation != generation {
            return;
        }
        if inner
            .swept
            .is_none_or(|swept| now.saturating_duration_since(swept) >= MAX_AGE)
        {
            inner.sweep(now);
        }
        let size = page.body.len() + key.len();
        if inner.bytes + size > MAX_BYTES {
            inner.entries.clear();
            inner.bytes = 0;
        }
        inner.bytes += size;
        let key_len = key.len();
        if let Some(old) = inner.entries.insert(key, Entry { page, at: now }) {
            inner.bytes = inner.bytes.saturating_sub(old.page.body.len() + key_len);
        }
    }

    /// Drops every page: the catalog changed. Call after the change committed and before
    /// answering the request that made it.
    pub fn invalidate(&self) {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        inner.generation += 1;
        inner.entries.clear();
        inner.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(text: &str) -> Arc<Page> {
        Arc::new(Page::encode(&text).unwrap())
    }

    #[test]
    fn a_page_is_served_until_invalidated_or_stale() {
        let pages = Pages::default();
        let generation = pages.generation();
        pages.keep("/products".into(), generation, page("a"), Instant::now());
        assert_eq!(&pages.get("/products").unwrap().body[..], b"\"a\"");
        pages.invalidate();
        assert!(pages.get("/products").is_none());
        let old = Instant::now() - MAX_AGE;
        pages.keep("/products".into(), pages.generation(), page("b"), old);
        assert!(pages.get("/products").is_none(), "older than MAX_AGE");
    }

    #[test]
    fn stale_pages_are_dropped_when_a_page_is_kept() {
        let pages = Pages::default();
        let start = Instant::now();
        pages.keep("/a".into(), pages.generation(), page("a"), start);
        pages.keep(
            "/b".into(),
            pages.generation(),
            page("b"),
            start + MAX_AGE / 2,
        );
        let later = start + MAX_AGE + MAX_AGE / 4;
        pages.keep("/c".into(), pages.generation(), page("c"), later);
        let inner = pages.inner.read().unwrap();
        let mut kept: Vec<&str> = inner.entries.keys().map(String::as_str).collect();
        kept.sort_unstable();
        assert_eq!(kept, ["/b", "/c"], "/a was past MAX_AGE");
        assert_eq!(inner.bytes, 2 * ("/b".len() + "\"b\"".len()));
    }

    #[test]
    fn a_page_computed_across_a_change_is_not_kept() {
        let pages = Pages::default();
        let before = pages.generation();
        pages.invalidate();
        pages.keep("/products".into(), before, page("stale"), Instant::now());
        assert!(pages.get("/products").is_none());
    }

    #[test]
    fn etags_follow_the_body() {
        assert_eq!(page("x").etag, page("x").etag);
        assert_ne!(page("x").etag, page("y").etag);
        let etag = page("x").etag.to_str().unwrap().to_string();
        assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");
        // The first 128 bits of SHA-256 of the body `"x"`, in lower-case hex.
        assert_eq!(etag, "\"ba2df4903a2c14e86dc3bcca58911b44\"");
    }

    #[test]
    fn a_body_is_kept_whole_and_the_encoding_buffer_is_reused_safely() {
        let long = "é".repeat(MAX_BUFFER);
        let big = page(&long);
        assert_eq!(big.body.len(), 2 * MAX_BUFFER + 2);
        let small = page("x");
        assert_eq!(
            &small.body[..],
            b"\"x\"",
            "nothing of the larger answer is left"
        );
        assert_eq!(big.body.len(), 2 * MAX_BUFFER + 2, "kept bodies are copies");
    }
}
