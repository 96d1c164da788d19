//! Shutting the blocking pool down: stop taking jobs, cancel the queued ones, wait for
//! the running ones up to a deadline, and report what was left.
//!
//! # Steps
//!
//! 1. Under the state lock: set `shutdown` (every later submit fails with
//!    [`JobError::is_shutdown`](super::JobError::is_shutdown)), take every queued job
//!    out, and wake every idle thread so it exits.
//! 2. Close the queue slots, so tasks waiting in `reserve` get the shutdown error.
//! 3. Drop the taken jobs outside the lock (their closures may run user `Drop` code);
//!    their handles resolve to the shutdown error.
//! 4. Wait on `exited` until no thread is left or the deadline passes. Threads still
//!    running a job then are reported and left to finish on their own: a thread blocked
//!    in a syscall cannot be stopped from outside.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::pool::{Inner, POOL};
use crate::jobs::ShutdownReport;

/// Runs the steps above, waiting at most `timeout` in step 4.
pub(crate) fn shutdown(inner: &Arc<Inner>, timeout: Duration) -> ShutdownReport {
    let start = Instant::now();
    let deadline = start + timeout;
    let drained = {
        let mut state = inner.state.lock();
        state.shutdown = true;
        let drained = inner.drain(&mut state);
        inner.wake_all();
        drained
    };
    inner.slots.close();
    let cancelled = drained.len();
    for job in drained {
        inner.count_cancelled(job.class());
        inner.slots.release();
        drop(job);
    }
    let mut state = inner.state.lock();
    while state.threads > 0 {
        if inner.exited.wait_until(&mut state, deadline).timed_out() {
            break;
        }
    }
    let still_running = state.busy();
    drop(state);
    let report = ShutdownReport::new(POOL, cancelled, still_running, start.elapsed());
    if !report.is_clean() {
        tracing::warn!(%report, "blocking pool shutdown left work behind");
    }
    report
}
