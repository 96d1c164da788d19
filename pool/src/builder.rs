//! [`Builder`]: the pool's knobs, each with its default as a documented constant, and
//! the ways to build a [`Pool`] ([`Pool::builder`], [`Pool::new`]).
//!
//! Names follow pg-pool (`max`, `min`, `idle_timeout`, `max_lifetime`) and HikariCP
//! where pg-pool has none (`validation_window`, `leak_threshold`).

use std::fmt;
use std::time::Duration;

use crate::config::Config;
use crate::manager::Manager;
use crate::pool::Pool;

/// Default [`Builder::max`]: 10 connections (pg-pool's default).
pub const DEFAULT_MAX: usize = 10;
/// Default [`Builder::min`]: 0 connections kept warm.
pub const DEFAULT_MIN: usize = 0;
/// Default [`Builder::acquire_timeout`]: 3 s. An acquire never waits forever by default.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// Default [`Builder::create_timeout`]: 3 s for one connect attempt.
pub const DEFAULT_CREATE_TIMEOUT: Duration = Duration::from_secs(3);
/// Default [`Builder::recycle_timeout`]: 1 s for one check of an idle connection.
pub const DEFAULT_RECYCLE_TIMEOUT: Duration = Duration::from_secs(1);
/// Default [`Builder::idle_timeout`]: 10 s (pg-pool's `idleTimeoutMillis`).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`Builder::max_lifetime`]: 30 minutes (HikariCP's `maxLifetime`).
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Default [`Builder::lifetime_jitter`]: each lifetime is shortened by up to 2.5 %.
pub const DEFAULT_LIFETIME_JITTER: f64 = 0.025;
/// Default [`Builder::validation_window`]: 500 ms (HikariCP's
/// `aliveBypassWindowMs`); a connection idle for less is handed out unchecked.
pub const DEFAULT_VALIDATION_WINDOW: Duration = Duration::from_millis(500);
/// Default [`Builder::reap_interval`]: the background task runs once a second.
pub const DEFAULT_REAP_INTERVAL: Duration = Duration::from_secs(1);
/// Default [`Builder::backoff`]: the first retry after a failed connect waits about
/// 50 ms, doubling up to [`DEFAULT_BACKOFF_MAX`].
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(50);
/// Default cap of [`Builder::backoff`]: 2 s.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Builds a [`Pool`]; start with [`Pool::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// # use keel_pool::{Manager, Pool};
/// # struct M;
/// # impl Manager for M {
/// #     type Connection = (); type Error = std::convert::Infallible;
/// #     async fn create(&self) -> Result<(), Self::Error> { Ok(()) }
/// #     async fn recycle(&self, _: &mut ()) -> Result<(), Self::Error> { Ok(()) }
/// # }
/// let pool = Pool::builder(M)
///     .max(5)
///     .min(1)
///     .acquire_timeout(Duration::from_secs(1))
///     .idle_timeout(Some(Duration::from_secs(30)))
///     .leak_threshold(Some(Duration::from_secs(10)))
///     .build();
/// assert_eq!(pool.status().max, 5);
/// ```
pub struct Builder<M> {
    manager: M,
    config: Config,
}

impl<M: Manager> Builder<M> {
    fn new(manager: M) -> Builder<M> {
        Builder {
            manager,
            config: Config {
                max: DEFAULT_MAX,
                min: DEFAULT_MIN,
                acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
                create_timeout: DEFAULT_CREATE_TIMEOUT,
                recycle_timeout: DEFAULT_RECYCLE_TIMEOUT,
                idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
                max_lifetime: Some(DEFAULT_MAX_LIFETIME),
                lifetime_jitter: DEFAULT_LIFETIME_JITTER,
                validation_window: DEFAULT_VALIDATION_WINDOW,
                leak_threshold: None,
                reap_interval: DEFAULT_REAP_INTERVAL,
                backoff_base: DEFAULT_BACKOFF_BASE,
                backoff_max: DEFAULT_BACKOFF_MAX,
                fail_fast: false,
            },
        }
    }

    /// The most connections open at once (idle, in use or being opened).
    ///
    /// # Default
    ///
    /// [`DEFAULT_MAX`] (10).
    ///
    /// # Panics
    ///
    /// When `max` is 0.
    #[track_caller]
    pub fn max(mut self, max: usize) -> Self {
        assert!(max > 0, "keel_pool::Builder::max must be at least 1");
        self.config.max = max;
        self
    }

    /// Idle connections the background task keeps open (it opens more when fewer are
    /// idle, as long as the pool is below `max`); idle-timeout reaping stops at `min`.
    ///
    /// # Default
    ///
    /// [`DEFAULT_MIN`] (0).
    pub fn min(mut self, min: usize) -> Self {
        self.config.min = min;
        self
    }

