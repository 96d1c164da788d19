//! The state one pool's handles, guards and tasks share ([`Inner`]): the idle list, the
//! slot count, the queue and the leases, with the bookkeeping every path goes through —
//! hand a connection on ([`Inner::dispatch`]), give a slot back
//! ([`Inner::release_slot`]), close a connection ([`Inner::discard`]) — and the
//! [`SlotGuard`] that gives a slot back on any path that drops it.
//!
//! The acquire (`acquire.rs`), the return (`checkin.rs`) and the background tasks
//! (`maintenance.rs`) build on this file; it uses none of them.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::panic::Location;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;
use std::time::Instant;

use slab::Slab;

use crate::config::Config;
use crate::error::{AcquirePhase, Error};
use crate::health::Tracker;
use crate::jitter::Rng;
use crate::manager::{CheckOutcome, Manager};
use crate::metrics::{Counters, Reason};
use crate::permits::Waiters;

/// The shared state behind every clone of a [`Pool`](crate::Pool) and every
/// [`Pooled`](crate::Pooled).
pub(crate) struct Inner<M: Manager> {
    pub(super) manager: M,
    pub(super) config: Config,
    pub(super) state: RefCell<State<M::Connection>>,
    pub(super) counters: Counters,
    pub(super) health: Tracker<M::Error>,
    pub(super) rng: Rng,
    /// Whether the background task (`maintenance.rs`) was started.
    pub(super) maintenance: Cell<bool>,
    /// Whether the task that times waiters out (`expire_waiters`) is running.
    pub(super) expiring: Cell<bool>,
    /// Tasks in [`Pool::close_within`](crate::Pool::close_within), woken whenever a
    /// connection or slot goes.
    pub(super) draining: RefCell<Vec<Waker>>,
}

pub(super) struct State<C> {
    /// Oldest-returned at the front; acquires take from the back (most recent).
    pub(super) idle: VecDeque<Conn<C>>,
    pub(super) size: usize,
    pub(super) in_use: usize,
    pub(super) waiters: Waiters<Grant<C>>,
    pub(super) leases: Slab<Lease>,
    pub(super) closed: bool,
}

/// A connection with the pool's bookkeeping.
pub(crate) struct Conn<C> {
    /// Boxed once when created: an acquire moves its `Conn` a dozen times (idle list,
    /// grant, checkout, lease), and a real client (tokio-postgres' with its statement
    /// cache) is hundreds of bytes to copy each time.
    pub(crate) raw: Box<C>,
    pub(super) expires: Option<Instant>,
    pub(super) idle_since: Instant,
    pub(super) needs_recycle: bool,
}

/// What a waiter is handed.
pub(super) enum Grant<C> {
    Conn(Conn<C>),
    /// Permission to create one (the slot is already counted in `size`).
    Slot,
}

/// A checked-out connection: when and where it was taken.
#[derive(Debug)]
pub(super) struct Lease {
    pub(super) taken: Instant,
    pub(super) location: &'static Location<'static>,
    pub(super) warned: bool,
}

impl<C> Conn<C> {
    pub(super) fn expired(&self, now: Instant) -> bool {
        self.expires.is_some_and(|at| now >= at)
    }
}

impl<M: Manager> Inner<M> {
    pub(super) fn new(manager: M, config: Config) -> Inner<M> {
        Inner {
            manager,
            config,
            state: RefCell::new(State {
                idle: VecDeque::new(),
                size: 0,
                in_use: 0,
                waiters: Waiters::new(),
                leases: Slab::new(),
                closed: false,
            }),
            counters: Counters::default(),
            health: Tracker::new(),
            rng: Rng::new(),
            maintenance: Cell::new(false),
            expiring: Cell::new(false),
            draining: RefCell::new(Vec::new()),
        }
    }

    /// A connection just created, with its lifetime drawn.
    pub(super) fn wrap(&self, raw: M::Connection) -> Conn<M::Connection> {
        let now = Instant::now();
        Conn {
            raw: Box::new(raw),
            expires: self
                .config
                .max_lifetime
                .map(|life| now + self.rng.shorten(life, self.config.lifetime_jitter)),
            idle_since: now,
            needs_recycle: false,
        }
    }

    /// The sync look at a connection before it is lent or when it comes back: past its
    /// lifetime, or broken by [`Manager::check`], gives the reason to close it; a
    /// connection `check` wants recycled is marked for it.
    pub(super) fn inspect(&self, conn: &mut Conn<M::Connection>, now: Instant) -> Option<Reason> {
        if conn.expired(now) {
            return Some(Reason::MaxLifetime);
        }
        match self.manager.check(&mut conn.raw) {
            CheckOutcome::Ok => None,
            CheckOutcome::NeedsRecycle => {
                conn.needs_recycle = true;
                None
            }
            CheckOutcome::Broken => Some(Reason::Broken),
        }
    }

    /// Hands a usable connection to the oldest waiter, or makes it idle.
    pub(super) fn dispatch(&self, conn: Conn<M::Connection>) {
        let refused = {
            let mut st = self.state.borrow_mut();
            if st.closed {
                st.size -= 1;
                Some(conn)
            } else {
                match st.waiters.grant(Grant::Conn(conn)) {
                    Ok(()) => None,
                    Err(Grant::Conn(conn)) => {
                        st.idle.push_back(conn);
                        None
                    }
                    Err(Grant::Slot) => unreachable!("granted a connection"),
                }
            }
        };
        if let Some(conn) = refused {
            self.discard(conn, Reason::PoolClosed);
        }
    }

    /// Gives a slot back: to the oldest waiter (to create with), else frees it.
    pub(super) fn release_slot(&self) {
        {
            let mut st = self.state.borrow_mut();
            if st.closed || st.waiters.grant(Grant::Slot).is_err() {
                st.size -= 1;
            }
        }
        self.wake_draining();
    }

    /// Wakes the tasks in [`Pool::close_within`](crate::Pool::close_within) (they look
    /// at `size` when polled, after the caller's bookkeeping is done).
    fn wake_draining(&self) {
        let wakers = std::mem::take(&mut *self.draining.borrow_mut());
        for waker in wakers {
            waker.wake();
        }
    }

    /// Closes a connection (its slot is the caller's business).
    pub(super) fn discard(&self, mut conn: Conn<M::Connection>, reason: Reason) {
        self.counters.closed(reason);
        self.manager.detach(&mut conn.raw);
        drop(conn);
        self.wake_draining();
    }

    /// Counts a timeout in `phase` and builds its error.
    pub(super) fn timed_out(
        &self,
        phase: AcquirePhase,
        start: Instant,
        last_error: Option<Arc<M::Error>>,
    ) -> Error<M::Error> {
        self.counters.timed_out(phase);
        Error::Timeout {
            phase,
            waited: start.elapsed(),
            last_error,
        }
    }
}

/// A slot held by an acquire or the refill; given back on drop unless disarmed.
pub(super) struct SlotGuard<'a, M: Manager> {
    pub(super) inner: &'a Rc<Inner<M>>,
}

impl<M: Manager> SlotGuard<'_, M> {
    /// The slot now belongs to a connection.
    pub(super) fn disarm(self) {
        std::mem::forget(self);
    }
}

impl<M: Manager> Drop for SlotGuard<'_, M> {
    fn drop(&mut self) {
        self.inner.release_slot();
    }
}
