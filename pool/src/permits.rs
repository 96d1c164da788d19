//! [`Waiters`]: the FIFO queue of tasks waiting for a connection, with direct hand-off.
//!
//! # Protocol
//!
//! All of it runs on the pool's one loop, under the pool's `RefCell`; no atomics.
//!
//! 1. A task that finds nothing to take [`push`](Waiters::push)es a [`Waiter`] and polls
//!    it. The queue keeps the waiters in arrival order.
//! 2. Whoever frees something (a returned connection, or a slot to create one) calls
//!    [`grant`](Waiters::grant): the *front* waiter gets the value stored in its cell
//!    and is woken. The value never passes through the idle list, so a task that arrives
//!    later cannot take it first (no barging).
//! 3. A waiter that is dropped (its `get()` future cancelled or timed out) is
//!    [`cancel`](Waiters::cancel)led: still waiting, it leaves the queue; already
//!    granted, the value comes back to the caller, which passes it on. Nothing is lost.
//! 4. [`close`](Waiters::close) wakes every waiter with "closed".
//! 5. Each waiter carries its deadline. Nobody arms a timer per waiter: one task per pool
//!    (`pool.rs`, `expire_waiters`) sleeps until the earliest deadline and calls
//!    [`expire`](Waiters::expire), which wakes every waiter past its deadline with "timed
//!    out". A wait that ends in time — the common case under contention — touches no
//!    timer at all.
//!
//! # Why there is no loom model
//!
//! The runtime's cross-thread protocols are model-checked with loom
//! (`runtime/src/tests/`). This one is not, because it has no threads to interleave: a
//! pool belongs to one loop (`Rc`, `RefCell`, `!Send`), so its waiters, grants and
//! cancels run one at a time, in the order the loop polls them. What can go wrong here
//! is a future dropped between two of its polls — a cancelled or timed-out `get()` — and
//! that is checked deterministically instead: `pool/tests/pool_cancel.rs` polls a
//! `get()` by hand to each of its await points (queued; queued and then handed a
//! connection or a slot; creating; backing off; recycling), drops it there, and checks
//! that no slot, connection or queue place is leaked and that what it was handed goes
//! to the next waiter (rule 3). `pool_timeout.rs` and `pool_lifecycle.rs` do the same
//! with real timeouts.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// What a waiter's cell holds.
enum State<T> {
    /// Queued; the waker of the last poll.
    Waiting(Option<Waker>),
    /// Handed a value, not yet taken by the waiter.
    Granted(T),
    /// The queue was closed.
    Closed,
    /// The waiter's deadline passed before anything was handed to it.
    TimedOut,
    /// The waiter took its value (or was cancelled).
    Done,
}

type Cell<T> = Rc<RefCell<State<T>>>;

/// How a wait ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Wait<T> {
    /// A value was handed over.
    Granted(T),
    /// The queue was closed.
    Closed,
    /// The deadline passed first.
    TimedOut,
}

/// The queue of waiters, in arrival order, each with its deadline.
pub(crate) struct Waiters<T> {
    queue: VecDeque<(Instant, Cell<T>)>,
}

/// One queued task's end: polled by the waiting task.
pub(crate) struct Waiter<T> {
    cell: Cell<T>,
}

impl<T> Waiters<T> {
    pub(crate) fn new() -> Waiters<T> {
        Waiters {
            queue: VecDeque::new(),
        }
    }

    /// How many tasks wait.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nobody waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Queues a new waiter at the back, to give up at `deadline`.
    pub(crate) fn push(&mut self, deadline: Instant) -> Waiter<T> {
        let cell = Rc::new(RefCell::new(State::Waiting(None)));
        self.queue.push_back((deadline, cell.clone()));
        Waiter { cell }
    }

    /// Wakes every waiter whose deadline is at or before `now` with "timed out" and takes
    /// it out of the queue. Returns the earliest deadline left, if anyone still waits.
    pub(crate) fn expire(&mut self, now: Instant) -> Option<Instant> {
        // Deadlines are usually in queue order (one timeout per pool), so this stops at
        // the front; `retain` keeps it right when they are not.
        if self
            .queue
            .front()
            .is_some_and(|(deadline, _)| *deadline <= now)
        {
            self.queue.retain(|(deadline, cell)| {
                if *deadline > now {
                    return true;
                }
                let previous = std::mem::replace(&mut *cell.borrow_mut(), State::TimedOut);
                if let State::Waiting(Some(waker)) = previous {
                    waker.wake();
                }
                false
            });
        }
        self.queue.iter().map(|(deadline, _)| *deadline).min()
    }

