//! The process panic hook (Node's `uncaughtException` log line): every panic in the
//! process is logged through `tracing` with where it happened — the loop, the task being
//! polled (name and spawn location) and the request id when one is known — before the
//! previous hook (by default std's stderr message) runs.
//!
//! A runtime installs it once per process when it is built (unless
//! [`Builder::panic_hook(false)`](crate::Builder::panic_hook)). Knowing the running task
//! costs the loop one `Cell` store before and after each poll (`Core::run_task`); the
//! hook reads it back on the panicking thread itself, while the task's frame is still
//! on the stack.
//!
//! The request id is the current [request context](crate::task_context)'s, unless a
//! layer with a context system of its own registers [`set_request_id_fn`], which the
//! hook then calls on the panicking thread instead.

use std::any::Any;
use std::panic::PanicHookInfo;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::RwLock;

use crate::current_loop;

static INSTALL: Once = Once::new();
static INSTALLED: AtomicBool = AtomicBool::new(false);
static REQUEST_ID: RwLock<Option<RequestIdFn>> = RwLock::new(None);

/// What [`set_request_id_fn`] registers.
type RequestIdFn = fn() -> Option<String>;

/// Registers the function the panic hook calls, on the panicking thread, to learn the
/// request being served (an HTTP layer's request context reads its thread- or task-local
/// here). It replaces any function registered before.
///
/// The function runs inside the panic hook: it must not panic (a panic there aborts the
/// process) and should not block or allocate much.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
///
/// thread_local! {
///     static REQUEST: RefCell<Option<String>> = const { RefCell::new(None) };
/// }
///
/// keel_runtime::panic::set_request_id_fn(|| {
///     REQUEST.try_with(|r| r.try_borrow().ok()?.clone()).ok().flatten()
/// });
/// ```
pub fn set_request_id_fn(f: RequestIdFn) {
    *REQUEST_ID.write() = Some(f);
}

/// Whether Keel's panic hook is installed in this process.
pub fn hook_installed() -> bool {
    INSTALLED.load(Ordering::Acquire)
}

/// Installs the hook, once per process; it chains to the hook that was set before.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            log(info);
            previous(info);
        }));
        INSTALLED.store(true, Ordering::Release);
    });
}

/// The text of a panic payload built by `panic!`, if it has one.
pub(crate) fn payload_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("<non-string payload>")
}

/// The hook's log line. Never panics: every lookup it makes is fallible.
fn log(info: &PanicHookInfo<'_>) {
    let panic_message = payload_message(info.payload());
    let panicked_at = info.location().map(ToString::to_string);
    let panicked_at = panicked_at.as_deref().unwrap_or("<unknown>");
    // A registered function wins; else the runtime's own request context.
    let request_id = match REQUEST_ID.try_read().and_then(|f| *f) {
        Some(f) => f(),
        None => crate::task_context::request_id(),
    };
    let request_id = request_id.as_deref();
    let current = std::thread::current();
    let thread = current.name().unwrap_or("<unnamed>");
    match current_loop::try_with_core(|core| (core.shared.index, core.polling())) {
        Some((loop_index, Some((task, spawned_at)))) => tracing::error!(
            loop_index,
            task = %task,
            spawned_at = %spawned_at,
            request_id,
            panicked_at,
            panic_message,
            "task panicked; the loop goes on"
        ),
        Some((loop_index, None)) => tracing::error!(
            loop_index,
            thread,
            request_id,
            panicked_at,
            panic_message,
            "panic on a Keel loop outside any task poll"
        ),
        None => tracing::error!(
            thread,
            request_id,
            panicked_at,
            panic_message,
            "thread panicked"
        ),
    }
}
