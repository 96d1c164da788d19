//! [`select`]: wait for whichever of two futures finishes first.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;

/// Which future of a [`select`] finished: the first (`Left`) or the second (`Right`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Either<A, B> {
    /// The first future finished, with this output.
    Left(A),
    /// The second future finished, with this output.
    Right(B),
}

/// Polls both futures (`a` first); the first to finish wins and the other is dropped.
///
/// # Examples
///
/// ```
/// use std::future::pending;
/// use keel_runtime::future::{Either, select};
///
/// keel_runtime::block_on(async {
///     let won = select(pending::<()>(), async { "ready" }).await;
///     assert_eq!(won, Either::Right("ready"));
/// });
/// ```
pub async fn select<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let mut a = pin!(a);
    let mut b = pin!(b);
    poll_fn(|cx| {
        if let Poll::Ready(x) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(x));
        }
        if let Poll::Ready(x) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(x));
        }
        Poll::Pending
    })
    .await
}