    /// Hands `value` to the front waiter and wakes it; gives `value` back when nobody
    /// waits.
    pub(crate) fn grant(&mut self, value: T) -> Result<(), T> {
        let Some((_, cell)) = self.queue.pop_front() else {
            return Err(value);
        };
        let previous = std::mem::replace(&mut *cell.borrow_mut(), State::Granted(value));
        if let State::Waiting(Some(waker)) = previous {
            waker.wake();
        }
        Ok(())
    }

    /// Takes `waiter` out: from the queue when still waiting, or its granted value back.
    pub(crate) fn cancel(&mut self, waiter: &Waiter<T>) -> Option<T> {
        let previous = std::mem::replace(&mut *waiter.cell.borrow_mut(), State::Done);
        match previous {
            State::Waiting(_) => {
                let at = self
                    .queue
                    .iter()
                    .position(|(_, c)| Rc::ptr_eq(c, &waiter.cell));
                if let Some(at) = at {
                    self.queue.remove(at);
                }
                None
            }
            State::Granted(value) => Some(value),
            State::Closed | State::TimedOut | State::Done => None,
        }
    }

    /// Wakes every waiter with "closed" and empties the queue.
    pub(crate) fn close(&mut self) {
        for (_, cell) in self.queue.drain(..) {
            let previous = std::mem::replace(&mut *cell.borrow_mut(), State::Closed);
            if let State::Waiting(Some(waker)) = previous {
                waker.wake();
            }
        }
    }
}

impl<T> Waiter<T> {
    /// `Ready` once granted, closed or timed out.
    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> Poll<Wait<T>> {
        let mut state = self.cell.borrow_mut();
        match &mut *state {
            State::Waiting(waker) => {
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            State::Granted(_) => match std::mem::replace(&mut *state, State::Done) {
                State::Granted(value) => Poll::Ready(Wait::Granted(value)),
                _ => unreachable!("matched Granted above"),
            },
            State::Closed | State::Done => Poll::Ready(Wait::Closed),
            State::TimedOut => Poll::Ready(Wait::TimedOut),
        }
    }
}

impl<T> fmt::Debug for Waiters<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiters")
            .field("len", &self.queue.len())
            .finish()
    }
}

impl<T> fmt::Debug for Waiter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;
    use std::time::Duration;

    use super::*;

    fn poll<T>(w: &Waiter<T>) -> Poll<Wait<T>> {
        w.poll(&mut Context::from_waker(Waker::noop()))
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    #[test]
    fn expire_times_out_only_the_waiters_past_their_deadline() {
        let mut q = Waiters::<u8>::new();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let a = q.push(t0 + ms(10));
        let b = q.push(t0 + ms(30));
        // Out of order (a per-call deadline shorter than the pool's).
        let c = q.push(t0 + ms(20));
        assert_eq!(q.expire(t0), Some(t0 + ms(10)), "nothing due yet");
        assert_eq!(q.expire(t0 + ms(20)), Some(t0 + ms(30)));
        assert_eq!(poll(&a), Poll::Ready(Wait::TimedOut));
        assert_eq!(poll(&c), Poll::Ready(Wait::TimedOut));
        assert!(poll(&b).is_pending());
        assert_eq!(q.cancel(&a), None, "a timed-out waiter holds nothing");
        assert_eq!(q.len(), 1);
        q.grant(5).unwrap();
        assert_eq!(poll(&b), Poll::Ready(Wait::Granted(5)));
        assert_eq!(q.expire(t0 + ms(40)), None);
    }

    #[test]
    fn grants_go_to_the_oldest_waiter() {
        let mut q = Waiters::new();
        let a = q.push(far());
        let b = q.push(far());
        assert!(poll(&a).is_pending());
        assert_eq!(q.grant(1), Ok(()));
        assert_eq!(poll(&a), Poll::Ready(Wait::Granted(1)));
        assert!(poll(&b).is_pending());
        assert_eq!(q.len(), 1);
        assert_eq!(q.grant(2), Ok(()));
        assert_eq!(q.grant(3), Err(3));
        assert_eq!(poll(&b), Poll::Ready(Wait::Granted(2)));
    }

    #[test]
    fn cancel_leaves_the_queue_or_returns_the_grant() {
        let mut q = Waiters::new();
        let a = q.push(far());
        let b = q.push(far());
        let c = q.push(far());
        assert_eq!(q.cancel(&b), None);
        assert_eq!(q.len(), 2);
        q.grant(7).unwrap();
        assert_eq!(q.cancel(&a), Some(7));
        q.grant(8).unwrap();
        assert_eq!(poll(&c), Poll::Ready(Wait::Granted(8)));
        assert!(q.is_empty());
    }

    #[test]
    fn close_wakes_everyone_with_none() {
        let mut q = Waiters::<u8>::new();
        let a = q.push(far());
        q.close();
        assert_eq!(poll(&a), Poll::Ready(Wait::Closed));
        assert_eq!(q.cancel(&a), None);
        assert!(q.is_empty());
    }
}
