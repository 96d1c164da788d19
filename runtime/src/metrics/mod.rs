//! Runtime figures, per loop: counted locally on the loop (`batch.rs`), published to
//! cache-line aligned atomics when the loop parks (`core.rs`), and read here as plain
//! snapshots by anyone (the `/metrics` endpoint, tests, users).
//!
//! Nothing on a loop's hot path writes shared memory: counting is a `Cell` increment,
//! and publishing is a handful of relaxed stores per park.

pub(crate) mod batch;
mod core;

pub(crate) use self::batch::LoopStats;
pub(crate) use self::core::PublishedLoopMetrics;

/// A snapshot of every loop of a runtime, from [`Handle::metrics`](crate::Handle::metrics).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// One entry per loop, in loop order.
    pub loops: Vec<LoopMetrics>,
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
}
