//! Start deadlines: a job that has not started by its deadline fails with `TimedOut`.
//!
//! * [`JobDeadline`] is shared by the queued job and its handle. Whoever moves it off
//!   `QUEUED` first decides: the pool thread starts the job ([`JobDeadline::claim_start`]),
//!   or the handle reports `TimedOut` ([`HandleDeadline`]) and the job, when a thread
//!   reaches it, is skipped ([`JobDeadline::expired`]).
//! * [`HandleDeadline`]: the handle's side. On a Keel loop a timer wakes the handle at
//!   the deadline; elsewhere the deadline is checked whenever the handle is polled, and
//!   otherwise a thread that reaches the late job reports it.
//! * [`ReserveUntil`]: waiting for room in a queue, up to a deadline.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use super::JobError;
use crate::time::Sleep;

/// Still queued.
const QUEUED: u8 = 0;
/// Started by a pool thread.
const STARTED: u8 = 1;
/// Given up by its handle, which reported `TimedOut`.
const EXPIRED: u8 = 2;

/// A start deadline shared by a job and its handle.
pub(crate) struct JobDeadline {
    at: Instant,
    state: AtomicU8,
}

/// Why a job may not start: its deadline passed.
pub(crate) enum Late {
    /// Its handle already reported `TimedOut`.
    Reported,
    /// Nobody reported it yet: the job's result must be `TimedOut`.
    Unreported,
}

impl JobDeadline {
    pub(crate) fn new(at: Instant) -> Arc<JobDeadline> {
        Arc::new(JobDeadline {
            at,
            state: AtomicU8::new(QUEUED),
        })
    }

    /// Whether the handle gave up on the job (and reported `TimedOut`).
    pub(crate) fn expired(&self) -> bool {
        self.state.load(Ordering::Acquire) == EXPIRED
    }

    /// Claims the job for a pool thread about to run it; [`Late`] when the handle gave
    /// up first or the deadline has passed.
    pub(crate) fn claim_start(&self) -> Result<(), Late> {
        let won = self
            .state
            .compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if !won {
            return Err(Late::Reported);
        }
        if Instant::now() > self.at {
            return Err(Late::Unreported);
        }
        Ok(())
    }
}

/// A handle's side of its job's [`JobDeadline`].
pub(crate) struct HandleDeadline {
    shared: Arc<JobDeadline>,
    sleep: Option<Sleep>,
}

impl HandleDeadline {
    pub(crate) fn new(shared: Arc<JobDeadline>) -> HandleDeadline {
        HandleDeadline {
            shared,
            sleep: None,
        }
    }

    /// Polled while the job's result is not there: ready when the deadline passed before
    /// the job started (the handle then reports `TimedOut`; the job will be skipped);
    /// pending otherwise, with a timer armed on a Keel loop.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if Instant::now() >= self.shared.at {
                let expired = self
                    .shared
                    .state
                    .compare_exchange(QUEUED, EXPIRED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok();
                if expired {
                    return Poll::Ready(());
                }
                // Started in time: the result will come.
                return Poll::Pending;
            }
            if crate::current_loop().is_none() {
                return Poll::Pending;
            }
            let at = self.shared.at;
            let sleep = self
                .sleep
                .get_or_insert_with(|| crate::time::sleep_until(at));
            if Pin::new(sleep).poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

/// Waits for `reserve` (a pool's wait for room) and gives up with the `TimedOut` error of
/// `pool` at `deadline`: on a Keel loop a timer wakes it then; elsewhere the deadline is
/// checked whenever it is polled.
pub(crate) struct ReserveUntil<F> {
    reserve: F,
    pool: &'static str,
    deadline: Instant,
    sleep: Option<Sleep>,
}

impl<F> ReserveUntil<F> {
    pub(crate) fn new(reserve: F, pool: &'static str, deadline: Instant) -> ReserveUntil<F> {
        ReserveUntil {
            reserve,
            pool,
            deadline,
            sleep: None,
        }
    }
}

impl<F, P> Future for ReserveUntil<F>
where
    F: Future<Output = Result<P, JobError>> + Unpin,
{
    type Output = Result<P, JobError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Poll::Ready(out) = Pin::new(&mut this.reserve).poll(cx) {
            return Poll::Ready(out);
        }
        if Instant::now() >= this.deadline {
            return Poll::Ready(Err(JobError::timed_out(this.pool)));
        }
        if crate::current_loop().is_some() {
            let deadline = this.deadline;
            let sleep = this
                .sleep
                .get_or_insert_with(|| crate::time::sleep_until(deadline));
            if Pin::new(sleep).poll(cx).is_ready() {
                return Poll::Ready(Err(JobError::timed_out(this.pool)));
            }
        }
        Poll::Pending
    }
}
