//! [`CatchPanic`]: a future that turns a panic inside it into an `Err` carrying the
//! message, so a panicking handler becomes a 500 and its connection and loop go on; and
//! [`catch_panic_sync`], the same for a plain call (a handler's extractors run when it is
//! called, before its future exists).

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::jobs::panic_message;

pin_project! {
    /// Polls the inner future inside `catch_unwind`: its output as `Ok`, or its panic's
    /// message as `Err`.
    ///
    /// The panic hook still runs (and logs the panic); only the unwinding stops here.
    ///
    /// # Examples
    ///
    /// ```
    /// use keel_runtime::future::CatchPanic;
    ///
    /// keel_runtime::block_on(async {
    ///     assert_eq!(CatchPanic::new(async { 7 }).await, Ok(7));
    ///     let panicked = CatchPanic::new(async { panic!("bad input") }).await;
    ///     assert_eq!(panicked, Err::<(), _>("bad input".to_owned()));
    /// });
    /// ```
    #[derive(Debug)]
    #[must_use = "futures do nothing unless awaited"]
    pub struct CatchPanic<F> {
        #[pin]
        inner: F,
    }
}

impl<F> CatchPanic<F> {
    /// Wraps `inner`.
    pub fn new(inner: F) -> CatchPanic<F> {
        CatchPanic { inner }
    }
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.project().inner;
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(payload) => Poll::Ready(Err(message(payload))),
        }
    }
}

/// Calls `f`, turning a panic into an `Err` carrying its message.
///
/// # Examples
///
/// ```
/// use keel_runtime::future::catch_panic_sync;
///
/// assert_eq!(catch_panic_sync(|| 2 + 2), Ok(4));
/// let err = catch_panic_sync(|| -> u8 { panic!("no {}", "way") }).unwrap_err();
/// assert_eq!(err, "no way");
/// ```
pub fn catch_panic_sync<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(message)
}

/// The message of a panic payload.
fn message(payload: Box<dyn Any + Send>) -> String {
    panic_message(payload.as_ref())
        .unwrap_or("<non-string panic payload>")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_that_is_not_text_still_gives_a_message() {
        let err = catch_panic_sync(|| std::panic::panic_any(42u8)).unwrap_err();
        assert_eq!(err, "<non-string panic payload>");
    }
}
