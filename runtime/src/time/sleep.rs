//! [`Sleep`]: a future that completes at a deadline, registered in the polling loop's
//! timer wheel.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::wheel::TimerKey;
use crate::current_loop;

/// Waits until `duration` has passed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// keel_runtime::block_on(keel_runtime::time::sleep(Duration::from_millis(1)));
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(Instant::now() + duration)
}

/// Waits until `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        entry: None,
    }
}

/// The future of [`sleep`] and [`sleep_until`]. Dropping it cancels the timer.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    entry: Option<Entry>,
}

/// Where the timer sits: which loop's wheel, under which key.
#[derive(Debug, Clone, Copy)]
struct Entry {
    instance: u64,
    key: TimerKey,
}

impl Sleep {
    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Moves the deadline (earlier or later). The sleep can be polled again afterwards,
    /// even when it had completed.
    pub fn reset(&mut self, deadline: Instant) {
        self.cancel();
        self.deadline = deadline;
    }

    /// Removes the timer from its wheel, if it is registered on this thread's loop.
    fn cancel(&mut self) {
        if let Some(entry) = self.entry.take() {
            current_loop::with_core(|core| {
                if core.instance == entry.instance {
                    core.time.remove(entry.key);
                }
            });
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            self.cancel();
            return Poll::Ready(());
        }
        let deadline = self.deadline;
        let previous = self.entry.take();
        let entry = current_loop::expect_core("polling a Sleep", |core| {
            if let Some(previous) = previous
                && previous.instance == core.instance
            {
                // Still registered to wake this task: nothing to do (a timer polled
                // again and again by the same task costs no wheel operation).
                if core.time.will_wake(previous.key, cx.waker()) {
                    return previous;
                }
                // Re-register with the current waker: remove + insert, both O(1).
                core.time.remove(previous.key);
            }
            Entry {
                instance: core.instance,
                key: core.time.insert(deadline, cx.waker().clone()),
            }
        });
        self.entry = Some(entry);
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}
