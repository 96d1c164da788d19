//! [`CoarseInstant`]: a reading of the coarse monotonic clock, for durations and
//! timestamps where a kernel tick (1–4 ms) of error is fine and the precise clock's
//! cost is not: an HTTP server reads one per request for its metrics.

use std::time::{Duration, Instant};

use crate::sys::clock::coarse_nanos;

/// A moment on the coarse monotonic clock (`CLOCK_MONOTONIC_COARSE`, the timeline of
/// [`Instant`] at the kernel tick's resolution, 1–4 ms). Reading it costs a few
/// nanoseconds and no counter read; comparing or subtracting two is integer math.
///
/// Use it for durations measured at tick resolution (a request's duration metric, how
/// long something has been running) and convert with [`to_instant`](Self::to_instant)
/// where an [`Instant`] is needed (a deadline). Use `Instant::now()` to time anything
/// short.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use keel_runtime::time::CoarseInstant;
///
/// let started = CoarseInstant::now();
/// std::thread::sleep(Duration::from_millis(20));
/// // Within a tick (at most 4 ms) of the 20 ms slept.
/// assert!(started.elapsed() >= Duration::from_millis(15));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CoarseInstant(u64);

impl CoarseInstant {
    /// Now, on the coarse clock.
    pub fn now() -> CoarseInstant {
        CoarseInstant(coarse_nanos())
    }

    /// Time since `earlier`, zero if `earlier` is later.
    pub fn duration_since(self, earlier: CoarseInstant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// This reading plus `duration`; `None` on overflow.
    pub fn checked_add(self, duration: Duration) -> Option<CoarseInstant> {
        let nanos = u64::try_from(duration.as_nanos()).ok()?;
        self.0.checked_add(nanos).map(CoarseInstant)
    }

    /// Time since this reading, on the coarse clock.
    pub fn elapsed(self) -> Duration {
        CoarseInstant::now().duration_since(self)
    }

    /// The [`Instant`] this reading stands for, within a tick either way (for a
    /// deadline counted from it). Reads both clocks.
    pub fn to_instant(self) -> Instant {
        let ago = self.elapsed();
        let now = Instant::now();
        now.checked_sub(ago).unwrap_or(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_the_precise_clock_within_a_tick() {
        // The smallest gap of a few tries: a loaded machine may preempt the thread
        // between two reads, but not every time.
        let gap = (0..5)
            .map(|_| {
                std::thread::sleep(Duration::from_millis(7));
                let coarse = CoarseInstant::now();
                let precise = Instant::now();
                let coarse = coarse.to_instant();
                if coarse > precise {
                    coarse - precise
                } else {
                    precise - coarse
                }
            })
            .min()
            .unwrap();
        // A tick is at most 4 ms (CONFIG_HZ=250); the rest is slack.
        assert!(gap < Duration::from_millis(20), "{gap:?}");
    }

    #[test]
    fn never_goes_backwards() {
        let mut last = CoarseInstant::now();
        for _ in 0..10_000 {
            let now = CoarseInstant::now();
            assert!(now >= last);
            assert_eq!(last.duration_since(now), Duration::ZERO);
            last = now;
        }
    }
}
