//! [`LoopStats`]: the loop's own counters, plain `Cell`s bumped on the hot path and
//! copied to [`PublishedLoopMetrics`](super::PublishedLoopMetrics) at park.

use std::cell::Cell;

use super::core::Published;

/// Counters owned by one loop thread.
#[derive(Debug, Default)]
pub(crate) struct LoopStats {
    pub(crate) tasks_spawned: Cell<u64>,
    pub(crate) tasks_completed: Cell<u64>,
    pub(crate) polls: Cell<u64>,
    pub(crate) parks: Cell<u64>,
    pub(crate) connections_accepted: Cell<u64>,
    pub(crate) connections_open: Cell<u64>,
    pub(crate) busy_ns: Cell<u64>,
    pub(crate) idle_ns: Cell<u64>,
}

/// Adds one to a counter cell.
pub(crate) fn bump(cell: &Cell<u64>) {
    add(cell, 1);
}

/// Adds `n` to a counter cell.
pub(crate) fn add(cell: &Cell<u64>, n: u64) {
    cell.set(cell.get().wrapping_add(n));
}

impl LoopStats {
    /// The counters in published form; the caller adds what lives elsewhere.
    pub(crate) fn gather(&self) -> Published {
        let spawned = self.tasks_spawned.get();
        Published {
            tasks_spawned: spawned,
            tasks_alive: spawned.saturating_sub(self.tasks_completed.get()),
            polls: self.polls.get(),
            parks: self.parks.get(),
            connections_accepted: self.connections_accepted.get(),
            connections_open: self.connections_open.get(),
            busy_ns: self.busy_ns.get(),
            idle_ns: self.idle_ns.get(),
            ..Published::default()
        }
    }

    /// A TCP stream opened on this loop.
    pub(crate) fn stream_opened(&self) {
        bump(&self.connections_open);
    }

    /// A TCP stream of this loop closed.
    pub(crate) fn stream_closed(&self) {
        let open = &self.connections_open;
        open.set(open.get().saturating_sub(1));
    }
}
