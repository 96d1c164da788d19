//! loom models of the runtime's cross-thread protocols (STYLE.md habit 23), built only
//! with `--cfg loom`. Each model drives the real protocol code, with its atomics taken
//! from the [`loom`](crate::loom) shim, through every interleaving loom allows:
//!
//! ```text
//! RUSTFLAGS="--cfg loom -C debug_assertions" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test -p keel-runtime --lib --release loom_
//! ```

// loom checks its own invariants with debug assertions; without them a model can pass
// while exploring nonsense.
#[cfg(not(debug_assertions))]
compile_error!("loom models need `-C debug_assertions` (see the command above)");

mod loom_blocking;
mod loom_slots;
mod loom_wake;
mod loom_workers;
