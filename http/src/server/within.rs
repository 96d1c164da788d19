//! [`within`]: a timeout whose clock starts only when the future has to wait.
//!
//! Most of a connection's steps finish on their first poll: a write the socket takes
//! whole, a handler that answers at once, a read of bytes that already arrived. A
//! `timeout_at` would read the clock and do `Instant` arithmetic for each of them;
//! `within` asks for the deadline only at the future's first `Pending`, then arms a
//! timer as `timeout_at` does.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::Instant;

use keel_runtime::time::{Sleep, sleep_until};

/// The deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimedOut;

/// Runs `future` until it finishes or the deadline `deadline()` passes; `deadline` is
/// called at most once, at the first `Pending`.
pub(crate) async fn within<F: Future>(
    deadline: impl FnOnce() -> Instant,
    future: F,
) -> Result<F::Output, TimedOut> {
    let mut future = pin!(future);
    let mut deadline = Some(deadline);
    let mut timer: Option<Sleep> = None;
    poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Ok(output));
        }
        let timer = match (&mut timer, deadline.take()) {
            (Some(timer), _) => timer,
            (slot, Some(deadline)) => slot.insert(sleep_until(deadline())),
            // The deadline is taken only when the timer is set.
            (None, None) => return Poll::Ready(Err(TimedOut)),
        };
        match Pin::new(timer).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(TimedOut)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
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
        let out = keel_runtime::block_on(within(
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
        let out = keel_runtime::block_on(within(
            || Instant::now() + Duration::from_millis(30),
            pending::<()>(),
        ));
        assert_eq!(out, Err(TimedOut));
        assert!(started.elapsed() >= Duration::from_millis(30));
    }
}
