//! [`LoopClock`]: where a loop's time goes. Each park splits the time since the previous
//! park into *busy* (running tasks, handling events) and *idle* (inside `epoll_wait`) —
//! the two halves of Node's event-loop utilization — and the busy stretch is also the
//! loop's lag sample: the longest an I/O event or timer that arrived meanwhile had to
//! wait before the loop could look at it. (Timer lateness, measured when timers fire, is
//! the time driver's: `time/driver.rs`.) The park starts at the clock reading taken
//! here, so publishing the counters just before `epoll_wait` counts as idle.

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::batch::{LoopStats, add};

/// One loop's park-to-park timing.
#[derive(Debug)]
pub(crate) struct LoopClock {
    /// When the loop last came back from `epoll_wait`.
    woke: Cell<Instant>,
}

impl LoopClock {
    pub(crate) fn new() -> LoopClock {
        LoopClock {
            woke: Cell::new(Instant::now()),
        }
    }

    /// Before `epoll_wait`: books the busy stretch; returns it (the lag sample) and the
    /// park's start time.
    pub(crate) fn before_park(&self, stats: &LoopStats) -> (Duration, Instant) {
        let now = Instant::now();
        let busy = now.saturating_duration_since(self.woke.get());
        add(&stats.busy_ns, busy.as_nanos() as u64);
        (busy, now)
    }

    /// After `epoll_wait`: books the idle stretch; returns the wake-up time (the loop
    /// fires its due timers against it rather than reading the clock again).
    pub(crate) fn after_park(&self, stats: &LoopStats, parked_at: Instant) -> Instant {
        let now = Instant::now();
        add(
            &stats.idle_ns,
            now.saturating_duration_since(parked_at).as_nanos() as u64,
        );
        self.woke.set(now);
        now
    }
}
