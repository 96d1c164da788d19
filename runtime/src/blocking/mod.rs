//! The blocking pool: threads for calls that block — file system, `getaddrinfo`, a
//! library without async support — so no loop thread ever waits on a syscall.
//!
//! Node runs these on libuv's fixed pool (4 threads, unbounded queue); tokio gives one
//! unbounded pool. Keel's pool is **sized**, **bounded** and **measured**:
//!
//! * at most [`Builder::threads`] threads (`KEEL_BLOCKING_THREADS`, default 16), started
//!   lazily, exiting after [`Builder::keep_alive`] idle (default 10 s) down to
//!   [`Builder::min_threads`];
//! * a queue of at most [`Builder::queue_capacity`] jobs (default 10,000): beyond it
//!   [`spawn`] fails at once with [`JobError::is_queue_full`], and [`reserve`] waits
//!   for room instead;
//! * work [classes](Class) with caps on concurrent threads: [`Class::Dns`] gets half
//!   the pool by default, so slow lookups cannot starve the file system;
//! * [`metrics`](BlockingPool::metrics): threads, queue depth, job counts, queue-wait
//!   and run-time histograms, per class.
//!
//! # Parts
//!
//! `builder.rs` resolves settings; `pool.rs` owns the queues, threads and counters (its
//! module doc has the locking rules); `class.rs` the classes; `shutdown.rs` the shutdown
//! steps; `metrics.rs` the snapshot types. The queue's front end (taking a slot or
//! failing with `QueueFull`, [`reserve`]'s wait for room) is the one the worker pool uses
//! too (`jobs/reserve.rs`). Results go back to the awaiting task through the job's cell
//! (`jobs/cell.rs`), whose waker routes the wake to the task's own loop.
//!
//! # The process-wide pool
//!
//! [`spawn`], [`fs`](crate::fs) and [`lookup_host`](crate::net::lookup_host) share one
//! pool, created at first use from the environment ([`Builder::from_env`]). A bad
//! variable there is reported by every [`spawn`] (as [`JobError::is_config`], naming
//! the variable) — call [`init`] at startup to fail fast instead. To set sizes in code,
//! call [`Builder::install`] before first use.
//!
//! # Shutdown and the runtime
//!
//! The pool belongs to the process, not to a [`Runtime`](crate::Runtime): dropping a
//! runtime does **not** shut it down. Tasks dropped with their runtime drop their
//! handles, so their queued jobs are skipped and running ones finish with nobody
//! waiting; the pool stays usable by the next runtime or by [`block_on`](crate::block_on).
//! (Shutting the pool down with a runtime would break every later runtime in the
//! process, and a pool cannot be restarted.)
//!
//! Stopping it is one explicit, final call, [`shutdown`], made once at the end of the
//! process — in docs/design.md's shutdown sequence, in the *Hooks* step, after *Closing* has
//! drained the in-flight requests that might still await a job:
//!
//! ```
//! use std::time::Duration;
//!
//! // ... at the end of main, after the runtime has stopped:
//! if let Some(report) = keel_runtime::blocking::shutdown(Duration::from_secs(5)) {
//!     if !report.is_clean() {
//!         eprintln!("{report}");
//!     }
//! }
//! ```
//!
//! # Cancellation and panics
//!
//! Dropping a [`BlockingHandle`] before its job starts means the job never runs (it is
//! skipped when it reaches the front, and counted as cancelled). Once started, a job runs
//! to its end; dropping the handle only discards the result. A panicking job comes back
//! as [`JobError::is_panic`]; the thread lives on.
//!
//! ```
//! use keel_runtime::blocking;
//!
//! keel_runtime::block_on(async {
//!     let n = blocking::spawn(|| std::fs::read_dir(".").unwrap().count())
//!         .unwrap()
//!         .await
//!         .unwrap();
//!     assert!(n > 0);
//! });
//! ```

pub(crate) mod builder;
mod class;
mod metrics;
pub(crate) mod pool;
pub(crate) mod shutdown;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

