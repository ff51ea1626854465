//! Cores of their own for password hashing, while it runs.
//!
//! An Argon2 hash keeps a core busy for ~20 ms. When a request's thread wakes on a core where
//! a hash (or anything else) is running, the scheduler lets it wait up to a tick (4 ms at
//! `HZ=250`) rather than interrupt: under a signin flood that put the catalog's p99 at 3–5× its
//! value alone, whatever the hashing threads' priority (BENCHMARKS.md, steps 8–10). So while a
//! hash runs, the hashing threads keep `PASSWORD_HASH_CORES` cores to themselves and the
//! threads that serve requests (actix's workers, the database threads, the writer) run on the
//! others; when no hash runs, those threads have every core again.
//!
//! Hashing threads pin themselves to the kept cores when they start work. Serving threads
//! [`follow`](CoreSplit::follow) at the start of each request, job or batch: one atomic load,
//! and a system call only when hashing has started or stopped since their last look. On other
//! systems than Linux, or with fewer than two cores, or with `PASSWORD_HASH_CORES=0`, nothing
//! is moved.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Where hashing runs and where the rest runs meanwhile; shared by one app's threads.
pub struct CoreSplit {
    #[cfg(target_os = "linux")]
    sets: Option<linux::Sets>,
    /// Hashing threads at work (between taking a job after idling and finding the queue
    /// empty).
    hashing: AtomicUsize,
}

impl CoreSplit {
    /// Keeps `cores` of the cores this process may use for hashing (the last ones), if it may
    /// use more than that; otherwise, or for 0, moves nothing.
    pub fn new(cores: usize) -> CoreSplit {
        #[cfg(target_os = "linux")]
        let sets = linux::Sets::new(cores);
        #[cfg(target_os = "linux")]
        if let Some(sets) = &sets {
            tracing::debug!(hashing = ?sets.hashing_cpus(), "password hashing keeps cores of its own while it runs");
        }
        #[cfg(not(target_os = "linux"))]
        let _ = cores;
        CoreSplit {
            #[cfg(target_os = "linux")]
            sets,
            hashing: AtomicUsize::new(0),
        }
    }

    /// A split that moves nothing.
    pub fn off() -> CoreSplit {
        CoreSplit::new(0)
    }

    /// Whether this split moves threads at all.
    pub fn is_on(&self) -> bool {
        #[cfg(target_os = "linux")]
        return self.sets.is_some();
        #[cfg(not(target_os = "linux"))]
        return false;
    }

    /// On a serving thread: runs it on the cores hashing leaves free while a hash runs, on
    /// every core otherwise.
    pub fn follow(&self) {
        #[cfg(target_os = "linux")]
        if let Some(sets) = &self.sets {
            sets.follow(self.hashing_now());
        }
    }

    /// On a hashing thread taking work after it idled: keeps it on the hashing cores, and
    /// sends serving threads off them until [`CoreSplit::hashing_stopped`].
    pub fn hashing_started(&self) {
        #[cfg(target_os = "linux")]
        if let Some(sets) = &self.sets {
            sets.keep_to_hashing();
        }
        self.hashing.fetch_add(1, Ordering::AcqRel);
    }

