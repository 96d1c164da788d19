//! The acquire: [`Pool::get`](crate::Pool::get)'s path (take an idle connection, or
//! a slot to create one, or queue), the checkout check of a connection before it is
//! lent (recycling or replacing it), the create with retries and backoff,
//! [`Pool::try_get`](crate::Pool::try_get), and the lease a lent connection is
//! recorded under.

use std::future::poll_fn;
use std::panic::Location;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use keel_runtime::time::{sleep_until, timeout_at};

use super::state::{Conn, Grant, Inner, Lease, SlotGuard};
use crate::error::{AcquirePhase, Error};
use crate::manager::Manager;
use crate::metrics::Reason;
use crate::object::Pooled;
use crate::permits::{Wait, Waiter};

impl<M: Manager> Inner<M> {
    /// [`Pool::get`](crate::Pool::get) without its tracing span.
    pub(super) async fn acquire(
        this: &Rc<Self>,
        location: &'static Location<'static>,
    ) -> Result<Pooled<M>, Error<M::Error>> {
        // One clock read serves an acquire that finds an idle connection: its start,
        // the checkout's "now" and the lease's start are the same instant.
        let start = Instant::now();
        let deadline = || start + this.config.acquire_timeout;
        this.start_maintenance();
        enum First<C> {
            Conn(Conn<C>),
            Slot,
            Wait(Waiter<Grant<C>>),
        }
        let first = {
            let mut st = this.state.borrow_mut();
            if st.closed {
                return Err(Error::Closed);
            }
            if !st.waiters.is_empty() {
                First::Wait(st.waiters.push(deadline()))
            } else if let Some(conn) = st.idle.pop_back() {
                First::Conn(conn)
            } else if st.size < this.config.max {
                st.size += 1;
                First::Slot
            } else {
                First::Wait(st.waiters.push(deadline()))
            }
        };
        let waited = matches!(first, First::Wait(_));
        let grant = match first {
            First::Conn(conn) => Grant::Conn(conn),
            First::Slot => Grant::Slot,
            First::Wait(waiter) => {
                let guard = WaitGuard {
                    inner: this,
                    waiter,
                };
                this.start_expiring();
                match poll_fn(|cx| guard.waiter.poll(cx)).await {
                    Wait::Granted(grant) => grant,
                    Wait::Closed => return Err(Error::Closed),
                    Wait::TimedOut => {
                        let last_error = this.health.current_error();
                        return Err(this.timed_out(AcquirePhase::Wait, start, last_error));
                    }
                }
            }
        };
        let slot = SlotGuard { inner: this };
        let (conn, now) = match grant {
            Grant::Conn(conn) => {
                // A waiter's connection was handed over when it went idle (a checkin or
                // a create stamps `idle_since`): the wait ends there, no clock read.
                let now = if waited {
                    conn.idle_since.max(start)
                } else {
                    start
                };
                this.checkout(slot, conn, start, now).await?
            }
            Grant::Slot => {
                let conn = this.create(slot, start, deadline()).await?;
                (conn, Instant::now())
            }
        };
        this.lend(conn, start, now, location)
    }

    /// Checks a connection before lending it (at `now`); replaces it when it fails.
    /// Returns the connection and the time the checkout ended: `now` when it did not
    /// wait for a recycle or a create.
    async fn checkout(
        self: &Rc<Self>,
        slot: SlotGuard<'_, M>,
        mut conn: Conn<M::Connection>,
        start: Instant,
        now: Instant,
    ) -> Result<(Conn<M::Connection>, Instant), Error<M::Error>> {
        let deadline = || start + self.config.acquire_timeout;
        let mut failed = self.inspect(&mut conn, now);
        let idle_for = now.saturating_duration_since(conn.idle_since);
        let mut ended = now;
        if failed.is_none() && (conn.needs_recycle || idle_for > self.config.validation_window) {
            let limit = deadline().min(now + self.config.recycle_timeout);
            // Held by a guard while the recycle runs: an acquire cancelled meanwhile
            // closes the connection through `discard` (counted, `detach` called).
            let mut checking = Checking {
                inner: self,
                conn: Some(conn),
            };
            let raw = &mut checking.conn.as_mut().expect("held until taken").raw;
            let outcome = timeout_at(limit, self.manager.recycle(raw)).await;
            conn = checking.take();
            ended = Instant::now();
            match outcome {
                Ok(Ok(())) => conn.needs_recycle = false,
                Ok(Err(_)) => failed = Some(Reason::RecycleFailed),
                Err(_) => {
                    self.discard(conn, Reason::RecycleFailed);
                    if Instant::now() >= deadline() {
                        return Err(self.timed_out(AcquirePhase::Recycle, start, None));
                    }
                    let conn = self.create(slot, start, deadline()).await?;
                    return Ok((conn, Instant::now()));
                }
            }
        }
        match failed {
            None => {
                slot.disarm();
                Ok((conn, ended))
            }
            Some(reason) => {
                self.discard(conn, reason);
                let conn = self.create(slot, start, deadline()).await?;
                Ok((conn, Instant::now()))
            }
        }
    }

