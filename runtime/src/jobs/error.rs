//! [`JobError`]: why a pool job produced no result, or why it was not taken — queue
//! full, shut down, timed out before it started, panicked, or a bad pool setting.

use std::any::Any;
use std::fmt;

use parking_lot::Mutex;

use crate::BuildError;

/// What kind of [`JobError`] this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The pool's queue was at its bound when the job was submitted.
    QueueFull,
    /// The pool was shut down before the job ran (or while it was queued).
    ShutDown,
    /// The job's start deadline passed while it was still queued.
    TimedOut,
    /// The job panicked; the pool thread lived on.
    Panicked,
    /// The pool could not be started: a setting or environment variable was invalid.
    Config,
}

/// A pool job failed, or was refused.
///
/// Submission errors ([`is_queue_full`](JobError::is_queue_full),
/// [`is_shutdown`](JobError::is_shutdown), [`is_config`](JobError::is_config)) come back
/// at once from `spawn`; the others come back from awaiting the job's handle.
///
/// # Examples
///
/// ```
/// use keel_runtime::blocking;
///
/// let pool = blocking::Builder::new().threads(1).build().unwrap();
/// keel_runtime::block_on(async {
///     let err = pool.spawn(|| panic!("disk on fire")).unwrap().await.unwrap_err();
///     assert!(err.is_panic());
///     assert_eq!(err.panic_message(), Some("disk on fire"));
/// });
/// ```
pub struct JobError {
    inner: Box<Repr>,
}

enum Repr {
    QueueFull {
        pool: &'static str,
        capacity: usize,
    },
    ShutDown {
        pool: &'static str,
    },
    TimedOut {
        pool: &'static str,
    },
    Panicked {
        pool: &'static str,
        /// The payload's text, read once so `JobError` stays `Sync`.
        message: Option<String>,
        /// Behind a mutex only to make `JobError` `Sync` (for `io::Error`, anyhow...).
        payload: Mutex<Box<dyn Any + Send + 'static>>,
    },
    Config(BuildError),
}

impl JobError {
    pub(crate) fn queue_full(pool: &'static str, capacity: usize) -> JobError {
        JobError::new(Repr::QueueFull { pool, capacity })
    }

    pub(crate) fn shut_down(pool: &'static str) -> JobError {
        JobError::new(Repr::ShutDown { pool })
    }

    pub(crate) fn timed_out(pool: &'static str) -> JobError {
        JobError::new(Repr::TimedOut { pool })
    }

    pub(crate) fn panicked(pool: &'static str, payload: Box<dyn Any + Send + 'static>) -> JobError {
        let message = panic_message(payload.as_ref()).map(str::to_owned);
        JobError::new(Repr::Panicked {
            pool,
            message,
            payload: Mutex::new(payload),
        })
    }

    pub(crate) fn config(error: BuildError) -> JobError {
        JobError::new(Repr::Config(error))
    }

    fn new(repr: Repr) -> JobError {
        JobError {
            inner: Box::new(repr),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match &*self.inner {
            Repr::QueueFull { .. } => ErrorKind::QueueFull,
            Repr::ShutDown { .. } => ErrorKind::ShutDown,
            Repr::TimedOut { .. } => ErrorKind::TimedOut,
            Repr::Panicked { .. } => ErrorKind::Panicked,
            Repr::Config(_) => ErrorKind::Config,
        }
    }

    /// The queue was full: shed the load, retry later, or wait for room with the pool's
    /// `reserve`.
    pub fn is_queue_full(&self) -> bool {
        self.kind() == ErrorKind::QueueFull
    }

    /// The pool was shut down.
    pub fn is_shutdown(&self) -> bool {
        self.kind() == ErrorKind::ShutDown
    }

    /// The job did not start before its deadline.
    pub fn is_timed_out(&self) -> bool {
        self.kind() == ErrorKind::TimedOut
    }

    /// The job panicked.
    pub fn is_panic(&self) -> bool {
        self.kind() == ErrorKind::Panicked
    }

    /// The pool's configuration was invalid; [`setting`](JobError::setting) names it.
    pub fn is_config(&self) -> bool {
        self.kind() == ErrorKind::Config
    }

    /// The setting or environment variable at fault, for a configuration error.
    pub fn setting(&self) -> Option<&str> {
        match &*self.inner {
            Repr::Config(e) => e.setting(),
            _ => None,
        }
    }

    /// The panic message when the job panicked with a string, as most panics do.
    pub fn panic_message(&self) -> Option<&str> {
        match &*self.inner {
            Repr::Panicked { message, .. } => message.as_deref(),
            _ => None,
        }
    }

    /// The panic payload, to resume the panic with `std::panic::resume_unwind`.
    ///
    /// # Errors
    ///
    /// Gives the error back when it is not a panic.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JobError> {
        match *self.inner {
            Repr::Panicked { payload, .. } => Ok(payload.into_inner()),
            other => Err(JobError::new(other)),
        }
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            Repr::QueueFull { pool, capacity } => write!(
                f,
                "{pool} pool queue is full ({capacity} jobs queued); shed load, retry, or wait for room with reserve()"
            ),
            Repr::ShutDown { pool } => write!(f, "{pool} pool is shut down"),
            Repr::TimedOut { pool } => {
                write!(f, "{pool} pool job did not start before its deadline")
            }
            Repr::Panicked { pool, message, .. } => match message {
                Some(msg) => write!(f, "{pool} pool job panicked: {msg}"),
                None => write!(f, "{pool} pool job panicked"),
            },
            Repr::Config(e) => write!(f, "pool not started: {e}"),
        }
    }
}

impl fmt::Debug for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JobError({:?}: {self})", self.kind())
    }
}

impl std::error::Error for JobError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.inner {
            Repr::Config(e) => Some(e),
            _ => None,
        }
    }
}

/// The text of a panic payload built by `panic!`, if it has one.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_send_sync_and_one_pointer() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<JobError>();
        assert_eq!(size_of::<JobError>(), size_of::<usize>());
        assert_eq!(size_of::<Result<(), JobError>>(), size_of::<usize>());
    }

    #[test]
    fn messages_name_the_cause() {
        let e = JobError::queue_full("blocking", 10);
        assert!(e.is_queue_full());
        assert!(e.to_string().contains("queue is full"), "{e}");
        let e = JobError::config(BuildError::invalid_value("KEEL_X", "y", "a number"));
        assert_eq!(e.setting(), Some("KEEL_X"));
        assert!(e.to_string().contains("KEEL_X"));
        let e = JobError::panicked("workers", Box::new("boom"));
        assert_eq!(e.panic_message(), Some("boom"));
        assert!(e.try_into_panic().is_ok());
        assert!(JobError::timed_out("workers").try_into_panic().is_err());
    }
}
