//! [`Status`] (the pool's gauges right now) and [`Metrics`] (its counters since it was
//! built): plain `Cell`s on the pool's loop, read as snapshots.
//!
//! A pool lives on one loop; with a pool per loop, a process holds up to
//! `loops × max` connections: sum the per-loop figures for the process total.

use std::cell::Cell;
use std::time::Duration;

use crate::error::AcquirePhase;

/// The pool's gauges at one moment.
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
/// let pool = Pool::builder(M).max(4).build();
/// let status = pool.status();
/// assert_eq!((status.size, status.idle, status.in_use, status.max), (0, 0, 0, 4));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Status {
    /// Connections open or being opened (idle + in use + being created or checked).
    pub size: usize,
    /// Connections waiting in the pool.
    pub idle: usize,
    /// Connections checked out.
    pub in_use: usize,
    /// Tasks waiting in the queue.
    pub waiting: usize,
    /// The most connections the pool opens ([`Builder::max`](crate::Builder::max)).
    pub max: usize,
    /// No connection attempt failed since the last one that succeeded (details:
    /// [`Pool::health`](crate::Pool::health)).
    pub healthy: bool,
}

/// Count, sum and maximum of a duration (a histogram module can replace it later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// How many durations were recorded.
    pub count: u64,
    /// Their sum.
    pub sum: Duration,
    /// The longest.
    pub max: Duration,
}

impl Summary {
    /// The mean, or zero when nothing was recorded.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = keel_pool::Summary { count: 2, sum: Duration::from_millis(6), max: Duration::from_millis(4) };
    /// assert_eq!(s.mean(), Duration::from_millis(3));
    /// ```
    pub fn mean(&self) -> Duration {
        match u32::try_from(self.count) {
            Ok(0) => Duration::ZERO,
            Ok(n) => self.sum / n,
            Err(_) => Duration::from_secs_f64(self.sum.as_secs_f64() / self.count as f64),
        }
    }
}

/// Why connections were closed, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ClosedBy {
    /// [`Manager::check`](crate::Manager::check) found them broken.
    pub broken: u64,
    /// [`Manager::recycle`](crate::Manager::recycle) failed or timed out.
    pub recycle_failed: u64,
    /// The acquire checking them was cancelled (its future dropped) while
    /// [`Manager::recycle`](crate::Manager::recycle) ran: the connection's state is
    /// unknown, so it is closed.
    pub recycle_cancelled: u64,
    /// Idle longer than the idle timeout.
    pub idle_timeout: u64,
    /// Older than their (jittered) max lifetime.
    pub max_lifetime: u64,
    /// The pool was closed.
    pub pool_closed: u64,
    /// Taken out with [`Pooled::detach`](crate::Pooled::detach).
    pub detached: u64,
}

/// The pool's counters since it was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Metrics {
    /// Time from `get()` to a connection, for successful acquires.
    pub acquire_wait: Summary,
    /// Time a connection was held, checkout to return.
    pub usage: Summary,
    /// Acquires that timed out while waiting.
    pub timeouts_wait: u64,
    /// Acquires that timed out while creating.
    pub timeouts_create: u64,
    /// Acquires that timed out while recycling.
    pub timeouts_recycle: u64,
    /// Connections created.
    pub creates: u64,
    /// Failed create attempts.
    pub create_errors: u64,
    /// Connections closed, by reason.
    pub closed: ClosedBy,
    /// Leak warnings logged (a connection held past the leak threshold).
    pub leaks: u64,
}

/// Why a connection left the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    Broken,
    RecycleFailed,
    RecycleCancelled,
    IdleTimeout,
    MaxLifetime,
    PoolClosed,
    Detached,
}

/// The live counters, on the pool's loop.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    metrics: Cell<Metrics>,
}

impl Counters {
    fn update(&self, f: impl FnOnce(&mut Metrics)) {
        let mut m = self.metrics.get();
        f(&mut m);
        self.metrics.set(m);
    }

    pub(crate) fn snapshot(&self) -> Metrics {
        self.metrics.get()
    }

    pub(crate) fn acquired(&self, waited: Duration) {
        self.update(|m| record(&mut m.acquire_wait, waited));
    }

    pub(crate) fn returned(&self, held: Duration) {
        self.update(|m| record(&mut m.usage, held));
    }

    pub(crate) fn timed_out(&self, phase: AcquirePhase) {
        self.update(|m| match phase {
            AcquirePhase::Wait => m.timeouts_wait += 1,
            AcquirePhase::Create => m.timeouts_create += 1,
            AcquirePhase::Recycle => m.timeouts_recycle += 1,
        });
    }

    pub(crate) fn created(&self) {
        self.update(|m| m.creates += 1);
    }

    pub(crate) fn create_failed(&self) {
        self.update(|m| m.create_errors += 1);
    }

    pub(crate) fn leaked(&self) {
        self.update(|m| m.leaks += 1);
    }

    pub(crate) fn closed(&self, reason: Reason) {
        self.update(|m| {
            let c = &mut m.closed;
            match reason {
                Reason::Broken => c.broken += 1,
                Reason::RecycleFailed => c.recycle_failed += 1,
                Reason::RecycleCancelled => c.recycle_cancelled += 1,
                Reason::IdleTimeout => c.idle_timeout += 1,
                Reason::MaxLifetime => c.max_lifetime += 1,
                Reason::PoolClosed => c.pool_closed += 1,
                Reason::Detached => c.detached += 1,
            }
        });
    }
}

fn record(s: &mut Summary, d: Duration) {
    s.count += 1;
    s.sum += d;
    s.max = s.max.max(d);
}
