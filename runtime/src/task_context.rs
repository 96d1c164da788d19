//! The request context (Node's `AsyncLocalStorage`, with declared keys): a small
//! [`Context`] — a request id and a list of declared logger fields — that is "current"
//! for whatever code runs on behalf of one request, anywhere in its async chain.
//!
//! # How it travels
//!
//! * **Around each poll.** A task captures the current context when it is spawned
//!   ([`spawn_local`](crate::spawn_local), [`spawn`](crate::spawn), the task
//!   [`Builder`](crate::task::Builder)) and keeps it in its header; the loop makes it
//!   current for each poll of the task. That costs one thread-local `Cell` store before
//!   and one after the poll: no allocation, no atomic.
//! * **Inside a task.** [`scope`] wraps a future so that *its* context is current while
//!   it is polled (an HTTP connection task serves many requests, one scope each), and
//!   puts the outer one back after each poll, also on unwind.
//! * **Onto other threads.** [`blocking::spawn`](crate::blocking::spawn) and
//!   [`workers::spawn`](crate::workers::spawn) jobs capture the context at submission and
//!   run with it current on their pool thread. [`enter`] does the same for a closure on
//!   any thread.
//!
//! What propagates is declared: a request id, `(&'static str, String)` fields named
//! in code, and the request's trace span ([`Context::trace`]), never arbitrary data. The logging layer ([`log`](crate::log)) writes both
//! into every line logged under the context. A context is immutable once current; to
//! add a field for the rest of a request (a middleware that learned the user), run the
//! rest under `scope(current().with_field(..), ..)`.
//!
//! The panic hook ([`panic`](crate::panic)) reports the current request id.
//!
//! # Examples
//!
//! ```
//! use keel_runtime::task_context::{self, Context};
//!
//! keel_runtime::block_on(async {
//!     let ctx = Context::new("req-1").with_field("tenant", "acme");
//!     task_context::scope(ctx, async {
//!         assert_eq!(task_context::request_id().as_deref(), Some("req-1"));
//!         // Carried into tasks spawned from here.
//!         let id = keel_runtime::spawn_local(async { task_context::request_id() }).await;
//!         assert_eq!(id.unwrap().as_deref(), Some("req-1"));
//!     })
//!     .await;
//!     assert_eq!(task_context::request_id(), None);
//! });
//! ```

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::sync::Arc;
use std::task::{Context as TaskCx, Poll};

use crate::trace::SpanContext;

