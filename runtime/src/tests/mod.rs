//! loom models of the runtime's cross-thread protocols (STYLE.md habit 23), built only
//! with `--cfg loom`. Each model drives the real protocol code, with its atomics, locks
//! and threads taken from the [`loom`](crate::loom) shim, through every interleaving
//! loom allows:
//!
//! ```text
//! RUSTFLAGS="--cfg loom -C debug_assertions" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test -p keel-runtime --lib --release loom_
//! ```
//!
//! * `loom_wake.rs`: the event loop's mailbox (remote wake vs park, inject vs close);
//! * `loom_slots.rs`: the pools' queue bound (waiter vs release, waiter vs close);
//! * `loom_blocking.rs`: the blocking pool (submit vs shutdown, submit vs idle exit);
//! * `loom_workers.rs`: the worker pool (submit vs shutdown, the batch-steal wake).
//!
//! Where a model leaves part of its protocol out, its file's doc says what.

// loom checks its own invariants with debug assertions; without them a model can pass
// while exploring nonsense.
#[cfg(not(debug_assertions))]
compile_error!("loom models need `-C debug_assertions` (see the command above)");

mod loom_blocking;
mod loom_slots;
mod loom_wake;
mod loom_workers;
