//! The two type-erased views of one task allocation: [`RawTask`], what the loop, its
//! run queue and the wakers hold ([`TaskRef`]), and [`Joinable`], what a
//! [`JoinHandle`](super::JoinHandle) holds. Both point at the same
//! [`TaskCell`](super::cell::TaskCell); only the vtable differs.

use std::sync::Arc;
use std::task::{Context, Poll};

use super::{Header, JoinError};
use crate::current_loop;
use crate::event_loop::Injected;

/// A counted reference to a task, as the loop and its queues hold it.
pub(crate) type TaskRef = Arc<dyn RawTask>;

/// The loop's view of a task.
///
/// # Safety
///
/// An implementor is `repr(C)` with a [`Header`] as its first field (`header()` below
/// reads it through the data pointer). The one implementor is
/// [`TaskCell`](super::cell::TaskCell).
pub(crate) unsafe trait RawTask: Send + Sync + 'static {
    /// Polls the future once with a waker for this task, catching a panic. On `Ready`
    /// the future has been dropped and the task completed (output stored for the join
    /// handle, or dropped).
    ///
    /// # Safety
    ///
    /// Only on the owning loop's thread (the future may be `!Send`), through a
    /// [`TaskRef`] the caller keeps for the whole call (the waker borrows it).
    unsafe fn poll(&self) -> Poll<()>;

    /// Drops the future if it is still there and completes the task as cancelled. Does
    /// nothing once the task is complete.
    ///
    /// # Safety
    ///
    /// Only on the owning loop's thread, or — for a task whose future is `Send` and that
    /// no loop has adopted — on any thread.
    unsafe fn cancel(&self);
}

impl dyn RawTask {
    /// The shared header, read without a virtual call.
    #[inline]
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: every implementor is `repr(C)` with a `Header` first (the trait's
        // contract), so the data pointer of any `dyn RawTask` points at a valid
        // `Header` that lives as long as `self`.
        unsafe { &*std::ptr::from_ref(self).cast::<Header>() }
    }
}

/// The join handle's view of a task with output `T`.
pub(crate) trait Joinable<T> {
    /// The shared header.
    fn header(&self) -> &Header;

    /// Takes the output once the task is complete; registers `cx`'s waker otherwise.
    ///
    /// # Safety
    ///
    /// Only the task's one join handle calls it. (Polling again after `Ready` panics.)
    unsafe fn poll_join(&self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>>;

    /// Marks the task aborted and wakes it so its loop drops the future.
    fn abort(self: Arc<Self>);

    /// The join handle is going away: the output, now or later, is dropped unread.
    ///
    /// # Safety
    ///
    /// Only the task's one join handle calls it, once, as it is dropped.
    unsafe fn detach(&self);
}

/// Queues a woken task on its loop: straight onto the run queue when the caller runs on
/// that loop's thread, through the inject queue otherwise.
pub(crate) fn enqueue(task: TaskRef) {
    if let Err(task) = current_loop::try_push_local(task) {
        let owner = task.header().owner.clone();
        owner.inject(Injected::Wake(task));
    }
}
