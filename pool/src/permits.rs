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

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// What a waiter's cell holds.
enum State<T> {
    /// Queued; the waker of the last poll.
    Waiting(Option<Waker>),
    /// Handed a value, not yet taken by the waiter.
    Granted(T),
    /// The queue was closed.
    Closed,
    /// The waiter took its value (or was cancelled).
    Done,
}

type Cell<T> = Rc<RefCell<State<T>>>;

/// The queue of waiters, in arrival order.
pub(crate) struct Waiters<T> {
    queue: VecDeque<Cell<T>>,
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

    /// Queues a new waiter at the back.
    pub(crate) fn push(&mut self) -> Waiter<T> {
        let cell = Rc::new(RefCell::new(State::Waiting(None)));
        self.queue.push_back(cell.clone());
        Waiter { cell }
    }

    /// Hands `value` to the front waiter and wakes it; gives `value` back when nobody
    /// waits.
    pub(crate) fn grant(&mut self, value: T) -> Result<(), T> {
        let Some(cell) = self.queue.pop_front() else {
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
                if let Some(at) = self.queue.iter().position(|c| Rc::ptr_eq(c, &waiter.cell)) {
                    self.queue.remove(at);
                }
                None
            }
            State::Granted(value) => Some(value),
            State::Closed | State::Done => None,
        }
    }

    /// Wakes every waiter with "closed" and empties the queue.
    pub(crate) fn close(&mut self) {
        for cell in self.queue.drain(..) {
            let previous = std::mem::replace(&mut *cell.borrow_mut(), State::Closed);
            if let State::Waiting(Some(waker)) = previous {
                waker.wake();
            }
        }
    }
}

impl<T> Waiter<T> {
    /// `Ready(Some(value))` once granted, `Ready(None)` once closed.
    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
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
                State::Granted(value) => Poll::Ready(Some(value)),
                _ => unreachable!("matched Granted above"),
            },
            State::Closed => Poll::Ready(None),
            State::Done => Poll::Ready(None),
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

    use super::*;

    fn poll<T>(w: &Waiter<T>) -> Poll<Option<T>> {
        w.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn grants_go_to_the_oldest_waiter() {
        let mut q = Waiters::new();
        let a = q.push();
        let b = q.push();
        assert!(poll(&a).is_pending());
        assert_eq!(q.grant(1), Ok(()));
        assert_eq!(poll(&a), Poll::Ready(Some(1)));
        assert!(poll(&b).is_pending());
        assert_eq!(q.len(), 1);
        assert_eq!(q.grant(2), Ok(()));
        assert_eq!(q.grant(3), Err(3));
        assert_eq!(poll(&b), Poll::Ready(Some(2)));
    }

    #[test]
    fn cancel_leaves_the_queue_or_returns_the_grant() {
        let mut q = Waiters::new();
        let a = q.push();
        let b = q.push();
        let c = q.push();
        assert_eq!(q.cancel(&b), None);
        assert_eq!(q.len(), 2);
        q.grant(7).unwrap();
        assert_eq!(q.cancel(&a), Some(7));
        q.grant(8).unwrap();
        assert_eq!(poll(&c), Poll::Ready(Some(8)));
        assert!(q.is_empty());
    }

    #[test]
    fn close_wakes_everyone_with_none() {
        let mut q = Waiters::<u8>::new();
        let a = q.push();
        q.close();
        assert_eq!(poll(&a), Poll::Ready(None));
        assert_eq!(q.cancel(&a), None);
        assert!(q.is_empty());
    }
}
