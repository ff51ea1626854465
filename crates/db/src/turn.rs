//! One process-wide, first-come-first-served turn for SQLite write transactions.
//!
//! SQLite lets one connection write at a time; a connection that finds the lock taken sleeps
//! in its busy handler and tries again, so under load a steady writer (the server's group
//! committing writer) can starve the others for seconds (a signin's session, say), which
//! then fail with "database is locked". Taking this turn before `BEGIN IMMEDIATE` makes the
//! writers of one process queue in arrival order instead; the busy handler is left to
//! arbitrate between processes (the CLI beside a server). Only outermost transactions take
//! it, so nested ones (savepoints) never wait on themselves.

use std::sync::{Condvar, Mutex};

struct Tickets {
    next: u64,
    serving: u64,
}

static TICKETS: Mutex<Tickets> = Mutex::new(Tickets {
    next: 0,
    serving: 0,
});
static CALLED: Condvar = Condvar::new();

/// Holding the turn; dropping it passes the turn on.
pub(crate) struct Turn(());

/// Waits for this thread's turn to write.
pub(crate) fn take() -> Turn {
    let mut tickets = TICKETS.lock().unwrap_or_else(|p| p.into_inner());
    let mine = tickets.next;
    tickets.next += 1;
    while tickets.serving != mine {
        tickets = CALLED.wait(tickets).unwrap_or_else(|p| p.into_inner());
    }
    Turn(())
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut tickets = TICKETS.lock().unwrap_or_else(|p| p.into_inner());
        tickets.serving += 1;
        drop(tickets);
        CALLED.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn turns_are_exclusive_and_every_taker_gets_one() {
        let inside = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let inside = Arc::clone(&inside);
                let done = Arc::clone(&done);
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let _turn = super::take();
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "one at a time");
                        inside.fetch_sub(1, Ordering::SeqCst);
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(done.load(Ordering::SeqCst), 1600);
    }
}
