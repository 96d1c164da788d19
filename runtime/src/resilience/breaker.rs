//! [`CircuitBreaker`]: stops calling a dependency that keeps failing, and tries it again
//! after a pause — opossum's behaviour.
//!
//! The state machine and the sharing decision are documented on [`CircuitBreaker`].

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::Error;
use super::window::Window;
use crate::BuildError;
use crate::time::timeout;

/// The default failure share at which the breaker opens: 50 %.
pub const DEFAULT_ERROR_THRESHOLD_PERCENT: u32 = 50;
/// The default minimum number of calls in the window before the breaker may open: 20.
pub const DEFAULT_VOLUME_THRESHOLD: u64 = 20;
/// The default rolling window outcomes are counted over: 10 s.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(10);
/// The default number of buckets the window is kept in: 10.
pub const DEFAULT_WINDOW_BUCKETS: u32 = 10;
/// The default time the breaker stays open before letting trial calls through: 30 s.
pub const DEFAULT_RESET_TIMEOUT: Duration = Duration::from_secs(30);
/// The default number of concurrent trial calls while half-open: 1.
pub const DEFAULT_HALF_OPEN_MAX_CALLS: u32 = 1;
/// The default per-call timeout: 10 s.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);

const SUCCESS: usize = 0;
const FAILURE: usize = 1;

/// Where a [`CircuitBreaker`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Calls go through and are counted.
    Closed,
    /// Calls fail fast.
    Open,
    /// A limited number of trial calls go through.
    HalfOpen,
}

impl State {
    /// `"closed"`, `"open"` or `"half-open"`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half-open",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A snapshot of a breaker's state and counters, from [`CircuitBreaker::metrics`].
/// Totals count since the breaker was built; window counts cover the rolling window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BreakerMetrics {
    /// The current state.
    pub state: State,
    /// Successful calls in the current window (reset when the breaker closes).
    pub window_successes: u64,
    /// Failed calls (errors counted and timeouts) in the current window.
    pub window_failures: u64,
    /// Calls that ran (successes, failures, timeouts) since the start.
    pub calls: u64,
    /// Calls that succeeded (or failed with an error not counted as a failure).
    pub successes: u64,
    /// Calls that failed with an error counted as a failure.
    pub failures: u64,
    /// Calls that hit the per-call timeout.
    pub timeouts: u64,
    /// Calls refused because the breaker was open or its trial slots taken.
    pub rejected: u64,
    /// Fallbacks run by [`CircuitBreaker::call_or_else`].
    pub fallbacks: u64,
    /// Transitions to open.
    pub opened: u64,
    /// Transitions to half-open.
    pub half_opened: u64,
    /// Transitions to closed.
    pub closed: u64,
}

