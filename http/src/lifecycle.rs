//! The server's lifecycle signals: [`ShutdownSignal`] crosses threads (a signal handler
//! task or any [`ShutdownHandle`] fires it; every loop's server instance waits on it) and
//! carries the [`Phase`] of the shutdown state machine and the startup/readiness flags the
//! health probes read; [`LocalDrain`] tells one loop's idle keep-alive connections to
//! close.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;
use slab::Slab;

/// Where a server is in its life: `Starting → Running → Draining → Closing → Hooks →
/// Stopped`. It only moves forward.
///
/// * `Starting`: loops are binding their listeners; `/health/startup` and
///   `/health/ready` answer 503.
/// * `Running`: every loop listens.
/// * `Draining`: shutdown started (signal or [`ShutdownHandle::shutdown`]); readiness
///   answers 503 at once (unless configured otherwise) while the server still serves for
///   the pre-stop delay (`KEEL_SHUTDOWN_DELAY`).
/// * `Closing`: listeners are closed, idle keep-alive connections closed, in-flight
///   requests answered with `Connection: close`, up to the drain deadline
///   (`KEEL_SHUTDOWN_TIMEOUT`).
/// * `Hooks`: the `on_shutdown` hooks run in reverse registration order.
/// * `Stopped`: [`serve`](crate::Server::serve) returns its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Binding listeners.
    Starting,
    /// Serving.
    Running,
    /// Shutdown started; still serving through the pre-stop delay.
    Draining,
    /// Listeners closed; in-flight requests finishing.
    Closing,
    /// Shutdown hooks running.
    Hooks,
    /// Done.
    Stopped,
}

impl Phase {
    const ALL: [Phase; 6] = [
        Phase::Starting,
        Phase::Running,
        Phase::Draining,
        Phase::Closing,
        Phase::Hooks,
        Phase::Stopped,
    ];

    /// The phase's lowercase name, as the health endpoints show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Running => "running",
            Phase::Draining => "draining",
            Phase::Closing => "closing",
            Phase::Hooks => "hooks",
            Phase::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Fired once to start the drain of every loop. Cheap to check; waiters are the few
/// server instances (one per loop), so a locked `Vec` of wakers is enough. Also holds the
/// lifecycle [`Phase`] and the flags readiness reads.
#[derive(Debug, Default)]
pub(crate) struct ShutdownSignal {
    fired: AtomicBool,
    waiters: Mutex<Vec<Waker>>,
    phase: AtomicU8,
    /// Every listener is bound and accepting (set once; stays set through shutdown).
    started: AtomicBool,
    /// When the shutdown started.
    fired_at: std::sync::OnceLock<std::time::Instant>,
    /// The application declared itself ready ([`HealthHandle::ready`](crate::ops::HealthHandle::ready)).
    app_ready: AtomicBool,
    /// Main listeners still open, one per loop: a loop starts its drain once every loop
    /// closed its listener, so a client told `Connection: close` by one loop cannot
    /// reconnect into another loop's listener just before it closes (its connection
    /// would be reset there with its request unanswered).
    listeners_open: AtomicUsize,
}

impl ShutdownSignal {
    /// The current phase.
    pub(crate) fn phase(&self) -> Phase {
        Phase::ALL[usize::from(self.phase.load(Ordering::SeqCst)).min(Phase::ALL.len() - 1)]
    }

    /// Moves to `phase` unless already past it.
    pub(crate) fn advance(&self, phase: Phase) {
        self.phase.fetch_max(phase as u8, Ordering::SeqCst);
    }

    /// Marks startup complete: every listener accepts.
    pub(crate) fn mark_started(&self) {
        self.started.store(true, Ordering::SeqCst);
        self.advance(Phase::Running);
    }

    /// A loop's main listener accepts.
    pub(crate) fn listener_opened(&self) {
        self.listeners_open.fetch_add(1, Ordering::SeqCst);
    }

    /// A loop closed its main listener.
    pub(crate) fn listener_closed(&self) {
        let _ = self
            .listeners_open
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }

    /// How many loops' main listeners are still open.
    pub(crate) fn listeners_open(&self) -> usize {
        self.listeners_open.load(Ordering::SeqCst)
    }

    pub(crate) fn is_started(&self) -> bool {
        self.started.load(Ordering::SeqCst)
    }

    pub(crate) fn set_app_ready(&self, ready: bool) {
        self.app_ready.store(ready, Ordering::SeqCst);
    }

    pub(crate) fn is_app_ready(&self) -> bool {
        self.app_ready.load(Ordering::SeqCst)
    }

    pub(crate) fn fire(&self) {
        if !self.fired.swap(true, Ordering::SeqCst) {
            let _ = self.fired_at.set(std::time::Instant::now());
            self.advance(Phase::Draining);
            for waker in self.waiters.lock().drain(..) {
                waker.wake();
            }
        }
    }

    pub(crate) fn fired_at(&self) -> Option<std::time::Instant> {
        self.fired_at.get().copied()
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

/// Starts a graceful shutdown of the server it came from, from any thread, as SIGTERM
/// does: readiness answers 503 at once, the server serves on through the pre-stop delay,
/// then every loop stops accepting, answers in-flight requests with `Connection: close`,
/// closes idle connections and waits for them up to the drain deadline; then the shutdown
/// hooks run and [`serve`](crate::Server::serve) returns its report. See [`Phase`].
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

    /// Where the server is in its lifecycle.
    pub fn phase(&self) -> Phase {
        self.signal.phase()
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
