//! [`WorkerHandle`]: the future of one worker job's result, which also reports the job's
//! start deadline as `TimedOut` when it passes first (see `jobs/deadline.rs`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::pool::POOL;
use crate::jobs::{HandleDeadline, JobDeadline, JobError, JobResult};

/// The future of a worker job's result: `Ok(value)`, or a [`JobError`] when it
/// panicked, timed out before starting, or the pool shut down first.
///
/// Dropping it before the job starts cancels the job.
///
/// # Examples
///
/// ```
/// keel_runtime::block_on(async {
///     let h = keel_runtime::workers::spawn(|| panic!("bad input")).unwrap();
///     let err = h.await.unwrap_err();
///     assert!(err.is_panic());
/// });
/// ```
#[must_use = "dropping the handle before the job starts cancels the job"]
pub struct WorkerHandle<T> {
    result: JobResult<T>,
    deadline: Option<HandleDeadline>,
}

impl<T> WorkerHandle<T> {
    pub(super) fn new(result: JobResult<T>, deadline: Option<Arc<JobDeadline>>) -> WorkerHandle<T> {
        WorkerHandle {
            result,
            deadline: deadline.map(HandleDeadline::new),
        }
    }

    /// Whether the result is there (awaiting would not wait).
    pub fn is_finished(&self) -> bool {
        self.result.is_finished()
    }
}

impl<T> Future for WorkerHandle<T> {
    type Output = Result<T, JobError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Poll::Ready(out) = Pin::new(&mut this.result).poll(cx) {
            return Poll::Ready(out);
        }
        if let Some(deadline) = &mut this.deadline
            && deadline.poll_expired(cx).is_ready()
        {
            return Poll::Ready(Err(JobError::timed_out(POOL)));
        }
        Poll::Pending
    }
}

impl<T> fmt::Debug for WorkerHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}