/// A circuit breaker for one dependency. Cheap to clone; `Send + Sync`.
///
/// # States
///
/// * **Closed**: calls go through. Each outcome is counted in a rolling window
///   ([`window`](CircuitBreakerBuilder::window), in buckets). After a failure, when the
///   window holds at least [`volume_threshold`](CircuitBreakerBuilder::volume_threshold)
///   calls *and* the failed share is at least
///   [`error_threshold_percent`](CircuitBreakerBuilder::error_threshold_percent), the
///   breaker opens.
/// * **Open**: calls fail fast with [`Error::Open`] (or run the fallback of
///   [`call_or_else`](CircuitBreaker::call_or_else)) without touching the dependency,
///   for [`reset_timeout`](CircuitBreakerBuilder::reset_timeout).
/// * **Half-open**: after the reset timeout, up to
///   [`half_open_max_calls`](CircuitBreakerBuilder::half_open_max_calls) trial calls go
///   through; others still fail fast. The first trial to succeed closes the breaker (with
///   a fresh window); a trial that fails opens it again for another reset timeout. A
///   trial dropped before it finished frees its slot without deciding anything.
///
/// A failure is an error the call's predicate counts (every error for
/// [`call`](CircuitBreaker::call); see [`call_filtered`](CircuitBreaker::call_filtered))
/// or a per-call [timeout](CircuitBreakerBuilder::timeout). An error the predicate does
/// not count (a 404, a validation error) shows the dependency is answering: it counts as
/// a success. Each transition is logged through `tracing` (`warn` when opening, `info`
/// otherwise) and counted in [`metrics`](CircuitBreaker::metrics).
///
/// # Shared, not per loop
///
/// A breaker is per dependency and `Send + Sync`: clone it (an `Arc`) into every loop.
/// Its state sits behind one `parking_lot` mutex taken twice per call (admission and
/// outcome), for a few counter updates. Per-loop breakers would avoid the lock but each
/// loop would have to see the dependency fail on its own — N loops, N times the failed
/// calls before all stop — and would half-open independently. A call through a breaker
/// is an outbound network call, whose cost dwarfs an uncontended lock; the server's
/// per-request hot path does not go through one.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use keel_runtime::resilience::{CircuitBreaker, State};
///
/// let breaker = CircuitBreaker::builder("payments")
///     .volume_threshold(2)
///     .error_threshold_percent(50)
///     .reset_timeout(Duration::from_secs(60))
///     .build()
///     .unwrap();
/// keel_runtime::block_on(async {
///     for _ in 0..2 {
///         let failed: Result<(), _> = breaker.call(|| async { Err("503") }).await;
///         assert!(failed.unwrap_err().is_inner());
///     }
///     assert_eq!(breaker.state(), State::Open);
///     let refused = breaker.call(|| async { Ok::<_, &str>(()) }).await;
///     assert!(refused.unwrap_err().is_open());
/// });
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

struct Inner {
    dependency: Arc<str>,
    config: Config,
    core: Mutex<Core>,
}

#[derive(Debug, Clone)]
struct Config {
    error_threshold_percent: u32,
    volume_threshold: u64,
    reset_timeout: Duration,
    half_open_max_calls: u32,
    timeout: Option<Duration>,
}

struct Core {
    phase: Phase,
    window: Window<2>,
    /// Bumped on every transition, so a trial permit from an earlier half-open period
    /// cannot touch a later one.
    generation: u64,
    counts: BreakerMetrics,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { trials: u32 },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Failure,
    TimedOut,
}

/// The right to make one call: records its outcome, or frees its trial slot if dropped
/// first.
struct Permit<'a> {
    inner: &'a Inner,
    trial: Option<u64>,
    done: bool,
}

/// Settings for a [`CircuitBreaker`].
#[derive(Debug, Clone)]
pub struct CircuitBreakerBuilder {
    dependency: Arc<str>,
    config: Config,
    window: Duration,
    buckets: u32,
}

impl CircuitBreaker {
    /// Settings for a breaker around `dependency` (the name errors, logs and metrics
    /// use).
    pub fn builder(dependency: impl Into<Arc<str>>) -> CircuitBreakerBuilder {
        CircuitBreakerBuilder {
            dependency: dependency.into(),
            config: Config {
                error_threshold_percent: DEFAULT_ERROR_THRESHOLD_PERCENT,
                volume_threshold: DEFAULT_VOLUME_THRESHOLD,
                reset_timeout: DEFAULT_RESET_TIMEOUT,
                half_open_max_calls: DEFAULT_HALF_OPEN_MAX_CALLS,
                timeout: Some(DEFAULT_CALL_TIMEOUT),
            },
            window: DEFAULT_WINDOW,
            buckets: DEFAULT_WINDOW_BUCKETS,
        }
    }

    /// The dependency's name.
    pub fn dependency(&self) -> &str {
        &self.inner.dependency
    }

    /// The current state. An open breaker whose reset timeout has passed reports (and
    /// becomes) half-open.
    pub fn state(&self) -> State {
        let mut core = self.inner.core.lock();
        self.inner.refresh(&mut core, Instant::now());
        core.phase.state()
    }

    /// The state and counters.
    pub fn metrics(&self) -> BreakerMetrics {
        let now = Instant::now();
        let mut core = self.inner.core.lock();
        self.inner.refresh(&mut core, now);
        let [successes, failures] = core.window.sum(now);
        BreakerMetrics {
            state: core.phase.state(),
            window_successes: successes,
            window_failures: failures,
            ..core.counts
        }
    }

