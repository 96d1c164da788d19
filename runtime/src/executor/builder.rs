//! [`Builder`]: spawn a task with a name (shown in panic logs, metrics and the stall
//! detector).

use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

use super::{JoinHandle, spawn_local_inner, spawn_remote};
use crate::Handle;

/// Options for one spawn.
///
/// # Examples
///
/// ```
/// use keel_runtime::task::Builder;
///
/// keel_runtime::block_on(async {
///     let handle = Builder::new().name("refresh-cache").spawn_local(async { 7 });
///     assert_eq!(handle.name(), Some("refresh-cache"));
///     assert_eq!(handle.await.unwrap(), 7);
/// });
/// ```
#[derive(Debug, Default, Clone)]
pub struct Builder {
    name: Option<Arc<str>>,
}

impl Builder {
    /// A builder with no name set.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the task.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Like [`spawn_local`](crate::spawn_local), with these options.
    ///
    /// # Panics
    ///
    /// Panics when called outside a Keel loop.
    #[track_caller]
    pub fn spawn_local<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        spawn_local_inner(self.name, Location::caller(), future)
    }

    /// Like [`Handle::spawn_on`], with these options.
    ///
    /// # Panics
    ///
    /// Panics when `index` is not a loop of `handle`'s runtime.
    #[track_caller]
    pub fn spawn_on<F>(self, handle: &Handle, index: usize, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_remote(
            handle.loop_shared(index),
            self.name,
            Location::caller(),
            future,
        )
    }
}
