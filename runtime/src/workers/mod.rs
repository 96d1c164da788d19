//! The CPU worker pool — Keel's answer to Node's worker_threads and piscina: CPU-bound
//! closures run on dedicated threads, never on a loop thread, and the awaiting task is
//! woken on its own loop when the result is ready.
//!
//! * Size: [`Builder::threads`] (`KEEL_WORKER_THREADS`, default cores − 1, at least 1),
//!   all started when the pool is created. Not pinned unless asked
//!   ([`Builder::pin_cpus`], `KEEL_WORKER_CPUS`).
//! * Work stealing with crossbeam-deque: a global injector plus one deque per worker;
//!   jobs submitted from inside a job stay on that worker's deque (see `pool.rs`).
//! * A bounded queue: [`run`] fails at once with [`PoolError::is_queue_full`];
//!   [`reserve`] waits for room; [`run_all`] always waits for room.
//! * Per job: dropping the [`WorkerHandle`] before the job starts skips it; a start
//!   deadline ([`run_with_deadline`], [`run_all_with_deadline`],
//!   [`Permit::run_with_deadline`]) fails it with [`PoolError::is_timed_out`]; a panic
//!   comes back as [`PoolError::is_panic`] and the worker lives on.
//! * [`metrics`](WorkerPool::metrics): threads, queue depth, job counts, queue-wait and
//!   run-time histograms.
//!
//! # The process-wide pool
//!
//! [`run`] and friends use one pool created at first use from the environment
//! ([`Builder::from_env`]). A bad variable is reported by every [`run`] as
//! [`PoolError::is_config`] naming it; call [`init`] at startup to fail fast instead, or
//! [`Builder::install`] to set sizes in code.
//!
//! ```
//! use keel_runtime::workers;
//!
//! keel_runtime::block_on(async {
//!     let sum = workers::run(|| (1..=1000u64).sum::<u64>()).unwrap().await.unwrap();
//!     assert_eq!(sum, 500_500);
//! });
//! ```
//!
//! # Fan-out: `run_all`, and why there is no borrowing scope
//!
//! [`run_all`] (and [`run_all_with_deadline`]) is the fan-out form: it takes any number
//! of `'static` closures, queues them as room comes, and gives the results back in input
//! order; the first failure in input order wins and the jobs not yet started are
//! cancelled. Large inputs are shared by moving an `Arc` (an `Arc<[u8]>` and a range per
//! job), not by borrowing.
//!
//! A scope whose jobs *borrow* the caller's data is deliberately not offered:
//!
//! * An **async** scope (`scope(|s| async { s.spawn(|| &data[..]) }).await`) is unsound
//!   in safe Rust — the scoped-task trilemma: the future holding the borrow can be
//!   dropped half-way or `mem::forget`-ten while workers still read the data, and its
//!   `Drop` cannot wait for them without blocking the loop (nor runs at all when
//!   forgotten). Concurrency, parallelism and borrowing: an API can have only two.
//! * A **blocking** scope (like `std::thread::scope` or `rayon::scope`) is sound, but it
//!   parks the calling thread until every job ends: on a loop thread that stalls every
//!   task of the loop, and on a worker thread it deadlocks unless the waiting worker runs
//!   queued jobs itself. Code already off the loops can use `std::thread::scope` or rayon
//!   directly; on a loop, `run_all` with owned or `Arc`-shared inputs is the answer.
//!
//! # Shutdown and the runtime
//!
//! Like the [blocking pool](crate::blocking#shutdown-and-the-runtime), the process-wide
//! worker pool outlives any [`Runtime`](crate::Runtime): dropping a runtime does not shut
//! it down (tasks dropped with it drop their handles, so their queued jobs are skipped),
//! and the next runtime keeps using it. [`shutdown`] is the one explicit, final call, made
//! at the end of the process (DESIGN.md's *Hooks* step).

pub(crate) mod builder;
mod metrics;
pub(crate) mod pool;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub use self::builder::{
    Builder, DEFAULT_QUEUE_CAPACITY, DEFAULT_SPIN, MAX_QUEUE_CAPACITY, MAX_SPIN, MAX_THREADS,
    default_threads,
};
pub use self::metrics::WorkerMetrics;
use self::pool::{EXPIRED, Inner, Job, JobDeadline, POOL, QUEUED};
use crate::BuildError;
pub use crate::jobs::{ErrorKind, PoolError, ShutdownReport};
use crate::jobs::{Global, JobResult, WaiterId};
use crate::time::Sleep;

