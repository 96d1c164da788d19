//! [`PublishedLoopMetrics`]: one loop's figures as other threads read them. Written only by
//! the owning loop, with relaxed stores, when it parks; padded to its own cache lines so a
//! reader never slows the writer down through false sharing.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

use super::LoopMetrics;

/// The published copy of one loop's [`LoopStats`](super::LoopStats).
#[derive(Debug, Default)]
pub(crate) struct PublishedLoopMetrics {
    inner: CachePadded<Fields>,
}

#[derive(Debug, Default)]
struct Fields {
    tasks_spawned: AtomicU64,
    tasks_alive: AtomicU64,
    polls: AtomicU64,
    parks: AtomicU64,
    connections_accepted: AtomicU64,
    connections_open: AtomicU64,
    inject_depth: AtomicU64,
    timers: AtomicU64,
}

/// The values a loop publishes, gathered by `LoopStats::publish`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Published {
    pub(crate) tasks_spawned: u64,
    pub(crate) tasks_alive: u64,
    pub(crate) polls: u64,
    pub(crate) parks: u64,
    pub(crate) connections_accepted: u64,
    pub(crate) connections_open: u64,
    pub(crate) inject_depth: u64,
    pub(crate) timers: u64,
}

impl PublishedLoopMetrics {
    /// Owner side: stores the current figures.
    pub(crate) fn store(&self, p: Published) {
        let f = &*self.inner;
        f.tasks_spawned.store(p.tasks_spawned, Ordering::Relaxed);
        f.tasks_alive.store(p.tasks_alive, Ordering::Relaxed);
        f.polls.store(p.polls, Ordering::Relaxed);
        f.parks.store(p.parks, Ordering::Relaxed);
        f.connections_accepted
            .store(p.connections_accepted, Ordering::Relaxed);
        f.connections_open
            .store(p.connections_open, Ordering::Relaxed);
        f.inject_depth.store(p.inject_depth, Ordering::Relaxed);
        f.timers.store(p.timers, Ordering::Relaxed);
    }

    /// Reader side: a snapshot for loop `index`.
    pub(crate) fn snapshot(&self, index: usize) -> LoopMetrics {
        let f = &*self.inner;
        LoopMetrics {
            index,
            tasks_spawned: f.tasks_spawned.load(Ordering::Relaxed),
            tasks_alive: f.tasks_alive.load(Ordering::Relaxed),
            polls: f.polls.load(Ordering::Relaxed),
            parks: f.parks.load(Ordering::Relaxed),
            connections_accepted: f.connections_accepted.load(Ordering::Relaxed),
            connections_open: f.connections_open.load(Ordering::Relaxed),
            inject_depth: f.inject_depth.load(Ordering::Relaxed),
            timers: f.timers.load(Ordering::Relaxed),
        }
    }
}