    /// Creates a connection in the slot held, retrying with backoff until `deadline`.
    async fn create(
        self: &Rc<Self>,
        slot: SlotGuard<'_, M>,
        start: Instant,
        deadline: Instant,
    ) -> Result<Conn<M::Connection>, Error<M::Error>> {
        let mut last_error = None;
        let mut attempt = 0;
        loop {
            if self.state.borrow().closed {
                return Err(Error::Closed);
            }
            let now = Instant::now();
            if now >= deadline {
                // Our own last error, else that of the creates failing beside us.
                let last_error = last_error.or_else(|| self.health.current_error());
                return Err(self.timed_out(AcquirePhase::Create, start, last_error));
            }
            let create_deadline = now + self.config.create_timeout;
            let limit = deadline.min(create_deadline);
            match timeout_at(limit, self.manager.create()).await {
                Ok(Ok(raw)) => {
                    self.counters.created();
                    self.health.succeeded();
                    slot.disarm();
                    return Ok(self.wrap(raw));
                }
                Ok(Err(e)) => {
                    self.counters.create_failed();
                    if self.config.fail_fast {
                        self.health.failed_text(e.to_string());
                        return Err(Error::Backend(e));
                    }
                    let e = Arc::new(e);
                    self.health.failed(&e);
                    last_error = Some(e);
                }
                Err(_) if limit < create_deadline && last_error.is_some() => {
                    // Cut short by this acquire's own deadline after the backend already
                    // said why it fails: that answer stays the health's last error (the
                    // next turn reports the timeout with it).
                    continue;
                }
                Err(_) => {
                    self.counters.create_failed();
                    self.health.failed_text(format!(
                        "create timed out after {:?}",
                        limit.saturating_duration_since(now)
                    ));
                }
            }
            tracing::debug!(attempt, "keel-pool: connect failed; retrying after backoff");
            let pause =
                self.rng
                    .backoff(attempt, self.config.backoff_base, self.config.backoff_max);
            attempt += 1;
            sleep_until(deadline.min(Instant::now() + pause)).await;
        }
    }

    /// [`Pool::try_get`](crate::Pool::try_get): an idle connection that passes the
    /// sync check, without waiting.
    pub(super) fn try_acquire(
        self: &Rc<Self>,
        location: &'static Location<'static>,
    ) -> Option<Pooled<M>> {
        let start = Instant::now();
        self.start_maintenance();
        let candidates = self.state.borrow().idle.len();
        for _ in 0..candidates {
            let mut conn = {
                let mut st = self.state.borrow_mut();
                if st.closed || !st.waiters.is_empty() {
                    return None;
                }
                st.idle.pop_back()?
            };
            let slot = SlotGuard { inner: self };
            if let Some(reason) = self.inspect(&mut conn, start) {
                self.discard(conn, reason);
                drop(slot);
                continue;
            }
            slot.disarm();
            if conn.needs_recycle {
                // Leave it for `get`, which can run the async recycle.
                self.state.borrow_mut().idle.push_front(conn);
                continue;
            }
            return self.lend(conn, start, start, location).ok();
        }
        None
    }

    /// Records the lease, taken at `now` by an acquire that began at `start`, and wraps
    /// the connection in its guard.
    fn lend(
        self: &Rc<Self>,
        conn: Conn<M::Connection>,
        start: Instant,
        now: Instant,
        location: &'static Location<'static>,
    ) -> Result<Pooled<M>, Error<M::Error>> {
        let lease = {
            let mut st = self.state.borrow_mut();
            if st.closed {
                None
            } else {
                st.in_use += 1;
                Some(st.leases.insert(Lease {
                    taken: now,
                    location,
                    warned: false,
                }))
            }
        };
        let Some(lease) = lease else {
            self.discard(conn, Reason::PoolClosed);
            self.release_slot();
            return Err(Error::Closed);
        };
        self.counters.acquired(now - start);
        Ok(Pooled::new(self.clone(), conn, lease))
    }
}

/// A queued acquire; dropping it leaves the queue or passes on what it was handed.
struct WaitGuard<'a, M: Manager> {
    inner: &'a Rc<Inner<M>>,
    waiter: Waiter<Grant<M::Connection>>,
}

impl<M: Manager> Drop for WaitGuard<'_, M> {
    fn drop(&mut self) {
        let granted = self.inner.state.borrow_mut().waiters.cancel(&self.waiter);
        match granted {
            Some(Grant::Conn(conn)) => self.inner.dispatch(conn),
            Some(Grant::Slot) => self.inner.release_slot(),
            None => {}
        }
    }
}

/// A connection being recycled by an acquire; dropped with it (the acquire was
/// cancelled), it closes the connection as [`Reason::RecycleCancelled`].
struct Checking<'a, M: Manager> {
    inner: &'a Rc<Inner<M>>,
    conn: Option<Conn<M::Connection>>,
}

impl<M: Manager> Checking<'_, M> {
    /// The recycle finished: the acquire takes the connection back.
    fn take(mut self) -> Conn<M::Connection> {
        self.conn.take().expect("taken once")
    }
}

impl<M: Manager> Drop for Checking<'_, M> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.inner.discard(conn, Reason::RecycleCancelled);
        }
    }
}
