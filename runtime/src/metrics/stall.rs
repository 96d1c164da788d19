//! [`StallDetector`]: counts task polls that ran longer than the stall threshold, per
//! loop and task name, and logs them (at most once a second per loop) with the task's
//! name, spawn location and duration.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::executor::task::Header;

/// Default poll duration past which a poll counts as a stall.
pub const DEFAULT_STALL_THRESHOLD: Duration = Duration::from_millis(50);

const UNNAMED: &str = "<unnamed>";

/// One loop's stall bookkeeping.
#[derive(Debug)]
pub(crate) struct StallDetector {
    threshold: Duration,
    /// `threshold` in nanoseconds, for the per-poll comparison.
    threshold_nanos: u64,
    total: Cell<u64>,
    by_task: RefCell<HashMap<Arc<str>, u64>>,
    /// When the last warning was logged (coarse clock nanoseconds).
    last_log: Cell<Option<u64>>,
    /// Warnings logged so far.
    logged: Cell<u64>,
    /// `by_task` changed since it was last published.
    dirty: Cell<bool>,
}

impl StallDetector {
    pub(crate) fn new(threshold: Duration) -> StallDetector {
        StallDetector {
            threshold,
            threshold_nanos: u64::try_from(threshold.as_nanos()).unwrap_or(u64::MAX),
            total: Cell::new(0),
            by_task: RefCell::new(HashMap::new()),
            last_log: Cell::new(None),
            logged: Cell::new(0),
            dirty: Cell::new(false),
        }
    }

    /// Checks one poll of `header` that took `took` and ended at `now` (coarse clock
    /// nanoseconds).
    pub(crate) fn observe(&self, header: &Header, took: Duration, now: u64, loop_index: usize) {
        if took < self.threshold {
            return;
        }
        self.total.set(self.total.get() + 1);
        let name: Arc<str> = header.name.clone().unwrap_or_else(|| Arc::from(UNNAMED));
        *self.by_task.borrow_mut().entry(name.clone()).or_insert(0) += 1;
        self.dirty.set(true);
        let quiet = self
            .last_log
            .get()
            .is_some_and(|last| now.saturating_sub(last) < 1_000_000_000);
        if !quiet {
            self.last_log.set(Some(now));
            self.logged.set(self.logged.get() + 1);
            tracing::warn!(
                loop_index,
                task = %name,
                spawned_at = %header.location,
                poll_ms = took.as_millis() as u64,
                "slow task poll stalled the loop (move blocking work to blocking::spawn, CPU work to workers::spawn)"
            );
        }
    }

    /// The poll duration from which a poll counts as a stall, in nanoseconds.
    #[inline]
    pub(crate) fn threshold_nanos(&self) -> u64 {
        self.threshold_nanos
    }

    /// Stalls so far.
    pub(crate) fn total(&self) -> u64 {
        self.total.get()
    }

    /// Warnings logged so far (at most one a second).
    #[cfg(test)]
    pub(crate) fn logged(&self) -> u64 {
        self.logged.get()
    }

    /// Per-task counts, if they changed since the last call.
    pub(crate) fn take_changes(&self) -> Option<Vec<(String, u64)>> {
        if !self.dirty.replace(false) {
            return None;
        }
        let mut counts: Vec<(String, u64)> = self
            .by_task
            .borrow()
            .iter()
            .map(|(name, n)| (name.to_string(), *n))
            .collect();
        counts.sort();
        Some(counts)
    }
}

#[cfg(test)]
mod tests {
    use std::panic::Location;

    use super::*;
    use crate::event_loop::Shared;
    use crate::event_loop::park::WAKER;

    const MS: u64 = 1_000_000;

    fn header(name: &str) -> Header {
        let poll = mio::Poll::new().unwrap();
        let waker = mio::Waker::new(poll.registry(), WAKER).unwrap();
        let shared = Arc::new(Shared::new(0, waker));
        Header::new(shared, Some(Arc::from(name)), Location::caller())
    }

    #[test]
    fn stalls_are_all_counted_but_logged_at_most_once_a_second() {
        let stalls = StallDetector::new(Duration::from_millis(50));
        let slow = header("slow");
        let other = header("other");
        let start = 5_000 * MS;
        // Ten stalls 100 ms apart: all counted, one warning.
        for i in 0..10 {
            stalls.observe(&slow, Duration::from_millis(60), start + i * 100 * MS, 0);
        }
        assert_eq!((stalls.total(), stalls.logged()), (10, 1));
        // A fast poll is neither counted nor logged.
        stalls.observe(&slow, Duration::from_millis(49), start + 2_000 * MS, 0);
        assert_eq!((stalls.total(), stalls.logged()), (10, 1));
        // A second after the first warning, the next stall logs again.
        stalls.observe(&other, Duration::from_millis(80), start + 1_000 * MS, 0);
        assert_eq!((stalls.total(), stalls.logged()), (11, 2));
        stalls.observe(&other, Duration::from_millis(80), start + 1_500 * MS, 0);
        assert_eq!((stalls.total(), stalls.logged()), (12, 2));
        assert_eq!(
            stalls.take_changes(),
            Some(vec![("other".to_owned(), 2), ("slow".to_owned(), 10)])
        );
        assert_eq!(stalls.take_changes(), None, "unchanged since");
    }
}
