//! Resilience around calls to other services — or around any future: a
//! [`CircuitBreaker`], [`Retry`] with backoff and a [`RetryBudget`], and a [`Bulkhead`].
//!
//! Each tool is built for one dependency (the name given to its builder shows up in
//! every [`Error`] and log line), is `Send + Sync` and cheap to clone, and is meant to be
//! shared by every loop that calls that dependency (see [`breaker`](CircuitBreaker)'s
//! docs for why shared and not per loop). They use Keel's timers, so calls through them
//! run on a Keel loop or in [`block_on`](crate::block_on).
//!
//! # Parts
//!
//! | file | owns |
//! |---|---|
//! | `breaker.rs` | [`CircuitBreaker`]: closed / open / half-open, per-call timeout, fallback |
//! | `retry.rs` | [`Retry`] and the [`Transient`] trait: which errors to retry, `Retry-After` |
//! | `backoff.rs` | [`Backoff`]: exponential backoff with full jitter |
//! | `budget.rs` | [`RetryBudget`]: retries at most a share of first attempts |
//! | `bulkhead.rs` | [`Bulkhead`]: a cap on concurrent calls with a bounded wait queue |
//! | `window.rs` | the bucketed rolling counts the breaker and the budget use |
//! | `error.rs` | [`Error`]: the dependency's error or the tool's refusal |
//!
//! # Putting them together
//!
//! Order them from the outside in: retry → breaker → bulkhead → call. A retry then sees
//! an open breaker as final (no retry against an open circuit), a breaker counts each
//! attempt, and the bulkhead caps the attempts actually in flight. Each layer wraps the
//! inner layer's [`Error`]; [`Error::flatten`] collapses them.
//!
//! ```
//! use std::io;
//! use std::time::Duration;
//! use keel_runtime::resilience::{Bulkhead, CircuitBreaker, Error, Retry, RetryBudget};
//!
//! let budget = RetryBudget::new();
//! let retry = Retry::builder("inventory")
//!     .base_delay(Duration::from_millis(1))
//!     .budget(budget)
//!     .build()
//!     .unwrap();
//! let breaker = CircuitBreaker::builder("inventory").build().unwrap();
//! let bulkhead = Bulkhead::builder("inventory").max_concurrent(32).build().unwrap();
//!
//! async fn fetch_stock(item: u32) -> io::Result<u32> {
//!     Ok(item * 10)
//! }
//!
//! let stock: Result<u32, Error<io::Error>> = keel_runtime::block_on(async {
//!     retry
//!         .run(|| breaker.call(|| async {
//!             bulkhead.call(|| fetch_stock(4)).await
//!         }))
//!         .await
//!         .map_err(Error::flatten)
//!         .map_err(Error::flatten)
//! });
//! assert_eq!(stock.unwrap(), 40);
//! ```

mod backoff;
mod breaker;
mod budget;
mod bulkhead;
mod error;
mod retry;
mod window;

pub use self::backoff::Backoff;
pub use self::breaker::{
    BreakerMetrics, CircuitBreaker, CircuitBreakerBuilder, DEFAULT_CALL_TIMEOUT,
    DEFAULT_ERROR_THRESHOLD_PERCENT, DEFAULT_HALF_OPEN_MAX_CALLS, DEFAULT_RESET_TIMEOUT,
    DEFAULT_VOLUME_THRESHOLD, DEFAULT_WINDOW, DEFAULT_WINDOW_BUCKETS, State,
};
pub use self::budget::{
    DEFAULT_BUDGET_WINDOW, DEFAULT_MIN_RETRIES_PER_SEC, DEFAULT_RETRY_RATIO, RetryBudget,
    RetryBudgetBuilder,
};
pub use self::bulkhead::{
    Bulkhead, BulkheadBuilder, BulkheadMetrics, DEFAULT_MAX_CONCURRENT, DEFAULT_MAX_QUEUE,
    DEFAULT_MAX_WAIT,
};
pub use self::error::Error;
pub use self::retry::{
    DEFAULT_BASE_DELAY, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_DELAY, DEFAULT_MAX_TOTAL_DELAY, Retry,
    RetryBuilder, Transient,
};
