//! The task state bits kept in [`Header::state`](super::Header).
//!
//! One `AtomicU8`; every transition is a single `fetch_or`/`fetch_and`, so no bit pattern
//! can be observed half-written.

/// The task is in a run queue (local or inject) or about to be. Set by whoever wakes the
/// task first; cleared by the loop just before it polls the task.
pub(crate) const SCHEDULED: u8 = 1 << 0;

/// The task's future has been dropped (finished, panicked, aborted or shut down). Wakes
/// are ignored from then on. Set only by the owning loop.
pub(crate) const COMPLETE: u8 = 1 << 1;

/// `JoinHandle::abort` was called. The loop drops the future at its next turn.
pub(crate) const ABORTED: u8 = 1 << 2;
