//! [`Timeout`]: a future raced against a deadline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

use super::{Elapsed, Sleep, sleep_until};

/// Runs `future`, giving up with [`Elapsed`] when `duration` passes first. The future is
/// dropped when the time is up.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use keel_runtime::time::{sleep, timeout};
///
/// keel_runtime::block_on(async {
///     let slow = timeout(Duration::from_millis(5), sleep(Duration::from_secs(60))).await;
///     assert!(slow.is_err());
///     let fast = timeout(Duration::from_secs(60), async { 1 }).await;
///     assert_eq!(fast, Ok(1));
/// });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    timeout_at(Instant::now() + duration, future)
}

/// Runs `future`, giving up with [`Elapsed`] at `deadline`.
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep_until(deadline),
    }
}

pin_project! {
    /// The future of [`timeout`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless awaited"]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        #[pin]
        sleep: Sleep,
    }
}

impl<F> Timeout<F> {
    /// The wrapped future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// Gives the wrapped future back, dropping the deadline.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match this.sleep.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed::new())),
            Poll::Pending => Poll::Pending,
        }
    }
}
