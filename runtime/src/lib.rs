//! Keel's runtime: one event loop per core, each with its own executor, timers and
//! sockets, and nothing shared on the hot path.
//!
//! # The threads Keel starts
//!
//! | thread | how many | job |
//! |---|---|---|
//! | `keel-loop-N` | [`Builder::loops`] (default: the container's CPU quota, else the cores) | one `epoll` instance, a run queue, a timer wheel, its own listeners; pinned to a CPU |
//! | `keel-signal` | one, on first use of [`signal`] | turns Unix signals into wakes |
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
//! a task is caught, logged with the task's name, and reported through its
//! [`JoinHandle`]; the loop lives on.
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

mod block_on;
pub mod blocking;
mod builder;
mod cgroup;
#[cfg(feature = "tokio-io")]
mod compat;
mod context;
pub mod env;
mod error;
mod event_loop;
mod executor;
pub mod fs;
mod handle;
pub mod heap;
pub mod histogram;
mod jobs;
mod loom;
pub mod metrics;
pub mod net;
mod oneshot;
mod park_thread;
pub mod process;
mod report;
mod runtime;
pub mod signal;
mod sys;
#[cfg(all(test, loom))]
mod tests;
pub mod time;
mod watchdog;
pub mod workers;

pub use block_on::block_on;
pub use builder::{Builder, DEFAULT_EVENT_INTERVAL, DEFAULT_WATCHDOG_THRESHOLD, MAX_LOOPS};
pub use error::BuildError;
pub use executor::{JoinError, JoinHandle, spawn, spawn_local};
pub use handle::Handle;
pub use runtime::{LoopContext, Runtime};

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
    context::with_core(|core| core.shared.index)
}