    /// Runs `op` if the breaker allows it, within the per-call timeout; every error
    /// counts as a failure.
    ///
    /// # Errors
    ///
    /// [`Error::Open`] without running `op` when open (or half-open with its trial
    /// slots taken); [`Error::TimedOut`] when the timeout elapsed (the call's future is
    /// dropped); [`Error::Inner`] with `op`'s error.
    pub async fn call<T, E, F, Fut>(&self, op: F) -> Result<T, Error<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.call_filtered(|_: &E| true, op).await
    }

    /// Like [`call`](CircuitBreaker::call), with `is_failure` deciding which errors count
    /// as failures; the others count as successes (the dependency answered).
    ///
    /// # Errors
    ///
    /// As [`call`](CircuitBreaker::call).
    ///
    /// # Examples
    ///
    /// ```
    /// use keel_runtime::resilience::CircuitBreaker;
    ///
    /// let breaker = CircuitBreaker::builder("search").volume_threshold(1).build().unwrap();
    /// keel_runtime::block_on(async {
    ///     // A 404 is the dependency answering, not failing.
    ///     let r: Result<(), _> = breaker.call_filtered(|s: &u16| *s >= 500, || async { Err(404) }).await;
    ///     assert!(r.is_err());
    ///     assert_eq!(breaker.metrics().failures, 0);
    /// });
    /// ```
    pub async fn call_filtered<T, E, F, Fut, P>(&self, is_failure: P, op: F) -> Result<T, Error<E>>
    where
        P: FnOnce(&E) -> bool,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let Some(permit) = self.inner.admit() else {
            return Err(Error::Open {
                dependency: self.inner.dependency.clone(),
            });
        };
        let result = match self.inner.config.timeout {
            Some(limit) => timeout(limit, op()).await.ok(),
            None => Some(op().await),
        };
        match result {
            Some(Ok(value)) => {
                permit.record(Outcome::Success);
                Ok(value)
            }
            Some(Err(err)) => {
                permit.record(if is_failure(&err) {
                    Outcome::Failure
                } else {
                    Outcome::Success
                });
                Err(Error::inner_of(&self.inner.dependency, err))
            }
            None => {
                permit.record(Outcome::TimedOut);
                Err(Error::TimedOut {
                    dependency: self.inner.dependency.clone(),
                    after: self.inner.config.timeout.unwrap_or_default(),
                })
            }
        }
    }

    /// Like [`call`](CircuitBreaker::call), but any error — open, timed out, or `op`'s
    /// own — goes to `fallback`, whose value is returned (opossum's fallback).
    ///
    /// # Examples
    ///
    /// ```
    /// use keel_runtime::resilience::CircuitBreaker;
    ///
    /// let breaker = CircuitBreaker::builder("recommendations").build().unwrap();
    /// let list = keel_runtime::block_on(breaker.call_or_else(
    ///     || async { Err::<Vec<&str>, _>("503") },
    ///     |_err| async { vec!["cached"] },
    /// ));
    /// assert_eq!(list, ["cached"]);
    /// assert_eq!(breaker.metrics().fallbacks, 1);
    /// ```
    pub async fn call_or_else<T, E, F, Fut, G, GFut>(&self, op: F, fallback: G) -> T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        G: FnOnce(Error<E>) -> GFut,
        GFut: Future<Output = T>,
    {
        match self.call(op).await {
            Ok(value) => value,
            Err(err) => {
                self.record_fallback();
                fallback(err).await
            }
        }
    }

    /// Counts a fallback served instead of a failed or refused call made some other way
    /// than [`call_or_else`](CircuitBreaker::call_or_else) — through an HTTP client
    /// with this breaker, for example — so [`BreakerMetrics::fallbacks`] stays true.
    pub fn record_fallback(&self) {
        self.inner.core.lock().counts.fallbacks += 1;
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("dependency", &self.inner.dependency)
            .field("state", &self.state())
            .field("config", &self.inner.config)
            .finish()
    }
}

