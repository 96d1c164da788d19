//! [`ShutdownReport`]: what a pool's shutdown left behind — jobs cancelled in the queue
//! and jobs still running when the deadline passed.

use std::fmt;
use std::time::Duration;

/// What a pool's `shutdown` found: queued jobs it cancelled, and running jobs that had
/// not finished by the deadline (their threads are left to finish on their own).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use keel_runtime::blocking;
///
/// let pool = blocking::Builder::new().threads(1).build().unwrap();
/// let report = pool.shutdown(Duration::from_secs(1));
/// assert!(report.is_clean());
/// assert_eq!(report.cancelled(), 0);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShutdownReport {
    pool: &'static str,
    cancelled: usize,
    still_running: usize,
    elapsed: Duration,
}

impl ShutdownReport {
    pub(crate) fn new(
        pool: &'static str,
        cancelled: usize,
        still_running: usize,
        elapsed: Duration,
    ) -> ShutdownReport {
        ShutdownReport {
            pool,
            cancelled,
            still_running,
            elapsed,
        }
    }

    /// Queued jobs that never ran; their handles report [`is_shutdown`](crate::jobs::JobError::is_shutdown).
    pub fn cancelled(&self) -> usize {
        self.cancelled
    }

    /// Jobs still running when the deadline passed.
    pub fn still_running(&self) -> usize {
        self.still_running
    }

    /// How long the shutdown waited.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Nothing was cancelled and nothing was left running.
    pub fn is_clean(&self) -> bool {
        self.cancelled == 0 && self.still_running == 0
    }
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} pool shut down in {:?}: {} queued job(s) cancelled, {} still running at the deadline",
            self.pool, self.elapsed, self.cancelled, self.still_running
        )
    }
}
