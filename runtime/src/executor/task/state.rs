//! The task state bits kept in [`Header::state`](super::Header).
//!
//! One `AtomicU8`; every transition is a single `fetch_or`/`fetch_and`, so no bit pattern
//! can be observed half-written.

/// The task is in a run queue (local or inject) or about to be. Set by whoever wakes the
/// task first; cleared by the loop just before it polls the task.
pub(crate) const SCHEDULED: u8 = 1 << 0;

/// The task's future has been dropped (finished, panicked, aborted or shut down) and its
/// result, if anyone still wants it, is in the cell's output slot. Wakes are ignored from
/// then on. Set once, by whoever completes the task (`Release`): a join handle that sees
/// it (`Acquire`) may read the output.
pub(crate) const COMPLETE: u8 = 1 << 1;

/// `JoinHandle::abort` was called. The loop drops the future at its next turn.
pub(crate) const ABORTED: u8 = 1 << 2;

/// The join handle was dropped: nobody will read the output. Whichever of the completer
/// and the handle sets its bit second drops the output (see `cell.rs`).
pub(crate) const DETACHED: u8 = 1 << 3;