/// One request's context: its id and its declared fields. Cheap to clone (one `Arc`).
#[derive(Clone, PartialEq, Eq)]
pub struct Context {
    inner: Arc<Inner>,
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Inner {
    /// A `String`, not a `Box<str>`: [`Context::renew`] rewrites it in place.
    request_id: String,
    fields: Vec<(&'static str, String)>,
    /// The request's span (the server span), when tracing is on; boxed so the context
    /// of an untraced request stays small.
    trace: Option<Box<SpanContext>>,
}

impl Context {
    /// A context for the request `request_id`, with no fields.
    pub fn new(request_id: impl Into<String>) -> Context {
        Context {
            inner: Arc::new(Inner {
                request_id: request_id.into(),
                fields: Vec::new(),
                trace: None,
            }),
        }
    }

    /// Adds a declared field (written into every log line under this context). A field
    /// of the same name is replaced.
    pub fn with_field(mut self, name: &'static str, value: impl Into<String>) -> Context {
        let value = value.into();
        let inner = Arc::make_mut(&mut self.inner);
        match inner.fields.iter_mut().find(|(n, _)| *n == name) {
            Some(field) => field.1 = value,
            None => inner.fields.push((name, value)),
        }
        self
    }

    /// Sets the request's span context (the server span's; see
    /// [`trace`](crate::trace)): spans started under this context are its children, and
    /// the HTTP client propagates it.
    pub fn with_trace(mut self, span: SpanContext) -> Context {
        self.set_trace(span);
        self
    }

    /// [`with_trace`](Context::with_trace) in place (no copy when no clone is alive).
    pub fn set_trace(&mut self, span: SpanContext) {
        Arc::make_mut(&mut self.inner).trace = Some(Box::new(span));
    }

    /// The request's span context, if it is traced.
    pub fn trace(&self) -> Option<&SpanContext> {
        self.inner.trace.as_deref()
    }

    /// Makes this the context of a new request `request_id`, with no fields and no span, reusing
    /// its memory when no clone of it is alive (else it becomes a fresh context, and
    /// the clones keep the old one). A server connection renews one context per request
    /// instead of allocating one.
    ///
    /// # Examples
    ///
    /// ```
    /// use keel_runtime::task_context::Context;
    ///
    /// let mut ctx = Context::new("req-1").with_field("user", "u1");
    /// let kept = ctx.clone();
    /// ctx.renew("req-2");
    /// assert_eq!((ctx.request_id(), ctx.fields().len()), ("req-2", 0));
    /// assert_eq!((kept.request_id(), kept.field("user")), ("req-1", Some("u1")));
    /// ```
    pub fn renew(&mut self, request_id: &str) {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => {
                inner.request_id.clear();
                inner.request_id.push_str(request_id);
                inner.fields.clear();
                inner.trace = None;
            }
            None => *self = Context::new(request_id),
        }
    }

    /// The request id.
    pub fn request_id(&self) -> &str {
        &self.inner.request_id
    }

    /// The declared fields, in the order they were added.
    pub fn fields(&self) -> &[(&'static str, String)] {
        &self.inner.fields
    }

    /// The field `name`, if declared.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.inner
            .fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The raw pointer that [`Current`] holds while this context is current.
    pub(crate) fn as_raw(this: Option<&Context>) -> *const Inner {
        this.map_or(ptr::null(), |c| Arc::as_ptr(&c.inner))
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("request_id", &self.inner.request_id)
            .field("fields", &self.inner.fields)
            .field("trace", &self.inner.trace)
            .finish()
    }
}

thread_local! {
    /// The context current on this thread: null, or the `Inner` of a `Context` that is
    /// kept alive by whoever set it (a task header, a [`Scoped`] future, an [`enter`]
    /// frame) until it puts the previous value back.
    static CURRENT: Cell<*const Inner> = const { Cell::new(ptr::null()) };
}

/// Makes `raw` current and returns what was current before, for [`restore`]. The loop
/// calls this around each poll with the task's captured context.
///
/// The caller keeps the `Context` that `raw` came from alive until it calls [`restore`].
#[inline]
pub(crate) fn swap_raw(raw: *const Inner) -> *const Inner {
    CURRENT.try_with(|c| c.replace(raw)).unwrap_or(ptr::null())
}

/// Puts back what [`swap_raw`] returned.
#[inline]
pub(crate) fn restore(previous: *const Inner) {
    let _ = CURRENT.try_with(|c| c.set(previous));
}

/// Puts back the context that was current before [`swap_raw`] when dropped, also on
/// unwind.
pub(crate) struct Restore(pub(crate) *const Inner);

impl Drop for Restore {
    #[inline]
    fn drop(&mut self) {
        restore(self.0);
    }
}

/// Runs `f` with the current context, without cloning it.
pub fn with_current<R>(f: impl FnOnce(Option<&Context>) -> R) -> R {
    let raw = CURRENT.try_with(Cell::get).unwrap_or(ptr::null());
    if raw.is_null() {
        return f(None);
    }
    // SAFETY: a non-null `CURRENT` points into an `Arc<Inner>` that whoever set it keeps
    // alive until it restores the previous value (see `swap_raw`, `Scoped`, `enter`),
    // which happens after everything running under it — including this call — returns.
    // `ManuallyDrop` borrows the allocation without touching its reference count.
    let inner = unsafe { Arc::from_raw(raw) };
    let borrowed = std::mem::ManuallyDrop::new(Context { inner });
    f(Some(&borrowed))
}

/// A clone of the current context, if any.
pub fn current() -> Option<Context> {
    with_current(|c| c.cloned())
}

/// The current request id, if code runs under a context.
///
/// # Examples
///
/// ```
/// use keel_runtime::task_context::{self, Context};
///
/// assert_eq!(task_context::request_id(), None);
/// task_context::enter(Some(Context::new("abc")), || {
///     assert_eq!(task_context::request_id().as_deref(), Some("abc"));
/// });
/// ```
pub fn request_id() -> Option<String> {
    with_current(|c| c.map(|c| c.request_id().to_owned()))
}

/// Runs `f` with `context` current on this thread, putting the previous one back after
/// (also on unwind). `None` runs `f` with no context.
pub fn enter<R>(context: Option<Context>, f: impl FnOnce() -> R) -> R {
    let _restore = Restore(swap_raw(Context::as_raw(context.as_ref())));
    // `context` lives until the end of this frame, after `_restore` put the old one back
    // (locals drop in reverse order).
    f()
}

/// Wraps `future` so that `context` is current whenever it is polled.
pub fn scope<F: Future>(context: Context, future: F) -> Scoped<F> {
    Scoped { context, future }
}

pin_project_lite::pin_project! {
    /// A future running under a [`Context`]; see [`scope`].
    pub struct Scoped<F> {
        context: Context,
        #[pin]
        future: F,
    }
}

impl<F> fmt::Debug for Scoped<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scoped")
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskCx<'_>) -> Poll<F::Output> {
        let this = self.project();
        // `this.context` outlives the poll below and the restore after it.
        let _restore = Restore(swap_raw(Context::as_raw(Some(this.context))));
        this.future.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_declared_and_replaced() {
        let c = Context::new("id")
            .with_field("tenant", "a")
            .with_field("user", "u");
        let shared = c.clone();
        let c = c.with_field("tenant", "b");
        assert_eq!(c.field("tenant"), Some("b"));
        assert_eq!(shared.field("tenant"), Some("a"), "clones are not changed");
        assert_eq!(c.fields().len(), 2);
    }

    #[test]
    fn renew_reuses_a_unique_context_and_spares_clones() {
        let mut c = Context::new("first-id").with_field("tenant", "a");
        let before = Arc::as_ptr(&c.inner);
        c.renew("second");
        assert_eq!(
            Arc::as_ptr(&c.inner),
            before,
            "no clone alive: renewed in place"
        );
        assert_eq!((c.request_id(), c.fields().len()), ("second", 0));

        let clone = c.clone();
        c.renew("third");
        assert_ne!(Arc::as_ptr(&c.inner), Arc::as_ptr(&clone.inner));
        assert_eq!(c.request_id(), "third");
        assert_eq!(
            clone.request_id(),
            "second",
            "a clone keeps its request's id"
        );
    }

    #[test]
    fn enter_nests_and_restores_on_unwind() {
        enter(Some(Context::new("outer")), || {
            enter(Some(Context::new("inner")), || {
                assert_eq!(request_id().as_deref(), Some("inner"));
            });
            let caught = std::panic::catch_unwind(|| {
                enter(Some(Context::new("panics")), || panic!("boom"));
            });
            assert!(caught.is_err());
            assert_eq!(request_id().as_deref(), Some("outer"));
            enter(None, || assert_eq!(request_id(), None));
        });
        assert_eq!(request_id(), None);
    }
}
