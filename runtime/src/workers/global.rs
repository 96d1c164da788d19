//! The process-wide worker pool: created at first use from the environment (or by
//! [`Builder::install`]), and the free functions that submit to it ([`spawn`],
//! [`run_all`], [`reserve`], …), read it ([`metrics`]) and stop it ([`shutdown`]).

use std::time::{Duration, Instant};

use super::builder::{self, Builder};
use super::{Permit, WorkerHandle, WorkerMetrics, WorkerPool};
use crate::BuildError;
use crate::jobs::{Global, JobError, ShutdownReport};

static GLOBAL: Global<WorkerPool> = Global::new();

/// Creates the process-wide pool from the environment if it does not exist yet, so a bad
/// `KEEL_WORKER_*` variable stops startup instead of failing the first job.
///
/// # Errors
///
/// A bad variable, named in the error ([`JobError::setting`]).
///
/// # Examples
///
/// ```
/// keel_runtime::workers::init().unwrap();
/// ```
pub fn init() -> Result<(), JobError> {
    pool().map(drop)
}

/// A handle to the process-wide pool, created from the environment at first use.
///
/// # Errors
///
/// A bad `KEEL_WORKER_*` variable, named in the error.
///
/// # Examples
///
/// ```
/// let pool = keel_runtime::workers::pool().unwrap();
/// assert!(pool.threads() >= 1);
/// ```
pub fn pool() -> Result<WorkerPool, JobError> {
    GLOBAL.get_or_start(|| Ok(WorkerPool::start(Builder::from_env()?.resolve()?)))
}

/// Makes a pool from `config` the process-wide one (see [`Builder::install`]).
pub(super) fn install(config: builder::Config) -> Result<WorkerPool, BuildError> {
    GLOBAL.install(
        "worker pool",
        "install() before the first use of workers::spawn",
        || WorkerPool::start(config),
    )
}

/// Runs the CPU-bound closure `f` on the process-wide worker pool.
///
/// # Errors
///
/// At once: [`JobError::is_queue_full`] at the queue's bound,
/// [`JobError::is_shutdown`] after [`shutdown`], [`JobError::is_config`] for a bad
/// setting. Awaiting the handle gives a panic as [`JobError::is_panic`].
///
/// # Examples
///
/// ```
/// keel_runtime::block_on(async {
///     let h = keel_runtime::workers::spawn(|| "piscina".len()).unwrap();
///     assert_eq!(h.await.unwrap(), 7);
/// });
/// ```
pub fn spawn<F, T>(f: F) -> Result<WorkerHandle<T>, JobError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    pool()?.spawn(f)
}

/// Runs `f` on the process-wide pool, failing it with [`JobError::is_timed_out`] if it
/// has not started by `deadline`.
///
/// # Errors
///
/// As [`spawn`].
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// keel_runtime::block_on(async {
///     let deadline = Instant::now() + Duration::from_secs(5);
///     let h = keel_runtime::workers::spawn_with_deadline(deadline, || 1).unwrap();
///     assert_eq!(h.await.unwrap(), 1);
/// });
/// ```
pub fn spawn_with_deadline<F, T>(deadline: Instant, f: F) -> Result<WorkerHandle<T>, JobError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    pool()?.spawn_with_deadline(deadline, f)
}

/// Runs every closure of `jobs` on the process-wide pool (waiting for room in the queue
/// as needed) and returns their results in input order.
///
/// # Errors
///
/// The first failure in input order (a panic, shutdown, a bad setting); the jobs not yet
/// started are then cancelled.
///
/// # Examples
///
/// ```
/// keel_runtime::block_on(async {
///     let squares = keel_runtime::workers::run_all((0..10u64).map(|i| move || i * i))
///         .await
///         .unwrap();
///     assert_eq!(squares, (0..10).map(|i| i * i).collect::<Vec<_>>());
/// });
/// ```
pub async fn run_all<I, F, T>(jobs: I) -> Result<Vec<T>, JobError>
where
    I: IntoIterator<Item = F>,
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let jobs: Vec<F> = jobs.into_iter().collect();
    pool()?.run_all(jobs).await
}

/// [`run_all`] with a start deadline for every job: a job not started by `deadline`
/// fails with [`JobError::is_timed_out`], and so does the whole call when the queue has
/// no room for a job by then.
///
/// # Errors
///
/// As [`run_all`], plus [`JobError::is_timed_out`].
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// keel_runtime::block_on(async {
///     let deadline = Instant::now() + Duration::from_secs(10);
///     let jobs = (1..=3u32).map(|i| move || i * 2);
///     let out = keel_runtime::workers::run_all_with_deadline(deadline, jobs).await.unwrap();
///     assert_eq!(out, [2, 4, 6]);
/// });
/// ```
pub async fn run_all_with_deadline<I, F, T>(deadline: Instant, jobs: I) -> Result<Vec<T>, JobError>
where
    I: IntoIterator<Item = F>,
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let jobs: Vec<F> = jobs.into_iter().collect();
    pool()?.run_all_with_deadline(deadline, jobs).await
}

/// Waits for room in the process-wide pool's queue and holds it.
///
/// # Errors
///
/// [`JobError::is_shutdown`] when the pool shuts down first; a bad setting.
///
/// # Examples
///
/// ```
/// keel_runtime::block_on(async {
///     let permit = keel_runtime::workers::reserve().await.unwrap();
///     assert_eq!(permit.spawn(|| 3).await.unwrap(), 3);
/// });
/// ```
pub async fn reserve() -> Result<Permit, JobError> {
    pool()?.reserve().await
}

/// A snapshot of the process-wide pool, or `None` before its first use.
///
/// # Examples
///
/// ```
/// keel_runtime::workers::init().unwrap();
/// assert!(keel_runtime::workers::metrics().unwrap().threads >= 1);
/// ```
pub fn metrics() -> Option<WorkerMetrics> {
    GLOBAL.get().map(WorkerPool::metrics)
}

/// Shuts the process-wide pool down (see [`WorkerPool::shutdown`]); `None` when it was
/// never started. Final for the process: later jobs fail with [`JobError::is_shutdown`].
/// No [`Runtime`](crate::Runtime) calls it; see
/// [the module docs](super#shutdown-and-the-runtime).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// // ... at the end of main, after the runtime has stopped:
/// if let Some(report) = keel_runtime::workers::shutdown(Duration::from_secs(5)) {
///     assert!(report.is_clean(), "{report}");
/// }
/// ```
pub fn shutdown(timeout: Duration) -> Option<ShutdownReport> {
    GLOBAL.get().map(|pool| pool.shutdown(timeout))
}