// ===== the process-wide pool =====

static GLOBAL: Global<WorkerPool> = Global::new();

/// Creates the process-wide pool from the environment if it does not exist yet, so a bad
/// `KEEL_WORKER_*` variable stops startup instead of failing the first job.
///
/// # Errors
///
/// A bad variable, named in the error ([`PoolError::setting`]).
///
/// # Examples
///
/// ```
/// keel_runtime::workers::init().unwrap();
/// ```
pub fn init() -> Result<(), PoolError> {
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
pub fn pool() -> Result<WorkerPool, PoolError> {
    GLOBAL.get_or_start(|| Ok(WorkerPool::start(Builder::from_env()?.resolve()?)))
}

/// Makes a pool from `config` the process-wide one (see [`Builder::install`]).
fn install(config: builder::Config) -> Result<WorkerPool, BuildError> {
    GLOBAL.install(
        "worker pool",
        "install() before the first use of workers::run",
        || WorkerPool::start(config),
    )
}

/// Runs the CPU-bound closure `f` on the process-wide worker pool.
///
/// # Errors
///
/// At once: [`PoolError::is_queue_full`] at the queue's bound,
/// [`PoolError::is_shutdown`] after [`shutdown`], [`PoolError::is_config`] for a bad
/// setting. Awaiting the handle gives a panic as [`PoolError::is_panic`].
///
/// # Examples
///
/// ```
/// keel_runtime::block_on(async {
///     let h = keel_runtime::workers::run(|| "piscina".len()).unwrap();
///     assert_eq!(h.await.unwrap(), 7);
/// });
/// ```
pub fn run<F, T>(f: F) -> Result<WorkerHandle<T>, PoolError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    pool()?.run(f)
}

/// Runs `f` on the process-wide pool, failing it with [`PoolError::is_timed_out`] if it
/// has not started by `deadline`.
///
/// # Errors
///
/// As [`run`].
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// keel_runtime::block_on(async {
///     let deadline = Instant::now() + Duration::from_secs(5);
///     let h = keel_runtime::workers::run_with_deadline(deadline, || 1).unwrap();
///     assert_eq!(h.await.unwrap(), 1);
/// });
/// ```
pub fn run_with_deadline<F, T>(deadline: Instant, f: F) -> Result<WorkerHandle<T>, PoolError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    pool()?.run_with_deadline(deadline, f)
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
pub async fn run_all<I, F, T>(jobs: I) -> Result<Vec<T>, PoolError>
where
    I: IntoIterator<Item = F>,
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let jobs: Vec<F> = jobs.into_iter().collect();
    pool()?.run_all(jobs).await
}

