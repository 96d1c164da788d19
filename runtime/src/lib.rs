//! Keel's runtime: one event loop per core, each with its own executor, timers and
//! sockets, and nothing shared on the hot path.
//!
//! # The threads Keel starts
//!
//! | thread | how many | job |
//! |---|---|---|
//! | `keel-loop-N` | [`Builder::loops`] (default: the container's CPU quota, else the cores) | one `epoll` instance, a run queue, a timer wheel, its own listeners; pinned to a CPU |
//! | `keel-signal` | one, on first use of [`signal`] | turns Unix signals into wakes |
//! | `keel-log` | one per [`log::init`] (or [`log::layer`]) | writes log lines from a bounded buffer, so no loop blocks on stdout |
//! | `keel-tokio-N` | [`Builder::tokio_threads`] (default 1; `KEEL_TOKIO_THREADS=0`: none) | the tokio bridge: drives the reactor and timers of tokio-based crates awaited on the loops, and runs [`tokio::spawn`]ed work |
//! | `keel-trace` | one, once [`trace::install`] ran (OTLP tracing on) | exports finished spans in batches from a bounded queue |
//!
//! # A loop's turn
//!
//! Run up to [`Builder::event_interval`] queued tasks, take in what other threads handed
//! over (wakes, spawns), poll the OS for I/O (blocking only when idle, until the next
//! timer), fire due timers. See the `event_loop` module's docs for the full contract and
//! the cross-thread wake protocol.
//!
//! # Tasks
//!
//! [`spawn_local`] puts a `!Send` future on the current loop; [`spawn`] and
//! [`Handle::spawn_on`] put `Send` futures on any loop. A task never migrates. A panic in
//! a task is caught, logged with the task's name (by the [`panic`](mod@panic) hook), and reported
//! through its [`JoinHandle`]; the loop lives on. A loop thread that dies outside a task
//! is restarted, or the process exits with status 1, per [`LoopFailure`].
//!
//! ```
//! use keel_runtime::Runtime;
//!
//! let rt = Runtime::builder().loops(2).build().unwrap();
//! rt.run(|ctx| async move {
//!     // One instance per loop: bind, serve, own your state without locks.
//!     let listener = keel_runtime::net::TcpListener::bind("127.0.0.1:0").unwrap();
//!     let _ = (ctx.index(), listener.local_addr());
//! })
//! .unwrap();
//! ```
//!
//! # Shutdown
//!
//! [`Handle::shutdown`] (or dropping the [`Runtime`]) stops every loop after its current
//! tick; remaining tasks are dropped and their join handles report cancellation.

#![doc(test(attr(deny(warnings))))]

pub mod ascii;
mod block_on;
pub mod blocking;
mod builder;
mod cgroup;
#[cfg(feature = "tokio-io")]
mod compat;
mod current_loop;
pub mod env;
mod error;
mod event_loop;
mod executor;
pub mod fs;
pub mod future;
mod handle;
pub mod heap;
pub mod histogram;
mod jobs;
pub mod log;
mod loom;
pub mod metrics;
pub mod net;
mod panic_hook;
mod park_thread;
pub mod process;
mod report;
pub mod resilience;
mod runtime;
pub mod signal;
mod supervisor;
mod sys;
pub mod task_context;
#[cfg(all(test, loom))]
mod tests;
pub mod time;
mod tokio_bridge;
pub mod trace;
mod watchdog;
pub mod workers;

pub use block_on::block_on;
pub use builder::{Builder, DEFAULT_EVENT_INTERVAL, DEFAULT_WATCHDOG_THRESHOLD, MAX_LOOPS};
pub use error::BuildError;
pub use executor::{JoinError, JoinHandle, spawn, spawn_local};
pub use handle::Handle;
pub use runtime::{LoopContext, Runtime};
pub use supervisor::{LoopFailure, RESTART_BUDGET, RESTART_WINDOW};

/// Panics: Keel's process panic hook, which logs every panic through `tracing` with the
/// loop index, the task being polled (name and spawn location) and the request id, then
/// calls the hook set before it. A runtime installs it when built, unless
/// [`Builder::panic_hook(false)`](crate::Builder::panic_hook).
///
/// A panic inside a task is caught around the poll: the task's join handle reports it
/// and the loop goes on. A panic outside any task kills the loop thread, which the
/// supervisor restarts or turns into `exit(1)` (see [`LoopFailure`]).
pub mod panic {
    pub use crate::panic_hook::{hook_installed, set_request_id_fn};
}

/// The tokio bridge: a tokio runtime on `keel-tokio-N` threads (`KEEL_TOKIO_THREADS`,
/// [`Builder::tokio_threads`]) whose reactor and timers serve tokio-based crates
/// (reqwest, sqlx, redis-rs) awaited in Keel tasks, and [`spawn`](tokio::spawn) for
/// `Send` background work on it that carries the request context. See the
/// `tokio_bridge` module's docs and `docs/tokio.md`.
pub mod tokio {
    pub use crate::tokio_bridge::{
        BridgedTask, DEFAULT_TOKIO_THREADS, MAX_TOKIO_THREADS, drain, handle, in_flight, spawn,
    };
}

/// Tasks: spawning with options, joining, yielding.
pub mod task {
    pub use crate::executor::{Builder, JoinError, JoinHandle, spawn, spawn_local, yield_now};
}

/// The index of the loop running the calling code, or `None` outside a Keel loop.
///
/// # Examples
///
/// ```
/// assert_eq!(keel_runtime::current_loop(), None);
/// keel_runtime::block_on(async { assert_eq!(keel_runtime::current_loop(), Some(0)) });
/// ```
pub fn current_loop() -> Option<usize> {
    current_loop::with_core(|core| core.shared.index)
}

/// One snapshot of everything the runtime measures: every loop of the current runtime
/// (lag, timer lateness, utilization, tasks, polls, stalls, watchdog reports, heap per
/// loop), the process's heap, and the blocking and worker pools — the same as
/// [`Handle::current().metrics()`](Handle::metrics) on a loop.
///
/// Off a loop it reads the most recently started [`Runtime`] that is still running;
/// with none, the snapshot has no loops (the heap and pools are still filled in).
///
/// # Examples
///
/// ```
/// let rt = keel_runtime::Runtime::builder().loops(2).build().unwrap();
/// assert_eq!(keel_runtime::metrics().loops.len(), 2);
/// rt.block_on(async {
///     assert_eq!(keel_runtime::metrics().loops.len(), 2);
/// });
/// ```
pub fn metrics() -> metrics::RuntimeMetrics {
    metrics::current()
}
