//! The thread-local "current loop": which [`Core`] the running thread drives, if any.
//!
//! A loop thread enters its core once and keeps it for its whole life; `block_on` enters
//! a core for the duration of the call. Everything that needs "this loop" (local spawn,
//! timers, socket registration, the local wake path) goes through here, so none of those
//! types carries a reference to the loop.

use std::cell::{Cell, RefCell};
use std::ptr;
use std::rc::Rc;
use std::sync::Arc;

use crate::event_loop::Core;
use crate::executor::task::TaskRef;

thread_local! {
    static CURRENT: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
    /// `CURRENT`'s core as a plain pointer (null when none), for the local wake path: a
    /// `Cell` of a pointer has no destructor, so reading it is one thread-local load,
    /// with no registration or borrow checks.
    static CURRENT_RAW: Cell<*const Core> = const { Cell::new(ptr::null()) };
}

/// Makes `core` the current loop while `f` runs, restoring the previous one after (also
/// on unwind).
pub(crate) fn enter<R>(core: Rc<Core>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Rc<Core>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            // The log lines of the loop being left go out now.
            crate::log::batch::hand_off();
            let previous = self.0.take();
            CURRENT_RAW.set(previous.as_ref().map_or(ptr::null(), Rc::as_ptr));
            let _ = CURRENT.try_with(|current| *current.borrow_mut() = previous);
        }
    }
    let raw = Rc::as_ptr(&core);
    let previous = CURRENT.with(|current| current.borrow_mut().replace(core));
    let _restore = Restore(previous);
    CURRENT_RAW.set(raw);
    f()
}

/// Runs `f` with the current loop, or returns `None` when this thread drives no loop.
pub(crate) fn with_core<R>(f: impl FnOnce(&Rc<Core>) -> R) -> Option<R> {
    CURRENT
        .try_with(|current| current.borrow().as_ref().map(f))
        .ok()
        .flatten()
}

/// Like [`with_core`], but also `None` (instead of a panic) while the current loop is
/// being swapped: for the panic hook, which must never panic itself.
pub(crate) fn try_with_core<R>(f: impl FnOnce(&Rc<Core>) -> R) -> Option<R> {
    CURRENT
        .try_with(|current| current.try_borrow().ok()?.as_ref().map(f))
        .ok()
        .flatten()
}

/// Runs `f` with the current loop.
///
/// # Panics
///
/// Panics with `what` in the message when the thread drives no Keel loop.
#[track_caller]
pub(crate) fn expect_core<R>(what: &str, f: impl FnOnce(&Rc<Core>) -> R) -> R {
    match with_core(f) {
        Some(r) => r,
        None => panic!(
            "{what} must be called from a Keel event loop (inside a task, Runtime::run or block_on)"
        ),
    }
}

/// The local half of a wake: pushes `task` onto the run queue when this thread drives
/// the task's loop, and hands it back otherwise.
pub(crate) fn try_push_local(task: TaskRef) -> Result<(), TaskRef> {
    let core = CURRENT_RAW.get();
    // SAFETY: `CURRENT_RAW` is non-null only while `enter` runs on this thread, and
    // `enter` keeps the `Rc<Core>` it points to alive in `CURRENT` for that whole time.
    match unsafe { core.as_ref() } {
        Some(core) if Arc::ptr_eq(&core.shared, &task.header().owner) => {
            core.push_local(task);
            Ok(())
        }
        _ => Err(task),
    }
}