/// [`run_all`] with a start deadline for every job: a job not started by `deadline`
/// fails with [`PoolError::is_timed_out`], and so does the whole call when the queue has
/// no room for a job by then.
///
/// # Errors
///
/// As [`run_all`], plus [`PoolError::is_timed_out`].
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
pub async fn run_all_with_deadline<I, F, T>(deadline: Instant, jobs: I) -> Result<Vec<T>, PoolError>
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
/// [`PoolError::is_shutdown`] when the pool shuts down first; a bad setting.
///
/// # Examples
///
/// ```
/// keel_runtime::block_on(async {
///     let permit = keel_runtime::workers::reserve().await.unwrap();
///     assert_eq!(permit.run(|| 3).await.unwrap(), 3);
/// });
/// ```
pub async fn reserve() -> Result<Permit, PoolError> {
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
/// never started. Final for the process: later jobs fail with [`PoolError::is_shutdown`].
/// No [`Runtime`](crate::Runtime) calls it; see
/// [the module docs](self#shutdown-and-the-runtime).
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

// ===== impl WorkerPool =====

/// A CPU worker pool: a cheap, cloneable handle. The process-wide one is behind
/// [`pool()`]; [`Builder::build`] makes private ones.
///
/// When the last handle to a private pool is dropped, queued jobs still run, then the
/// workers exit.
///
/// # Examples
///
/// ```
/// let pool = keel_runtime::workers::Builder::new().threads(2).build().unwrap();
/// keel_runtime::block_on(async {
///     let h = pool.run(|| (0..100u32).product::<u32>() == 0).unwrap();
///     assert!(h.await.unwrap());
/// });
/// ```
#[derive(Clone)]
pub struct WorkerPool {
    owner: Arc<Owner>,
}

/// Held by user handles and permits: its drop lets the workers go.
struct Owner(Arc<Inner>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl WorkerPool {
    fn start(config: builder::Config) -> WorkerPool {
        WorkerPool {
            owner: Arc::new(Owner(Inner::start(config))),
        }
    }

    fn inner(&self) -> &Arc<Inner> {
        &self.owner.0
    }

    /// Runs `f` on a worker.
    ///
    /// # Errors
    ///
    /// At once: [`PoolError::is_queue_full`], [`PoolError::is_shutdown`].
    pub fn run<F, T>(&self, f: F) -> Result<WorkerHandle<T>, PoolError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (job, rx) = Job::new(f, None);
        self.inner().submit(job, false)?;
        Ok(WorkerHandle::new(rx, None))
    }

    /// Runs `f` on a worker unless it has not started by `deadline`; then the handle
    /// reports [`PoolError::is_timed_out`] — at the deadline when awaited on a Keel loop,
    /// else when a worker reaches the job.
    ///
    /// # Errors
    ///
    /// As [`run`](WorkerPool::run).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let pool = keel_runtime::workers::Builder::new().threads(1).build().unwrap();
    /// keel_runtime::block_on(async {
    ///     let busy = pool.run(|| std::thread::sleep(Duration::from_millis(50))).unwrap();
    ///     let late = pool.run_with_deadline(Instant::now(), || ()).unwrap();
    ///     assert!(late.await.unwrap_err().is_timed_out());
    ///     busy.await.unwrap();
    /// });
    /// ```
    pub fn run_with_deadline<F, T>(
        &self,
        deadline: Instant,
        f: F,
    ) -> Result<WorkerHandle<T>, PoolError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let shared = Arc::new(JobDeadline {
            at: deadline,
            state: AtomicU8::new(QUEUED),
        });
        let (job, rx) = Job::new(f, Some(shared.clone()));
        self.inner().submit(job, false)?;
        Ok(WorkerHandle::new(rx, Some(shared)))
    }

    /// Runs every closure of `jobs` (waiting for room as needed) and returns the results
    /// in input order.
    ///
    /// # Errors
    ///
    /// The first failure in input order; the jobs not yet started are then cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = keel_runtime::workers::Builder::new().threads(2).queue_capacity(4).build().unwrap();
    /// keel_runtime::block_on(async {
    ///     // 100 jobs through a queue of 4: run_all waits for room.
    ///     let out = pool.run_all((0..100).map(|i| move || i)).await.unwrap();
    ///     assert_eq!(out, (0..100).collect::<Vec<_>>());
    /// });
    /// ```
    pub fn run_all<I, F, T>(
        &self,
        jobs: I,
    ) -> impl Future<Output = Result<Vec<T>, PoolError>> + Send + 'static
    where
        I: IntoIterator<Item = F>,
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.fan_out(jobs.into_iter().collect(), None)
    }

    /// [`run_all`](WorkerPool::run_all) with a start deadline for every job: a job not
    /// started by `deadline` fails with [`PoolError::is_timed_out`], and so does the
    /// whole call when the queue has no room for a job by then (checked at the deadline
    /// on a Keel loop, else when room comes).
    ///
    /// # Errors
    ///
    /// As [`run_all`](WorkerPool::run_all), plus [`PoolError::is_timed_out`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let pool = keel_runtime::workers::Builder::new().threads(1).build().unwrap();
    /// keel_runtime::block_on(async {
    ///     let busy = pool.run(|| std::thread::sleep(Duration::from_millis(50))).unwrap();
    ///     // The only worker is busy past the deadline: nothing starts in time.
    ///     let late = pool.run_all_with_deadline(Instant::now(), [|| 1, || 2]);
    ///     assert!(late.await.unwrap_err().is_timed_out());
    ///     busy.await.unwrap();
    /// });
    /// ```
    pub fn run_all_with_deadline<I, F, T>(
        &self,
        deadline: Instant,
        jobs: I,
    ) -> impl Future<Output = Result<Vec<T>, PoolError>> + Send + 'static
    where
        I: IntoIterator<Item = F>,
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.fan_out(jobs.into_iter().collect(), Some(deadline))
    }

    /// Submits `jobs` in order (waiting for room, up to `deadline` when there is one) and
    /// collects their results in the same order.
    fn fan_out<F, T>(
        &self,
        jobs: Vec<F>,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<Vec<T>, PoolError>> + Send + 'static
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.clone();
        async move {
            let mut handles = Vec::with_capacity(jobs.len());
            for f in jobs {
                // Room first (at once when there is some), so nothing fails with QueueFull.
                // On an early return, the handles dropped cancel the jobs not started.
                let handle = match deadline {
                    None => pool.reserve().await?.run(f),
                    Some(at) => ReserveUntil::new(pool.reserve(), at)
                        .await?
                        .run_with_deadline(at, f),
                };
                handles.push(handle);
            }
            let mut out = Vec::with_capacity(handles.len());
            for handle in handles {
                out.push(handle.await?);
            }
            Ok(out)
        }
    }

    /// Waits until the queue has room for one job and holds it.
    pub fn reserve(&self) -> Reserve {
        Reserve {
            owner: self.owner.clone(),
            waiter: None,
            done: false,
        }
    }

    /// A snapshot of the pool's figures.
    pub fn metrics(&self) -> WorkerMetrics {
        self.inner().metrics()
    }

    /// The pool's size.
    pub fn threads(&self) -> usize {
        self.inner().config.threads
    }

    /// How long a worker that ran out of jobs keeps looking before it sleeps
    /// ([`Builder::spin`]).
    pub fn spin(&self) -> Duration {
        self.inner().config.spin
    }

    /// Stops taking jobs, cancels queued ones (their handles report
    /// [`PoolError::is_shutdown`]), waits up to `timeout` for running ones, and reports
    /// what was left.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = keel_runtime::workers::Builder::new().threads(1).build().unwrap();
    /// assert!(pool.shutdown(Duration::from_secs(1)).is_clean());
    /// assert!(pool.run(|| ()).unwrap_err().is_shutdown());
    /// ```
    pub fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        self.inner().shutdown(timeout)
    }
}

