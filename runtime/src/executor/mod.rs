//! Spawning: [`spawn_local`] for `!Send` futures on the current loop, [`spawn`] for
//! `Send` futures onto any loop, [`Builder`] to name a task, [`yield_now`], and the
//! coop budget. The task machinery itself is in [`task`].
//!
//! A task never migrates: it is polled on the loop it was placed on until it finishes,
//! so `!Send` state is fine inside it and per-loop figures are exact.

mod builder;
pub(crate) mod coop;
pub(crate) mod task;
mod yield_now;

use std::future::Future;
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::sync::Arc;

pub use self::builder::Builder;
use self::task::{Header, RawTask, TaskCell, TaskRef};
pub use self::task::{JoinError, JoinHandle};
pub use self::yield_now::yield_now;
use crate::current_loop;
use crate::event_loop::{Injected, Shared};

/// Spawns a future onto the current loop. It may be `!Send`: it will only ever be polled
/// by this loop's thread.
///
/// # Panics
///
/// Panics when called outside a Keel loop.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
///
/// keel_runtime::block_on(async {
///     let shared = Rc::new(5); // !Send state is fine on one loop
///     let s = shared.clone();
///     let doubled = keel_runtime::spawn_local(async move { *s * 2 }).await.unwrap();
///     assert_eq!(doubled, 10);
/// });
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    spawn_local_inner(None, Location::caller(), future)
}

/// Spawns a `Send` future onto the runtime of the calling loop, choosing the loop in
/// round-robin order (see [`Handle::spawn`](crate::Handle::spawn)).
///
/// # Panics
///
/// Panics when called outside a Keel loop; use a [`Handle`](crate::Handle) there.
///
/// # Examples
///
/// ```
/// let rt = keel_runtime::Runtime::builder().loops(2).build().unwrap();
/// let sum = rt.block_on(async {
///     let a = keel_runtime::spawn(async { 1 });
///     let b = keel_runtime::spawn(async { 2 });
///     a.await.unwrap() + b.await.unwrap()
/// });
/// assert_eq!(sum, 3);
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    crate::Handle::current().spawn(future)
}

pub(crate) fn spawn_local_inner<F>(
    name: Option<Arc<str>>,
    location: &'static Location<'static>,
    future: F,
) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    current_loop::expect_core("spawn_local", |core| {
        let task = TaskCell::new(
            Header::new(core.shared.clone(), name, location),
            Some(future),
        );
        core.adopt(task.clone());
        JoinHandle::new(task)
    })
}

/// Places a `Send` task on `owner`, directly when the caller runs on that loop.
pub(crate) fn spawn_remote<F>(
    owner: &Arc<Shared>,
    name: Option<Arc<str>>,
    location: &'static Location<'static>,
    future: F,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let task = TaskCell::new(Header::new(owner.clone(), name, location), Some(future));
    let handle = JoinHandle::new(task.clone());
    let local = current_loop::with_core(|core| Arc::ptr_eq(&core.shared, owner)).unwrap_or(false);
    if local {
        current_loop::expect_core("spawn", |core| core.adopt(task));
    } else {
        owner.inject(Injected::Spawn(Unadopted(Some(task))));
    }
    handle
}

/// Runs `make` on `owner`'s thread and spawns the future it returns there.
pub(crate) fn spawn_local_remote<M, F>(
    owner: &Arc<Shared>,
    name: Option<Arc<str>>,
    location: &'static Location<'static>,
    make: M,
) -> JoinHandle<F::Output>
where
    M: FnOnce() -> F + Send + 'static,
    F: Future + 'static,
    F::Output: Send + 'static,
{
    let task = TaskCell::<F>::new(Header::new(owner.clone(), name, location), None);
    let handle = JoinHandle::new(task.clone());
    // A stopped loop drops this closure unrun; the join handle must then hear about it.
    let mut unrun = CancelUnlessRun(Some(task));
    let adopt = move || {
        let task = unrun.0.take().expect("the closure runs once");
        // A panicking `make` is the task's panic, reported through its join handle: it
        // must not take the loop down (it runs outside any task poll).
        match catch_unwind(AssertUnwindSafe(make)) {
            Ok(future) => {
                // SAFETY: this closure runs on the owning loop's thread (it was injected
                // there), once, before the task is adopted below.
                unsafe { task.install(future) };
                current_loop::expect_core("spawn_local_on", |core| core.adopt(task));
            }
            Err(payload) => {
                if !crate::panic_hook::hook_installed() {
                    let header = (&*task as &dyn RawTask).header();
                    tracing::error!(
                        loop_index = header.owner.index,
                        spawned_at = %header.location,
                        message = crate::panic_hook::payload_message(payload.as_ref()),
                        "spawn_local_on closure panicked; the loop goes on"
                    );
                }
                // SAFETY: as for `install`: the owning loop's thread, no future, never
                // adopted.
                unsafe { task.fail(payload) };
            }
        }
    };
    let local = current_loop::with_core(|core| Arc::ptr_eq(&core.shared, owner)).unwrap_or(false);
    if local {
        adopt();
    } else {
        owner.inject(Injected::Run(Box::new(adopt)));
    }
    handle
}

/// Reports cancellation to a `spawn_local_on` task's join handle when its closure is
/// dropped without having run (the loop stopped first).
struct CancelUnlessRun<F: Future + 'static>(Option<Arc<TaskCell<F>>>);

impl<F: Future + 'static> Drop for CancelUnlessRun<F> {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            // SAFETY: the cell has no future (it is installed only when the closure runs)
            // and no loop adopted it, so this thread is its only completer.
            unsafe { task.cancel() };
        }
    }
}

/// A `Send` task on its way to a loop through the inject queue. If the loop stopped and
/// the item is dropped instead of adopted, the task is cancelled, so its join handle
/// hears about it instead of waiting forever.
pub(crate) struct Unadopted(Option<TaskRef>);

impl Unadopted {
    /// The task, for the loop to adopt.
    pub(crate) fn adopt(mut self) -> TaskRef {
        self.0.take().expect("taken once")
    }
}

impl Drop for Unadopted {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            // SAFETY: an `Unadopted` is only made from a `Send` future (`spawn_remote`)
            // that no loop adopted, so any thread may drop it and complete the task.
            unsafe { task.cancel() };
        }
    }
}
