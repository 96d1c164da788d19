//! [`TaskCell`]: one task in one allocation — header, future, output slot and the join
//! handle's waker — and the protocols that let the loop, wakers and the join handle
//! share it. All the unsafe code of the task system is here.
//!
//! # Who touches what
//!
//! * `future`: only the owning loop's thread (polls, drops), through [`RawTask`]'s unsafe
//!   methods whose contract says so. The one exception is a `Send` future that no loop
//!   has adopted yet (a remote spawn whose loop stopped), which may be dropped anywhere.
//!   The cell is never moved once allocated, so the future stays pinned; it is dropped
//!   in place.
//! * `output`: written once by the completer *before* it sets `COMPLETE` (`Release`).
//!   After that it belongs to the join handle, which reads it only after seeing
//!   `COMPLETE` (`Acquire`) — unless the handle was dropped: `DETACHED` and `COMPLETE`
//!   are set by one RMW each, so exactly one side sees the other's bit already set, and
//!   that side drops the output.
//! * `join_waker`: an [`AtomicWaker`]: the handle registers, then re-checks `COMPLETE`;
//!   the completer sets `COMPLETE`, then wakes. No wake-up is lost either way.

use std::cell::UnsafeCell;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::ptr;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use atomic_waker::AtomicWaker;

use super::join::panic_message;
use super::raw::{Joinable, RawTask, TaskRef, enqueue};
use super::state::{COMPLETE, DETACHED};
use super::{Header, JoinError};

/// A spawned future and everything around it, in one `Arc`.
///
/// `repr(C)` with the header first: a [`TaskRef`]'s data pointer is also a pointer to
/// the task's [`Header`], so the loop reads the header without a virtual call
/// (`raw.rs`).
#[repr(C)]
pub(crate) struct TaskCell<F: Future> {
    header: Header,
    future: UnsafeCell<Option<F>>,
    output: UnsafeCell<Option<Result<F::Output, JoinError>>>,
    join_waker: AtomicWaker,
}

// SAFETY: the cell is shared between threads only through `RawTask`/`Joinable`, whose
// methods keep to the access rules in the module docs: `future` is touched only on the
// owning loop's thread (or, when `Send`, before any loop adopted it), `output` by one
// side at a time as ordered by the `COMPLETE`/`DETACHED` bits, and a `!Send` output only
// ever reaches a join handle that is itself `!Send` and so stays on the loop's thread.
// The header and the `AtomicWaker` are `Send + Sync` themselves.
unsafe impl<F: Future> Send for TaskCell<F> {}
// SAFETY: as for `Send` above: every `&self` method follows the same access rules.
unsafe impl<F: Future> Sync for TaskCell<F> {}

impl<F: Future + 'static> TaskCell<F> {
    /// A cell holding `future`, not yet adopted by its loop.
    pub(crate) fn new(header: Header, future: Option<F>) -> Arc<TaskCell<F>> {
        Arc::new(TaskCell {
            header,
            future: UnsafeCell::new(future),
            output: UnsafeCell::new(None),
            join_waker: AtomicWaker::new(),
        })
    }

    /// Puts the future into a cell created without one (`spawn_local_on`: the future is
    /// made on the loop thread).
    ///
    /// # Safety
    ///
    /// On the owning loop's thread, before the task is adopted, at most once.
    pub(crate) unsafe fn install(&self, future: F) {
        // SAFETY: per the contract nothing else touches `future` yet.
        unsafe { *self.future.get() = Some(future) };
    }

    /// Completes a task that never got its future (its `spawn_local_on` closure panicked)
    /// with that panic.
    ///
    /// # Safety
    ///
    /// As for [`install`](TaskCell::install): on the owning loop's thread, before any
    /// adoption; the cell has no future.
    pub(crate) unsafe fn fail(&self, payload: Box<dyn std::any::Any + Send>) {
        // SAFETY: per the contract this thread is the task's only completer and the
        // future slot is empty.
        unsafe { self.complete(Err(JoinError::panic(payload))) };
    }

    /// Drops the future in place, if it is still there. A panicking destructor is
    /// caught: it must not take the loop down.
    ///
    /// # Safety
    ///
    /// The caller has the right to touch `future` (see the module docs).
    unsafe fn drop_future(&self) {
        let slot = self.future.get();
        // SAFETY: the caller has exclusive access to `future`.
        if let Some(future) = unsafe { (*slot).as_mut() } {
            let future: *mut F = future;
            // SAFETY: `future` is valid and is never used again: the slot is overwritten
            // with `None` below without dropping, whether or not the destructor panics.
            let _ = catch_unwind(AssertUnwindSafe(|| unsafe { ptr::drop_in_place(future) }));
            // SAFETY: exclusive access as above; the old value was dropped in place.
            unsafe { ptr::write(slot, None) };
        }
    }

    /// Completes the task with `result`: hands it to the join handle or, when the handle
    /// is gone, drops it. Does nothing if the task is already complete.
    ///
    /// # Safety
    ///
    /// Only the completer calls it (the owning loop, or the one party that cancels a task
    /// no loop adopted), and the future is already gone.
    unsafe fn complete(&self, result: Result<F::Output, JoinError>) {
        if self.header.is_complete() {
            return;
        }
        if self.header.is_detached() {
            // Complete first: the output's destructor is user code, and a panic there
            // (which escapes to the loop, see `supervisor.rs`) must not leave a task
            // that looks alive behind.
            self.header.set_complete();
            drop(result);
            return;
        }
        // SAFETY: `COMPLETE` is not set, so the join handle does not read `output` yet,
        // and the handle has not detached, so it will not drop it either.
        unsafe { *self.output.get() = Some(result) };
        let prev = self.header.set_complete();
        if prev & DETACHED != 0 {
            // The handle was dropped between the check above and `set_complete`; it saw
            // `COMPLETE` clear, so the output is ours to drop.
            // SAFETY: per the module docs, exactly this side owns `output` now.
            drop(unsafe { (*self.output.get()).take() });
        } else {
            self.join_waker.wake();
        }
    }
}

