//! [`Pool`]: the connection pool of one loop — acquire ([`Pool::get`],
//! [`Pool::try_get`]), return (dropping a [`Pooled`]), the background task (reaping,
//! refilling `min`, leak warnings) and [`Pool::close`].
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
//!   or past the idle timeout (down to `min`), opens connections until `min` are idle, and warns about leases
//!   held past the leak threshold. It holds only a `Weak` and stops with the pool.
//! * **Close.** Waiters get [`Error::Closed`], idle connections close now, checked-out
//!   ones close when returned, creates in flight close when they finish.
//!   [`Pool::close_within`] also waits for that, up to a deadline, and reports what
//!   was left.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::Location;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use keel_runtime::time::{sleep, sleep_until, timeout, timeout_at};
use keel_runtime::trace::{self, SpanKind, SpanStatus};
use slab::Slab;

use crate::builder::{Builder, Config};
use crate::error::{Error, Phase};
use crate::health::{BackendHealth, Tracker};
use crate::health_handle::PoolHealth;
use crate::jitter::Rng;
use crate::manager::{Health, Manager};
use crate::metrics::{Counters, Metrics, Reason, Status};
use crate::object::Pooled;
use crate::permits::{Wait, Waiter, Waiters};

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

/// The shared state behind every clone of a [`Pool`] and every [`Pooled`].
pub(crate) struct Inner<M: Manager> {
    pub(crate) manager: M,
    config: Config,
    state: RefCell<State<M::Connection>>,
    counters: Counters,
    health: Tracker<M::Error>,
    rng: Rng,
    maintenance: Cell<bool>,
    /// Whether the task that times waiters out (`expire_waiters`) is running.
    expiring: Cell<bool>,
    /// Tasks in [`Pool::close_within`], woken whenever a connection or slot goes.
    draining: RefCell<Vec<Waker>>,
}

struct State<C> {
    /// Oldest-returned at the front; acquires take from the back (most recent).
    idle: VecDeque<Conn<C>>,
    size: usize,
    in_use: usize,
    waiters: Waiters<Grant<C>>,
    leases: Slab<Lease>,
    closed: bool,
}

/// A connection with the pool's bookkeeping.
pub(crate) struct Conn<C> {
    /// Boxed once when created: an acquire moves its `Conn` a dozen times (idle list,
    /// grant, checkout, lease), and a real client (tokio-postgres' with its statement
    /// cache) is hundreds of bytes to copy each time.
    pub(crate) raw: Box<C>,
    expires: Option<Instant>,
    idle_since: Instant,
    needs_recycle: bool,
}

/// What a waiter is handed.
enum Grant<C> {
    Conn(Conn<C>),
    /// Permission to create one (the slot is already counted in `size`).
    Slot,
}

/// A checked-out connection: when and where it was taken.
#[derive(Debug)]
struct Lease {
    taken: Instant,
    location: &'static Location<'static>,
    warned: bool,
}

impl<C> Conn<C> {
    fn expired(&self, now: Instant) -> bool {
        self.expires.is_some_and(|at| now >= at)
    }
}

// ===== impl Pool =====

impl<M: Manager> Pool<M> {
    /// Starts building a pool around `manager`.
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
    /// let pool = Pool::builder(M).max(3).build();
    /// assert_eq!(pool.status().max, 3);
    /// ```
    pub fn builder(manager: M) -> Builder<M> {
        Builder::new(manager)
    }

    /// A pool with the default settings (see [`Builder`]).
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
    /// assert_eq!(Pool::new(M).status().max, keel_pool::DEFAULT_MAX);
    /// ```
    pub fn new(manager: M) -> Pool<M> {
        Builder::new(manager).build()
    }