impl Phase {
    fn state(self) -> State {
        match self {
            Phase::Closed => State::Closed,
            Phase::Open { .. } => State::Open,
            Phase::HalfOpen { .. } => State::HalfOpen,
        }
    }
}

impl Inner {
    /// Moves an open breaker whose reset timeout has passed to half-open.
    fn refresh(&self, core: &mut Core, now: Instant) {
        if let Phase::Open { until } = core.phase
            && now >= until
        {
            self.transition(core, Phase::HalfOpen { trials: 0 });
        }
    }

    fn transition(&self, core: &mut Core, to: Phase) {
        let from = core.phase.state();
        core.phase = to;
        core.generation += 1;
        match to {
            Phase::Open { .. } => {
                core.counts.opened += 1;
                let [successes, failures] = core.window.sum(Instant::now());
                tracing::warn!(
                    dependency = %self.dependency, %from, to = "open",
                    window_successes = successes, window_failures = failures,
                    reset_timeout = ?self.config.reset_timeout,
                    "circuit breaker opened"
                );
            }
            Phase::HalfOpen { .. } => {
                core.counts.half_opened += 1;
                tracing::info!(dependency = %self.dependency, %from, to = "half-open", "circuit breaker half-open, letting trial calls through");
            }
            Phase::Closed => {
                core.counts.closed += 1;
                core.window.clear();
                tracing::info!(dependency = %self.dependency, %from, to = "closed", "circuit breaker closed");
            }
        }
    }

    fn admit(&self) -> Option<Permit<'_>> {
        let mut core = self.core.lock();
        self.refresh(&mut core, Instant::now());
        let generation = core.generation;
        let trial = match &mut core.phase {
            Phase::Closed => None,
            Phase::HalfOpen { trials } if *trials < self.config.half_open_max_calls => {
                *trials += 1;
                Some(generation)
            }
            Phase::HalfOpen { .. } | Phase::Open { .. } => {
                core.counts.rejected += 1;
                return None;
            }
        };
        Some(Permit {
            inner: self,
            trial,
            done: false,
        })
    }

    fn open(&self, core: &mut Core) {
        let until = Instant::now() + self.config.reset_timeout;
        self.transition(core, Phase::Open { until });
    }
}

impl Permit<'_> {
    fn record(mut self, outcome: Outcome) {
        self.done = true;
        let inner = self.inner;
        let now = Instant::now();
        let mut core = inner.core.lock();
        core.counts.calls += 1;
        match outcome {
            Outcome::Success => core.counts.successes += 1,
            Outcome::Failure => core.counts.failures += 1,
            Outcome::TimedOut => core.counts.timeouts += 1,
        }
        let failed = outcome != Outcome::Success;
        core.window
            .add(now, if failed { FAILURE } else { SUCCESS }, 1);
        let current_trial =
            matches!(core.phase, Phase::HalfOpen { .. }) && self.trial == Some(core.generation);
        if current_trial {
            if failed {
                inner.open(&mut core);
            } else {
                inner.transition(&mut core, Phase::Closed);
            }
        } else if failed && matches!(core.phase, Phase::Closed) {
            let [successes, failures] = core.window.sum(now);
            let total = successes + failures;
            if total >= inner.config.volume_threshold
                && failures * 100 >= u64::from(inner.config.error_threshold_percent) * total
            {
                inner.open(&mut core);
            }
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut core = self.inner.core.lock();
        let current = core.generation;
        if let (Some(generation), Phase::HalfOpen { trials }) = (self.trial, &mut core.phase)
            && generation == current
        {
            *trials -= 1;
        }
    }
}

impl CircuitBreakerBuilder {
    /// The failed share of the window's calls, in percent (1 to 100), at or above which
    /// the breaker opens.
    ///
    /// # Default
    ///
    /// [`DEFAULT_ERROR_THRESHOLD_PERCENT`] (50).
    pub fn error_threshold_percent(mut self, percent: u32) -> Self {
        self.config.error_threshold_percent = percent;
        self
    }

