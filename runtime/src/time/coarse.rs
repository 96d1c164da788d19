//! [`coarse_now`]: an `Instant` read from the coarse monotonic clock, for deadlines and
//! durations where a kernel tick (1–4 ms) of error is fine and the precise clock's
//! cost per call is not (an HTTP server computes several deadlines per request).

use std::time::{Duration, Instant};

use crate::sys::clock::coarse_nanos;

thread_local! {
    /// One reading of both clocks, taken the first time a thread asks: the coarse
    /// clock first, so the pair differs by less than one tick.
    static ANCHOR: (Instant, u64) = {
        let coarse = coarse_nanos();
        (Instant::now(), coarse)
    };
}

/// Now, on the coarse monotonic clock (`CLOCK_MONOTONIC_COARSE`), as an [`Instant`]
/// comparable with [`Instant::now`]: within one kernel tick (1–4 ms) of it, either
/// way, and never going backwards on a thread. It costs a few nanoseconds, without the
/// precise clock's counter read.
///
/// Use it for deadlines of seconds (a timer set from it may fire up to a tick earlier
/// or later than one set from `Instant::now()`) and for durations measured at tick
/// resolution; use `Instant::now()` to time anything short.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use keel_runtime::time::coarse_now;
///
/// let deadline = coarse_now() + Duration::from_secs(60);
/// assert!(deadline > Instant::now() + Duration::from_secs(59));
/// ```
pub fn coarse_now() -> Instant {
    let now = coarse_nanos();
    ANCHOR.with(|&(instant, at)| instant + Duration::from_nanos(now.saturating_sub(at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_the_precise_clock_within_a_tick() {
        for _ in 0..5 {
            let precise = Instant::now();
            let coarse = coarse_now();
            let gap = if coarse > precise {
                coarse - precise
            } else {
                precise - coarse
            };
            // A tick is at most 4 ms (CONFIG_HZ=250); 20 ms of slack for a loaded machine.
            assert!(gap < Duration::from_millis(20), "{gap:?}");
            std::thread::sleep(Duration::from_millis(7));
        }
    }

    #[test]
    fn never_goes_backwards() {
        let mut last = coarse_now();
        for _ in 0..10_000 {
            let now = coarse_now();
            assert!(now >= last);
            last = now;
        }
    }
}