    /// How long [`Pool::get`] may take in all: waiting, creating and checking. Past
    /// it, `get` fails with [`Error::Timeout`](crate::Error::Timeout) naming the phase.
    ///
    /// # Default
    ///
    /// [`DEFAULT_ACQUIRE_TIMEOUT`] (3 s).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.config.acquire_timeout = timeout;
        self
    }

    /// How long one connect attempt may take (within the acquire timeout).
    ///
    /// # Default
    ///
    /// [`DEFAULT_CREATE_TIMEOUT`] (3 s).
    pub fn create_timeout(mut self, timeout: Duration) -> Self {
        self.config.create_timeout = timeout;
        self
    }

    /// How long one [`Manager::recycle`] may take (within the acquire timeout).
    ///
    /// # Default
    ///
    /// [`DEFAULT_RECYCLE_TIMEOUT`] (1 s).
    pub fn recycle_timeout(mut self, timeout: Duration) -> Self {
        self.config.recycle_timeout = timeout;
        self
    }

    /// Close connections idle longer than this (down to `min`); `None` keeps them.
    ///
    /// # Default
    ///
    /// `Some(`[`DEFAULT_IDLE_TIMEOUT`]`)` (10 s).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// Close connections older than this (when idle, or when returned); `None` keeps
    /// them. Each connection's lifetime is shortened at random by up to
    /// [`lifetime_jitter`](Builder::lifetime_jitter).
    ///
    /// # Default
    ///
    /// `Some(`[`DEFAULT_MAX_LIFETIME`]`)` (30 min).
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.config.max_lifetime = lifetime;
        self
    }

    /// The fraction (0 to 1) by which a lifetime may be shortened at random.
    ///
    /// # Default
    ///
    /// [`DEFAULT_LIFETIME_JITTER`] (0.025).
    pub fn lifetime_jitter(mut self, fraction: f64) -> Self {
        self.config.lifetime_jitter = fraction.clamp(0.0, 1.0);
        self
    }

    /// A connection idle for longer than this is checked with [`Manager::recycle`]
    /// before it is handed out; one idle for less is handed out at once.
    ///
    /// # Default
    ///
    /// [`DEFAULT_VALIDATION_WINDOW`] (500 ms).
    pub fn validation_window(mut self, window: Duration) -> Self {
        self.config.validation_window = window;
        self
    }

    /// Log a warning (with where it was taken) for a connection held longer than this;
    /// `None` turns leak detection off.
    ///
    /// # Default
    ///
    /// `None`.
    pub fn leak_threshold(mut self, threshold: Option<Duration>) -> Self {
        self.config.leak_threshold = threshold;
        self
    }

    /// How often the background task reaps idle and expired connections, refills
    /// `min` and looks for leaks.
    ///
    /// # Default
    ///
    /// [`DEFAULT_REAP_INTERVAL`] (1 s).
    ///
    /// # Panics
    ///
    /// When `interval` is zero.
    #[track_caller]
    pub fn reap_interval(mut self, interval: Duration) -> Self {
        assert!(
            !interval.is_zero(),
            "keel_pool::Builder::reap_interval must be > 0"
        );
        self.config.reap_interval = interval;
        self
    }

    /// The backoff between failed connect attempts: `base × 2^attempt`, capped at
    /// `max`, with jitter.
    ///
    /// # Default
    ///
    /// [`DEFAULT_BACKOFF_BASE`] (50 ms) and [`DEFAULT_BACKOFF_MAX`] (2 s).
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.config.backoff_base = base;
        self.config.backoff_max = max.max(base);
        self
    }

    /// Return a failed connect at once as [`Error::Backend`](crate::Error::Backend)
    /// (pg-pool's behaviour) instead of retrying until the acquire timeout (HikariCP's).
    ///
    /// # Default
    ///
    /// `false`: retry with backoff.
    pub fn fail_fast(mut self, on: bool) -> Self {
        self.config.fail_fast = on;
        self
    }

    /// Builds the pool. Nothing connects yet: the first [`Pool::get`] (on a loop)
    /// starts the background task that fills `min`.
    ///
    /// # Panics
    ///
    /// When `min` is larger than `max`.
    #[track_caller]
    pub fn build(self) -> Pool<M> {
        assert!(
            self.config.min <= self.config.max,
            "keel_pool::Builder: min ({}) is larger than max ({})",
            self.config.min,
            self.config.max
        );
        Pool::from_parts(self.manager, self.config)
    }
}

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
}

impl<M> fmt::Debug for Builder<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
