//! [`JoinHandle`], [`JoinError`] and the join cell the task writes its output into.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

use super::Header;

/// Where a task's output waits for its [`JoinHandle`].
pub(crate) struct JoinCell<T> {
    state: Mutex<JoinState<T>>,
}

struct JoinState<T> {
    output: Option<Result<T, JoinError>>,
    waiter: Option<Waker>,
    /// The output was taken by the handle.
    taken: bool,
}

impl<T> JoinCell<T> {
    pub(crate) fn new() -> Arc<JoinCell<T>> {
        Arc::new(JoinCell {
            state: Mutex::new(JoinState {
                output: None,
                waiter: None,
                taken: false,
            }),
        })
    }

    /// Stores the task's result and wakes the handle. The first result wins.
    pub(crate) fn complete(&self, result: Result<T, JoinError>) {
        let waiter = {
            let mut state = self.state.lock();
            if state.output.is_some() || state.taken {
                return;
            }
            state.output = Some(result);
            state.waiter.take()
        };
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }

    fn is_complete(&self) -> bool {
        let state = self.state.lock();
        state.output.is_some() || state.taken
    }

    fn poll_output(&self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
        let mut state = self.state.lock();
        if let Some(output) = state.output.take() {
            state.taken = true;
            return Poll::Ready(output);
        }
        assert!(!state.taken, "JoinHandle polled after completion");
        match &mut state.waiter {
            Some(waiter) if waiter.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

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
    cell: Arc<JoinCell<T>>,
    header: Arc<Header>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(cell: Arc<JoinCell<T>>, header: Arc<Header>) -> JoinHandle<T> {
        JoinHandle { cell, header }
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
        self.header.abort();
    }

    /// Whether the task has finished (with output, panic or cancellation).
    pub fn is_finished(&self) -> bool {
        self.cell.is_complete()
    }

    /// The name the task was spawned with, if any.
    pub fn name(&self) -> Option<&str> {
        self.header.name.as_deref()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.cell.poll_output(cx)
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("name", &self.header.name)
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
