//! [`Error`]: why a call made through a resilience tool did not return the dependency's
//! own answer — the dependency's error itself, or a refusal or time-out by the tool, each
//! naming the dependency.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The error of a call made through a [`CircuitBreaker`](super::CircuitBreaker),
/// [`Retry`](super::Retry) or [`Bulkhead`](super::Bulkhead): the dependency's own error
/// `E`, or a reason the tool did not let the call (or another attempt) happen.
///
/// Every variant names the dependency (the name given to the tool), and so does its
/// `Display` text. Tools stack: a retry around a breaker call gives an
/// `Error<Error<E>>`, which [`flatten`](Error::flatten) turns back into `Error<E>`.
///
/// # Examples
///
/// ```
/// use keel_runtime::resilience::Error;
///
/// let err: Error<std::io::Error> = Error::Open { dependency: "users-api".into() };
/// assert!(err.is_open());
/// assert_eq!(err.dependency(), "users-api");
/// assert_eq!(err.to_string(), "users-api: circuit breaker is open, call not attempted");
/// ```
#[derive(Debug, Clone)]
pub enum Error<E> {
    /// The dependency returned an error (for a retry: the last attempt's error, after the
    /// attempts, the delay allowance or the error's transience ran out).
    Inner {
        /// The dependency's name.
        dependency: Arc<str>,
        /// The dependency's error.
        source: E,
    },
    /// The circuit breaker is open (or half-open with its trial calls taken): the call
    /// failed fast without running.
    Open {
        /// The dependency's name.
        dependency: Arc<str>,
    },
    /// The call did not finish within the breaker's per-call timeout and was dropped.
    TimedOut {
        /// The dependency's name.
        dependency: Arc<str>,
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The bulkhead had no free slot and its wait queue was full, or the wait for a slot
    /// exceeded its maximum.
    Full {
        /// The dependency's name.
        dependency: Arc<str>,
    },
    /// A transient failure would have been retried, but the retry budget had no tokens
    /// left: retries were already adding as much load as the budget allows.
    BudgetExhausted {
        /// The dependency's name.
        dependency: Arc<str>,
        /// The error of the last attempt.
        last: E,
    },
}

impl<E> Error<E> {
    /// The name of the dependency the call was for.
    pub fn dependency(&self) -> &str {
        match self {
            Error::Inner { dependency, .. }
            | Error::Open { dependency }
            | Error::TimedOut { dependency, .. }
            | Error::Full { dependency }
            | Error::BudgetExhausted { dependency, .. } => dependency,
        }
    }

    /// The dependency's own error, if there is one (`Inner` and `BudgetExhausted`).
    pub fn inner(&self) -> Option<&E> {
        match self {
            Error::Inner { source, .. } => Some(source),
            Error::BudgetExhausted { last, .. } => Some(last),
            _ => None,
        }
    }

    /// Takes the dependency's own error out, if there is one.
    pub fn into_inner(self) -> Option<E> {
        match self {
            Error::Inner { source, .. } => Some(source),
            Error::BudgetExhausted { last, .. } => Some(last),
            _ => None,
        }
    }

    /// Whether the dependency itself returned the error.
    pub fn is_inner(&self) -> bool {
        matches!(self, Error::Inner { .. })
    }

    /// Whether a circuit breaker refused the call.
    pub fn is_open(&self) -> bool {
        matches!(self, Error::Open { .. })
    }

    /// Whether the per-call timeout elapsed.
    pub fn is_timed_out(&self) -> bool {
        matches!(self, Error::TimedOut { .. })
    }

    /// Whether a bulkhead refused the call.
    pub fn is_full(&self) -> bool {
        matches!(self, Error::Full { .. })
    }

    /// Whether the retry budget stopped a retry.
    pub fn is_budget_exhausted(&self) -> bool {
        matches!(self, Error::BudgetExhausted { .. })
    }

    /// Applies `f` to the dependency's error, keeping the variant.
    pub fn map_inner<F, G: FnMut(E) -> F>(self, mut f: G) -> Error<F> {
        match self {
            Error::Inner { dependency, source } => Error::Inner {
                dependency,
                source: f(source),
            },
            Error::Open { dependency } => Error::Open { dependency },
            Error::TimedOut { dependency, after } => Error::TimedOut { dependency, after },
            Error::Full { dependency } => Error::Full { dependency },
            Error::BudgetExhausted { dependency, last } => Error::BudgetExhausted {
                dependency,
                last: f(last),
            },
        }
    }

    pub(crate) fn inner_of(dependency: &Arc<str>, source: E) -> Error<E> {
        Error::Inner {
            dependency: dependency.clone(),
            source,
        }
    }
}

impl<E> Error<Error<E>> {
    /// Collapses a tool's error around another tool's error: the innermost refusal or
    /// dependency error wins, so `retry(breaker(call))` reports `Open`, not
    /// `Inner(Open)`. A `BudgetExhausted` around an inner tool's refusal reports the
    /// budget, since that is what stopped the retries.
    ///
    /// # Examples
    ///
    /// ```
    /// use keel_runtime::resilience::Error;
    ///
    /// let nested: Error<Error<&str>> = Error::Inner {
    ///     dependency: "db".into(),
    ///     source: Error::Full { dependency: "db".into() },
    /// };
    /// assert!(nested.flatten().is_full());
    /// ```
    pub fn flatten(self) -> Error<E> {
        match self {
            Error::Inner { source, .. } => source,
            Error::Open { dependency } => Error::Open { dependency },
            Error::TimedOut { dependency, after } => Error::TimedOut { dependency, after },
            Error::Full { dependency } => Error::Full { dependency },
            Error::BudgetExhausted { dependency, last } => match last {
                Error::Inner { source, .. } | Error::BudgetExhausted { last: source, .. } => {
                    Error::BudgetExhausted {
                        dependency,
                        last: source,
                    }
                }
                other => other,
            },
        }
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Inner { dependency, source } => write!(f, "{dependency}: {source}"),
            Error::Open { dependency } => {
                write!(
                    f,
                    "{dependency}: circuit breaker is open, call not attempted"
                )
            }
            Error::TimedOut { dependency, after } => {
                write!(f, "{dependency}: call timed out after {after:?}")
            }
            Error::Full { dependency } => write!(
                f,
                "{dependency}: bulkhead full, no free slot within the wait allowed"
            ),
            Error::BudgetExhausted { dependency, last } => write!(
                f,
                "{dependency}: retry budget exhausted, last error: {last}"
            ),
        }
    }
}

/// The `Display` text already includes the dependency's error, so `source` skips it and
/// gives that error's own source (as a transparent wrapper does): a report walking the
/// chain does not print the same message twice. [`Error::inner`] gives the error itself.
impl<E: std::error::Error + 'static> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner().and_then(|e| e.source())
    }
}
