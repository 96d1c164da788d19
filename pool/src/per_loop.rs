//! [`PerLoop`]: one pool per loop, built on first use from a shared factory, with the
//! pools' health gathered in one [`PoolHealthSet`].

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::health_handle::PoolHealthSet;
use crate::manager::Manager;
use crate::pool::Pool;

/// Tells `PerLoop` values apart in the thread-local map (clones share an id).
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's (this loop's) pool of each `PerLoop`, by id.
    static POOLS: RefCell<HashMap<u64, Box<dyn Any>>> = RefCell::new(HashMap::new());
}

type Factory<M> = dyn Fn() -> Pool<M> + Send + Sync;

/// One [`Pool`] per loop from one factory: `Send + Sync + Clone`, so it can be built
/// once, before the runtime starts, and handed to every loop; on each loop (thread),
/// [`pool`](Self::pool) and [`with`](Self::with) build that loop's pool on first use
/// and return it afterwards. Each pool it builds publishes its health into
/// [`health`](Self::health), a [`PoolHealthSet`] a readiness check can read from any
/// thread.
///
/// A process opens up to **loops × the factory's `max`** connections.
///
/// Pools are kept per thread, until the thread ends (for a runtime's loops, when the
/// runtime is dropped): a loop restarted on the same thread, or a second
/// `Runtime::run`, would find the pool of the previous run, whose connections may be
/// tied to the old loop. Call
/// [`build`](Self::build) at the start of each loop's run (the closure given to
/// [`Runtime::run`](keel_runtime::Runtime::run) runs again on a restart) to replace
/// it; outside the runtime's loops (a `block_on` thread) the same applies to each new
/// `block_on`.
///
/// # Examples
///
/// ```
/// # use keel_pool::{Manager, Pool, PerLoop};
/// # struct M;
/// # impl Manager for M {
/// #     type Connection = (); type Error = std::convert::Infallible;
/// #     async fn create(&self) -> Result<(), Self::Error> { Ok(()) }
/// #     async fn recycle(&self, _: &mut ()) -> Result<(), Self::Error> { Ok(()) }
/// # }
/// let pools = PerLoop::new(|| Pool::builder(M).max(4).build());
/// // e.g. `Ops::new().readiness_check("db", pools.health().readiness())`
/// let ready = pools.health().readiness();
///
/// let rt = keel_runtime::Runtime::builder().loops(2).build().unwrap();
/// let shared = pools.clone();
/// rt.run(move |_ctx| {
///     let pools = shared.clone();
///     async move {
///         pools.build(); // this run's pool (replaces one left by an earlier run)
///         let conn = pools.pool().get().await.unwrap();
///         assert_eq!(pools.with(|pool| pool.status().in_use), 1);
///         drop(conn);
///     }
/// })
/// .unwrap();
/// drop(rt); // ends the loop threads, and with them their pools
/// assert_eq!(pools.health().pools().len(), 0);
/// assert_eq!(keel_runtime::block_on(ready()), Ok(()));
/// ```
pub struct PerLoop<M: Manager> {
    id: u64,
    factory: Arc<Factory<M>>,
    health: PoolHealthSet,
}

impl<M: Manager + 'static> PerLoop<M> {
    /// Pools made by `factory`, one per loop, each on first use.
    pub fn new(factory: impl Fn() -> Pool<M> + Send + Sync + 'static) -> PerLoop<M> {
        PerLoop {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            factory: Arc::new(factory),
            health: PoolHealthSet::new(),
        }
    }

    /// Builds a new pool for the calling loop, replacing (and dropping this handle on)
    /// any earlier one, registers its health, and returns it.
    pub fn build(&self) -> Pool<M> {
        let pool = (self.factory)();
        self.health.add(&pool.health_handle());
        let previous = POOLS.with(|pools| {
            pools
                .borrow_mut()
                .insert(self.id, Box::new(pool.clone()) as Box<dyn Any>)
        });
        // Dropped outside the borrow: a pool's drop runs its connections' drops.
        drop(previous);
        pool
    }

    /// The calling loop's pool, built on first use (a cheap clone of the `Rc`).
    pub fn pool(&self) -> Pool<M> {
        let existing = POOLS.with(|pools| {
            pools
                .borrow()
                .get(&self.id)
                .and_then(|p| p.downcast_ref::<Pool<M>>())
                .cloned()
        });
        existing.unwrap_or_else(|| self.build())
    }

    /// Runs `f` with the calling loop's pool, built on first use.
    pub fn with<R>(&self, f: impl FnOnce(&Pool<M>) -> R) -> R {
        f(&self.pool())
    }

    /// The health of every pool built and still alive, for a readiness check.
    pub fn health(&self) -> &PoolHealthSet {
        &self.health
    }
}

impl<M: Manager> Clone for PerLoop<M> {
    fn clone(&self) -> Self {
        PerLoop {
            id: self.id,
            factory: self.factory.clone(),
            health: self.health.clone(),
        }
    }
}

impl<M: Manager> fmt::Debug for PerLoop<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerLoop")
            .field("id", &self.id)
            .field("health", &self.health)
            .finish_non_exhaustive()
    }
}