    /// On a hashing thread that found no more work.
    pub fn hashing_stopped(&self) {
        let _ = self
            .hashing
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// Whether a hash is running now.
    pub fn hashing_now(&self) -> bool {
        self.hashing.load(Ordering::Acquire) > 0
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::cell::Cell;

    use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
    use nix::unistd::Pid;

    /// Which cores, as affinity masks.
    pub(super) struct Sets {
        /// Every core the process may use (the starting thread's mask).
        all: CpuSet,
        /// `all` without the hashing cores.
        serving: CpuSet,
        /// The last `cores` of `all`.
        hashing: CpuSet,
    }

    /// What this thread last set: nothing yet, every core, or the serving cores.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Placed {
        Unset,
        All,
        Serving,
        Hashing,
    }

    thread_local! {
        static PLACED: Cell<Placed> = const { Cell::new(Placed::Unset) };
    }

    /// The calling thread.
    fn this_thread() -> Pid {
        Pid::from_raw(0)
    }

    impl Sets {
        pub(super) fn new(cores: usize) -> Option<Sets> {
            if cores == 0 {
                return None;
            }
            let all = sched_getaffinity(this_thread()).ok()?;
            let cpus: Vec<usize> = (0..CpuSet::count())
                .filter(|&cpu| all.is_set(cpu).unwrap_or(false))
                .collect();
            if cpus.len() <= cores {
                return None;
            }
            let (serving_cpus, hashing_cpus) = cpus.split_at(cpus.len() - cores);
            let mut serving = CpuSet::new();
            for &cpu in serving_cpus {
                serving.set(cpu).ok()?;
            }
            let mut hashing = CpuSet::new();
            for &cpu in hashing_cpus {
                hashing.set(cpu).ok()?;
            }
            Some(Sets {
                all,
                serving,
                hashing,
            })
        }

        pub(super) fn hashing_cpus(&self) -> Vec<usize> {
            (0..CpuSet::count())
                .filter(|&cpu| self.hashing.is_set(cpu).unwrap_or(false))
                .collect()
        }

        pub(super) fn follow(&self, hashing_now: bool) {
            let want = if hashing_now {
                Placed::Serving
            } else {
                Placed::All
            };
            self.place(want);
        }

        pub(super) fn keep_to_hashing(&self) {
            self.place(Placed::Hashing);
        }

        fn place(&self, want: Placed) {
            if PLACED.get() == want {
                return;
            }
            let set = match want {
                Placed::Serving => &self.serving,
                Placed::Hashing => &self.hashing,
                Placed::All | Placed::Unset => &self.all,
            };
            // A failure (a container that forbids it, say) leaves the thread where it was; it
            // is tried again at the next change.
            if sched_setaffinity(this_thread(), set).is_ok() {
                PLACED.set(want);
            }
        }
    }
}

#[cfg(test)]
#[cfg(target_os = "linux")]
mod tests {
    use super::*;
    use nix::sched::{CpuSet, sched_getaffinity};
    use nix::unistd::Pid;

    fn my_cpus() -> Vec<usize> {
        let set = sched_getaffinity(Pid::from_raw(0)).unwrap();
        (0..CpuSet::count())
            .filter(|&cpu| set.is_set(cpu).unwrap())
            .collect()
    }

    #[test]
    fn serving_threads_leave_the_hashing_cores_only_while_a_hash_runs() {
        let all = my_cpus();
        if all.len() < 2 {
            eprintln!("one core: nothing to split");
            assert!(!CoreSplit::new(1).is_on());
            return;
        }
        let split = std::sync::Arc::new(CoreSplit::new(1));
        assert!(split.is_on());
        let last = *all.last().unwrap();
        // A hashing thread that works until told to stop.
        let (stop, stopping) = std::sync::mpsc::channel::<()>();
        let (report, reports) = std::sync::mpsc::channel::<Vec<usize>>();
        let hashing = std::sync::Arc::clone(&split);
        let hasher = std::thread::spawn(move || {
            hashing.hashing_started();
            report.send(my_cpus()).unwrap();
            stopping.recv().unwrap();
            hashing.hashing_stopped();
        });
        assert_eq!(
            reports.recv().unwrap(),
            vec![last],
            "the hash keeps its core"
        );
        // A serving thread, looking before each piece of work.
        let (next, nexts) = std::sync::mpsc::channel::<()>();
        let (placed, placements) = std::sync::mpsc::channel::<Vec<usize>>();
        let serving = std::sync::Arc::clone(&split);
        let server = std::thread::spawn(move || {
            while nexts.recv().is_ok() {
                serving.follow();
                placed.send(my_cpus()).unwrap();
            }
        });
        next.send(()).unwrap();
        assert_eq!(
            placements.recv().unwrap(),
            all[..all.len() - 1],
            "requests leave it while it hashes"
        );
        stop.send(()).unwrap();
        hasher.join().unwrap();
        assert!(!split.hashing_now());
        next.send(()).unwrap();
        assert_eq!(placements.recv().unwrap(), all, "and have every core after");
        drop(next);
        server.join().unwrap();
    }

    #[test]
    fn a_split_that_would_leave_requests_no_core_moves_nothing() {
        let all = my_cpus();
        let split = CoreSplit::new(all.len());
        assert!(!split.is_on());
        split.hashing_started();
        split.follow();
        assert_eq!(my_cpus(), all);
        split.hashing_stopped();
        assert!(!CoreSplit::off().is_on());
    }
}
