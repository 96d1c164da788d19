//! The server's drain signals: [`ShutdownSignal`] crosses threads (a signal handler task
//! or any [`ShutdownHandle`] fires it; every loop's server instance waits on it), and
//! [`LocalDrain`] tells one loop's idle keep-alive connections to close.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;
use slab::Slab;

/// Fired once to start the drain of every loop. Cheap to check; waiters are the few
/// server instances (one per loop), so a locked `Vec` of wakers is enough.
#[derive(Debug, Default)]
pub(crate) struct ShutdownSignal {
    fired: AtomicBool,
    waiters: Mutex<Vec<Waker>>,
}

impl ShutdownSignal {
    pub(crate) fn fire(&self) {
        if !self.fired.swap(true, Ordering::SeqCst) {
            for waker in self.waiters.lock().drain(..) {
                waker.wake();
            }
        }
    }

    pub(crate) fn is_fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    /// Resolves once fired.
    pub(crate) async fn wait(&self) {
        std::future::poll_fn(|cx| {
            if self.is_fired() {
                return Poll::Ready(());
            }
            let mut waiters = self.waiters.lock();
            // Checked again under the lock: `fire` drains the list after setting the flag.
            if self.is_fired() {
                return Poll::Ready(());
            }
            if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }
}

/// Starts a graceful shutdown of the server it came from, from any thread: every loop
/// stops accepting, answers in-flight requests with `Connection: close`, closes idle
/// connections and returns once they are done (or the shutdown timeout passes).
///
/// # Examples
///
/// ```
/// let server = keel_http::Server::bind("127.0.0.1:0").unwrap();
/// let handle = server.shutdown_handle();
/// handle.shutdown(); // `serve` would now drain and return at once
/// assert!(handle.is_shutting_down());
/// ```
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    pub(crate) signal: Arc<ShutdownSignal>,
}

impl ShutdownHandle {
    /// Starts the drain. Idempotent.
    pub fn shutdown(&self) {
        self.signal.fire();
    }

    /// Whether the drain has started.
    pub fn is_shutting_down(&self) -> bool {
        self.signal.is_fired()
    }
}

/// One loop's drain flag and the idle connections waiting on it.
#[derive(Debug, Default)]
pub(crate) struct LocalDrain {
    draining: Cell<bool>,
    idle: RefCell<Slab<Waker>>,
}

impl LocalDrain {
    pub(crate) fn start(&self) {
        self.draining.set(true);
        let wakers: Vec<Waker> = self.idle.borrow_mut().drain().collect();
        for waker in wakers {
            waker.wake();
        }
    }

    pub(crate) fn is_draining(&self) -> bool {
        self.draining.get()
    }

    /// Resolves when the drain starts. Dropping it unregisters.
    pub(crate) fn wait(&self) -> DrainWait<'_> {
        DrainWait {
            drain: self,
            key: None,
        }
    }
}

/// The future of [`LocalDrain::wait`].
#[derive(Debug)]
pub(crate) struct DrainWait<'a> {
    drain: &'a LocalDrain,
    key: Option<usize>,
}

impl Future for DrainWait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.drain.is_draining() {
            return Poll::Ready(());
        }
        let mut idle = self.drain.idle.borrow_mut();
        match self.key {
            Some(key) if idle.contains(key) => idle[key].clone_from(cx.waker()),
            _ => {
                let key = idle.insert(cx.waker().clone());
                drop(idle);
                self.key = Some(key);
            }
        }
        Poll::Pending
    }
}

impl Drop for DrainWait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.drain.idle.borrow_mut().try_remove(key);
        }
    }
}