impl fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerPool")
            .field("config", &self.inner().config)
            .finish_non_exhaustive()
    }
}

// ===== impl WorkerHandle =====

/// The future of a worker job's result: `Ok(value)`, or a [`PoolError`] when it
/// panicked, timed out before starting, or the pool shut down first.
///
/// Dropping it before the job starts cancels the job.
///
/// # Examples
///
/// ```
/// keel_runtime::block_on(async {
///     let h = keel_runtime::workers::run(|| panic!("bad input")).unwrap();
///     let err = h.await.unwrap_err();
///     assert!(err.is_panic());
/// });
/// ```
#[must_use = "dropping the handle before the job starts cancels the job"]
pub struct WorkerHandle<T> {
    result: JobResult<T>,
    deadline: Option<HandleDeadline>,
}

struct HandleDeadline {
    shared: Arc<JobDeadline>,
    sleep: Option<Sleep>,
}

impl<T> WorkerHandle<T> {
    fn new(result: JobResult<T>, deadline: Option<Arc<JobDeadline>>) -> WorkerHandle<T> {
        WorkerHandle {
            result,
            deadline: deadline.map(|shared| HandleDeadline {
                shared,
                sleep: None,
            }),
        }
    }

    /// Whether the result is there (awaiting would not wait).
    pub fn is_finished(&self) -> bool {
        self.result.is_finished()
    }
}

