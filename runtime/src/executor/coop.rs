//! Cooperative budget: each task poll may complete a bounded number of resource
//! operations (reads, writes, accepts) before they start answering `Pending` and waking
//! the task again — so a socket that is always ready cannot keep one task running
//! forever and starve the rest of the loop (tokio's coop module does the same).

use std::task::{Context, Poll};

use crate::current_loop;

/// Ready when the running task may do one more operation; otherwise wakes the task and
/// answers `Pending` so it goes to the back of the queue. Outside a loop: always ready.
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    match current_loop::with_core(|core| core.consume_budget()) {
        Some(false) => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        _ => Poll::Ready(()),
    }
}
