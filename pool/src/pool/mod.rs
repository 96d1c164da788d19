//! [`Pool`]: the connection pool of one loop — its handle and public API: acquire
//! ([`Pool::get`], [`Pool::try_get`]), the gauges, counters and health, and
//! [`Pool::close`]. The machinery is in the files below it: `state.rs` (the shared
//! state and its bookkeeping), `acquire.rs` (acquire, checkout check, create),
//! `checkin.rs` (a connection returned by dropping a [`Pooled`]) and `maintenance.rs`
//! (the background tasks: reaping, refilling `min`, leak warnings, waiter timeouts).
//!
//! # Protocol
//!
//! A pool lives on one loop: its state is an `Rc<RefCell<..>>`, never borrowed across
//! an `.await` nor while calling the manager, and no lock is taken anywhere.
//!
//! * **Slots.** `size` counts connections that exist or are being made: idle, in use,
//!   being created or checked, and "in transit" to a woken waiter. It never exceeds
//!   `max`. A task that raises `size` holds a *slot* (a guard) until the slot becomes a
//!   lent connection; a guard dropped on any path (error, timeout, a cancelled `get()`)
//!   gives the slot back, so a cancelled acquire never leaks one.
//! * **Acquire.** With nobody queued: take the most recently returned idle connection,
//!   else take a slot and create. Otherwise queue (see `permits`): FIFO, and
//!   whatever frees up goes *directly* to the oldest waiter — a connection, or a slot to
//!   create one — never to a task arriving later.
//! * **Checkout check.** Before lending a connection: [`Manager::check`] (sync), the
//!   lifetime, and [`Manager::recycle`] when it was idle longer than the validation
//!   window or `check` asked for it. A connection that fails is closed and the acquire
//!   keeps its slot to create a replacement (it does not queue again).
//! * **Return.** Dropping a [`Pooled`]: closed pool → close it; broken or past its
//!   lifetime → close it and pass the slot on; else hand it to the oldest waiter, or
//!   push it on the idle list.
//! * **Create.** Failed connects are retried with exponential backoff and jitter until
//!   the acquire deadline; the timeout then carries the last connect error. Every
//!   create (and refill) outcome feeds the backend health ([`Pool::health`], for
//!   readiness); acquires queued behind a failing create time out with its error too.
//! * **Background task.** Started by the first acquire on a loop; each
//!   `reap_interval` it closes idle connections that are broken, past their lifetime,
//!   or past the idle timeout (down to `min`), opens connections until `min` are
//!   idle, and warns about leases held past the leak threshold. It holds only a `Weak`
//!   and stops with the pool.
//! * **Close.** Waiters get [`Error::Closed`], idle connections close now, checked-out
//!   ones close when returned, creates in flight close when they finish.
//!   [`Pool::close_within`] also waits for that, up to a deadline, and reports what
//!   was left.

mod acquire;
mod checkin;
mod maintenance;
mod state;

use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::Location;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use keel_runtime::time::timeout;
use keel_runtime::trace::{self, SpanKind, SpanStatus};

use crate::config::Config;
use crate::error::Error;
use crate::health::BackendHealth;
use crate::health_handle::PoolHealth;
use crate::manager::Manager;
use crate::metrics::{Metrics, Reason, Status};
use crate::object::Pooled;

pub(crate) use self::state::{Conn, Inner};

/// A pool of connections made by a [`Manager`], living on the loop that uses it.
///
/// Cheap to clone (an `Rc`): clones share one pool. It is `!Send` on purpose — a pool
/// belongs to one loop and takes no lock; build one per loop (see the crate docs,
/// "A pool per loop"), so a process opens up to `loops × max` connections.
///
/// # Examples
///
/// ```
/// # use keel_pool::{Manager, Pool};
/// # struct M;
/// # impl Manager for M {
/// #     type Connection = String; type Error = std::convert::Infallible;
/// #     async fn create(&self) -> Result<String, Self::Error> { Ok(String::new()) }
/// #     async fn recycle(&self, _: &mut String) -> Result<(), Self::Error> { Ok(()) }
/// # }
/// keel_runtime::block_on(async {
///     let pool = Pool::builder(M).max(2).build();
///     let mut conn = pool.get().await.unwrap();
///     conn.push_str("used"); // Deref/DerefMut to the connection
///     drop(conn); // back to the pool
///     assert_eq!(pool.status().idle, 1);
/// });
/// ```
pub struct Pool<M: Manager> {
    inner: Rc<Inner<M>>,
}

