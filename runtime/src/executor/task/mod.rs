//! Tasks: how a spawned future is stored, woken, polled and joined.
//!
//! # Parts
//!
//! A task is three pieces, each owned by exactly one side:
//!
//! * [`Header`] (`header.rs`): the `Send + Sync` part every [`Waker`](std::task::Waker)
//!   points at: the loop the task belongs to, its slot in that loop's task slab, its
//!   name and its [state bits](state). Wakers and the [`JoinHandle`] hold it by `Arc`.
//! * The task future (`future.rs`): the user's future wrapped so that panics are caught,
//!   `abort()` is honoured and the output is handed to the join cell. It lives in the
//!   owning loop's slab and is only ever touched by that loop's thread, so `!Send`
//!   futures are fine.
//! * The join cell (`join.rs`): where the output waits for the [`JoinHandle`].
//!
//! # Who touches what
//!
//! 1. Only the owning loop reads or writes the slab slot and the header's `key`.
//! 2. Any thread may wake a task: it sets `SCHEDULED` in the header's state; the thread
//!    that flips it from clear to set queues the header (locally or through the inject
//!    queue, see `event_loop/shared.rs`), so a task is queued at most once.
//! 3. The loop clears `SCHEDULED` *before* polling, so a wake that happens during the
//!    poll queues the task again.
//! 4. `COMPLETE` is set by the loop once the future is gone; queued headers of a complete
//!    task are skipped, so a reused slab slot is never polled on behalf of a stale wake.
//! 5. `ABORTED` is set by `JoinHandle::abort` from any thread, followed by a wake; the loop
//!    sees it at the next poll, drops the future there, and the join cell reports
//!    cancellation.

mod future;
mod header;
mod join;
pub(crate) mod state;

pub(crate) use future::TaskFuture;
pub(crate) use header::Header;
pub(crate) use join::JoinCell;
pub use join::{JoinError, JoinHandle};
