//! [`within`]: a timeout whose clock starts only when the future has to wait.
//!
//! Most of a connection's steps finish on their first poll: a write the socket takes
//! whole, a handler that answers at once, a read of bytes that already arrived. A
//! [`timeout_at`](crate::time::timeout_at) would read the clock and do `Instant`
//! arithmetic for each of them; [`Within`] asks for the deadline only at the future's
//! first `Pending`, then arms a timer as `timeout_at` does. It is a plain struct future
//! (not an `async fn`), so the future it wraps — often a whole request — is moved once,
//! not twice.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use pin_project_lite::pin_project;

use crate::time::{Elapsed, Sleep, sleep_until};

pin_project! {
    /// The future of [`within`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct Within<F, D> {
        #[pin]
        future: F,
        deadline: Option<D>,
        timer: Option<Sleep>,
    }
}

/// Runs `future` until it finishes (`Ok` with its output) or the deadline `deadline()`
/// passes ([`Elapsed`]); `deadline` is called at most once, at the first `Pending`. The
/// timer needs a Keel loop, as [`sleep_until`]'s does.
///
/// # Examples
///
/// ```
/// use std::future::pending;
/// use std::time::{Duration, Instant};
/// use keel_runtime::future::within;
///
/// keel_runtime::block_on(async {
///     // Ready at once: the deadline is never asked for.
///     assert_eq!(within(|| unreachable!(), async { 7 }).await, Ok(7));
///     let late = within(|| Instant::now() + Duration::from_millis(5), pending::<()>());
///     assert!(late.await.is_err());
/// });
/// ```
pub fn within<F: Future, D: FnOnce() -> Instant>(deadline: D, future: F) -> Within<F, D> {
    Within {
        future,
        deadline: Some(deadline),
        timer: None,
    }
}

impl<F: Future, D: FnOnce() -> Instant> Future for Within<F, D> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        let timer = match (this.timer, this.deadline.take()) {
            (Some(timer), _) => timer,
            (slot, Some(deadline)) => slot.insert(sleep_until(deadline())),
            // The deadline is taken only when the timer is set.
            (None, None) => return Poll::Ready(Err(Elapsed::new())),
        };
        match Pin::new(timer).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed::new())),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::future::pending;
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_ready_future_never_asks_for_the_deadline() {
        let asked = Cell::new(false);
        let out = crate::block_on(within(
            || {
                asked.set(true);
                Instant::now()
            },
            async { 7 },
        ));
        assert_eq!(out, Ok(7));
        assert!(!asked.get());
    }

    #[test]
    fn a_waiting_future_times_out_at_the_deadline() {
        let started = Instant::now();
        let out = crate::block_on(within(
            || Instant::now() + Duration::from_millis(30),
            pending::<()>(),
        ));
        assert_eq!(out, Err(Elapsed::new()));
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}
