//! [`PoolHealth`] and [`PoolHealthSet`]: the pool's backend health published behind an
//! `Arc`, so that code on any thread (a readiness check) can read what per-loop,
//! `!Send` pools see.

use std::fmt;
use std::future::{Ready, ready};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::health::{BackendHealth, Published};

/// A `Send + Sync` view of one pool's health
/// ([`Pool::health_handle`](crate::Pool::health_handle)), updated by the pool on every
/// create success or failure and on [`close`](crate::Pool::close). Cheap to clone;
/// reading it takes a short lock that the pool takes only when a create finishes, never
/// on `get()`'s hot path.
///
/// # Examples
///
/// ```
/// # use keel_pool::{Manager, Pool};
/// # struct M;
/// # impl Manager for M {
/// #     type Connection = (); type Error = std::io::Error;
/// #     async fn create(&self) -> Result<(), Self::Error> {
/// #         Err(std::io::Error::other("connection refused"))
/// #     }
/// #     async fn recycle(&self, _: &mut ()) -> Result<(), Self::Error> { Ok(()) }
/// # }
/// let handle = keel_runtime::block_on(async {
///     let pool = Pool::builder(M).fail_fast(true).build();
///     let handle = pool.health_handle();
///     assert!(handle.check().is_ok());
///     assert!(pool.get().await.is_err());
///     handle
/// });
/// // Readable from any thread, after the pool's loop is gone too.
/// let err = std::thread::spawn(move || handle.check().unwrap_err()).join().unwrap();
/// assert!(err.contains("connection refused"), "{err}");
/// ```
#[derive(Clone)]
pub struct PoolHealth {
    shared: Arc<Published>,
}

impl PoolHealth {
    pub(crate) fn new(shared: Arc<Published>) -> PoolHealth {
        PoolHealth { shared }
    }

    /// The pool's backend health as last published.
    pub fn snapshot(&self) -> BackendHealth {
        self.shared.snapshot()
    }

    /// Whether the pool was closed.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Ready: not closed, and no create failed since the last one that succeeded.
    pub fn is_healthy(&self) -> bool {
        !self.is_closed() && self.snapshot().healthy
    }

    /// `Ok` when healthy, else the reason, for a readiness check: `"pool closed"`, or
    /// the number of failed creates, for how long, and the last connect error.
    ///
    /// # Errors
    ///
    /// The text above, when the pool is closed or its backend is failing.
    pub fn check(&self) -> Result<(), String> {
        if self.is_closed() {
            return Err("pool closed".to_owned());
        }
        let health = self.snapshot();
        if health.healthy {
            return Ok(());
        }
        let down_for = health
            .down_since
            .map(|since| format!(" for {:.1?}", since.elapsed()))
            .unwrap_or_default();
        Err(format!(
            "backend down{down_for}: {} failed connects, last: {}",
            health.consecutive_failures,
            health.last_error.as_deref().unwrap_or("unknown error"),
        ))
    }
}

impl fmt::Debug for PoolHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolHealth")
            .field("closed", &self.is_closed())
            .field("health", &self.snapshot())
            .finish()
    }
}

/// The health of many pools — typically one per loop — readable from any thread: the
/// readiness of a process whose loops each own a pool.
///
/// Holds the pools' published health weakly: a pool that was dropped (its loop ended
/// or was restarted with a new pool) drops out of the set.
/// [`PerLoop`](crate::PerLoop) fills one in as it builds its pools.
///
/// # Examples
///
/// A readiness check for Keel's ops server takes a `Send + Sync` closure returning a
/// future of `Result<(), String>`; [`readiness`](Self::readiness) is one:
///
/// ```
/// # use keel_pool::{Manager, Pool, PoolHealthSet};
/// # struct M;
/// # impl Manager for M {
/// #     type Connection = (); type Error = std::convert::Infallible;
/// #     async fn create(&self) -> Result<(), Self::Error> { Ok(()) }
/// #     async fn recycle(&self, _: &mut ()) -> Result<(), Self::Error> { Ok(()) }
/// # }
/// let set = PoolHealthSet::new();
/// // e.g. `Ops::new().readiness_check("postgres", set.readiness())`
/// let check = set.readiness();
///
/// let rt = keel_runtime::Runtime::builder().loops(2).build().unwrap();
/// let registered = set.clone();
/// rt.run(move |_ctx| {
///     let set = registered.clone();
///     async move {
///         let pool = Pool::builder(M).build();
///         set.add(&pool.health_handle());
///         drop(pool.get().await.unwrap());
///         assert_eq!(set.check(), Ok(()));
///     }
/// })
/// .unwrap();
/// assert_eq!(keel_runtime::block_on(check()), Ok(()));
/// ```
#[derive(Clone, Default)]
pub struct PoolHealthSet {
    pools: Arc<Mutex<Vec<Weak<Published>>>>,
}

impl PoolHealthSet {
    /// An empty set (healthy).
    pub fn new() -> PoolHealthSet {
        PoolHealthSet::default()
    }

    /// Adds a pool's health.
    pub fn add(&self, pool: &PoolHealth) {
        let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        pools.retain(|p| p.strong_count() > 0);
        pools.push(Arc::downgrade(&pool.shared));
    }

    /// The health of every pool of the set still alive, in the order they were added.
    pub fn pools(&self) -> Vec<PoolHealth> {
        let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        pools.retain(|p| p.strong_count() > 0);
        pools
            .iter()
            .filter_map(Weak::upgrade)
            .map(PoolHealth::new)
            .collect()
    }

    /// `Ok` when every live pool is healthy (an empty set is), else each failing
    /// pool's reason ([`PoolHealth::check`]), numbered by its place in the set.
    ///
    /// # Errors
    ///
    /// The failing pools' reasons, joined with `"; "`.
    pub fn check(&self) -> Result<(), String> {
        let failing: Vec<String> = self
            .pools()
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.check().err().map(|e| format!("pool {i}: {e}")))
            .collect();
        if failing.is_empty() {
            Ok(())
        } else {
            Err(failing.join("; "))
        }
    }

    /// [`check`](Self::check) as a readiness check: a `Send + Sync` closure returning a
    /// ready future, the shape `keel_http::ops::Ops::readiness_check` takes.
    pub fn readiness(
        &self,
    ) -> impl Fn() -> Ready<Result<(), String>> + Send + Sync + Clone + 'static {
        let set = self.clone();
        move || ready(set.check())
    }
}

impl fmt::Debug for PoolHealthSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.pools()).finish()
    }
}
