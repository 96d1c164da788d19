//! Per-signal subscriber lists and the `keel-signal` dispatch thread.
//!
//! The protocol (who sets which flag, who wakes whom) is written down in the parent
//! module's doc, `crate::signal`.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};
use std::thread;

use parking_lot::Mutex;

use super::SignalKind;
use crate::sys::signal::{self as sys, PipeReader};

/// Name of the dispatch thread, as seen in `top -H`, debuggers and panics.
const THREAD_NAME: &str = "keel-signal";

/// The process-wide registry. Held only briefly: to subscribe, unsubscribe, snapshot one
/// signal's subscribers, or shut down.
static REGISTRY: Mutex<Registry> = Mutex::new(Registry::new());

/// One `Signal`'s shared half: written by the dispatch thread, read by the owning `Signal`.
#[derive(Debug)]
pub(crate) struct Subscriber {
    /// Deliveries so far. Only the dispatch thread increments it.
    deliveries: AtomicU64,
    /// Set once, when the dispatch machinery has shut down.
    closed: AtomicBool,
    /// The waker of the last `poll` that returned `Pending`. Taken by whoever wakes it.
    waker: Mutex<Option<Waker>>,
}

#[derive(Debug)]
struct Registry {
    state: State,
    /// Indexed by `SignalKind::index`. Entries are removed when their `Signal` drops; dead
    /// entries found while dispatching are pruned too.
    subscribers: [Vec<Weak<Subscriber>>; SignalKind::COUNT],
    /// Whether `sigaction` has pointed this signal at our handler. Never reset.
    installed: [bool; SignalKind::COUNT],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No subscription has succeeded yet; no thread exists.
    Idle,
    /// The dispatch thread is running.
    Running,
    /// The dispatch thread has exited; every subscriber was closed and new ones are refused.
    Closed,
}

// ===== impl Subscriber =====

impl Subscriber {
    /// A subscriber with no deliveries, not yet in any list.
    pub(crate) fn new() -> Self {
        Subscriber {
            deliveries: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            waker: Mutex::new(None),
        }
    }

    /// Returns `Ready(Some(()))` if any delivery happened since `*seen` (and catches `*seen`
    /// up), `Ready(None)` if closed, else stores `cx`'s waker and returns `Pending`.
    ///
    /// The counter is read under the waker lock, and the dispatch thread bumps the counter
    /// before it takes that lock, so a delivery either shows up here or finds the waker.
    pub(crate) fn poll(&self, seen: &mut u64, cx: &mut Context<'_>) -> Poll<Option<()>> {
        let mut waker = self.waker.lock();
        let now = self.deliveries.load(Ordering::Acquire);
        if now != *seen {
            *seen = now;
            return Poll::Ready(Some(()));
        }
        if self.closed.load(Ordering::Acquire) {
            return Poll::Ready(None);
        }
        match &mut *waker {
            Some(stored) => stored.clone_from(cx.waker()),
            None => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Records one delivery and wakes the stored waker, outside the lock.
    fn deliver(&self) {
        self.deliveries.fetch_add(1, Ordering::Release);
        self.wake();
    }

    /// Marks the subscriber closed and wakes it, so `poll` returns `Ready(None)`.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake();
    }

    fn wake(&self) {
        let waker = self.waker.lock().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

// ===== impl Registry =====

impl Registry {
    const fn new() -> Self {
        Registry {
            state: State::Idle,
            subscribers: [const { Vec::new() }; SignalKind::COUNT],
            installed: [false; SignalKind::COUNT],
        }
    }
}

/// Subscribes to `kind`: starts the dispatch thread and installs the handler if needed.
///
/// # Errors
///
/// Pipe creation, thread spawn or `sigaction` failures, and a dispatch thread that has
/// already shut down. Nothing is left half-done: a later call retries each step.
pub(crate) fn subscribe(kind: SignalKind) -> io::Result<Arc<Subscriber>> {
    let mut registry = REGISTRY.lock();
    match registry.state {
        State::Running => {}
        State::Closed => {
            return Err(io::Error::other(
                "the keel-signal dispatch thread has shut down",
            ));
        }
        State::Idle => {
            let reader = sys::self_pipe()?;
            thread::Builder::new()
                .name(THREAD_NAME.to_owned())
                .spawn(move || dispatch(reader))?;
            registry.state = State::Running;
        }
    }
    let index = kind.index();
    if !registry.installed[index] {
        sys::install_handler(kind.as_raw())?;
        registry.installed[index] = true;
    }
    let subscriber = Arc::new(Subscriber::new());
    registry.subscribers[index].push(Arc::downgrade(&subscriber));
    Ok(subscriber)
}

/// Removes `subscriber` (and any dead entries) from `kind`'s list. The handler stays
/// installed.
pub(crate) fn unsubscribe(kind: SignalKind, subscriber: &Arc<Subscriber>) {
    let target = Arc::as_ptr(subscriber);
    REGISTRY.lock().subscribers[kind.index()]
        .retain(|weak| weak.as_ptr() != target && weak.strong_count() > 0);
}

/// Number of entries in `kind`'s list, dead or alive.
#[cfg(test)]
pub(crate) fn subscriber_count(kind: SignalKind) -> usize {
    REGISTRY.lock().subscribers[kind.index()].len()
}

// ===== dispatch thread =====

/// Body of the `keel-signal` thread: wait for a wake byte, then deliver every signal whose
/// pending flag was set. Returns only if the pipe read fails, which closes everything.
fn dispatch(reader: PipeReader) {
    // Also runs if a waker panics, so subscribers see `None` instead of hanging.
    let _close = CloseOnExit;
    while reader.wait().is_ok() {
        for kind in SignalKind::ALL {
            if sys::take_pending(kind.as_raw()) {
                deliver(kind);
            }
        }
    }
}

/// Bumps and wakes every live subscriber of `kind`. Wakers run outside the registry lock.
fn deliver(kind: SignalKind) {
    let live: Vec<Arc<Subscriber>> = {
        let mut registry = REGISTRY.lock();
        let list = &mut registry.subscribers[kind.index()];
        list.retain(|weak| weak.strong_count() > 0);
        list.iter().filter_map(Weak::upgrade).collect()
    };
    for subscriber in live {
        subscriber.deliver();
    }
}

/// Drop guard for the dispatch thread: marks the registry closed and closes every
/// subscriber.
struct CloseOnExit;

impl Drop for CloseOnExit {
    fn drop(&mut self) {
        let all: Vec<Arc<Subscriber>> = {
            let mut registry = REGISTRY.lock();
            registry.state = State::Closed;
            registry
                .subscribers
                .iter_mut()
                .flat_map(std::mem::take)
                .filter_map(|weak| weak.upgrade())
                .collect()
        };
        for subscriber in all {
            subscriber.close();
        }
    }
}
