//! [`Interval`]: ticks at a fixed period, with a policy for ticks missed while the task
//! was busy.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::{Sleep, sleep_until};

/// What an [`Interval`] does when ticks were missed (the task was slower than the
/// period).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks back to back until caught up (tokio's default).
    #[default]
    Burst,
    /// Start counting the period again from the late tick.
    Delay,
    /// Drop the missed ticks and fire at the next multiple of the period.
    Skip,
}

/// Ticks every `period`, the first tick at once.
///
/// # Panics
///
/// Panics when `period` is zero.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// keel_runtime::block_on(async {
///     let mut every = keel_runtime::time::interval(Duration::from_millis(2));
///     let first = every.tick().await;
///     let second = every.tick().await;
///     assert!(second - first >= Duration::from_millis(2));
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first tick at `start`.
///
/// # Panics
///
/// Panics when `period` is zero.
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(!period.is_zero(), "interval period must be non-zero");
    Interval {
        sleep: sleep_until(start),
        period,
        missed: MissedTickBehavior::default(),
    }
}

/// A stream of ticks; see [`interval`].
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns the instant it was scheduled for.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let scheduled = self.sleep.deadline();
        let now = Instant::now();
        // A tick is missed only when the next one is already due; an on-time tick (even a
        // little late, as every timer is) keeps the schedule under every policy.
        let missed = now >= scheduled + self.period;
        let next = match self.missed {
            _ if !missed => scheduled + self.period,
            MissedTickBehavior::Burst => scheduled + self.period,
            MissedTickBehavior::Delay => now + self.period,
            MissedTickBehavior::Skip => {
                let late = now.saturating_duration_since(scheduled);
                let skipped = late.as_nanos() / self.period.as_nanos();
                scheduled + self.period * (skipped as u32 + 1)
            }
        };
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// Sets the missed-tick policy.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Restarts the interval: the next tick comes one period from now.
    pub fn reset(&mut self) {
        self.sleep.reset(Instant::now() + self.period);
    }
}
