//! The synchronisation types of Keel's cross-thread protocols, in one place so a loom
//! model can swap them (tokio's `src/loom` pattern, STYLE.md habit 23).
//!
//! A file whose protocol is model-checked takes its atomics, `fence`, `Mutex`,
//! `Condvar`, threads, thread-locals, lock-free queues and work-stealing deques from here
//! instead of from `std`, `parking_lot`, `crossbeam_queue`, `crossbeam_deque` or
//! `crossbeam_utils`. In every normal build these are plain re-exports of those crates'
//! types, so the shim costs nothing; it re-exports only what such files use (add to both
//! sides as more protocols come under a model). Under `cfg(all(test, loom))` they are
//! loom's instrumented types or models built on them (`mocked.rs`), and the models in
//! `src/tests/` run the real protocol code under loom's exhaustive scheduler:
//!
//! ```text
//! RUSTFLAGS="--cfg loom -C debug_assertions" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test -p keel-runtime --lib --release loom_
//! ```
//!
//! Files on the shim: `event_loop/mailbox.rs`, `jobs/slots.rs`, `blocking/pool.rs` (and
//! `blocking/shutdown.rs` through it), `workers/pool.rs`.

#[cfg(all(test, loom))]
mod mocked;

#[cfg(all(test, loom))]
pub(crate) use self::mocked::{Backoff, SegQueue, deque, sync, thread, thread_local};

#[cfg(not(all(test, loom)))]
pub(crate) use crossbeam_queue::SegQueue;
#[cfg(not(all(test, loom)))]
pub(crate) use crossbeam_utils::Backoff;
#[cfg(not(all(test, loom)))]
pub(crate) use std::{thread, thread_local};

/// `std::sync` and `parking_lot` outside loom.
#[cfg(not(all(test, loom)))]
pub(crate) mod sync {
    pub(crate) use parking_lot::{Condvar, Mutex, MutexGuard};

    /// `std::sync::atomic`.
    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
    }
}

/// `crossbeam_deque` outside loom.
#[cfg(not(all(test, loom)))]
pub(crate) mod deque {
    pub(crate) use crossbeam_deque::{Injector, Steal, Stealer, Worker};
}
