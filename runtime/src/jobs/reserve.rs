//! The front of both pools' bounded queues: [`take_slot`] for a submit without room held
//! (or the pool's `QueueFull` error), [`ReserveSlot`] to wait for room in order (a pool's
//! `reserve`, or its shut-down error), and [`HeldSlot`], room held until a job uses it
//! or, dropped unused, given back.
//!
//! The pools wrap these in their public `Reserve` and `Permit` types; what a pool adds is
//! its own job type (a class, a deadline) and its own counters.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::JobError;
use super::slots::{QueueSlots, WaiterId};

/// A pool seen from its front end: its name in errors and its queue bound.
pub(crate) trait Bounded: Send + Sync + 'static {
    /// The pool's name in errors and reports.
    const POOL: &'static str;

    /// The bound on the pool's queue.
    fn slots(&self) -> &QueueSlots;
}

/// Takes a queue slot for a submit that holds none: at once, or the `QueueFull` error of
/// `pool` at the bound.
pub(crate) fn take_slot(slots: &QueueSlots, pool: &'static str) -> Result<(), JobError> {
    if slots.try_acquire() {
        Ok(())
    } else {
        Err(JobError::queue_full(pool, slots.limit()))
    }
}

/// Waits for room in `Q`'s queue, in line with the other waiters; the pool's shut-down
/// error when it closes first. Dropped while waiting, it leaves the line (and passes on a
/// wake it got but did not use).
pub(crate) struct ReserveSlot<Q: Bounded> {
    queue: Arc<Q>,
    waiter: Option<WaiterId>,
    done: bool,
}

impl<Q: Bounded> ReserveSlot<Q> {
    pub(crate) fn new(queue: Arc<Q>) -> ReserveSlot<Q> {
        ReserveSlot {
            queue,
            waiter: None,
            done: false,
        }
    }
}

impl<Q: Bounded> Future for ReserveSlot<Q> {
    type Output = Result<HeldSlot<Q>, JobError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        assert!(!this.done, "Reserve polled after completion");
        let ready = match this.queue.slots().poll_acquire(cx, &mut this.waiter) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(())) => Ok(HeldSlot {
                queue: Some(this.queue.clone()),
            }),
            Poll::Ready(Err(_closed)) => Err(JobError::shut_down(Q::POOL)),
        };
        this.done = true;
        Poll::Ready(ready)
    }
}

impl<Q: Bounded> Drop for ReserveSlot<Q> {
    fn drop(&mut self) {
        if !self.done {
            self.queue.slots().cancel(&mut self.waiter);
        }
    }
}

/// One slot of `Q`'s queue, held. [`into_queue`](HeldSlot::into_queue) hands it to a
/// submit; dropped unused, it gives the room back.
pub(crate) struct HeldSlot<Q: Bounded> {
    /// `None` only once the slot went to a submit.
    queue: Option<Arc<Q>>,
}

impl<Q: Bounded> HeldSlot<Q> {
    /// The pool, for a submit that now owns the slot (and gives it back itself).
    pub(crate) fn into_queue(mut self) -> Arc<Q> {
        self.queue.take().expect("a held slot is used once")
    }
}

impl<Q: Bounded> Drop for HeldSlot<Q> {
    fn drop(&mut self) {
        if let Some(queue) = self.queue.take() {
            queue.slots().release();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;

    struct Pool(QueueSlots);

    impl Bounded for Pool {
        const POOL: &'static str = "test";
        fn slots(&self) -> &QueueSlots {
            &self.0
        }
    }

    fn poll(reserve: &mut ReserveSlot<Pool>) -> Poll<Result<HeldSlot<Pool>, JobError>> {
        Pin::new(reserve).poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_held_slot_is_given_back_unless_a_submit_takes_it() {
        let pool = Arc::new(Pool(QueueSlots::new(1)));
        let Poll::Ready(Ok(held)) = poll(&mut ReserveSlot::new(pool.clone())) else {
            panic!("room was free");
        };
        assert!(take_slot(pool.slots(), "test").unwrap_err().is_queue_full());
        drop(held);
        assert_eq!(pool.slots().used(), 0);
        let Poll::Ready(Ok(held)) = poll(&mut ReserveSlot::new(pool.clone())) else {
            panic!("room was given back");
        };
        let _submit_owns_it = held.into_queue();
        assert_eq!(pool.slots().used(), 1);
    }

    #[test]
    fn a_closed_queue_answers_shut_down() {
        let pool = Arc::new(Pool(QueueSlots::new(1)));
        take_slot(pool.slots(), "test").unwrap();
        let mut waiting = ReserveSlot::new(pool.clone());
        assert!(poll(&mut waiting).is_pending());
        pool.slots().close();
        let Poll::Ready(Err(e)) = poll(&mut waiting) else {
            panic!("a closed queue gave room");
        };
        assert!(e.is_shutdown(), "{e}");
    }
}
