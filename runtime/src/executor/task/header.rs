//! The `Send + Sync` task header that wakers and join handles point at, and the wake
//! path: local wakes go straight to the owning loop's run queue, remote wakes through its
//! inject queue (protocol in `event_loop/shared.rs`).

use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::task::Wake;

use super::state::{ABORTED, COMPLETE, SCHEDULED};
use crate::context;
use crate::event_loop::{Injected, Shared};

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
}

impl Header {
    /// A new header for a task that will live on `owner`. The task starts scheduled: the
    /// spawner queues it right away.
    pub(crate) fn new(
        owner: Arc<Shared>,
        name: Option<Arc<str>>,
        location: &'static Location<'static>,
    ) -> Arc<Header> {
        Arc::new(Header {
            owner,
            key: AtomicUsize::new(usize::MAX),
            state: AtomicU8::new(SCHEDULED),
            name,
            location,
        })
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

    /// Marks the task's future as gone; later wakes are ignored.
    pub(crate) fn set_complete(&self) {
        self.state.fetch_or(COMPLETE, Ordering::AcqRel);
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

    /// Requests cancellation and wakes the task so its loop sees it.
    pub(crate) fn abort(self: &Arc<Self>) {
        let prev = self.state.fetch_or(ABORTED, Ordering::AcqRel);
        if prev & (ABORTED | COMPLETE) == 0 {
            self.wake_by_ref();
        }
    }

    /// Sets `SCHEDULED`; true if this call is the one that set it (and so must queue).
    fn claim_schedule(&self) -> bool {
        let prev = self.state.fetch_or(SCHEDULED, Ordering::AcqRel);
        prev & (SCHEDULED | COMPLETE) == 0
    }

    /// Queues an already-claimed header on its loop: the local run queue when the caller
    /// runs on that loop's thread, the inject queue otherwise.
    fn enqueue(self: Arc<Self>) {
        if let Err(header) = context::try_push_local(self) {
            let owner = header.owner.clone();
            owner.inject(Injected::Wake(header));
        }
    }
}

impl Wake for Header {
    fn wake(self: Arc<Self>) {
        if self.claim_schedule() {
            self.enqueue();
        }
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.claim_schedule() {
            self.clone().enqueue();
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
