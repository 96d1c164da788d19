//! [`Handle`]: a cheap, `Clone + Send` reference to a runtime, to spawn onto its loops,
//! read its metrics and start its shutdown from any thread.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::current_loop;
use crate::event_loop::{Injected, Shared};
use crate::executor::{self, JoinHandle};
use crate::metrics::{self, RuntimeMetrics};

/// What a runtime's handles share.
struct Inner {
    loops: Vec<Arc<Shared>>,
    next: AtomicUsize,
    shutdown: AtomicBool,
}

/// A reference to a running runtime.
///
/// # Examples
///
/// ```
/// use keel_runtime::Runtime;
///
/// let rt = Runtime::builder().loops(2).build().unwrap();
/// let handle = rt.handle().clone();
/// // From any thread: run a `Send` future on loop 1 and wait for it.
/// let joined = std::thread::spawn(move || rt.block_on(async move {
///     handle.spawn_on(1, async { keel_runtime::current_loop().unwrap() }).await.unwrap()
/// }));
/// assert_eq!(joined.join().unwrap(), 1);
/// ```
#[derive(Clone)]
pub struct Handle {
    inner: Arc<Inner>,
}

impl Handle {
    pub(crate) fn new(loops: Vec<Arc<Shared>>) -> Handle {
        Handle {
            inner: Arc::new(Inner {
                loops,
                next: AtomicUsize::new(0),
                shutdown: AtomicBool::new(false),
            }),
        }
    }

    /// The handle of the runtime whose loop runs the calling code.
    ///
    /// # Panics
    ///
    /// Panics outside a Keel loop; see [`try_current`](Handle::try_current).
    #[track_caller]
    pub fn current() -> Handle {
        current_loop::expect_core("Handle::current", |core| core.handle.clone())
    }

    /// Like [`current`](Handle::current), but `None` outside a Keel loop.
    pub fn try_current() -> Option<Handle> {
        current_loop::with_core(|core| core.handle.clone())
    }

    /// How many loops the runtime runs.
    pub fn loops(&self) -> usize {
        self.inner.loops.len()
    }

    /// Spawns a `Send` future onto the next loop in round-robin order.
    ///
    /// The task then stays on that loop for its whole life. From inside a loop, prefer
    /// [`spawn_local`](crate::spawn_local) to keep work (and its cache) where it is.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let index = self.inner.next.fetch_add(1, Ordering::Relaxed) % self.loops();
        self.spawn_on(index, future)
    }

    /// Spawns a `Send` future onto loop `index`.
    ///
    /// # Panics
    ///
    /// Panics when `index >= self.loops()`.
    #[track_caller]
    pub fn spawn_on<F>(&self, index: usize, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        executor::spawn_remote(self.loop_shared(index), None, Location::caller(), future)
    }

    /// Runs `make` on loop `index` and spawns the (possibly `!Send`) future it returns
    /// there: the way to start loop-local work, such as a server owning `Rc` state and
    /// sockets, from another thread.
    ///
    /// # Panics
    ///
    /// Panics when `index >= self.loops()`.
    #[track_caller]
    pub fn spawn_local_on<M, F>(&self, index: usize, make: M) -> JoinHandle<F::Output>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        executor::spawn_local_remote(self.loop_shared(index), None, Location::caller(), make)
    }

    /// Makes loop `index`'s machinery panic outside any task, at its next turn — a way
    /// to test supervision ([`LoopFailure`](crate::LoopFailure)). Not for production.
    ///
    /// # Panics
    ///
    /// Panics when `index >= self.loops()`.
    #[doc(hidden)]
    pub fn __inject_loop_panic(&self, index: usize) {
        self.loop_shared(index)
            .inject(Injected::Run(Box::new(move || {
                panic!("loop {index} killed by Handle::__inject_loop_panic")
            })));
    }

    /// Every loop's shared half, in loop order.
    pub(crate) fn loop_shareds(&self) -> &[Arc<Shared>] {
        &self.inner.loops
    }

    #[track_caller]
    pub(crate) fn loop_shared(&self, index: usize) -> &Arc<Shared> {
        match self.inner.loops.get(index) {
            Some(shared) => shared,
            None => panic!(
                "loop index {index} out of range: the runtime has {} loops",
                self.loops()
            ),
        }
    }

    /// Asks every loop to stop. Each loop finishes its current tick, drops its tasks
    /// (their join handles report cancellation) and its thread exits. Graceful draining
    /// of servers is layered on top of this by the HTTP crate.
    pub fn shutdown(&self) {
        if !self.inner.shutdown.swap(true, Ordering::SeqCst) {
            for shared in &self.inner.loops {
                shared.notify();
            }
        }
    }

    /// Whether [`shutdown`](Handle::shutdown) was called.
    pub fn is_shutdown(&self) -> bool {
        self.inner.shutdown.load(Ordering::Relaxed)
    }

    /// A snapshot of every loop's figures, as each published them when it last parked.
    pub fn metrics(&self) -> RuntimeMetrics {
        metrics::gather(
            self.inner
                .loops
                .iter()
                .map(|s| metrics::snapshot(s))
                .collect(),
        )
    }

    /// Records this runtime as started, for [`latest`] (`keel_runtime::metrics()` from
    /// a thread outside the runtime).
    pub(crate) fn register(&self) {
        let mut started = STARTED.lock();
        started.retain(|w| w.strong_count() > 0);
        started.push(Arc::downgrade(&self.inner));
    }

    /// The loops' published figures, for process-wide views (`heap::loop_stats`).
    pub(crate) fn loop_shareds_of_all() -> Vec<Arc<Shared>> {
        STARTED
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|inner| !inner.shutdown.load(Ordering::Relaxed))
            .flat_map(|inner| inner.loops.clone())
            .collect()
    }
}

/// Runtimes started in this process (weakly held; pruned as they go).
static STARTED: Mutex<Vec<Weak<Inner>>> = Mutex::new(Vec::new());

/// The most recently started runtime that is still running.
pub(crate) fn latest() -> Option<Handle> {
    STARTED
        .lock()
        .iter()
        .rev()
        .filter_map(Weak::upgrade)
        .find(|inner| !inner.shutdown.load(Ordering::Relaxed))
        .map(|inner| Handle { inner })
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("loops", &self.loops())
            .field("shutdown", &self.is_shutdown())
            .finish()
    }
}
