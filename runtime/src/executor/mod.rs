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
use std::panic::Location;
use std::sync::Arc;

pub use self::builder::Builder;
use self::task::{Header, JoinCell, TaskFuture};
pub use self::task::{JoinError, JoinHandle};
pub use self::yield_now::yield_now;
use crate::context;
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
    context::expect_core("spawn_local", |core| {
        let header = Header::new(core.shared.clone(), name, location);
        let cell = JoinCell::new();
        let task = TaskFuture::new(future, cell.clone(), header.clone());
        core.adopt(header.clone(), Box::pin(task));
        JoinHandle::new(cell, header)
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
    let header = Header::new(owner.clone(), name, location);
    let cell = JoinCell::new();
    let task = Box::pin(TaskFuture::new(future, cell.clone(), header.clone()));
    let handle = JoinHandle::new(cell, header.clone());
    let local = context::with_core(|core| Arc::ptr_eq(&core.shared, owner)).unwrap_or(false);
    if local {
        context::expect_core("spawn", |core| core.adopt(header, task));
    } else {
        owner.inject(Injected::Spawn(header, task));
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
    let header = Header::new(owner.clone(), name, location);
    let cell = JoinCell::new();
    let handle = JoinHandle::new(cell.clone(), header.clone());
    // A stopped loop drops this closure unrun; the join handle must then hear about it.
    let mut unrun = CancelUnlessRun(Some(cell));
    let adopt = move || {
        let cell = unrun.0.take().expect("the closure runs once");
        let task = TaskFuture::new(make(), cell, header.clone());
        context::expect_core("spawn_local_on", |core| core.adopt(header, Box::pin(task)));
    };
    let local = context::with_core(|core| Arc::ptr_eq(&core.shared, owner)).unwrap_or(false);
    if local {
        adopt();
    } else {
        owner.inject(Injected::Run(Box::new(adopt)));
    }
    handle
}

/// Reports cancellation to a `spawn_local_on` task's join cell when its closure is
/// dropped without having run (the loop stopped first).
struct CancelUnlessRun<T>(Option<Arc<JoinCell<T>>>);

impl<T> Drop for CancelUnlessRun<T> {
    fn drop(&mut self) {
        if let Some(cell) = self.0.take() {
            cell.complete(Err(JoinError::cancelled()));
        }
    }
}
