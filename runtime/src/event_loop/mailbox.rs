//! [`Mailbox`]: the code of the remote-wake protocol documented in [`shared`](super::shared)
//! — the inject queue, the published "asleep" flag, the "closed" flag and the waker.
//!
//! It is generic over the item and the [`Wakeup`] so a loom model
//! (`src/tests/loom_wake.rs`) checks this very code with a loom-friendly waker; the loop
//! uses `Mailbox<Injected, mio::Waker>`, monomorphised, so the genericity costs nothing.
//! Its atomics, `fence` and queue come from the [`loom`](crate::loom) shim.

use crate::loom::SegQueue;
use crate::loom::sync::atomic::{AtomicBool, Ordering, fence};

/// What a remote thread calls to end the loop's sleep.
pub(crate) trait Wakeup {
    /// Makes the loop's current or next blocking poll return.
    fn wake_up(&self);
}

impl Wakeup for mio::Waker {
    #[inline]
    fn wake_up(&self) {
        // A failed wake means the eventfd is gone, i.e. the loop already exited.
        let _ = self.wake();
    }
}

/// The inject queue of one loop and the flags of the remote-wake protocol.
pub(crate) struct Mailbox<T, W> {
    inject: SegQueue<T>,
    sleeping: AtomicBool,
    /// Set once the loop has stopped for good; see [`close`](Mailbox::close).
    closed: AtomicBool,
    waker: W,
}

impl<T, W: Wakeup> Mailbox<T, W> {
    pub(crate) fn new(waker: W) -> Mailbox<T, W> {
        Mailbox {
            inject: SegQueue::new(),
            sleeping: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            waker,
        }
    }

    /// Hands `item` to the loop from any thread (remote side of the protocol).
    #[inline]
    pub(crate) fn inject(&self, item: T) {
        self.inject.push(item);
        fence(Ordering::SeqCst);
        if self.closed.load(Ordering::SeqCst) {
            // The loop is gone and will never drain the queue: drop the item here, so a
            // spawned task's join handle reports cancellation instead of waiting forever.
            self.drop_injected();
            return;
        }
        self.notify();
    }

    /// Loop side, after its last tick: marks the loop gone and drops whatever was
    /// injected meanwhile. Same fence pattern as the sleep protocol: an injector either
    /// sees `closed` (and drops its item itself) or pushed before this drain, which then
    /// drops it.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.drop_injected();
    }

    fn drop_injected(&self) {
        while let Some(item) = self.inject.pop() {
            drop(item);
        }
    }

    /// Wakes the loop if it sleeps.
    #[inline]
    pub(crate) fn notify(&self) {
        if self.sleeping.load(Ordering::SeqCst) && self.sleeping.swap(false, Ordering::SeqCst) {
            self.waker.wake_up();
        }
    }

    /// Loop side, steps 1–3: announces the sleep; returns false when work arrived
    /// meanwhile and the loop must not block.
    #[inline]
    pub(crate) fn prepare_sleep(&self) -> bool {
        self.sleeping.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.inject.is_empty() {
            true
        } else {
            self.sleeping.store(false, Ordering::SeqCst);
            false
        }
    }

    /// Loop side, step 4.
    #[inline]
    pub(crate) fn end_sleep(&self) {
        self.sleeping.store(false, Ordering::SeqCst);
    }

    /// Loop side: takes the next injected item.
    #[inline]
    pub(crate) fn pop(&self) -> Option<T> {
        self.inject.pop()
    }

    /// Items waiting in the queue (a snapshot).
    pub(crate) fn len(&self) -> usize {
        self.inject.len()
    }

    /// Whether the loop has published that it sleeps (a snapshot, for `Debug`).
    pub(crate) fn is_sleeping(&self) -> bool {
        self.sleeping.load(Ordering::Relaxed)
    }
}
