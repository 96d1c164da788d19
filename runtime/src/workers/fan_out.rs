//! Fan-out: [`WorkerPool::run_all`] and [`WorkerPool::run_all_with_deadline`] queue any
//! number of `'static` closures as room comes and give the results back in input order
//! (the module docs of [`workers`](super) say why there is no borrowing scope).

use std::future::Future;
use std::time::Instant;

use super::WorkerPool;
use super::pool::POOL;
use crate::jobs::{JobError, ReserveUntil};

impl WorkerPool {
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
    ) -> impl Future<Output = Result<Vec<T>, JobError>> + Send + 'static
    where
        I: IntoIterator<Item = F>,
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.fan_out(jobs.into_iter().collect(), None)
    }

    /// [`run_all`](WorkerPool::run_all) with a start deadline for every job: a job not
    /// started by `deadline` fails with [`JobError::is_timed_out`], and so does the
    /// whole call when the queue has no room for a job by then (checked at the deadline
    /// on a Keel loop, else when room comes).
    ///
    /// # Errors
    ///
    /// As [`run_all`](WorkerPool::run_all), plus [`JobError::is_timed_out`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let pool = keel_runtime::workers::Builder::new().threads(1).build().unwrap();
    /// keel_runtime::block_on(async {
    ///     let busy = pool.spawn(|| std::thread::sleep(Duration::from_millis(50))).unwrap();
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
    ) -> impl Future<Output = Result<Vec<T>, JobError>> + Send + 'static
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
    ) -> impl Future<Output = Result<Vec<T>, JobError>> + Send + 'static
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
                    None => pool.reserve().await?.spawn(f),
                    Some(at) => ReserveUntil::new(pool.reserve(), POOL, at)
                        .await?
                        .spawn_with_deadline(at, f),
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
}