// SAFETY: `TaskCell` is `repr(C)` with `header` as its first field.
unsafe impl<F: Future + 'static> RawTask for TaskCell<F> {
    unsafe fn poll(&self) -> Poll<()> {
        // The poll's waker borrows the caller's reference instead of taking one of its
        // own: no reference-count traffic per poll. Clones made by the future are real
        // references (`Wake`'s vtable increments the count).
        // SAFETY: every `TaskCell` lives in an `Arc` (`new` is the only constructor), so
        // `self` is an `Arc` data pointer; the caller holds a reference for the whole
        // poll, and the `ManuallyDrop` never gives this borrowed count back.
        let waker = ManuallyDrop::new(Waker::from(unsafe { Arc::from_raw(ptr::from_ref(self)) }));
        let mut cx = Context::from_waker(&waker);
        let cx = &mut cx;
        // SAFETY: the caller runs on the owning loop's thread, the only one that touches
        // `future`; the cell lives in an `Arc` and is never moved, so pinning holds.
        let polled = match unsafe { (*self.future.get()).as_mut() } {
            None => return Poll::Ready(()),
            Some(future) => {
                // SAFETY: see above: the future is never moved until dropped in place.
                let future = unsafe { Pin::new_unchecked(future) };
                catch_unwind(AssertUnwindSafe(|| future.poll(cx)))
            }
        };
        let result = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => Ok(output),
            Err(payload) => {
                // Keel's panic hook already logged it, with more context.
                if !crate::panic_hook::hook_installed() {
                    tracing::error!(
                    task = self.header.name.as_deref().unwrap_or("<unnamed>"),
                    spawned_at = %self.header.location,
                    loop_index = self.header.owner.index,
                    message = panic_message(payload.as_ref()).unwrap_or("<non-string payload>"),
                    "task panicked; the loop goes on"
                    );
                }
                Err(JoinError::panic(payload))
            }
        };
        // Drop the future before publishing the result, so its destructors have run when
        // the joiner resumes.
        // SAFETY: same thread and access as the poll above; the loop completes its tasks.
        unsafe {
            self.drop_future();
            self.complete(result);
        }
        Poll::Ready(())
    }

    unsafe fn cancel(&self) {
        if self.header.is_complete() {
            return;
        }
        // SAFETY: the caller has the right to touch `future` and is the completer.
        unsafe {
            self.drop_future();
            self.complete(Err(JoinError::cancelled()));
        }
    }
}

impl<F: Future + 'static> Joinable<F::Output> for TaskCell<F> {
    fn header(&self) -> &Header {
        &self.header
    }

    unsafe fn poll_join(&self, cx: &mut Context<'_>) -> Poll<Result<F::Output, JoinError>> {
        if !self.header.is_complete() {
            self.join_waker.register(cx.waker());
            if !self.header.is_complete() {
                return Poll::Pending;
            }
        }
        // SAFETY: `COMPLETE` was seen with `Acquire`, so the output is written and now
        // belongs to the join handle, the only caller.
        match unsafe { (*self.output.get()).take() } {
            Some(output) => Poll::Ready(output),
            None => panic!("JoinHandle polled after completion"),
        }
    }

    fn abort(self: Arc<Self>) {
        if self.header.request_abort() {
            self.wake();
        }
    }

    unsafe fn detach(&self) {
        let prev = self.header.set_detached();
        if prev & COMPLETE != 0 {
            // The completer stored the output before we detached: it is ours to drop.
            // SAFETY: per the module docs, exactly this side owns `output` now.
            drop(unsafe { (*self.output.get()).take() });
        }
    }
}

impl<F: Future + 'static> Wake for TaskCell<F> {
    fn wake(self: Arc<Self>) {
        if self.header.claim_schedule() {
            enqueue(self);
        }
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.header.claim_schedule() {
            enqueue(self.clone() as TaskRef);
        }
    }
}
