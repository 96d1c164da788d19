//! The tokio bridge: a multi-thread tokio runtime owned by a Keel [`Runtime`](crate::Runtime)
//! (`KEEL_TOKIO_THREADS` threads named `keel-tokio-N`, default one), whose I/O driver and
//! timers serve the tokio-based crates a handler awaits (reqwest, sqlx, redis-rs, the AWS
//! SDK). [`spawn`] (`spawn.rs`) puts `Send` background work on it with the request
//! context; `tracked.rs` keeps what such work is still running, for the shutdown drain.
//!
//! # How a bridged call runs
//!
//! Every loop thread enters the bridge's runtime context for its whole life
//! ([`tokio::runtime::Handle::enter`], as async-compat does around each poll). That
//! only makes the bridge's handle current: a `tokio::net::TcpStream` created on a loop
//! registers with the bridge's reactor, a `tokio::time::sleep` with its timer wheel, and
//! `tokio::spawn` queues its task on the bridge's workers. Tokio's scheduler never runs on
//! a loop. When the reactor (on a `keel-tokio-N` thread) sees the socket ready, it wakes
//! the waker it was given: the Keel task's, which pushes the task onto its loop's inject
//! queue, as any cross-thread wake does. Keel's own sockets are Keel's (`mio` on the
//! loop's epoll) and never touch the bridge.
//!
//! `KEEL_TOKIO_THREADS=0` starts no bridge; a tokio-based crate then panics with tokio's
//! "there is no reactor running" (a 500 in a handler).

mod spawn;
mod tracked;

pub use self::spawn::spawn;
pub use self::tracked::{BridgedTask, drain, in_flight};

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::error::BuildError;

/// The most bridge threads a runtime may run.
pub const MAX_TOKIO_THREADS: usize = 1024;

/// Bridge threads, by default: one is enough to drive the reactor and timers for the
/// clients a service awaits; the work itself (parsing, handlers) stays on the loops.
pub const DEFAULT_TOKIO_THREADS: usize = 1;

/// How long dropping a runtime waits for the bridge's threads (its workers and any
/// `spawn_blocking` job still running) once the loops are gone.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// The bridges of the runtimes still running, in start order, for [`spawn`] off a loop
/// (a blocking-pool job, a plain thread), which takes the last. Tagged with the
/// bridge's number so a dropped runtime removes only its own.
static RUNNING: Mutex<Vec<(usize, tokio::runtime::Handle)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// A running bridge; dropping it shuts the tokio runtime down.
#[derive(Debug)]
pub(crate) struct Bridge {
    id: usize,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Bridge {
    /// Starts `threads` tokio workers named `{thread_name}-N`.
    pub(crate) fn start(threads: usize, thread_name: &str) -> Result<Bridge, BuildError> {
        let name = thread_name.to_owned();
        let counter = std::sync::Arc::new(AtomicUsize::new(0));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name_fn(move || format!("{name}-{}", counter.fetch_add(1, Ordering::Relaxed)))
            .enable_all()
            .build()
            .map_err(|e| BuildError::io("start the tokio bridge", e))?;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        running().push((id, runtime.handle().clone()));
        Ok(Bridge {
            id,
            runtime: Some(runtime),
        })
    }

    /// The handle each loop thread enters for its whole life.
    pub(crate) fn handle(&self) -> tokio::runtime::Handle {
        self.runtime
            .as_ref()
            .expect("the bridge runs until dropped")
            .handle()
            .clone()
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        running().retain(|(id, _)| *id != self.id);
        if let Some(runtime) = self.runtime.take() {
            // Tasks still on the bridge are dropped at their next poll; the wait bounds
            // a `spawn_blocking` job that would otherwise hold the drop forever.
            runtime.shutdown_timeout(SHUTDOWN_WAIT);
        }
    }
}

/// The bridge's handle as seen from this thread: the entered one on a loop (and on the
/// bridge's own threads), else that of the most recently started runtime still running.
pub fn handle() -> Option<tokio::runtime::Handle> {
    tokio::runtime::Handle::try_current()
        .ok()
        .or_else(|| running().last().map(|(_, handle)| handle.clone()))
}

fn running() -> std::sync::MutexGuard<'static, Vec<(usize, tokio::runtime::Handle)>> {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// `KEEL_TOKIO_THREADS`: a whole number from 0 (no bridge) to [`MAX_TOKIO_THREADS`].
pub(crate) fn parse_threads(name: &str, value: &str) -> Result<usize, crate::env::EnvError> {
    match value.trim().parse::<usize>() {
        Ok(n) if n <= MAX_TOKIO_THREADS => Ok(n),
        _ => Err(crate::env::EnvError::new(
            name,
            value,
            format!("a whole number of tokio bridge threads from 0 (off) to {MAX_TOKIO_THREADS}"),
        )),
    }
}
