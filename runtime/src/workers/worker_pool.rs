//! [`WorkerPool`]: the cloneable handle to one worker pool — submitting jobs
//! ([`spawn`](WorkerPool::spawn), [`spawn_with_deadline`](WorkerPool::spawn_with_deadline),
//! [`reserve`](WorkerPool::reserve)), reading its figures, and shutting it down. The
//! fan-out methods are in `fan_out.rs`.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::builder::Config;
use super::pool::{Inner, Job, POOL};
use super::{Reserve, WorkerHandle, WorkerMetrics};
use crate::jobs::{Bounded, JobDeadline, JobError, QueueSlots, ReserveSlot, ShutdownReport};

/// A CPU worker pool: a cheap, cloneable handle. The process-wide one is behind
/// [`pool()`](super::pool); [`Builder::build`](super::Builder::build) makes private ones.
///
/// When the last handle to a private pool is dropped, queued jobs still run, then the
/// workers exit.
///
/// # Examples
///
/// ```
/// let pool = keel_runtime::workers::Builder::new().threads(2).build().unwrap();
/// keel_runtime::block_on(async {
///     let h = pool.spawn(|| (0..100u32).product::<u32>() == 0).unwrap();
///     assert!(h.await.unwrap());
/// });
/// ```
#[derive(Clone)]
pub struct WorkerPool {
    owner: Arc<Owner>,
}

/// Held by user handles and permits: its drop lets the workers go.
pub(super) struct Owner(pub(super) Arc<Inner>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl Bounded for Owner {
    const POOL: &'static str = POOL;

    fn slots(&self) -> &QueueSlots {
        &self.0.slots
    }
}

impl WorkerPool {
    pub(super) fn start(config: Config) -> WorkerPool {
        WorkerPool {
            owner: Arc::new(Owner(Inner::start(config))),
        }
    }

    pub(super) fn inner(&self) -> &Arc<Inner> {
        &self.owner.0
    }

    /// Runs `f` on a worker.
    ///
    /// # Errors
    ///
    /// At once: [`JobError::is_queue_full`], [`JobError::is_shutdown`].
    pub fn spawn<F, T>(&self, f: F) -> Result<WorkerHandle<T>, JobError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (job, rx) = Job::new(f, None);
        self.inner().submit(job, false)?;
        Ok(WorkerHandle::new(rx, None))
    }

    /// Runs `f` on a worker unless it has not started by `deadline`; then the handle
    /// reports [`JobError::is_timed_out`] — at the deadline when awaited on a Keel loop,
    /// else when a worker reaches the job.
    ///
    /// # Errors
    ///
    /// As [`spawn`](WorkerPool::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let pool = keel_runtime::workers::Builder::new().threads(1).build().unwrap();
    /// keel_runtime::block_on(async {
    ///     let busy = pool.spawn(|| std::thread::sleep(Duration::from_millis(50))).unwrap();
    ///     let late = pool.spawn_with_deadline(Instant::now(), || ()).unwrap();
    ///     assert!(late.await.unwrap_err().is_timed_out());
    ///     busy.await.unwrap();
    /// });
    /// ```
    pub fn spawn_with_deadline<F, T>(
        &self,
        deadline: Instant,
        f: F,
    ) -> Result<WorkerHandle<T>, JobError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let shared = JobDeadline::new(deadline);
        let (job, rx) = Job::new(f, Some(shared.clone()));
        self.inner().submit(job, false)?;
        Ok(WorkerHandle::new(rx, Some(shared)))
    }

    /// Waits until the queue has room for one job and holds it.
    pub fn reserve(&self) -> Reserve {
        Reserve::new(ReserveSlot::new(self.owner.clone()))
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
    /// ([`Builder::spin`](super::Builder::spin)).
    pub fn spin(&self) -> Duration {
        self.inner().config.spin
    }

    /// Stops taking jobs, cancels queued ones (their handles report
    /// [`JobError::is_shutdown`]), waits up to `timeout` for running ones, and reports
    /// what was left.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = keel_runtime::workers::Builder::new().threads(1).build().unwrap();
    /// assert!(pool.shutdown(Duration::from_secs(1)).is_clean());
    /// assert!(pool.spawn(|| ()).unwrap_err().is_shutdown());
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
