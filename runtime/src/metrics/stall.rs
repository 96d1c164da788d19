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
    total: Cell<u64>,
    by_task: RefCell<HashMap<Arc<str>, u64>>,
    /// When the last warning was logged (coarse clock nanoseconds).
    last_log: Cell<Option<u64>>,
    /// `by_task` changed since it was last published.
    dirty: Cell<bool>,
}

impl StallDetector {
    pub(crate) fn new(threshold: Duration) -> StallDetector {
        StallDetector {
            threshold,
            total: Cell::new(0),
            by_task: RefCell::new(HashMap::new()),
            last_log: Cell::new(None),
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
            tracing::warn!(
                loop_index,
                task = %name,
                spawned_at = %header.location,
                poll_ms = took.as_millis() as u64,
                "slow task poll stalled the loop (move blocking work to blocking::spawn, CPU work to workers::run)"
            );
        }
    }

    /// The poll duration from which a poll counts as a stall.
    pub(crate) fn threshold(&self) -> Duration {
        self.threshold
    }

    /// Stalls so far.
    pub(crate) fn total(&self) -> u64 {
        self.total.get()
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