pub use self::builder::{
    Builder, DEFAULT_KEEP_ALIVE, DEFAULT_QUEUE_CAPACITY, DEFAULT_SPIN, DEFAULT_THREADS,
    MAX_QUEUE_CAPACITY, MAX_SPIN, MAX_THREADS,
};
pub use self::class::Class;
pub use self::metrics::{BlockingMetrics, ClassMetrics};
use self::pool::{Inner, Job};
use crate::BuildError;
pub use crate::jobs::{ErrorKind, JobError, ShutdownReport};
use crate::jobs::{Global, HeldSlot, JobResult, ReserveSlot};

// ===== the process-wide pool =====

static GLOBAL: Global<BlockingPool> = Global::new();

/// Creates the process-wide pool from the environment if it does not exist yet, so a bad
/// `KEEL_BLOCKING_*` variable stops startup instead of failing the first job.
///
/// # Errors
///
/// A bad variable, named in the error ([`JobError::setting`]).
///
/// # Examples
///
/// ```
/// keel_runtime::blocking::init().unwrap();
/// ```
pub fn init() -> Result<(), JobError> {
    pool().map(drop)
}

/// A handle to the process-wide pool, created from the environment at first use.
///
/// # Errors
///
/// A bad `KEEL_BLOCKING_*` variable, named in the error.
///
/// # Examples
///
/// ```
/// let pool = keel_runtime::blocking::pool().unwrap();
/// assert!(pool.max_threads() >= 1);
/// ```
pub fn pool() -> Result<BlockingPool, JobError> {
    GLOBAL.get_or_start(|| Ok(BlockingPool::new(Builder::from_env()?.resolve()?)))
}

/// Makes a pool from `config` the process-wide one (see [`Builder::install`]).
fn install(config: builder::Config) -> Result<BlockingPool, BuildError> {
    GLOBAL.install(
        "blocking pool",
        "install() before the first use of blocking::spawn, fs or lookup_host",
        || BlockingPool::new(config),
    )
}

/// Runs `f` on the process-wide pool as a [`Class::User`] job.
///
/// # Errors
///
/// At once, without queueing: [`JobError::is_queue_full`] at the queue's bound,
/// [`JobError::is_shutdown`] after [`shutdown`], [`JobError::is_config`] when the
/// environment holds a bad setting. Awaiting the handle gives the job's panic as
/// [`JobError::is_panic`].
///
/// # Examples
///
/// ```
/// keel_runtime::block_on(async {
///     let len = keel_runtime::blocking::spawn(|| "blocking".len()).unwrap().await;
///     assert_eq!(len.unwrap(), 8);
/// });
/// ```
pub fn spawn<F, T>(f: F) -> Result<BlockingHandle<T>, JobError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    pool()?.spawn(f)
}

/// Runs `f` on the process-wide pool as a job of `class`.
///
/// # Errors
///
/// As [`spawn`].
///
/// # Examples
///
/// ```
/// use keel_runtime::blocking::{self, Class};
///
/// keel_runtime::block_on(async {
///     let handle = blocking::spawn_in(Class::Fs, || std::fs::metadata("/").is_ok()).unwrap();
///     assert!(handle.await.unwrap());
/// });
/// ```
pub fn spawn_in<F, T>(class: Class, f: F) -> Result<BlockingHandle<T>, JobError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    pool()?.spawn_in(class, f)
}

/// Waits for room in the process-wide pool's queue and holds it: the async alternative
/// to failing with `QueueFull`.
///
/// # Errors
///
/// [`JobError::is_shutdown`] when the pool shuts down first; [`JobError::is_config`]
/// for a bad setting.
///
/// # Examples
///
/// ```
/// use keel_runtime::blocking::{self, Class};
///
/// keel_runtime::block_on(async {
///     let permit = blocking::reserve(Class::User).await.unwrap();
///     assert_eq!(permit.spawn(|| 7).await.unwrap(), 7);
/// });
/// ```
pub async fn reserve(class: Class) -> Result<Permit, JobError> {
    pool()?.reserve(class).await
}

/// A snapshot of the process-wide pool, or `None` before its first use.
///
/// # Examples
///
/// ```
/// keel_runtime::blocking::init().unwrap();
/// assert!(keel_runtime::blocking::metrics().is_some());
/// ```
pub fn metrics() -> Option<BlockingMetrics> {
    GLOBAL.get().map(BlockingPool::metrics)
}

