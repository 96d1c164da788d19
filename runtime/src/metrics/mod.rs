//! Runtime figures, per loop: counted locally on the loop (`batch.rs`), published to
//! cache-line aligned atomics when the loop parks (`core.rs`), and read here as plain
//! snapshots by anyone (the `/metrics` endpoint, tests, users).
//!
//! Nothing on a loop's hot path writes shared memory: counting is a `Cell` increment,
//! and publishing is a handful of relaxed stores per park. The same holds for the
//! introspection parts: loop utilization and lag (`clock.rs`), stalls (`stall.rs`) and
//! the watchdog's view of the running poll (`watch.rs`).

pub(crate) mod batch;
pub(crate) mod clock;
mod core;
pub(crate) mod stall;
pub(crate) mod watch;

use std::time::Duration;

pub(crate) use self::batch::LoopStats;
pub(crate) use self::core::PublishedLoopMetrics;
pub use self::stall::DEFAULT_STALL_THRESHOLD;
pub use self::watch::StuckTask;
use crate::blocking::BlockingMetrics;
use crate::event_loop::Shared;
use crate::heap::HeapStats;
use crate::histogram::HistogramSnapshot;
use crate::workers::WorkerMetrics;

/// A snapshot of every loop of a runtime, of the heap and of the process-wide pools,
/// from [`Handle::metrics`](crate::Handle::metrics) or [`keel_runtime::metrics`](crate::metrics()).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// One entry per loop, in loop order.
    pub loops: Vec<LoopMetrics>,
    /// The process's heap.
    pub heap: HeapStats,
    /// The process-wide blocking pool ([`blocking`](crate::blocking)), or `None` before
    /// its first use.
    pub blocking: Option<BlockingMetrics>,
    /// The process-wide CPU worker pool ([`workers`](crate::workers)), or `None` before
    /// its first use.
    pub workers: Option<WorkerMetrics>,
}

impl RuntimeMetrics {
    /// Connections accepted by all loops together.
    pub fn connections_accepted(&self) -> u64 {
        self.loops.iter().map(|l| l.connections_accepted).sum()
    }

    /// Tasks alive on all loops together.
    pub fn tasks_alive(&self) -> u64 {
        self.loops.iter().map(|l| l.tasks_alive).sum()
    }
}

/// The figures of one loop as last published (at its last park).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct LoopMetrics {
    /// The loop's index, `0..loops`.
    pub index: usize,
    /// Tasks ever spawned onto this loop.
    pub tasks_spawned: u64,
    /// Tasks currently alive on this loop.
    pub tasks_alive: u64,
    /// Task polls run by this loop.
    pub polls: u64,
    /// Times the loop polled the OS for I/O (blocking or not).
    pub parks: u64,
    /// TCP connections accepted by listeners on this loop.
    pub connections_accepted: u64,
    /// TCP streams currently open on this loop (accepted or connected).
    pub connections_open: u64,
    /// Items waiting in the loop's inject queue when it last parked.
    pub inject_depth: u64,
    /// Timers registered on this loop.
    pub timers: u64,
    /// Time spent running tasks and handling events (outside `epoll_wait`).
    pub busy: Duration,
    /// Time spent waiting in `epoll_wait`.
    pub idle: Duration,
    /// Polls longer than the stall threshold.
    pub stalls: u64,
    /// Stalls per task name.
    pub stalls_by_task: Vec<(String, u64)>,
    /// Times the watchdog found this loop stuck in one poll.
    pub watchdog_reports: u64,
    /// The watchdog's last report for this loop.
    pub last_stuck: Option<StuckTask>,
    /// Bytes allocated minus bytes freed by this loop's thread (needs
    /// [`heap::Tracked`](crate::heap::Tracked)).
    pub heap_net_bytes: i64,
    /// The highest [`heap_net_bytes`](LoopMetrics::heap_net_bytes) so far (needs
    /// [`heap::Tracked`](crate::heap::Tracked)).
    pub heap_peak_bytes: i64,
    /// Allocations made by this loop's thread (needs
    /// [`heap::Tracked`](crate::heap::Tracked)).
    pub heap_allocations: u64,
    /// Frees made by this loop's thread, including of memory other threads allocated
    /// (needs [`heap::Tracked`](crate::heap::Tracked)).
    pub heap_frees: u64,
    /// Loop lag, one sample per turn of the loop (every iteration, not a sampling
    /// timer): the turn's *busy stretch*, from the loop's return from `epoll_wait` to its
    /// next call, i.e. how long a socket event, a wake from another thread or a timer
    /// that became due during the turn waited at most before the loop could look at it.
    /// Tasks woken on the loop itself run within the same stretch, so it bounds their
    /// wait too. A loop blocked 200 ms by one poll records a ≥ 200 ms sample.
    ///
    /// What it cannot see — the loop's thread being descheduled while parked, or
    /// `epoll_wait` returning late — is in [`timer_lag`](LoopMetrics::timer_lag).
    pub lag: HistogramSnapshot,
    /// Timer lateness, one sample per turn in which timers fired: how late the latest of
    /// them fired, i.e. the time they were woken minus the earliest deadline among them
    /// (deadlines count at millisecond resolution, rounded up, so an on-time timer shows
    /// 0–1 ms). A timer created with a deadline already past counts from the loop's
    /// previous timer check, not from its deadline. A timer due while a poll blocks the
    /// loop shows here with the rest of the block.
    pub timer_lag: HistogramSnapshot,
    /// Duration of task polls, estimated cheaply: one poll in 16 is timed precisely and
    /// counted 16 times, and every poll at or over the stall threshold is recorded as
    /// well (timed to the kernel tick, 1–4 ms). Timing every poll precisely would cost
    /// more than a local wake. The exact number of polls is
    /// [`polls`](LoopMetrics::polls).
    pub poll_time: HistogramSnapshot,
    /// Times the supervisor restarted this loop after its thread died outside a task
    /// (see [`LoopFailure`](crate::LoopFailure)). A restarted loop's other counters start
    /// again from zero.
    pub restarts: u64,
}

