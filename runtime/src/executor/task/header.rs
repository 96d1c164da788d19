//! [`Header`]: the `Send + Sync` part of a task that wakers, join handles and the
//! watchdog read — its loop, its slab slot, its state bits, its name — and the state
//! transitions on it.

use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use super::state::{ABORTED, COMPLETE, DETACHED, SCHEDULED};
use crate::event_loop::Shared;
use crate::task_context::Context;

/// The part of a task that other threads may see. See the [module docs](super) for the
/// access rules.
pub(crate) struct Header {
    /// The loop that owns the task.
    pub(crate) owner: Arc<Shared>,
    /// Slot in the owner's task slab; written and read only by the owning loop.
    key: AtomicUsize,
    state: AtomicU8,
    /// The name given at spawn, used in panic logs and metrics.
    pub(crate) name: Option<Arc<str>>,
    /// Where the task was spawned, for logs.
    pub(crate) location: &'static Location<'static>,
    /// The request context current where the task was spawned; current again around
    /// each of its polls (`task_context.rs`).
    pub(crate) context: Option<Context>,
}

impl Header {
    /// A header for a task that will live on `owner`, capturing the spawner's request
    /// context. The task starts scheduled: the spawner queues it right away.
    pub(crate) fn new(
        owner: Arc<Shared>,
        name: Option<Arc<str>>,
        location: &'static Location<'static>,
    ) -> Header {
        Header {
            owner,
            key: AtomicUsize::new(usize::MAX),
            state: AtomicU8::new(SCHEDULED),
            name,
            location,
            context: crate::task_context::current(),
        }
    }

    /// The task's slot in its loop's slab. Only the owning loop calls this.
    pub(crate) fn key(&self) -> usize {
        self.key.load(Ordering::Relaxed)
    }

    /// Records the slab slot. Only the owning loop calls this, before the first poll.
    pub(crate) fn set_key(&self, key: usize) {
        self.key.store(key, Ordering::Relaxed);
    }

    /// Called by the loop right before polling: clears `SCHEDULED` so that a wake during
    /// the poll queues the task again. Returns the state as it was.
    pub(crate) fn begin_poll(&self) -> u8 {
        self.state.fetch_and(!SCHEDULED, Ordering::AcqRel)
    }

    /// Whether the task has completed; an `Acquire` load, so a true answer makes the
    /// output written before it visible.
    pub(crate) fn is_complete(&self) -> bool {
        self.state.load(Ordering::Acquire) & COMPLETE != 0
    }

    /// Whether the join handle was dropped.
    pub(crate) fn is_detached(&self) -> bool {
        self.state.load(Ordering::Acquire) & DETACHED != 0
    }

    /// Sets `COMPLETE` (`Release`, publishing the output). Returns the state as it was.
    pub(crate) fn set_complete(&self) -> u8 {
        self.state.fetch_or(COMPLETE, Ordering::AcqRel)
    }

    /// Sets `DETACHED`. Returns the state as it was.
    pub(crate) fn set_detached(&self) -> u8 {
        self.state.fetch_or(DETACHED, Ordering::AcqRel)
    }

    /// Sets `ABORTED`; true when the task must now be woken so its loop sees it (it was
    /// neither aborted nor complete before).
    pub(crate) fn request_abort(&self) -> bool {
        let prev = self.state.fetch_or(ABORTED, Ordering::AcqRel);
        prev & (ABORTED | COMPLETE) == 0
    }

    /// Sets `SCHEDULED`; true if this call is the one that set it (and so must queue).
    pub(crate) fn claim_schedule(&self) -> bool {
        let prev = self.state.fetch_or(SCHEDULED, Ordering::AcqRel);
        prev & (SCHEDULED | COMPLETE) == 0
    }

    /// The task's name (`<unnamed>` without one) and spawn location, from a raw pointer
    /// published for the watchdog. Returns empty strings for a null pointer.
    ///
    /// # Safety
    ///
    /// `header` must be null or point to a live `Header` for the whole call (the
    /// watchdog protocol in `metrics/watch.rs` guarantees it).
    pub(crate) unsafe fn describe(header: *const Header) -> (String, String) {
        // SAFETY: the caller guarantees the pointer is null or valid for this call.
        match unsafe { header.as_ref() } {
            Some(h) => (
                h.name.as_deref().unwrap_or("<unnamed>").to_owned(),
                h.location.to_string(),
            ),
            None => (String::new(), String::new()),
        }
    }
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Header")
            .field("loop", &self.owner.index)
            .field("name", &self.name)
            .field("state", &self.state.load(Ordering::Relaxed))
            .finish()
    }
}
