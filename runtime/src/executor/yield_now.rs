//! [`yield_now`]: give the loop back for one turn.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Lets the loop run other tasks, I/O and timers before this task continues. The task
/// goes to the back of its loop's run queue.
///
/// # Examples
///
/// ```
/// keel_runtime::block_on(async {
///     for _ in 0..3 {
///         keel_runtime::task::yield_now().await;
///     }
/// });
/// ```
pub async fn yield_now() {
    YieldNow { yielded: false }.await
}

struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
