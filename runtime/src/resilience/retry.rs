//! [`Retry`]: runs an operation again after transient failures, with exponential backoff
//! and full jitter ([`Backoff`]), a cap on attempts and on the total time spent waiting,
//! an optional shared [`RetryBudget`], and the server's `Retry-After` hint honoured.
//!
//! # What is retried
//!
//! Only errors that say they are transient: the error type implements [`Transient`]
//! ([`Retry::run`]), or a predicate decides ([`Retry::run_if`]). Anything else — a 4xx,
//! a parse error, an open circuit breaker — is returned at once.
//!
//! # How long it waits
//!
//! Before retry `n` (0-based) it sleeps a random delay in `[0, min(max_delay, base *
//! 2^n)]`, or exactly the error's [`retry_after`](Transient::retry_after) hint when it
//! has one. When the next wait would take the total past
//! [`max_total_delay`](RetryBuilder::max_total_delay), it stops and returns the last
//! error instead. Waits use Keel's timers ([`sleep`](crate::time::sleep)), so a retrying
//! call must run on a Keel loop (or in [`block_on`](crate::block_on)).

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::{Backoff, Error, RetryBudget};
use crate::BuildError;
use crate::time::sleep;

/// The default number of attempts, the first included: 3.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// The default ceiling of the first retry's delay: 100 ms.
pub const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(100);
/// The default cap on one retry's delay: 10 s.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(10);
/// The default cap on the sum of all delays of one call: 30 s.
pub const DEFAULT_MAX_TOTAL_DELAY: Duration = Duration::from_secs(30);

/// An error that knows whether trying again may succeed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use keel_runtime::resilience::Transient;
///
/// enum ApiError {
///     Unavailable { retry_after: Option<Duration> },
///     BadRequest,
/// }
///
/// impl Transient for ApiError {
///     fn is_transient(&self) -> bool {
///         matches!(self, ApiError::Unavailable { .. })
///     }
///     fn retry_after(&self) -> Option<Duration> {
///         match self {
///             ApiError::Unavailable { retry_after } => *retry_after,
///             ApiError::BadRequest => None,
///         }
///     }
/// }
///
/// assert!(!ApiError::BadRequest.is_transient());
/// let busy = ApiError::Unavailable { retry_after: Some(Duration::from_secs(2)) };
/// assert!(busy.is_transient());
/// assert_eq!(busy.retry_after(), Some(Duration::from_secs(2)));
/// ```
pub trait Transient {
    /// Whether the same call may succeed if made again (a time-out, a reset connection,
    /// a 503), as opposed to failing the same way (a 400, a parse error).
    fn is_transient(&self) -> bool;

    /// How long the dependency asked to wait before the next attempt (an HTTP
    /// `Retry-After`), if it did. A retry waits exactly this long instead of its
    /// backoff delay.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

/// Interrupted and timed-out calls, refused, reset or aborted connections, and a broken
/// pipe are transient; every other kind is not.
impl Transient for io::Error {
    fn is_transient(&self) -> bool {
        matches!(
            self.kind(),
            io::ErrorKind::Interrupted
                | io::ErrorKind::TimedOut
                | io::ErrorKind::WouldBlock
                | io::ErrorKind::ConnectionRefused
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof
        )
    }
}

/// A tool's error, for a retry around a breaker or bulkhead: the dependency's error is
/// transient if it says so, a per-call time-out is transient, and a refusal (open
/// breaker, full bulkhead, spent budget) is not — retrying it would only add load.
impl<E: Transient> Transient for Error<E> {
    fn is_transient(&self) -> bool {
        match self {
            Error::Inner { source, .. } => source.is_transient(),
            Error::TimedOut { .. } => true,
            Error::Open { .. } | Error::Full { .. } | Error::BudgetExhausted { .. } => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Inner { source, .. } => source.retry_after(),
            _ => None,
        }
    }
}

/// A retry policy for one dependency. Cheap to clone; `Send + Sync`.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::io;
/// use std::time::Duration;
/// use keel_runtime::resilience::Retry;
///
/// let retry = Retry::builder("users-api")
///     .max_attempts(4)
///     .base_delay(Duration::from_millis(1))
///     .build()
///     .unwrap();
/// let calls = Cell::new(0);
/// let got = keel_runtime::block_on(retry.run(|| {
///     calls.set(calls.get() + 1);
///     let n = calls.get();
///     async move {
///         if n < 3 {
///             Err(io::Error::from(io::ErrorKind::ConnectionReset))
///         } else {
///             Ok(n)
///         }
///     }
/// }));
/// assert_eq!(got.unwrap(), 3);
/// ```
#[derive(Debug, Clone)]
pub struct Retry {
    dependency: Arc<str>,
    max_attempts: u32,
    backoff: Backoff,
    max_total_delay: Duration,
    budget: Option<RetryBudget>,
}

/// Settings for a [`Retry`].
#[derive(Debug, Clone)]
pub struct RetryBuilder {
    dependency: Arc<str>,
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    max_total_delay: Duration,
    budget: Option<RetryBudget>,
}

impl Retry {
    /// Settings for retrying calls to `dependency` (the name errors and logs use).
    pub fn builder(dependency: impl Into<Arc<str>>) -> RetryBuilder {
        RetryBuilder {
            dependency: dependency.into(),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            base_delay: DEFAULT_BASE_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
            max_total_delay: DEFAULT_MAX_TOTAL_DELAY,
            budget: None,
        }
    }

