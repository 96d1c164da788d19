//! [`run_and_send`]: the end of both pools' job bodies — the job run with its submitter's
//! request context current and its panic caught, and the result sent to its handle.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::JobError;
use super::cell::Sender;
use crate::task_context::{self, Context};

/// A pool's own record of how a job ended, as its counters take it: the two ends of a
/// job that ran.
pub(crate) trait RanOutcome {
    /// The job returned.
    const COMPLETED: Self;
    /// The job panicked.
    const PANICKED: Self;
}

/// Runs `f` with the submitter's request `context` current on this thread and sends
/// `Ok(value)`, or its panic as [`JobError::panicked`] of `pool`, through `tx`. Before
/// the send it reports [`RanOutcome::COMPLETED`] or [`RanOutcome::PANICKED`], so whoever
/// awaits the result sees the job counted.
#[inline]
pub(crate) fn run_and_send<F, T, O: RanOutcome>(
    pool: &'static str,
    context: Option<Context>,
    f: F,
    tx: Sender<'_, T>,
    report: &dyn Fn(O),
) where
    F: FnOnce() -> T,
{
    match catch_unwind(AssertUnwindSafe(|| task_context::enter(context, f))) {
        Ok(value) => {
            report(O::COMPLETED);
            tx.send(Ok(value));
        }
        Err(payload) => {
            report(O::PANICKED);
            tx.send(Err(JobError::panicked(pool, payload)));
        }
    }
}
