//! [`TimeDriver`]: one loop's timers. A [`Wheel`](super::wheel::Wheel) of wakers keyed by
//! millisecond deadlines measured from the loop's start; its next deadline becomes the
//! `epoll_wait` timeout, so timers need no thread of their own.

use std::cell::RefCell;
use std::task::Waker;
use std::time::{Duration, Instant};

use super::wheel::{TimerKey, Wheel};

/// A loop's timer store.
#[derive(Debug)]
pub(crate) struct TimeDriver {
    start: Instant,
    wheel: RefCell<Wheel<Waker>>,
    fired: RefCell<Vec<Waker>>,
}

impl TimeDriver {
    pub(crate) fn new() -> TimeDriver {
        TimeDriver {
            start: Instant::now(),
            wheel: RefCell::new(Wheel::new()),
            fired: RefCell::new(Vec::new()),
        }
    }

    /// `deadline` as wheel milliseconds, rounded up so a timer never fires early.
    fn deadline_ms(&self, deadline: Instant) -> u64 {
        let since = deadline.saturating_duration_since(self.start);
        let ms = since.as_millis() as u64;
        if since.subsec_nanos().is_multiple_of(1_000_000) {
            ms
        } else {
            ms + 1
        }
    }

    /// `now` as wheel milliseconds, rounded down.
    fn ms_at(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.start).as_millis() as u64
    }

    /// Adds a timer that wakes `waker` at `deadline`.
    pub(crate) fn insert(&self, deadline: Instant, waker: Waker) -> TimerKey {
        let when = self.deadline_ms(deadline);
        self.wheel.borrow_mut().insert(when, waker)
    }

    /// Whether timer `key` is still registered with a waker that wakes the same task as
    /// `waker` (then polling its `Sleep` again need not re-register it).
    pub(crate) fn will_wake(&self, key: TimerKey, waker: &Waker) -> bool {
        self.wheel
            .borrow()
            .get(key)
            .is_some_and(|stored| stored.will_wake(waker))
    }

    /// Removes a timer; `None` when it already fired. O(1).
    pub(crate) fn remove(&self, key: TimerKey) -> Option<Waker> {
        self.wheel.borrow_mut().remove(key)
    }

    /// How long the loop may sleep from `now` before the next timer is due; `None`
    /// without timers.
    pub(crate) fn next_timeout(&self, now: Instant) -> Option<Duration> {
        let next = self.wheel.borrow().next_expiration()?;
        Some(Duration::from_millis(next.saturating_sub(self.ms_at(now))))
    }

    /// Fires every due timer. Returns how many fired and, when any did, how late the
    /// latest of them fires: now minus the earliest deadline among them (deadlines as
    /// the wheel keeps them, rounded up to the millisecond; see
    /// [`Wheel::advance`](super::wheel::Wheel::advance) for timers created already due).
    /// `now` is a fresh clock reading (the loop's wake-up from `epoll_wait`).
    pub(crate) fn fire_due(&self, now: Instant) -> (usize, Option<Duration>) {
        let now = now.saturating_duration_since(self.start);
        let mut fired = self.fired.borrow_mut();
        let earliest = {
            let mut wheel = self.wheel.borrow_mut();
            wheel.advance(now.as_millis() as u64, &mut fired)
        };
        let late = earliest.map(|ms| now.saturating_sub(Duration::from_millis(ms)));
        let n = fired.len();
        // Wake outside the wheel borrow: a local wake only touches the run queue.
        for waker in fired.drain(..) {
            waker.wake();
        }
        (n, late)
    }

    /// Timers currently registered.
    pub(crate) fn len(&self) -> usize {
        self.wheel.borrow().len()
    }
}
