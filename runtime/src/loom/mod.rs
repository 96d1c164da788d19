//! The synchronisation types of Keel's cross-thread protocols, in one place so a loom
//! model can swap them (tokio's `src/loom` pattern, STYLE.md habit 23).
//!
//! A file whose protocol is model-checked takes its atomics, `fence`, `Mutex` and
//! lock-free queue from here instead of from `std`, `parking_lot` or `crossbeam_queue`.
//! In every normal build these are plain re-exports of those crates' types, so the shim
//! costs nothing; it re-exports only what such files use (add to both sides as more
//! protocols come under a model). Under `cfg(all(test, loom))` they are loom's
//! instrumented types (`mocked.rs`), and the models in `src/tests/` run the real protocol
//! code under loom's exhaustive scheduler:
//!
//! ```text
//! RUSTFLAGS="--cfg loom -C debug_assertions" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test -p keel-runtime --lib --release loom_
//! ```

#[cfg(all(test, loom))]
mod mocked;

#[cfg(all(test, loom))]
pub(crate) use self::mocked::{SegQueue, sync};

#[cfg(not(all(test, loom)))]
pub(crate) use crossbeam_queue::SegQueue;

/// `std::sync` and `parking_lot` outside loom.
#[cfg(not(all(test, loom)))]
pub(crate) mod sync {
    pub(crate) use parking_lot::Mutex;

    /// `std::sync::atomic`.
    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
    }
}