/// Shuts the process-wide pool down (see [`BlockingPool::shutdown`]); `None` when it was
/// never started. Final for the process: later jobs (and [`fs`](crate::fs) calls and
/// lookups) fail with [`JobError::is_shutdown`]. No [`Runtime`](crate::Runtime) calls
/// it; see [the module docs](self#shutdown-and-the-runtime) for where it belongs.
pub fn shutdown(timeout: Duration) -> Option<ShutdownReport> {
    GLOBAL.get().map(|pool| pool.shutdown(timeout))
}

// ===== impl BlockingPool =====

/// A blocking pool: a cheap, cloneable handle. The process-wide one is behind
/// [`pool()`]; [`Builder::build`] makes private ones (tests, isolation of a noisy
/// dependency).
///
/// When the last handle to a private pool is dropped, its queued and running jobs still
/// finish, and its idle threads exit at once.
///
/// # Examples
///
/// ```
/// use keel_runtime::blocking::Builder;
///
/// let pool = Builder::new().threads(2).build().unwrap();
/// keel_runtime::block_on(async {
///     let a = pool.spawn(|| 20).unwrap();
///     let b = pool.spawn(|| 22).unwrap();
///     assert_eq!(a.await.unwrap() + b.await.unwrap(), 42);
/// });
/// ```
#[derive(Clone)]
pub struct BlockingPool {
    owner: Arc<Owner>,
}

/// Held only by user handles: its drop tells the threads nobody can submit any more.
struct Owner(Arc<Inner>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl BlockingPool {
    fn new(config: builder::Config) -> BlockingPool {
        BlockingPool {
            owner: Arc::new(Owner(Arc::new(Inner::new(config)))),
        }
    }

    fn inner(&self) -> &Arc<Inner> {
        &self.owner.0
    }

    /// Runs `f` on this pool as a [`Class::User`] job.
    ///
    /// # Errors
    ///
    /// At once: [`JobError::is_queue_full`] at the queue's bound,
    /// [`JobError::is_shutdown`] after shutdown.
    pub fn spawn<F, T>(&self, f: F) -> Result<BlockingHandle<T>, JobError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_in(Class::User, f)
    }

    /// Runs `f` on this pool as a job of `class`.
    ///
    /// # Errors
    ///
    /// As [`spawn`](BlockingPool::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// use keel_runtime::blocking::{Builder, Class};
    ///
    /// let pool = Builder::new().threads(2).build().unwrap();
    /// keel_runtime::block_on(async {
    ///     let h = pool.spawn_in(Class::Dns, || "localhost".len()).unwrap();
    ///     assert_eq!(h.await.unwrap(), 9);
    /// });
    /// ```
    pub fn spawn_in<F, T>(&self, class: Class, f: F) -> Result<BlockingHandle<T>, JobError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (job, rx) = Job::new(class, f);
        self.inner().submit(job, false)?;
        Ok(BlockingHandle::new(rx))
    }

    /// Waits until the queue has room for one job of `class` and holds that room.
    ///
    /// Waiters are served in order. Dropping the future leaves the line; dropping the
    /// [`Permit`] unused gives the room back.
    ///
    /// # Examples
    ///
    /// ```
    /// use keel_runtime::blocking::{Builder, Class};
    ///
    /// let pool = Builder::new().threads(1).queue_capacity(1).build().unwrap();
    /// keel_runtime::block_on(async {
    ///     let permit = pool.reserve(Class::User).await.unwrap();
    ///     // The one slot is held: spawn would fail now.
    ///     assert!(pool.spawn(|| ()).unwrap_err().is_queue_full());
    ///     permit.spawn(|| ()).await.unwrap();
    /// });
    /// ```
    pub fn reserve(&self, class: Class) -> Reserve {
        Reserve {
            slot: ReserveSlot::new(self.inner().clone()),
            class,
        }
    }

    /// A snapshot of the pool's figures.
    pub fn metrics(&self) -> BlockingMetrics {
        self.inner().metrics()
    }

    /// The most threads the pool runs.
    pub fn max_threads(&self) -> usize {
        self.inner().config.threads
    }

    /// How long a thread that ran out of jobs keeps looking before it sleeps
    /// ([`Builder::spin`]).
    pub fn spin(&self) -> std::time::Duration {
        self.inner().config.spin
    }

    /// The cap on concurrent threads for `class`.
    pub fn class_cap(&self, class: Class) -> usize {
        self.inner().config.caps[class.index()]
    }

    /// Stops taking jobs, cancels the queued ones (their handles report
    /// [`JobError::is_shutdown`]), waits up to `timeout` for the running ones, and
    /// reports what was left. Running jobs past the deadline are left to finish on their
    /// threads.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use keel_runtime::blocking::Builder;
    ///
    /// let pool = Builder::new().threads(1).build().unwrap();
    /// let report = pool.shutdown(Duration::from_millis(100));
    /// assert!(report.is_clean());
    /// assert!(pool.spawn(|| ()).unwrap_err().is_shutdown());
    /// ```
    pub fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        shutdown::shutdown(self.inner(), timeout)
    }
}

