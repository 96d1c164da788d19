//! [`JoinHandle`] and [`JoinError`]. The handle is the task cell seen through its
//! [`Joinable`] view; the output hand-off protocol is in `cell.rs`.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::raw::Joinable;

/// An owned permission to await a spawned task's output.
///
/// Awaiting it yields `Ok(output)`, or a [`JoinError`] when the task panicked or was
/// cancelled. Dropping it *detaches* the task: the task keeps running and its output is
/// dropped. [`abort`](JoinHandle::abort) cancels the task.
///
/// `JoinHandle<T>` is `Send` when `T` is, so handles of tasks on any loop can be awaited
/// from any other loop or thread.
///
/// # Examples
///
/// ```
/// let out = keel_runtime::block_on(async {
///     let handle = keel_runtime::spawn_local(async { 40 + 2 });
///     handle.await.unwrap()
/// });
/// assert_eq!(out, 42);
/// ```
pub struct JoinHandle<T> {
    task: Arc<dyn Joinable<T>>,
}

// SAFETY: the handle reaches the task only through `Joinable`, whose methods touch the
// atomic header and, for `poll_join`/`detach`, the output: moving the handle to another
// thread moves where the output is received or dropped, which is sound when `T: Send`.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only allows `abort`, `is_finished` and `name`, which touch the
// atomic header alone; receiving the output needs `&mut`.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    pub(crate) fn new(task: Arc<dyn Joinable<T>>) -> JoinHandle<T> {
        JoinHandle { task }
    }

    /// Cancels the task. If it has not finished yet its future is dropped on its own loop
    /// at the loop's next turn, and awaiting this handle yields a cancelled [`JoinError`].
    /// Aborting a finished task does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// keel_runtime::block_on(async {
    ///     let handle = keel_runtime::spawn_local(keel_runtime::time::sleep(Duration::from_secs(60)));
    ///     handle.abort();
    ///     assert!(handle.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort(&self) {
        self.task.clone().abort();
    }

    /// Whether the task has finished (with output, panic or cancellation).
    pub fn is_finished(&self) -> bool {
        self.task.header().is_complete()
    }

    /// The name the task was spawned with, if any.
    pub fn name(&self) -> Option<&str> {
        self.task.header().name.as_deref()
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // SAFETY: this is the task's one join handle, and it is being dropped.
        unsafe { self.task.detach() };
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: this is the task's one join handle; polling after `Ready` is caught by
        // `poll_join`, which panics as the `Future` contract allows.
        unsafe { self.task.poll_join(cx) }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("name", &self.task.header().name)
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Why a task produced no output.
pub struct JoinError {
    repr: Repr,
}

enum Repr {
    Cancelled,
    Panic(Box<dyn Any + Send + 'static>),
}

impl JoinError {
    pub(crate) fn cancelled() -> JoinError {
        JoinError {
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError {
            repr: Repr::Panic(payload),
        }
    }

    /// The task was aborted, or its runtime shut down before it finished.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic payload, to resume the panic with `std::panic::resume_unwind`.
    ///
    /// # Errors
    ///
    /// Gives the error back when it is not a panic.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(payload) => Ok(payload),
            Repr::Cancelled => Err(self),
        }
    }

    /// The panic message when the payload is a string, as most panics are.
    pub fn panic_message(&self) -> Option<&str> {
        match &self.repr {
            Repr::Panic(payload) => panic_message(payload.as_ref()),
            Repr::Cancelled => None,
        }
    }
}

/// The text of a panic payload built by `panic!`, if it has one.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("JoinError::Cancelled"),
            Repr::Panic(_) => write!(f, "JoinError::Panic({:?})", self.panic_message()),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("task was cancelled"),
            Repr::Panic(_) => match self.panic_message() {
                Some(msg) => write!(f, "task panicked: {msg}"),
                None => f.write_str("task panicked"),
            },
        }
    }
}

impl std::error::Error for JoinError {}