    /// The dependency's name.
    pub fn dependency(&self) -> &str {
        &self.dependency
    }

    /// The backoff between attempts.
    pub fn backoff(&self) -> Backoff {
        self.backoff
    }

    /// Runs `op`, and runs it again while it fails with a [transient](Transient) error,
    /// within the attempts, delay and budget allowed.
    ///
    /// # Errors
    ///
    /// [`Error::Inner`] with the last error when it was not transient, or the attempts
    /// or the total delay ran out; [`Error::BudgetExhausted`] when the budget refused a
    /// retry.
    pub async fn run<T, E, F, Fut>(&self, op: F) -> Result<T, Error<E>>
    where
        E: Transient,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.run_inner(op, |e: &E| (e.is_transient(), e.retry_after()))
            .await
    }

    /// Like [`run`](Retry::run), with `is_transient` deciding which errors are retried
    /// (and no `Retry-After` hint).
    ///
    /// # Errors
    ///
    /// As [`run`](Retry::run).
    ///
    /// # Examples
    ///
    /// ```
    /// use keel_runtime::resilience::Retry;
    ///
    /// let retry = Retry::builder("cache").build().unwrap();
    /// let got: Result<(), _> =
    ///     keel_runtime::block_on(retry.run_if(|e: &&str| *e == "busy", || async { Err("gone") }));
    /// assert_eq!(got.unwrap_err().into_inner(), Some("gone")); // not retried
    /// ```
    pub async fn run_if<T, E, F, Fut, P>(&self, is_transient: P, op: F) -> Result<T, Error<E>>
    where
        P: Fn(&E) -> bool,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.run_inner(op, |e: &E| (is_transient(e), None)).await
    }

    async fn run_inner<T, E, F, Fut, C>(&self, mut op: F, classify: C) -> Result<T, Error<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Fn(&E) -> (bool, Option<Duration>),
    {
        if let Some(budget) = &self.budget {
            budget.deposit();
        }
        let mut attempt: u32 = 1;
        let mut waited = Duration::ZERO;
        loop {
            let err = match op().await {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            let (transient, hint) = classify(&err);
            if !transient || attempt >= self.max_attempts {
                return Err(Error::inner_of(&self.dependency, err));
            }
            let delay = hint.unwrap_or_else(|| self.backoff.delay(attempt - 1));
            if waited.saturating_add(delay) > self.max_total_delay {
                return Err(Error::inner_of(&self.dependency, err));
            }
            if let Some(budget) = &self.budget
                && !budget.try_withdraw()
            {
                tracing::debug!(dependency = %self.dependency, attempt, "retry budget exhausted");
                return Err(Error::BudgetExhausted {
                    dependency: self.dependency.clone(),
                    last: err,
                });
            }
            drop(err);
            tracing::debug!(dependency = %self.dependency, attempt, ?delay, "retrying after a transient failure");
            sleep(delay).await;
            waited += delay;
            attempt += 1;
        }
    }
}

impl RetryBuilder {
    /// Attempts per call, the first included; at least 1 (1 means no retry).
    ///
    /// # Default
    ///
    /// [`DEFAULT_MAX_ATTEMPTS`] (3).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    /// The ceiling of the first retry's delay; each later retry doubles it.
    ///
    /// # Default
    ///
    /// [`DEFAULT_BASE_DELAY`] (100 ms).
    pub fn base_delay(mut self, d: Duration) -> Self {
        self.base_delay = d;
        self
    }

    /// The cap on one retry's (jittered) delay.
    ///
    /// # Default
    ///
    /// [`DEFAULT_MAX_DELAY`] (10 s).
    pub fn max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }

    /// The cap on the delays of one call summed: a retry whose wait would pass it is
    /// not made, and the last error is returned.
    ///
    /// # Default
    ///
    /// [`DEFAULT_MAX_TOTAL_DELAY`] (30 s).
    pub fn max_total_delay(mut self, d: Duration) -> Self {
        self.max_total_delay = d;
        self
    }

    /// Retries draw from `budget` (usually one per dependency, shared by every retry
    /// policy that calls it).
    ///
    /// # Default
    ///
    /// None: retries are limited only by the attempts and delays.
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The policy.
    ///
    /// # Errors
    ///
    /// `max_attempts` of 0, or `base_delay` above `max_delay`, naming the setting.
    pub fn build(self) -> Result<Retry, BuildError> {
        if self.max_attempts == 0 {
            return Err(BuildError::invalid_value(
                "retry max_attempts",
                "0",
                "at least 1",
            ));
        }
        if self.base_delay > self.max_delay {
            return Err(BuildError::invalid_value(
                "retry base_delay",
                format!("{:?}", self.base_delay),
                format!("at most max_delay ({:?})", self.max_delay),
            ));
        }
        Ok(Retry {
            dependency: self.dependency,
            max_attempts: self.max_attempts,
            backoff: Backoff::new(self.base_delay, self.max_delay),
            max_total_delay: self.max_total_delay,
            budget: self.budget,
        })
    }
}
