//! [`RetryBudget`]: a cap on how much load retries may add, shared by every caller of a
//! dependency (Finagle's and tower's retry budget).
//!
//! Over a rolling window (default 10 s) the budget counts first attempts and retries. A
//! retry is allowed while
//!
//! ```text
//! retries + 1 <= ratio * first_attempts + min_per_sec * window_secs
//! ```
//!
//! With the defaults (ratio 0.2, 10 per second) retries add at most 20 % on top of the
//! normal traffic, plus a small floor so a quiet service can still retry. During an
//! outage every call fails, the budget runs out after that 20 %, and further failures
//! are returned at once instead of being tried three times — retries cannot multiply
//! the load on a dependency that is already struggling.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::window::Window;
use crate::BuildError;

/// The default share of first attempts that may be retried: 0.2 (20 %).
pub const DEFAULT_RETRY_RATIO: f64 = 0.2;
/// The default number of retries always allowed per second: 10.
pub const DEFAULT_MIN_RETRIES_PER_SEC: u32 = 10;
/// The default window the budget counts over: 10 s.
pub const DEFAULT_BUDGET_WINDOW: Duration = Duration::from_secs(10);

const FIRST: usize = 0;
const RETRY: usize = 1;

/// A retry budget: a token bucket refilled by first attempts. Cheap to clone (an
/// `Arc`), `Send + Sync`; give one budget to every [`Retry`](super::Retry) that calls the
/// same dependency.
///
/// # Examples
///
/// ```
/// use keel_runtime::resilience::RetryBudget;
///
/// // No floor: only 50 % of first attempts may be retried.
/// let budget = RetryBudget::builder().ratio(0.5).min_per_sec(0).build().unwrap();
/// for _ in 0..4 {
///     budget.deposit();
/// }
/// assert!(budget.try_withdraw());
/// assert!(budget.try_withdraw());
/// assert!(!budget.try_withdraw()); // 2 retries for 4 first attempts is the limit
/// ```
#[derive(Clone)]
pub struct RetryBudget {
    inner: Arc<Inner>,
}

struct Inner {
    ratio: f64,
    reserve: f64,
    window: Mutex<Window<2>>,
}

/// Settings for a [`RetryBudget`].
#[derive(Debug, Clone)]
pub struct RetryBudgetBuilder {
    ratio: f64,
    min_per_sec: u32,
    window: Duration,
}

impl RetryBudget {
    /// A budget with the defaults: [`DEFAULT_RETRY_RATIO`],
    /// [`DEFAULT_MIN_RETRIES_PER_SEC`], [`DEFAULT_BUDGET_WINDOW`].
    pub fn new() -> RetryBudget {
        RetryBudget::builder()
            .build()
            .expect("default settings are valid")
    }

    /// Settings to start from.
    pub fn builder() -> RetryBudgetBuilder {
        RetryBudgetBuilder {
            ratio: DEFAULT_RETRY_RATIO,
            min_per_sec: DEFAULT_MIN_RETRIES_PER_SEC,
            window: DEFAULT_BUDGET_WINDOW,
        }
    }

    /// Records a first attempt (not a retry): adds `ratio` of a token.
    pub fn deposit(&self) {
        self.inner.window.lock().add(Instant::now(), FIRST, 1);
    }

    /// Takes the token for one retry; `false` (and nothing recorded) if the budget is
    /// spent.
    pub fn try_withdraw(&self) -> bool {
        let now = Instant::now();
        let mut window = self.inner.window.lock();
        let [firsts, retries] = window.sum(now);
        let allowed = self.inner.ratio * firsts as f64 + self.inner.reserve;
        if (retries + 1) as f64 <= allowed {
            window.add(now, RETRY, 1);
            true
        } else {
            false
        }
    }

    /// How many more retries the budget would allow right now.
    pub fn remaining(&self) -> u64 {
        let [firsts, retries] = self.inner.window.lock().sum(Instant::now());
        let allowed = (self.inner.ratio * firsts as f64 + self.inner.reserve).floor() as u64;
        allowed.saturating_sub(retries)
    }
}

impl Default for RetryBudget {
    fn default() -> RetryBudget {
        RetryBudget::new()
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("ratio", &self.inner.ratio)
            .field("reserve", &self.inner.reserve)
            .field("remaining", &self.remaining())
            .finish()
    }
}

impl RetryBudgetBuilder {
    /// The share of first attempts that may be retried, in `[0, 1000]`.
    ///
    /// # Default
    ///
    /// [`DEFAULT_RETRY_RATIO`] (0.2).
    pub fn ratio(mut self, ratio: f64) -> Self {
        self.ratio = ratio;
        self
    }

    /// Retries always allowed per second, whatever the traffic.
    ///
    /// # Default
    ///
    /// [`DEFAULT_MIN_RETRIES_PER_SEC`] (10).
    pub fn min_per_sec(mut self, n: u32) -> Self {
        self.min_per_sec = n;
        self
    }

    /// The rolling window first attempts and retries are counted over (at least 1 s).
    ///
    /// # Default
    ///
    /// [`DEFAULT_BUDGET_WINDOW`] (10 s).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The budget.
    ///
    /// # Errors
    ///
    /// A ratio that is negative, not finite or above 1000, or a window under 1 s, naming
    /// the setting.
    pub fn build(self) -> Result<RetryBudget, BuildError> {
        if !(self.ratio.is_finite() && (0.0..=1000.0).contains(&self.ratio)) {
            return Err(BuildError::invalid_value(
                "retry budget ratio",
                self.ratio.to_string(),
                "a number in [0, 1000]",
            ));
        }
        if self.window < Duration::from_secs(1) {
            return Err(BuildError::invalid_value(
                "retry budget window",
                format!("{:?}", self.window),
                "at least 1s",
            ));
        }
        Ok(RetryBudget {
            inner: Arc::new(Inner {
                ratio: self.ratio,
                reserve: f64::from(self.min_per_sec) * self.window.as_secs_f64(),
                window: Mutex::new(Window::new(self.window, 10)),
            }),
        })
    }
}