impl<T> Future for WorkerHandle<T> {
    type Output = Result<T, PoolError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Poll::Ready(out) = Pin::new(&mut this.result).poll(cx) {
            return Poll::Ready(out);
        }
        let Some(deadline) = &mut this.deadline else {
            return Poll::Pending;
        };
        loop {
            if Instant::now() >= deadline.shared.at {
                let expired = deadline
                    .shared
                    .state
                    .compare_exchange(QUEUED, EXPIRED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok();
                if expired {
                    return Poll::Ready(Err(PoolError::timed_out(POOL)));
                }
                // Started in time: the result will come.
                return Poll::Pending;
            }
            if crate::current_loop().is_none() {
                return Poll::Pending;
            }
            let sleep = deadline
                .sleep
                .get_or_insert_with(|| crate::time::sleep_until(deadline.shared.at));
            if Pin::new(sleep).poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

impl<T> fmt::Debug for WorkerHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

// ===== impl Reserve / Permit =====

/// The future of [`WorkerPool::reserve`]: waits for room in the queue.
#[must_use = "futures do nothing unless awaited"]
pub struct Reserve {
    owner: Arc<Owner>,
    waiter: Option<WaiterId>,
    done: bool,
}

impl Future for Reserve {
    type Output = Result<Permit, PoolError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        assert!(!this.done, "Reserve polled after completion");
        match this.owner.0.slots.poll_acquire(cx, &mut this.waiter) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => {
                this.done = true;
                Poll::Ready(Ok(Permit {
                    owner: Some(this.owner.clone()),
                }))
            }
            Poll::Ready(Err(_closed)) => {
                this.done = true;
                Poll::Ready(Err(PoolError::shut_down(POOL)))
            }
        }
    }
}

impl Drop for Reserve {
    fn drop(&mut self) {
        if !self.done {
            self.owner.0.slots.cancel(&mut self.waiter);
        }
    }
}

impl fmt::Debug for Reserve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reserve").finish_non_exhaustive()
    }
}

/// Room for one job in a worker pool's queue. Dropping it unused gives the room back.
pub struct Permit {
    owner: Option<Arc<Owner>>,
}

impl Permit {
    /// Runs `f` in the held room; never fails with `QueueFull`. When the pool shut down
    /// in the meantime, the handle reports [`PoolError::is_shutdown`].
    pub fn run<F, T>(mut self, f: F) -> WorkerHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let owner = self.owner.take().expect("permit used once");
        let (job, rx) = Job::new(f, None);
        let _ = owner.0.submit(job, true);
        WorkerHandle::new(rx, None)
    }

    /// Runs `f` in the held room unless it has not started by `deadline`; then the
    /// handle reports [`PoolError::is_timed_out`] (see [`WorkerPool::run_with_deadline`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// keel_runtime::block_on(async {
    ///     let permit = keel_runtime::workers::reserve().await.unwrap();
    ///     let deadline = Instant::now() + Duration::from_secs(10);
    ///     assert_eq!(permit.run_with_deadline(deadline, || 5).await.unwrap(), 5);
    /// });
    /// ```
    pub fn run_with_deadline<F, T>(mut self, deadline: Instant, f: F) -> WorkerHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let owner = self.owner.take().expect("permit used once");
        let shared = Arc::new(JobDeadline {
            at: deadline,
            state: AtomicU8::new(QUEUED),
        });
        let (job, rx) = Job::new(f, Some(shared.clone()));
        let _ = owner.0.submit(job, true);
        WorkerHandle::new(rx, Some(shared))
    }
}

/// [`Reserve`] that gives up with `TimedOut` at a start deadline: on a Keel loop a timer
/// wakes it then; elsewhere the deadline is checked whenever it is polled.
struct ReserveUntil {
    reserve: Reserve,
    deadline: Instant,
    sleep: Option<Sleep>,
}

impl ReserveUntil {
    fn new(reserve: Reserve, deadline: Instant) -> ReserveUntil {
        ReserveUntil {
            reserve,
            deadline,
            sleep: None,
        }
    }
}

impl Future for ReserveUntil {
    type Output = Result<Permit, PoolError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Poll::Ready(out) = Pin::new(&mut this.reserve).poll(cx) {
            return Poll::Ready(out);
        }
        if Instant::now() >= this.deadline {
            return Poll::Ready(Err(PoolError::timed_out(POOL)));
        }
        if crate::current_loop().is_some() {
            let deadline = this.deadline;
            let sleep = this
                .sleep
                .get_or_insert_with(|| crate::time::sleep_until(deadline));
            if Pin::new(sleep).poll(cx).is_ready() {
                return Poll::Ready(Err(PoolError::timed_out(POOL)));
            }
        }
        Poll::Pending
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(owner) = self.owner.take() {
            owner.0.slots.release();
        }
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}
