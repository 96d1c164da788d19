//! [`PublishedLoopMetrics`]: one loop's figures as other threads read them. Written only by
//! the owning loop, with relaxed stores, when it parks; padded to its own cache lines so a
//! reader never slows the writer down through false sharing.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;
use parking_lot::Mutex;

use crate::histogram::local::SharedHistogram;

/// Declares the published counters once: the plain [`Published`] values a loop gathers
/// and the atomic fields they are stored in.
macro_rules! published {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// The values a loop publishes, gathered by `LoopStats::publish`.
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
        pub(crate) struct Published {
            $($(#[$doc])* pub(crate) $name: u64,)*
        }

        #[derive(Debug, Default)]
        struct Fields {
            $($name: AtomicU64,)*
        }

        impl Fields {
            fn store(&self, p: &Published) {
                $(self.$name.store(p.$name, Ordering::Relaxed);)*
            }

            fn load(&self) -> Published {
                Published {
                    $($name: self.$name.load(Ordering::Relaxed),)*
                }
            }
        }
    };
}

published! {
    tasks_spawned,
    tasks_alive,
    polls,
    parks,
    connections_accepted,
    connections_open,
    inject_depth,
    timers,
    /// Nanoseconds spent outside `epoll_wait`.
    busy_ns,
    /// Nanoseconds spent inside `epoll_wait`.
    idle_ns,
    stalls,
    /// Net heap bytes of the loop thread, as `i64` bits.
    heap_net,
    /// Peak net heap bytes of the loop thread, as `i64` bits.
    heap_peak,
    /// Allocations by the loop thread.
    heap_allocations,
    /// Frees by the loop thread.
    heap_frees,
}

/// The published copy of one loop's counters.
#[derive(Debug, Default)]
pub(crate) struct PublishedLoopMetrics {
    fields: CachePadded<Fields>,
    /// Stall counts per task name; written only when they change.
    stalls_by_task: Mutex<Vec<(String, u64)>>,
    /// Loop lag per turn.
    pub(crate) lag: SharedHistogram,
    /// Lateness of fired timers, per turn that fired any.
    pub(crate) timer_lag: SharedHistogram,
    /// Task poll durations.
    pub(crate) poll_time: SharedHistogram,
}

impl PublishedLoopMetrics {
    /// Owner side: stores the current figures.
    pub(crate) fn store(&self, p: &Published) {
        self.fields.store(p);
    }

    /// Owner side: stores new per-task stall counts.
    pub(crate) fn store_stalls(&self, by_task: Vec<(String, u64)>) {
        *self.stalls_by_task.lock() = by_task;
    }

    /// Reader side.
    pub(crate) fn load(&self) -> Published {
        self.fields.load()
    }

    /// Reader side.
    pub(crate) fn stalls_by_task(&self) -> Vec<(String, u64)> {
        self.stalls_by_task.lock().clone()
    }
}