    /// The minimum number of calls in the window before the breaker may open, so a few
    /// failures on a quiet dependency do not open it. 0 lets one failure open it.
    ///
    /// # Default
    ///
    /// [`DEFAULT_VOLUME_THRESHOLD`] (20).
    pub fn volume_threshold(mut self, calls: u64) -> Self {
        self.config.volume_threshold = calls;
        self
    }

    /// The rolling window outcomes are counted over, and how many buckets it is kept in
    /// (the window moves one bucket at a time).
    ///
    /// # Default
    ///
    /// [`DEFAULT_WINDOW`] (10 s) in [`DEFAULT_WINDOW_BUCKETS`] (10).
    pub fn window(mut self, len: Duration, buckets: u32) -> Self {
        self.window = len;
        self.buckets = buckets;
        self
    }

    /// How long the breaker stays open before letting trial calls through.
    ///
    /// # Default
    ///
    /// [`DEFAULT_RESET_TIMEOUT`] (30 s).
    pub fn reset_timeout(mut self, d: Duration) -> Self {
        self.config.reset_timeout = d;
        self
    }

    /// How many trial calls may be in flight at once while half-open (at least 1).
    ///
    /// # Default
    ///
    /// [`DEFAULT_HALF_OPEN_MAX_CALLS`] (1).
    pub fn half_open_max_calls(mut self, n: u32) -> Self {
        self.config.half_open_max_calls = n;
        self
    }

    /// The per-call timeout (`None`: no timeout). A call past it is dropped, counted
    /// as a failure and reported as [`Error::TimedOut`].
    ///
    /// # Default
    ///
    /// [`DEFAULT_CALL_TIMEOUT`] (10 s).
    pub fn timeout(mut self, limit: Option<Duration>) -> Self {
        self.config.timeout = limit;
        self
    }

    /// The breaker, closed.
    ///
    /// # Errors
    ///
    /// A threshold outside 1–100, a zero window, bucket count, reset timeout, per-call
    /// timeout or trial count, or more buckets than milliseconds in the window, naming
    /// the setting.
    ///
    /// # Examples
    ///
    /// ```
    /// use keel_runtime::resilience::CircuitBreaker;
    ///
    /// let err = CircuitBreaker::builder("db").error_threshold_percent(0).build().unwrap_err();
    /// assert!(err.to_string().contains("error_threshold_percent"));
    /// ```
    pub fn build(self) -> Result<CircuitBreaker, BuildError> {
        let c = &self.config;
        if !(1..=100).contains(&c.error_threshold_percent) {
            return Err(invalid(
                "error_threshold_percent",
                c.error_threshold_percent,
                "1 to 100",
            ));
        }
        if self.window.is_zero() {
            return Err(invalid("window", format!("{:?}", self.window), "above 0"));
        }
        if self.buckets == 0 || u128::from(self.buckets) > self.window.as_millis() {
            return Err(invalid(
                "window buckets",
                self.buckets,
                "1 to the window's length in milliseconds",
            ));
        }
        if c.reset_timeout.is_zero() {
            return Err(invalid("reset_timeout", "0s", "above 0"));
        }
        if c.half_open_max_calls == 0 {
            return Err(invalid("half_open_max_calls", 0, "at least 1"));
        }
        if c.timeout == Some(Duration::ZERO) {
            return Err(invalid("timeout", "0s", "above 0, or None"));
        }
        Ok(CircuitBreaker {
            inner: Arc::new(Inner {
                dependency: self.dependency,
                core: Mutex::new(Core {
                    phase: Phase::Closed,
                    window: Window::new(self.window, self.buckets),
                    generation: 0,
                    counts: BreakerMetrics {
                        state: State::Closed,
                        window_successes: 0,
                        window_failures: 0,
                        calls: 0,
                        successes: 0,
                        failures: 0,
                        timeouts: 0,
                        rejected: 0,
                        fallbacks: 0,
                        opened: 0,
                        half_opened: 0,
                        closed: 0,
                    },
                }),
                config: self.config,
            }),
        })
    }
}

fn invalid(name: &str, value: impl ToString, expected: &str) -> BuildError {
    BuildError::invalid_value(
        format!("circuit breaker {name}"),
        value.to_string(),
        expected,
    )
}
