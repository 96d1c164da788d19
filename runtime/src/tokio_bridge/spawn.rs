//! [`spawn`]: `Send` background work on the tokio bridge, under the submitter's request
//! context and tracked until it ends (for [`drain`](super::drain)).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::tracked::Tracking;
use crate::task_context;

/// Runs `future` on the tokio bridge's workers, with the caller's request context
/// ([`task_context`]: request id, fields, trace span) current while it is polled — for
/// `Send` background work that outlives the handler or should not hold its loop. (Awaiting
/// a tokio-based call in a handler needs no spawn: it runs on the handler's loop, its I/O
/// on the bridge.) Plain `tokio::spawn` from a loop also lands on the bridge, but without
/// the request context.
///
/// # Panics
///
/// When no bridge runs (`KEEL_TOKIO_THREADS=0`, or no Keel runtime was started).
///
/// # Examples
///
/// ```
/// use keel_runtime::{Runtime, task_context};
///
/// let rt = Runtime::builder().loops(1).build().unwrap();
/// let id = rt.block_on(async {
///     task_context::scope(task_context::Context::new("req-7"), async {
///         keel_runtime::tokio::spawn(async {
///             let thread = std::thread::current().name().unwrap_or("").to_owned();
///             (task_context::request_id(), thread)
///         })
///         .await
///         .unwrap()
///     })
///     .await
/// });
/// assert_eq!(id.0.as_deref(), Some("req-7"));
/// assert!(id.1.starts_with("keel-tokio-"), "{}", id.1);
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let Some(handle) = super::handle() else {
        panic!(
            "keel_runtime::tokio::spawn: no tokio bridge is running \
             (KEEL_TOKIO_THREADS=0, or no Keel runtime was started)"
        );
    };
    let context = task_context::current();
    let tracking = Tracking::start(
        context.as_ref().map(|c| c.request_id().to_owned()),
        std::panic::Location::caller(),
    );
    let future = match context {
        Some(context) => Carried::Scoped {
            future: task_context::scope(context, future),
        },
        None => Carried::Bare { future },
    };
    handle.spawn(Tracked {
        future,
        _tracking: tracking,
    })
}

pin_project_lite::pin_project! {
    /// A spawned future, under its submitter's context when it had one.
    #[project = CarriedProj]
    enum Carried<F> {
        Scoped { #[pin] future: task_context::Scoped<F> },
        Bare { #[pin] future: F },
    }
}

impl<F: Future> Future for Carried<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        match self.project() {
            CarriedProj::Scoped { future } => future.poll(cx),
            CarriedProj::Bare { future } => future.poll(cx),
        }
    }
}

pin_project_lite::pin_project! {
    /// A spawned future and its entry among the running bridged tasks, removed when the
    /// future ends or is dropped.
    struct Tracked<F> {
        #[pin]
        future: Carried<F>,
        _tracking: Tracking,
    }
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().future.poll(cx)
    }
}
