//! [`Error`]: what [`Pool::get`](crate::Pool::get) returns when it cannot hand out a
//! connection, naming the phase of the acquire that ran out of time ([`AcquirePhase`])
//! and carrying the backend's own error as-is.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The phase of an acquire that ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AcquirePhase {
    /// Waiting in the queue for a connection another task would return.
    Wait,
    /// Opening a new connection (including the retries after failed connects).
    Create,
    /// Checking (or cleaning) an idle connection before handing it out.
    Recycle,
}

impl fmt::Display for AcquirePhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AcquirePhase::Wait => "waiting for a connection",
            AcquirePhase::Create => "creating a connection",
            AcquirePhase::Recycle => "recycling a connection",
        })
    }
}

/// Why a connection could not be acquired. `E` is the manager's error type.
///
/// Which errors are transient: [`Error::Timeout`] (the pool or the server is busy or
/// down; try again later) and [`Error::Backend`] (depends on the backend error).
/// [`Error::Closed`] is permanent for this pool.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use keel_pool::{Error, AcquirePhase};
///
/// let e: Error<std::io::Error> = Error::Timeout {
///     phase: AcquirePhase::Create,
///     waited: Duration::from_secs(3),
///     last_error: Some(Arc::new(std::io::Error::other("connection refused"))),
/// };
/// assert!(e.is_timeout());
/// assert_eq!(e.timeout_phase(), Some(AcquirePhase::Create));
/// assert!(e.to_string().contains("connection refused"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error<E> {
    /// The acquire deadline passed during `phase`.
    Timeout {
        /// The phase the acquire was in when its time ran out.
        phase: AcquirePhase,
        /// How long the acquire had waited in all.
        waited: Duration,
        /// The last connect error, when connects were failing: the acquire's own, or,
        /// for an acquire queued behind a failing create, the pool's latest (shared,
        /// hence the `Arc`).
        last_error: Option<Arc<E>>,
    },
    /// The backend failed and the pool was told not to retry
    /// ([`Builder::fail_fast`](crate::Builder::fail_fast)).
    Backend(E),
    /// The pool was closed with [`Pool::close`](crate::Pool::close).
    Closed,
}

impl<E> Error<E> {
    /// Whether the acquire timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// Whether the pool is closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, Error::Closed)
    }

    /// Whether the backend failed.
    pub fn is_backend(&self) -> bool {
        matches!(self, Error::Backend(_))
    }

    /// The phase that timed out, for a timeout.
    pub fn timeout_phase(&self) -> Option<AcquirePhase> {
        match self {
            Error::Timeout { phase, .. } => Some(*phase),
            _ => None,
        }
    }

    /// The backend error: the failure itself, or the last connect error of a timeout.
    pub fn backend(&self) -> Option<&E> {
        match self {
            Error::Backend(e) => Some(e),
            Error::Timeout { last_error, .. } => last_error.as_deref(),
            Error::Closed => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Timeout {
                phase,
                waited,
                last_error,
            } => {
                write!(f, "pool timed out after {waited:?} {phase}")?;
                if let Some(e) = last_error {
                    write!(f, "; last connect error: {e}")?;
                }
                Ok(())
            }
            Error::Backend(e) => write!(f, "pool backend error: {e}"),
            Error::Closed => f.write_str("pool is closed"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.backend().map(|e| e as _)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_phase() {
        let e: Error<std::io::Error> = Error::Timeout {
            phase: AcquirePhase::Wait,
            waited: Duration::from_millis(5),
            last_error: None,
        };
        assert!(e.to_string().contains("waiting"));
        assert!(std::error::Error::source(&e).is_none());
        assert!(Error::<std::io::Error>::Closed.is_closed());
    }
}