    pub(crate) fn from_parts(manager: M, config: Config) -> Pool<M> {
        Pool {
            inner: Rc::new(Inner {
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
            }),
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
    /// [`Builder::fail_fast`]; [`Error::Closed`] after [`close`](Pool::close).
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

// ===== impl Inner =====

impl<M: Manager> Inner<M> {
    async fn acquire(
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
                        return Err(this.timed_out(Phase::Wait, start, last_error));
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
        let mut failed = if conn.expired(now) {
            Some(Reason::MaxLifetime)
        } else {
            match self.manager.check(&mut conn.raw) {
                Health::Ok => None,
                Health::NeedsRecycle => {
                    conn.needs_recycle = true;
                    None
                }
                Health::Broken => Some(Reason::Broken),
            }
        };
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
                        return Err(self.timed_out(Phase::Recycle, start, None));
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
                return Err(self.timed_out(Phase::Create, start, last_error));
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

    fn try_acquire(self: &Rc<Self>, location: &'static Location<'static>) -> Option<Pooled<M>> {
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
            let reason = if conn.expired(start) {
                Some(Reason::MaxLifetime)
            } else {
                match self.manager.check(&mut conn.raw) {
                    Health::Broken => Some(Reason::Broken),
                    Health::NeedsRecycle => {
                        conn.needs_recycle = true;
                        None
                    }
                    Health::Ok => None,
                }
            };
            if let Some(reason) = reason {
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

    fn wrap(&self, raw: M::Connection) -> Conn<M::Connection> {
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

    /// A connection comes back from a [`Pooled`].
    pub(crate) fn checkin(&self, mut conn: Conn<M::Connection>, lease: usize) {
        let now = Instant::now();
        let (lease, closed) = {
            let mut st = self.state.borrow_mut();
            st.in_use -= 1;
            (st.leases.remove(lease), st.closed)
        };
        let held = now - lease.taken;
        self.counters.returned(held);
        if lease.warned {
            tracing::info!(
                held_ms = held.as_millis() as u64,
                taken_at = %lease.location,
                "keel-pool: connection reported as a possible leak was returned"
            );
        }
        let reason = if closed {
            Some(Reason::PoolClosed)
        } else if conn.expired(now) {
            Some(Reason::MaxLifetime)
        } else {
            match self.manager.check(&mut conn.raw) {
                Health::Broken => Some(Reason::Broken),
                Health::NeedsRecycle => {
                    conn.needs_recycle = true;
                    None
                }
                Health::Ok => None,
            }
        };
        match reason {
            Some(reason) => {
                self.discard(conn, reason);
                self.release_slot();
            }
            None => {
                conn.idle_since = now;
                self.dispatch(conn);
            }
        }
    }

    /// A connection leaves the pool for good through [`Pooled::detach`].
    pub(crate) fn detach(&self, conn: &mut M::Connection, lease: usize) {
        {
            let mut st = self.state.borrow_mut();
            st.in_use -= 1;
            st.leases.remove(lease);
        }
        self.counters.closed(Reason::Detached);
        self.manager.detach(conn);
        self.release_slot();
    }

    /// Hands a usable connection to the oldest waiter, or makes it idle.
    fn dispatch(&self, conn: Conn<M::Connection>) {
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
    fn release_slot(&self) {
        {
            let mut st = self.state.borrow_mut();
            if st.closed || st.waiters.grant(Grant::Slot).is_err() {
                st.size -= 1;
            }
        }
        self.wake_draining();
    }

    /// Wakes the tasks in [`Pool::close_within`] (they look at `size` when polled,
    /// after the caller's bookkeeping is done).
    fn wake_draining(&self) {
        let wakers = std::mem::take(&mut *self.draining.borrow_mut());
        for waker in wakers {
            waker.wake();
        }
    }

    /// Closes a connection (its slot is the caller's business).
    fn discard(&self, mut conn: Conn<M::Connection>, reason: Reason) {
        self.counters.closed(reason);
        self.manager.detach(&mut conn.raw);
        drop(conn);
        self.wake_draining();
    }

    fn timed_out(
        &self,
        phase: Phase,
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

    // ----- the background task -----

    fn start_maintenance(self: &Rc<Self>) {
        if self.maintenance.replace(true) {
            return;
        }
        let weak = Rc::downgrade(self);
        let interval = self.config.reap_interval;
        drop(
            keel_runtime::task::Builder::new()
                .name("keel-pool maintenance")
                .spawn_local(maintain(weak, interval)),
        );
    }

    /// Makes sure a task times queued acquires out at their deadlines (see
    /// `permits.rs`): one per pool while anyone waits, instead of a timer per waiter.
    fn start_expiring(self: &Rc<Self>) {
        if self.expiring.replace(true) {
            return;
        }
        drop(
            keel_runtime::task::Builder::new()
                .name("keel-pool waiter expiry")
                .spawn_local(expire_waiters(Rc::downgrade(self))),
        );
    }

    /// Closes idle connections that are broken ([`Manager::check`]), past their
    /// lifetime, or idle past the idle timeout (down to `min`).
    fn reap(&self) {
        let now = Instant::now();
        // Out of the state while the manager looks at them (no borrow across a call).
        let idle = std::mem::take(&mut self.state.borrow_mut().idle);
        let mut keep = VecDeque::with_capacity(idle.len());
        let mut gone = Vec::new();
        let mut left = idle.len();
        for mut conn in idle {
            let reason = if conn.expired(now) {
                Some(Reason::MaxLifetime)
            } else if self.manager.check(&mut conn.raw) == Health::Broken {
                Some(Reason::Broken)
            } else if left > self.config.min
                && self
                    .config
                    .idle_timeout
                    .is_some_and(|t| now.saturating_duration_since(conn.idle_since) >= t)
            {
                Some(Reason::IdleTimeout)
            } else {
                None
            };
            match reason {
                Some(reason) => {
                    left -= 1;
                    gone.push((conn, reason));
                }
                None => keep.push_back(conn),
            }
        }
        {
            let mut st = self.state.borrow_mut();
            st.size -= gone.len();
            // Anything returned meanwhile is more recent: it stays at the back.
            keep.append(&mut st.idle);
            st.idle = keep;
        }
        for (conn, reason) in gone {
            self.discard(conn, reason);
        }
    }

    /// Opens connections until `min` are idle (or `max` exist); stops at the first
    /// failure (the next tick tries again).
    async fn refill(self: &Rc<Self>) {
        loop {
            {
                let mut st = self.state.borrow_mut();
                if st.closed || st.idle.len() >= self.config.min || st.size >= self.config.max {
                    return;
                }
                st.size += 1;
            }
            let slot = SlotGuard { inner: self };
            match timeout(self.config.create_timeout, self.manager.create()).await {
                Ok(Ok(raw)) => {
                    self.counters.created();
                    self.health.succeeded();
                    slot.disarm();
                    let conn = self.wrap(raw);
                    self.dispatch(conn);
                }
                Ok(Err(e)) => {
                    self.counters.create_failed();
                    self.health.failed(&Arc::new(e));
                    return;
                }
                Err(_) => {
                    self.counters.create_failed();
                    self.health.failed_text(format!(
                        "create timed out after {:?}",
                        self.config.create_timeout
                    ));
                    return;
                }
            }
        }
    }

    /// Warns once about each lease held longer than the leak threshold.
    fn find_leaks(&self) {
        let Some(threshold) = self.config.leak_threshold else {
            return;
        };
        let now = Instant::now();
        let mut st = self.state.borrow_mut();
        for (_, lease) in st.leases.iter_mut() {
            let held = now.saturating_duration_since(lease.taken);
            if !lease.warned && held > threshold {
                lease.warned = true;
                self.counters.leaked();
                tracing::warn!(
                    held_ms = held.as_millis() as u64,
                    threshold_ms = threshold.as_millis() as u64,
                    taken_at = %lease.location,
                    "keel-pool: connection held longer than the leak threshold (possible leak)"
                );
            }
        }
    }
}

/// The background task: reap, refill, look for leaks, sleep; ends with the pool.
async fn maintain<M: Manager>(pool: Weak<Inner<M>>, interval: Duration) {
    loop {
        {
            let Some(inner) = pool.upgrade() else {
                return;
            };
            if inner.state.borrow().closed {
                return;
            }
            inner.reap();
            inner.find_leaks();
            inner.refill().await;
        }
        sleep(interval).await;
    }
}

/// Times out the pool's queued acquires at their deadlines; ends when nobody waits
/// (`start_expiring` starts it again) or the pool is gone.
async fn expire_waiters<M: Manager>(pool: Weak<Inner<M>>) {
    /// Clears `expiring` however the task ends — also when its loop drops it at
    /// shutdown, so that a pool outliving the loop starts a new one.
    struct Running<M: Manager>(Weak<Inner<M>>);
    impl<M: Manager> Drop for Running<M> {
        fn drop(&mut self) {
            if let Some(inner) = self.0.upgrade() {
                inner.expiring.set(false);
            }
        }
    }
    let _running = Running(pool.clone());
    loop {
        let Some(inner) = pool.upgrade() else {
            return;
        };
        let next = inner.state.borrow_mut().waiters.expire(Instant::now());
        // Not held across the sleep: the task must not keep the pool alive.
        drop(inner);
        match next {
            Some(deadline) => sleep_until(deadline).await,
            None => return,
        }
    }
}

// ===== guards =====

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

/// A slot held by an acquire or the refill; given back on drop unless disarmed.
struct SlotGuard<'a, M: Manager> {
    inner: &'a Rc<Inner<M>>,
}

impl<M: Manager> SlotGuard<'_, M> {
    /// The slot now belongs to a connection.
    fn disarm(self) {
        std::mem::forget(self);
    }
}

impl<M: Manager> Drop for SlotGuard<'_, M> {
    fn drop(&mut self) {
        self.inner.release_slot();
    }
}
