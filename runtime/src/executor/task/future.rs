//! [`TaskFuture`]: the user's future as the loop sees it. It catches panics around every
//! poll, hands the output to the join cell, and reports cancellation when dropped early.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::join::panic_message;
use super::{Header, JoinCell, JoinError};

pin_project! {
    /// A spawned future plus the plumbing around it. Always polled on its owning loop.
    pub(crate) struct TaskFuture<F: Future> {
        #[pin]
        future: Option<F>,
        cell: CancelOnDrop<F::Output>,
        header: Arc<Header>,
    }
}

impl<F: Future> TaskFuture<F> {
    pub(crate) fn new(future: F, cell: Arc<JoinCell<F::Output>>, header: Arc<Header>) -> Self {
        TaskFuture {
            future: Some(future),
            cell: CancelOnDrop(cell),
            header,
        }
    }
}

impl<F: Future> Future for TaskFuture<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let Some(future) = this.future.as_mut().as_pin_mut() else {
            return Poll::Ready(());
        };
        let result = match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => Ok(output),
            Err(payload) => {
                tracing::error!(
                    task = this.header.name.as_deref().unwrap_or("<unnamed>"),
                    spawned_at = %this.header.location,
                    loop_index = this.header.owner.index,
                    message = panic_message(payload.as_ref()).unwrap_or("<non-string payload>"),
                    "task panicked; the loop goes on"
                );
                Err(JoinError::panic(payload))
            }
        };
        // Drop the future before publishing the result, so its destructors have run when
        // the joiner resumes. A destructor that panics too must not take the loop down.
        let _ = catch_unwind(AssertUnwindSafe(|| this.future.set(None)));
        this.cell.0.complete(result);
        Poll::Ready(())
    }
}

/// Reports `Cancelled` to the join handle if the task is dropped before finishing (abort,
/// runtime shutdown). A result stored earlier wins, so this is a no-op after completion.
struct CancelOnDrop<T>(Arc<JoinCell<T>>);

impl<T> Drop for CancelOnDrop<T> {
    fn drop(&mut self) {
        self.0.complete(Err(JoinError::cancelled()));
    }
}
