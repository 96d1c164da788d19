//! [`QueueSlots`]: the bound on a pool's queue — a counter of taken slots with a
//! lock-free fast path, and a FIFO of tasks waiting for room.
//!
//! # Protocol
//!
//! A slot is taken when a job is submitted (or reserved) and given back when a pool
//! thread takes the job off the queue (to run it or to skip it), or when shutdown drops
//! it. So the bound counts jobs that wait, never jobs that run.
//!
//! * `try_acquire`: a compare-and-swap on `used`, failing at `limit`.
//! * `release`: decrement `used` (`SeqCst`), a `SeqCst` fence, then read `waiting`; if
//!   someone waits, pop the oldest waiter under the lock and wake it.
//! * A waiter (`poll_acquire`) that finds no room pushes its waker and raises `waiting`
//!   (`SeqCst`, under the lock), a `SeqCst` fence, then tries `try_acquire` once more.
//!   The two fences order "free a slot, then read `waiting`" against "raise `waiting`,
//!   then read `used`" (`try_acquire`'s first read is `Relaxed`, so without the fences
//!   both reads could be stale on a weakly ordered CPU): either the retry sees the
//!   released slot, or the releaser sees `waiting > 0` and wakes it, so a freed slot is
//!   never missed. The loom model `src/tests/loom_slots.rs` checks this, and close below.
//! * A woken waiter that is dropped before it takes a slot passes the wake on
//!   (`cancel`), so one dropped waiter cannot strand the others.
//! * `close` wakes everyone; `poll_acquire` answers closed from then on.

use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

// From the shim so `src/tests/loom_slots.rs` can model-check this protocol.
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};

/// A waiter's place in the line.
pub(crate) type WaiterId = u64;

/// The bounded queue's slot counter.
pub(crate) struct QueueSlots {
    used: AtomicUsize,
    limit: usize,
    waiting: AtomicUsize,
    closed: AtomicBool,
    waiters: Mutex<Waiters>,
}

struct Waiters {
    next_id: WaiterId,
    queue: VecDeque<(WaiterId, Waker)>,
}

/// The pool is closed: no slot will ever be given.
#[derive(Debug)]
pub(crate) struct SlotsClosed;

impl QueueSlots {
    pub(crate) fn new(limit: usize) -> QueueSlots {
        QueueSlots {
            used: AtomicUsize::new(0),
            limit,
            waiting: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            waiters: Mutex::new(Waiters {
                next_id: 0,
                queue: VecDeque::new(),
            }),
        }
    }

    /// The bound.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Slots taken now (queued plus reserved jobs).
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Tasks waiting for room.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Takes a slot if there is room.
    pub(crate) fn try_acquire(&self) -> bool {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            if used >= self.limit {
                return false;
            }
            match self.used.compare_exchange_weak(
                used,
                used + 1,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => used = now,
            }
        }
    }

    /// Gives a slot back and wakes the oldest waiter, if any.
    pub(crate) fn release(&self) {
        self.used.fetch_sub(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.wake_one();
        }
    }

    /// Takes a slot, or queues `cx`'s waker under `id` until one is released.
    pub(crate) fn poll_acquire(
        &self,
        cx: &mut Context<'_>,
        id: &mut Option<WaiterId>,
    ) -> Poll<Result<(), SlotsClosed>> {
        if self.closed.load(Ordering::Acquire) {
            self.cancel(id);
            return Poll::Ready(Err(SlotsClosed));
        }
        if self.try_acquire() {
            self.cancel_quietly(id);
            return Poll::Ready(Ok(()));
        }
        {
            let mut waiters = self.waiters.lock();
            let slot = id.and_then(|me| waiters.queue.iter_mut().find(|(w, _)| *w == me));
            match slot {
                Some((_, waker)) => {
                    if !waker.will_wake(cx.waker()) {
                        *waker = cx.waker().clone();
                    }
                }
                None => {
                    let me = waiters.next_id;
                    waiters.next_id += 1;
                    waiters.queue.push_back((me, cx.waker().clone()));
                    self.waiting.store(waiters.queue.len(), Ordering::SeqCst);
                    *id = Some(me);
                }
            }
        }
        fence(Ordering::SeqCst);
        if self.try_acquire() {
            self.cancel_quietly(id);
            return Poll::Ready(Ok(()));
        }
        if self.closed.load(Ordering::Acquire) {
            self.cancel(id);
            return Poll::Ready(Err(SlotsClosed));
        }
        Poll::Pending
    }

    /// Leaves the line. When this waiter had already been woken (and so taken off the
    /// line) without using the wake, hands the wake to the next waiter.
    pub(crate) fn cancel(&self, id: &mut Option<WaiterId>) {
        if !self.remove(id) && self.used() < self.limit {
            self.wake_one();
        }
    }

    /// Leaves the line after taking a slot: a wake it got was used.
    fn cancel_quietly(&self, id: &mut Option<WaiterId>) {
        self.remove(id);
    }

    /// Removes `id` from the line; `true` when it was still there (or was never queued).
    fn remove(&self, id: &mut Option<WaiterId>) -> bool {
        let Some(me) = id.take() else { return true };
        let mut waiters = self.waiters.lock();
        let before = waiters.queue.len();
        waiters.queue.retain(|(w, _)| *w != me);
        self.waiting.store(waiters.queue.len(), Ordering::SeqCst);
        waiters.queue.len() != before
    }

    fn wake_one(&self) {
        let waker = {
            let mut waiters = self.waiters.lock();
            let next = waiters.queue.pop_front();
            self.waiting.store(waiters.queue.len(), Ordering::SeqCst);
            next
        };
        if let Some((_, waker)) = waker {
            waker.wake();
        }
    }

    /// Refuses every waiter from now on and wakes them all.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let all: Vec<_> = {
            let mut waiters = self.waiters.lock();
            self.waiting.store(0, Ordering::SeqCst);
            waiters.queue.drain(..).collect()
        };
        for (_, waker) in all {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    #[derive(Default)]
    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn bound_release_and_waiters() {
        let slots = QueueSlots::new(1);
        assert!(slots.try_acquire());
        assert!(!slots.try_acquire());
        let count = Arc::new(Count::default());
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let (mut a, mut b) = (None, None);
        assert!(slots.poll_acquire(&mut cx, &mut a).is_pending());
        assert!(slots.poll_acquire(&mut cx, &mut b).is_pending());
        assert_eq!(slots.waiting(), 2);
        slots.release();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        // `a` was woken but is dropped: the wake passes to `b`.
        slots.cancel(&mut a);
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        assert!(slots.poll_acquire(&mut cx, &mut b).is_ready());
        assert_eq!(slots.waiting(), 0);
        assert_eq!(slots.used(), 1);
        slots.close();
        assert!(matches!(
            slots.poll_acquire(&mut cx, &mut None),
            Poll::Ready(Err(SlotsClosed))
        ));
    }
}
