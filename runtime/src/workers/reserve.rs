//! [`Reserve`] and [`Permit`]: waiting for room in a worker pool's queue, and the room
//! held — the pool's face on the front end both pools share (`jobs/reserve.rs`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use super::WorkerHandle;
use super::pool::Job;
use super::worker_pool::Owner;
use crate::jobs::{HeldSlot, JobDeadline, JobError, ReserveSlot};

/// The future of [`WorkerPool::reserve`](super::WorkerPool::reserve): waits for room in
/// the queue.
#[must_use = "futures do nothing unless awaited"]
pub struct Reserve {
    slot: ReserveSlot<Owner>,
}

impl Reserve {
    pub(super) fn new(slot: ReserveSlot<Owner>) -> Reserve {
        Reserve { slot }
    }
}

impl Future for Reserve {
    type Output = Result<Permit, JobError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.slot)
            .poll(cx)
            .map_ok(|slot| Permit { slot })
    }
}

impl fmt::Debug for Reserve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reserve").finish_non_exhaustive()
    }
}

/// Room for one job in a worker pool's queue. Dropping it unused gives the room back.
pub struct Permit {
    slot: HeldSlot<Owner>,
}

impl Permit {
    /// Runs `f` in the held room; never fails with `QueueFull`. When the pool shut down
    /// in the meantime, the handle reports [`JobError::is_shutdown`].
    pub fn spawn<F, T>(self, f: F) -> WorkerHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (job, rx) = Job::new(f, None);
        let _ = self.slot.into_queue().0.submit(job, true);
        WorkerHandle::new(rx, None)
    }

    /// Runs `f` in the held room unless it has not started by `deadline`; then the
    /// handle reports [`JobError::is_timed_out`] (see
    /// [`WorkerPool::spawn_with_deadline`](super::WorkerPool::spawn_with_deadline)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// keel_runtime::block_on(async {
    ///     let permit = keel_runtime::workers::reserve().await.unwrap();
    ///     let deadline = Instant::now() + Duration::from_secs(10);
    ///     assert_eq!(permit.spawn_with_deadline(deadline, || 5).await.unwrap(), 5);
    /// });
    /// ```
    pub fn spawn_with_deadline<F, T>(self, deadline: Instant, f: F) -> WorkerHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let shared = JobDeadline::new(deadline);
        let (job, rx) = Job::new(f, Some(shared.clone()));
        let _ = self.slot.into_queue().0.submit(job, true);
        WorkerHandle::new(rx, Some(shared))
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}
