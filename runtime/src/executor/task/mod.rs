//! Tasks: how a spawned future is stored, woken, polled and joined.
//!
//! # Parts
//!
//! A task is one allocation, a [`TaskCell`](cell::TaskCell) (`cell.rs`): the
//! [`Header`] (`header.rs`, the `Send + Sync` part: owning loop, slab slot, name,
//! [state bits](state)), the future, the output slot and the join handle's waker. It is
//! seen through two type-erased views (`raw.rs`): [`RawTask`] — what the loop's slab and
//! run queue and every [`Waker`](std::task::Waker) hold, as a [`TaskRef`] — and
//! `Joinable<T>`, what the [`JoinHandle`] (`join.rs`) holds. A spawn costs one
//! allocation; a waker is a reference count on it.
//!
//! # Who touches what
//!
//! 1. Only the owning loop reads or writes the slab slot, the header's `key` and the
//!    future (it polls it and drops it in place; the cell never moves).
//! 2. Any thread may wake a task: it sets `SCHEDULED` in the header's state; the thread
//!    that flips it from clear to set queues the task (locally or through the inject
//!    queue, see `event_loop/shared.rs`), so a task is queued at most once.
//! 3. The loop clears `SCHEDULED` *before* polling, so a wake that happens during the
//!    poll queues the task again.
//! 4. `COMPLETE` is set once the future is gone and the output stored; queued references
//!    to a complete task are skipped, so a reused slab slot is never polled on behalf of
//!    a stale wake.
//! 5. `ABORTED` is set by `JoinHandle::abort` from any thread, followed by a wake; the loop
//!    sees it at the next poll, drops the future there, and the handle gets a
//!    cancellation error.
//! 6. The output goes from the completer to the join handle, or is dropped by whichever
//!    of the two comes second when the handle is dropped (`DETACHED`); see `cell.rs`.

mod cell;
mod header;
mod join;
mod raw;
pub(crate) mod state;

pub(crate) use cell::TaskCell;
pub(crate) use header::Header;
pub use join::{JoinError, JoinHandle};
pub(crate) use raw::{RawTask, TaskRef};