impl fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingPool")
            .field("config", &self.inner().config)
            .finish_non_exhaustive()
    }
}

// ===== impl BlockingHandle =====

/// The future of a blocking job's result: `Ok(value)`, or a [`JobError`] when the job
/// panicked or the pool shut down before it ran.
///
/// Dropping it before the job starts cancels the job.
///
/// # Examples
///
/// ```
/// keel_runtime::block_on(async {
///     let handle = keel_runtime::blocking::spawn(|| 6 * 7).unwrap();
///     assert_eq!(handle.await.unwrap(), 42);
/// });
/// ```
#[must_use = "dropping the handle before the job starts cancels the job"]
pub struct BlockingHandle<T> {
    result: JobResult<T>,
}

impl<T> BlockingHandle<T> {
    fn new(result: JobResult<T>) -> BlockingHandle<T> {
        BlockingHandle { result }
    }

    /// Whether the result is there (awaiting would not wait).
    pub fn is_finished(&self) -> bool {
        self.result.is_finished()
    }
}

impl<T> Future for BlockingHandle<T> {
    type Output = Result<T, JobError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.result).poll(cx)
    }
}

impl<T> fmt::Debug for BlockingHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

// ===== impl Reserve / Permit =====

/// The future of [`BlockingPool::reserve`]: waits for room in the queue.
#[must_use = "futures do nothing unless awaited"]
pub struct Reserve {
    slot: ReserveSlot<Inner>,
    class: Class,
}

impl Future for Reserve {
    type Output = Result<Permit, JobError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let class = self.class;
        Pin::new(&mut self.slot)
            .poll(cx)
            .map_ok(|slot| Permit { slot, class })
    }
}

impl fmt::Debug for Reserve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reserve")
            .field("class", &self.class)
            .finish_non_exhaustive()
    }
}

/// Room for one job in a blocking pool's queue, from [`reserve`] or
/// [`BlockingPool::reserve`]. Dropping it unused gives the room back.
pub struct Permit {
    slot: HeldSlot<Inner>,
    class: Class,
}

impl Permit {
    /// Runs `f` in the held room; never fails with `QueueFull`. When the pool shut down
    /// in the meantime, the handle reports [`JobError::is_shutdown`].
    ///
    /// # Examples
    ///
    /// ```
    /// use keel_runtime::blocking::{self, Class};
    ///
    /// keel_runtime::block_on(async {
    ///     let permit = blocking::reserve(Class::Fs).await.unwrap();
    ///     let exists = permit.spawn(|| std::path::Path::new("/").exists());
    ///     assert!(exists.await.unwrap());
    /// });
    /// ```
    pub fn spawn<F, T>(self, f: F) -> BlockingHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (job, rx) = Job::new(self.class, f);
        // On shutdown the job is dropped, which the handle reads as "shut down".
        let _ = self.slot.into_queue().submit(job, true);
        BlockingHandle::new(rx)
    }

    /// The class this room was reserved for.
    pub fn class(&self) -> Class {
        self.class
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("class", &self.class)
            .finish_non_exhaustive()
    }
}
