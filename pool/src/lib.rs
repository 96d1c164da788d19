//! Keel's connection pools: a [`Pool`] of connections made by a [`Manager`], living on
//! one loop, with FIFO waiters, timeouts that name their phase, and managers for
//! PostgreSQL (`postgres` feature) and Redis (`redis` feature).
//!
//! # A pool in use
//!
//! ```
//! use std::cell::Cell;
//! use std::convert::Infallible;
//! use std::time::Duration;
//!
//! use keel_pool::{Manager, Pool};
//!
//! /// Stands in for a database client: "connections" are numbers.
//! struct Numbers {
//!     next: Cell<u32>,
//! }
//!
//! impl Manager for Numbers {
//!     type Connection = u32;
//!     type Error = Infallible;
//!
//!     async fn create(&self) -> Result<u32, Infallible> {
//!         self.next.set(self.next.get() + 1);
//!         Ok(self.next.get())
//!     }
//!
//!     async fn recycle(&self, _conn: &mut u32) -> Result<(), Infallible> {
//!         Ok(()) // e.g. a PING when the connection sat idle past the validation window
//!     }
//! }
//!
//! keel_runtime::block_on(async {
//!     let pool = Pool::builder(Numbers { next: Cell::new(0) })
//!         .max(2)
//!         .acquire_timeout(Duration::from_millis(50))
//!         .build();
//!
//!     let a = pool.get().await.unwrap();
//!     let b = pool.get().await.unwrap();
//!     assert_eq!((*a, *b), (1, 2));
//!
//!     // Both are out and max is 2: the next acquire waits, then times out.
//!     let err = pool.get().await.unwrap_err();
//!     assert_eq!(err.timeout_phase(), Some(keel_pool::AcquirePhase::Wait));
//!
//!     // A waiter gets the next connection returned, directly.
//!     let waiter = keel_runtime::spawn_local({
//!         let pool = pool.clone();
//!         async move { *pool.get().await.unwrap() }
//!     });
//!     keel_runtime::task::yield_now().await;
//!     drop(a);
//!     assert_eq!(waiter.await.unwrap(), 1);
//!
//!     let status = pool.status();
//!     assert_eq!((status.size, status.in_use, status.idle), (2, 1, 1));
//!     pool.close();
//!     assert!(pool.get().await.unwrap_err().is_closed());
//!     drop(b);
//!     assert_eq!(pool.status().size, 0);
//! });
//! ```
//!
//! # A pool per loop
//!
//! A [`Pool`] is `Rc`-based and `!Send`: it belongs to the loop that uses it, takes no
//! lock, and its connections' I/O stays on that loop. Build one per loop, for example
//! in the closure [`Runtime::run`](keel_runtime::Runtime::run) calls once per loop, and
//! hand it to that loop's app instance. A process then opens up to **`loops × max`**
//! connections in all — size `max` (and the server's connection limit) with that in
//! mind, and sum the per-loop [`Status`]/[`Metrics`] for the process figures.
//!
//! [`PerLoop`] does the bookkeeping: built once from a factory (`Send + Sync`), it
//! builds each loop's pool on first use there. A readiness check runs on another
//! thread and cannot touch a `!Send` pool: [`Pool::health_handle`] gives a
//! `Send + Sync` [`PoolHealth`] the pool keeps up to date, and a [`PoolHealthSet`]
//! (filled by `PerLoop` as it builds) turns the loops' pools into one check.
//!
//! ```
//! # use keel_pool::{Manager, Pool};
//! # struct M;
//! # impl Manager for M {
//! #     type Connection = (); type Error = std::convert::Infallible;
//! #     async fn create(&self) -> Result<(), Self::Error> { Ok(()) }
//! #     async fn recycle(&self, _: &mut ()) -> Result<(), Self::Error> { Ok(()) }
//! # }
//! let rt = keel_runtime::Runtime::builder().loops(2).build().unwrap();
//! rt.run(|_ctx| async move {
//!     // One pool per loop: 2 loops × max 4 = up to 8 connections for the process.
//!     let pool = Pool::builder(M).max(4).build();
//!     drop(pool.get().await.unwrap());
//! })
//! .unwrap();
//! ```
//!
//! # Settings
//!
//! See [`Builder`]: `max` (10), `min` (0, kept warm in the background), acquire timeout
//! (3 s; never infinite by default), idle timeout, max lifetime with jitter, the
//! validation window (500 ms: a connection idle for less is lent without a check),
//! leak threshold (a warning naming where a long-held connection was taken), and the
//! connect backoff.
//!
//! # Errors
//!
//! [`Error`] names the phase that failed: `Timeout { phase: Wait | Create | Recycle }`
//! (a create timeout carries the last connect error), `Backend(e)`, `Closed`.

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod builder;
mod config;
mod error;
mod health;
mod health_handle;
mod jitter;
mod manager;
mod metrics;
mod object;
mod per_loop;
mod permits;
mod pool;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;

pub use builder::{
    Builder, DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_BACKOFF_BASE, DEFAULT_BACKOFF_MAX,
    DEFAULT_CREATE_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_LIFETIME_JITTER, DEFAULT_MAX,
    DEFAULT_MAX_LIFETIME, DEFAULT_MIN, DEFAULT_REAP_INTERVAL, DEFAULT_RECYCLE_TIMEOUT,
    DEFAULT_VALIDATION_WINDOW,
};
pub use error::{AcquirePhase, Error};
pub use health::BackendHealth;
pub use health_handle::{PoolHealth, PoolHealthSet};
pub use manager::{CheckOutcome, Manager};
pub use metrics::{ClosedBy, Metrics, Status, Summary};
pub use object::Pooled;
pub use per_loop::PerLoop;
pub use pool::{CloseReport, Pool};
