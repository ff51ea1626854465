//! Listing totals, search match counts and ranked search results, reused while the catalog
//! does not change.
//!
//! Counting every match of a listing or a search, and ranking every match of a sorted search,
//! are the costs that grow with the catalog. They depend only on what the catalog version
//! covers (see the `catalog_version` migration: products added, deleted, renamed, re-priced,
//! re-categorised, or crossing zero stock), so they are cached per version and dropped when
//! it moves. Product rows themselves are always read fresh, so stock and prices shown are
//! current.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use emporium_core::ProductId;

use crate::listing::{Filters, Sort};

/// Longest ranked id list kept for one search; pages beyond it are searched directly.
pub const MAX_RANKED: usize = 1_000;

/// What identifies one search's ranking.
pub type SearchKey = (String, Filters, Option<Sort>);

/// What identifies one count of full-text matches: the index query and the filters.
pub type CountKey = (String, Filters);

#[derive(Default)]
struct State {
    version: i64,
    totals: HashMap<Filters, i64>,
    counts: HashMap<CountKey, i64>,
    ranked: HashMap<SearchKey, (Arc<[ProductId]>, i64)>,
}

/// A cache shared by every request (keep one per database, e.g. in the server's state).
///
/// A missing entry is computed once however many requests want it at the same moment: the
/// first computes it, the others wait for it (single flight), so a burst of identical cold
/// searches ranks the matches once, not once per request.
pub struct ListingCache {
    state: Mutex<State>,
    capacity: usize,
    flights: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    computed: AtomicU64,
}

impl Default for ListingCache {
    fn default() -> Self {
        ListingCache::new(512)
    }
}

impl ListingCache {
    /// A cache of at most `capacity` entries (all are dropped when it fills).
    pub fn new(capacity: usize) -> ListingCache {
        ListingCache {
            state: Mutex::new(State::default()),
            capacity,
            flights: Mutex::new(HashMap::new()),
            computed: AtomicU64::new(0),
        }
    }

    /// How many entries were computed (misses), since the cache was made.
    pub fn computed(&self) -> u64 {
        self.computed.load(Ordering::Relaxed)
    }

    /// Runs `compute` for the missing entry `key` unless a request that was already computing
    /// it filled it meanwhile: `lookup` is asked again once this request has the key's turn.
    pub(crate) fn single_flight<T, E>(
        &self,
        key: String,
        lookup: impl Fn() -> Option<T>,
        compute: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let flight = {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(flights.entry(key.clone()).or_default())
        };
        let turn = flight.lock().unwrap_or_else(|p| p.into_inner());
        let outcome = match lookup() {
            Some(found) => Ok(found),
            None => {
                self.computed.fetch_add(1, Ordering::Relaxed);
                compute()
            }
        };
        drop(turn);
        let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        if flights.get(&key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
            flights.remove(&key);
        }
        outcome
    }

    fn at(&self, version: i64) -> std::sync::MutexGuard<'_, State> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.version != version {
            state.totals.clear();
            state.counts.clear();
            state.ranked.clear();
            state.version = version;
        }
        state
    }

    fn make_room(&self, state: &mut State) {
        if state.totals.len() + state.counts.len() + state.ranked.len() >= self.capacity {
            state.totals.clear();
            state.counts.clear();
            state.ranked.clear();
        }
    }

    pub(crate) fn total(&self, version: i64, filters: &Filters) -> Option<i64> {
        self.at(version).totals.get(filters).copied()
    }

    pub(crate) fn put_total(&self, version: i64, filters: &Filters, total: i64) {
        let mut state = self.at(version);
        self.make_room(&mut state);
        state.totals.insert(filters.clone(), total);
    }

    pub(crate) fn count(&self, version: i64, key: &CountKey) -> Option<i64> {
        self.at(version).counts.get(key).copied()
    }

    pub(crate) fn put_count(&self, version: i64, key: CountKey, count: i64) {
        let mut state = self.at(version);
        self.make_room(&mut state);
        state.counts.insert(key, count);
    }

    pub(crate) fn ranked(&self, version: i64, key: &SearchKey) -> Option<(Arc<[ProductId]>, i64)> {
        self.at(version).ranked.get(key).cloned()
    }

    pub(crate) fn put_ranked(
        &self,
        version: i64,
        key: SearchKey,
        ids: Arc<[ProductId]>,
        total: i64,
    ) {
        let mut state = self.at(version);
        self.make_room(&mut state);
        state.ranked.insert(key, (ids, total));
    }
}
