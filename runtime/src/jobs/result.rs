//! [`JobResult`]: the receiving end of a pool job — a future of `Result<T, PoolError>`
//! that reads a sender dropped unsent as "the pool shut down".

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::PoolError;
use crate::oneshot;

/// The awaiting side of one job.
pub(crate) struct JobResult<T> {
    rx: oneshot::Receiver<Result<T, PoolError>>,
    pool: &'static str,
}

impl<T> JobResult<T> {
    pub(crate) fn new(rx: oneshot::Receiver<Result<T, PoolError>>, pool: &'static str) -> Self {
        JobResult { rx, pool }
    }

    /// Whether polling would be ready.
    pub(crate) fn is_finished(&self) -> bool {
        self.rx.is_terminated()
    }
}

impl<T> Future for JobResult<T> {
    type Output = Result<T, PoolError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let pool = self.pool;
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(result)) => Poll::Ready(result),
            Poll::Ready(Err(oneshot::Closed)) => Poll::Ready(Err(PoolError::shut_down(pool))),
            Poll::Pending => Poll::Pending,
        }
    }
}
