//! [`PollWatch`]: what one loop is polling right now, published for the watchdog thread.
//!
//! # Protocol
//!
//! The loop publishes around every task poll, without locks and without touching the
//! task's reference count:
//!
//! 1. before the poll: `current` = the task's header pointer, `seq` += 1, then
//!    `started` = now (`Release`: a watchdog that reads this start also sees `current`);
//! 2. after the poll: `started` = 0 (`SeqCst`), then it waits while `reading` is set.
//!
//! The watchdog, to name a stuck task:
//!
//! 1. sets `reading` (`SeqCst`);
//! 2. loads `started`; only if it is non-zero does it load `current` and read the header;
//! 3. clears `reading`.
//!
//! Either the watchdog's load of `started` comes before the loop's "`started` = 0" in the
//! single `SeqCst` order — then the loop's later load of `reading` sees it set and waits,
//! so the header the watchdog reads (that of the running or just-finished poll, which
//! the loop still owns through its run-queue entry) stays alive while it is read — or it
//! comes after, the watchdog sees 0 and reads nothing. The read is a few string copies;
//! the loop waits at most that long, and only when a report is being made. Only step 2
//! needs `SeqCst` on the loop side: the argument above orders the watchdog's load of
//! `started` against the loop's clearing store, and a load that reads a start value is
//! ordered before that poll's clear.
//!
//! Where the kernel has `membarrier` (`sys/membarrier.rs`), the same handshake runs with
//! asymmetric fences instead: the loop clears `started` and loads `reading` with plain
//! accesses around a compiler fence (no locked instruction per poll), and the watchdog
//! puts a process-wide barrier between setting `reading` and loading `started`. The
//! either-or argument above holds with the barrier in place of the `SeqCst` order.

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use crate::executor::task::Header;
use crate::sys::membarrier;

/// A task the watchdog found stuck in one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuckTask {
    /// The task's name (`<unnamed>` when it has none).
    pub task: String,
    /// Where it was spawned (`file:line:column`).
    pub spawned_at: String,
    /// How long the poll had been running when seen.
    pub running_for: Duration,
}

/// One loop's published "currently polling" record.
#[derive(Debug, Default)]
pub(crate) struct PollWatch {
    current: AtomicPtr<Header>,
    /// The current poll's start on the coarse clock (`sys::clock`); 0 while not polling.
    started: AtomicU64,
    seq: AtomicU64,
    reading: AtomicBool,
    /// The `seq` the watchdog last reported, so each stuck poll is reported once.
    reported_seq: AtomicU64,
    reports: AtomicU64,
    last_report: Mutex<Option<StuckTask>>,
}

impl PollWatch {
    /// Loop side, step 1: a poll of `header` starts at `now` (coarse clock nanoseconds,
    /// never 0).
    pub(crate) fn begin(&self, header: &Header, now: u64) {
        self.current
            .store(std::ptr::from_ref(header).cast_mut(), Ordering::Relaxed);
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        self.started.store(now, Ordering::Release);
    }

    /// Loop side, step 2: the poll returned. After this the header may be dropped.
    #[inline]
    pub(crate) fn end(&self) {
        if membarrier::available() {
            self.started.store(0, Ordering::Relaxed);
            membarrier::light();
            // `Acquire`: once `reading` reads false, the watchdog's reads are done.
            while self.reading.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
        } else {
            self.started.store(0, Ordering::SeqCst);
            while self.reading.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
        }
    }

    /// Watchdog side: the stuck task when the current poll has run longer than
    /// `threshold` (each stuck poll is returned once). `now` is coarse clock nanoseconds.
    pub(crate) fn check(&self, now: u64, threshold: Duration) -> Option<StuckTask> {
        // A first look without the handshake: most checks find no long poll, and they
        // then cost neither a `reading` round trip nor a process-wide barrier.
        if !self.looks_stuck(self.started.load(Ordering::Relaxed), now, threshold) {
            return None;
        }
        self.reading.store(true, Ordering::SeqCst);
        // With asymmetric fences the loop's side has no `SeqCst` order to rely on: the
        // barrier stands for it, and without one this round reads nothing.
        let ordered = !membarrier::available() || membarrier::heavy();
        let found = if ordered {
            self.inspect(now, threshold)
        } else {
            None
        };
        self.reading.store(false, Ordering::Release);
        let stuck = found?;
        self.reports.fetch_add(1, Ordering::Relaxed);
        *self.last_report.lock() = Some(stuck.clone());
        Some(stuck)
    }

    /// Whether a poll that started at `started` (0: none) has run `threshold` by `now`.
    fn looks_stuck(&self, started: u64, now: u64, threshold: Duration) -> bool {
        started != 0 && Duration::from_nanos(now.saturating_sub(started)) >= threshold
    }

    /// Step 2 of the watchdog side; runs with `reading` set.
    fn inspect(&self, now: u64, threshold: Duration) -> Option<StuckTask> {
        let started = self.started.load(Ordering::SeqCst);
        if !self.looks_stuck(started, now, threshold) {
            return None;
        }
        let running_for = Duration::from_nanos(now.saturating_sub(started));
        let seq = self.seq.load(Ordering::Relaxed);
        if self.reported_seq.swap(seq, Ordering::Relaxed) == seq {
            return None;
        }
        let current = self.current.load(Ordering::Relaxed);
        // SAFETY: `started` was non-zero after `reading` was set, so by the protocol in
        // the module docs the loop cannot pass `end` — and so cannot drop the header it
        // published in `begin` — until `reading` is cleared after this returns.
        let (task, spawned_at) = unsafe { Header::describe(current) };
        Some(StuckTask {
            task,
            spawned_at,
            running_for,
        })
    }

    /// Reports made so far, and the last one.
    pub(crate) fn reports(&self) -> (u64, Option<StuckTask>) {
        (
            self.reports.load(Ordering::Relaxed),
            self.last_report.lock().clone(),
        )
    }
}