impl LoopMetrics {
    /// Event-loop utilization over the loop's life, like Node's `eventLoopUtilization()`:
    /// busy ÷ (busy + idle), from 0 to 1. Compare two snapshots for a recent window.
    pub fn utilization(&self) -> f64 {
        let total = self.busy + self.idle;
        if total.is_zero() {
            0.0
        } else {
            self.busy.as_secs_f64() / total.as_secs_f64()
        }
    }
}

/// A [`RuntimeMetrics`] of `loops` plus the process-wide parts.
pub(crate) fn gather(loops: Vec<LoopMetrics>) -> RuntimeMetrics {
    RuntimeMetrics {
        loops,
        heap: crate::heap::stats(),
        blocking: crate::blocking::metrics(),
        workers: crate::workers::metrics(),
    }
}

/// See [`keel_runtime::metrics`](crate::metrics()).
pub(crate) fn current() -> RuntimeMetrics {
    match crate::Handle::try_current().or_else(crate::handle::latest) {
        Some(handle) => handle.metrics(),
        None => gather(Vec::new()),
    }
}

/// Reads one loop's published figures.
pub(crate) fn snapshot(shared: &Shared) -> LoopMetrics {
    let p = shared.metrics.load();
    let (watchdog_reports, last_stuck) = shared.watch.reports();
    LoopMetrics {
        index: shared.index,
        tasks_spawned: p.tasks_spawned,
        tasks_alive: p.tasks_alive,
        polls: p.polls,
        parks: p.parks,
        connections_accepted: p.connections_accepted,
        connections_open: p.connections_open,
        inject_depth: p.inject_depth,
        timers: p.timers,
        busy: Duration::from_nanos(p.busy_ns),
        idle: Duration::from_nanos(p.idle_ns),
        stalls: p.stalls,
        stalls_by_task: shared.metrics.stalls_by_task(),
        watchdog_reports,
        last_stuck,
        heap_net_bytes: p.heap_net as i64,
        heap_peak_bytes: p.heap_peak as i64,
        heap_allocations: p.heap_allocations,
        heap_frees: p.heap_frees,
        lag: shared.metrics.lag.snapshot(),
        timer_lag: shared.metrics.timer_lag.snapshot(),
        poll_time: shared.metrics.poll_time.snapshot(),
        restarts: shared.restarts.load(std::sync::atomic::Ordering::Relaxed),
    }
}