impl<M: Manager> Pool<M> {
    pub(crate) fn from_parts(manager: M, config: Config) -> Pool<M> {
        Pool {
            inner: Rc::new(Inner::new(manager, config)),
        }
    }

    /// Acquires a connection: an idle one (checked if it sat idle past the validation
    /// window), a new one, or the next one returned, in arrival order. Dropping the
    /// [`Pooled`] returns it. Where this was called is remembered for leak warnings.
    ///
    /// Cancel-safe: dropping the future (for example in a
    /// [`timeout`](keel_runtime::time::timeout)) gives back its queue place, its slot
    /// or anything handed to it.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] past the acquire timeout (naming the phase, with the last
    /// connect error when connects kept failing); [`Error::Backend`] with
    /// [`Builder::fail_fast`](crate::Builder::fail_fast); [`Error::Closed`] after
    /// [`close`](Pool::close).
    ///
    /// # Panics
    ///
    /// When polled outside a Keel loop (the pool needs the loop's timers).
    ///
    /// # Examples
    ///
    /// ```
    /// # use keel_pool::{Manager, Pool};
    /// # struct M;
    /// # impl Manager for M {
    /// #     type Connection = u8; type Error = std::convert::Infallible;
    /// #     async fn create(&self) -> Result<u8, Self::Error> { Ok(7) }
    /// #     async fn recycle(&self, _: &mut u8) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// keel_runtime::block_on(async {
    ///     let pool = Pool::new(M);
    ///     assert_eq!(*pool.get().await.unwrap(), 7);
    /// });
    /// ```
    #[track_caller]
    pub fn get(&self) -> impl Future<Output = Result<Pooled<M>, Error<M::Error>>> + 'static {
        let location = Location::caller();
        let inner = self.inner.clone();
        async move {
            // Inside a traced request: a `pool.acquire` span (one atomic load when off).
            let Some(mut span) = trace::start_span("pool.acquire", SpanKind::Internal) else {
                return Inner::acquire(&inner, location).await;
            };
            span.set_attribute("keel.pool.manager", std::any::type_name::<M>());
            let result = Inner::acquire(&inner, location).await;
            if let Err(e) = &result {
                let kind = match e {
                    Error::Timeout { .. } => "timeout",
                    Error::Backend(_) => "backend",
                    _ => "closed",
                };
                span.set_status(SpanStatus::Error(kind.into()));
            }
            span.end();
            result
        }
    }

    /// Takes an idle connection without waiting, or `None` (nothing idle that passes
    /// [`Manager::check`], tasks already queued, or the pool closed). It never creates
    /// a connection nor runs [`Manager::recycle`]; a connection that needs recycling is
    /// left for [`get`](Pool::get).
    ///
    /// # Examples
    ///
    /// ```
    /// # use keel_pool::{Manager, Pool};
    /// # struct M;
    /// # impl Manager for M {
    /// #     type Connection = (); type Error = std::convert::Infallible;
    /// #     async fn create(&self) -> Result<(), Self::Error> { Ok(()) }
    /// #     async fn recycle(&self, _: &mut ()) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// keel_runtime::block_on(async {
    ///     let pool = Pool::new(M);
    ///     assert!(pool.try_get().is_none());
    ///     drop(pool.get().await.unwrap());
    ///     assert!(pool.try_get().is_some());
    /// });
    /// ```
    #[track_caller]
    pub fn try_get(&self) -> Option<Pooled<M>> {
        let location = Location::caller();
        self.inner.try_acquire(location)
    }

    /// The gauges now: size, idle, in use, waiting, max.
    pub fn status(&self) -> Status {
        let st = self.inner.state.borrow();
        Status {
            size: st.size,
            idle: st.idle.len(),
            in_use: st.in_use,
            waiting: st.waiters.len(),
            max: self.inner.config.max,
            healthy: self.inner.health.is_healthy(),
        }
    }

    /// What the pool knows about its backend from its connection attempts: for a
    /// readiness check, which should report unhealthy while `healthy` is false.
    ///
    /// See [`BackendHealth`] for an example.
    pub fn health(&self) -> BackendHealth {
        self.inner.health.snapshot()
    }

    /// A `Send + Sync` handle on this pool's health, kept up to date by the pool (on
    /// every create success or failure, and on close) — for a readiness check on
    /// another thread, which cannot touch the `!Send` pool itself. See
    /// [`PoolHealth`], and [`PoolHealthSet`](crate::PoolHealthSet) for one pool per
    /// loop.
    pub fn health_handle(&self) -> PoolHealth {
        PoolHealth::new(self.inner.health.published().clone())
    }

    /// The counters since the pool was built.
    ///
    /// # Examples
    ///
    /// ```
    /// # use keel_pool::{Manager, Pool};
    /// # struct M;
    /// # impl Manager for M {
    /// #     type Connection = (); type Error = std::convert::Infallible;
    /// #     async fn create(&self) -> Result<(), Self::Error> { Ok(()) }
    /// #     async fn recycle(&self, _: &mut ()) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// keel_runtime::block_on(async {
    ///     let pool = Pool::new(M);
    ///     drop(pool.get().await.unwrap());
    ///     let m = pool.metrics();
    ///     assert_eq!((m.creates, m.acquire_wait.count, m.usage.count), (1, 1, 1));
    /// });
    /// ```
    pub fn metrics(&self) -> Metrics {
        self.inner.counters.snapshot()
    }

    /// The manager.
    pub fn manager(&self) -> &M {
        &self.inner.manager
    }

    /// Closes the pool: queued acquires fail with [`Error::Closed`], idle connections
    /// close now, checked-out ones when they are returned; later acquires fail with
    /// `Closed`. Idempotent.
    ///
    /// # Examples
    ///
    /// ```
    /// # use keel_pool::{Manager, Pool};
    /// # struct M;
    /// # impl Manager for M {
    /// #     type Connection = (); type Error = std::convert::Infallible;
    /// #     async fn create(&self) -> Result<(), Self::Error> { Ok(()) }
    /// #     async fn recycle(&self, _: &mut ()) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// keel_runtime::block_on(async {
    ///     let pool = Pool::new(M);
    ///     let held = pool.get().await.unwrap();
    ///     pool.close();
    ///     assert!(pool.get().await.unwrap_err().is_closed());
    ///     drop(held);
    ///     assert_eq!(pool.status().size, 0);
    /// });
    /// ```
    pub fn close(&self) {
        let idle = {
            let mut st = self.inner.state.borrow_mut();
            st.closed = true;
            self.inner.health.published().set_closed();
            st.waiters.close();
            let idle = std::mem::take(&mut st.idle);
            st.size -= idle.len();
            idle
        };
        for conn in idle {
            self.inner.discard(conn, Reason::PoolClosed);
        }
    }

    /// Closes the pool (as [`close`](Pool::close)) and waits until every connection is
    /// gone — checked-out ones returned, creates in flight finished — or `limit`
    /// passed, whichever comes first. For shutdown: what was still out at the deadline
    /// is in the report (it closes when returned, as after `close`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use keel_pool::{Manager, Pool};
    /// # struct M;
    /// # impl Manager for M {
    /// #     type Connection = (); type Error = std::convert::Infallible;
    /// #     async fn create(&self) -> Result<(), Self::Error> { Ok(()) }
    /// #     async fn recycle(&self, _: &mut ()) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// use std::time::Duration;
    ///
    /// keel_runtime::block_on(async {
    ///     let pool = Pool::new(M);
    ///     let held = pool.get().await.unwrap();
    ///     let report = pool.close_within(Duration::from_millis(10)).await;
    ///     assert_eq!((report.left, report.in_use), (1, 1));
    ///     drop(held);
    ///     assert!(pool.close_within(Duration::ZERO).await.drained());
    /// });
    /// ```
    pub async fn close_within(&self, limit: Duration) -> CloseReport {
        let start = Instant::now();
        self.close();
        let drained = poll_fn(|cx| {
            if self.inner.state.borrow().size == 0 {
                return Poll::Ready(());
            }
            let mut draining = self.inner.draining.borrow_mut();
            if !draining.iter().any(|w| w.will_wake(cx.waker())) {
                draining.push(cx.waker().clone());
            }
            Poll::Pending
        });
        let _ = timeout(limit, drained).await;
        let st = self.inner.state.borrow();
        CloseReport {
            left: st.size,
            in_use: st.in_use,
            waited: start.elapsed(),
        }
    }

    /// Whether [`close`](Pool::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.state.borrow().closed
    }
}

impl<M: Manager> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Pool {
            inner: self.inner.clone(),
        }
    }
}

impl<M: Manager> fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("status", &self.status())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// What [`Pool::close_within`] left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CloseReport {
    /// Connections still open or being opened at the deadline (0: fully drained).
    pub left: usize,
    /// Of those, connections still checked out (they close when returned).
    pub in_use: usize,
    /// How long the close waited.
    pub waited: Duration,
}

impl CloseReport {
    /// Every connection was gone before the deadline.
    pub fn drained(&self) -> bool {
        self.left == 0
    }
}
