//! Unix signals as async streams, usable from any event loop.
//!
//! [`signal`] subscribes to one [`SignalKind`] and returns a [`Signal`], whose
//! [`recv`](Signal::recv) resolves once per batch of deliveries. Nothing here depends on the
//! executor: a `Signal` stores whatever [`Waker`](std::task::Waker) polls it, and that waker
//! may belong to a task on any thread.
//!
//! ```
//! use keel_runtime::signal::{signal, SignalKind};
//!
//! async fn reload_on_hangup() -> std::io::Result<()> {
//!     let mut hangup = signal(SignalKind::Hangup)?;
//!     while hangup.recv().await.is_some() {
//!         // Re-read the configuration here.
//!     }
//!     Ok(())
//! }
//! # let _ = reload_on_hangup;
//! ```
//!
//! # Subscribing replaces the default action
//!
//! The first subscription to a signal installs Keel's handler for it with `sigaction`, and
//! the handler stays for the life of the process, even after every `Signal` is dropped. Like
//! tokio, this means that once anything has subscribed to `SIGINT` or `SIGTERM`, those
//! signals no longer terminate the process: the program must act on them itself. Signals
//! that arrive while nobody is subscribed are discarded.
//!
//! # Parts
//!
//! - `crate::sys::signal` owns every call into libc: the self-pipe, `sigaction`, the handler.
//! - `registry` owns the per-signal subscriber lists and the dispatch thread.
//! - This file is the public facade: [`SignalKind`], [`signal`], [`Signal`].
//!
//! # Protocol
//!
//! 1. **Self-pipe.** One pipe per process, created on the first subscription with
//!    `pipe2(O_CLOEXEC)`; the write end is `O_NONBLOCK`, the read end blocks. Neither end is
//!    ever closed.
//! 2. **Handler** (runs on whichever thread the kernel picks, async-signal-safe). It saves
//!    `errno`, sets the signal's `AtomicBool` pending flag, writes one byte to the pipe
//!    (ignoring `EAGAIN`: a full pipe already means a wake is pending) and restores `errno`.
//!    It is installed with `SA_RESTART`, so interrupted syscalls elsewhere restart.
//! 3. **Dispatch thread** `keel-signal`, started on the first subscription. It blocks
//!    reading the pipe, then for each [`SignalKind`] swaps the pending flag to `false`; for
//!    each flag that was set it snapshots the live subscribers under the registry lock and,
//!    with the lock released, bumps each one's delivery counter and then takes and wakes its
//!    stored waker. The flag is set before the byte is written and swapped after the byte is
//!    read, so no signal is stranded.
//! 4. **Subscriber** (one per [`Signal`]): a delivery counter, a closed flag, and a
//!    `Mutex<Option<Waker>>`. [`Signal::poll_recv`] takes the waker lock, compares the
//!    counter with the last value it returned for; if it moved it returns `Ready(Some(()))`
//!    (several deliveries in between coalesce into one), otherwise it stores the waker and
//!    returns `Pending`. Since the dispatch thread bumps the counter *before* taking the
//!    waker lock, a delivery is either seen by the poll or finds the stored waker.
//! 5. **Lists.** The registry holds `Weak` references per signal behind one mutex. Dropping
//!    a [`Signal`] removes its entry; entries found dead during dispatch are pruned.
//! 6. **Shutdown.** The dispatch thread exits only if reading the pipe fails (or a waker
//!    panics). On the way out it marks the registry closed and closes every subscriber,
//!    whose `poll_recv` then returns `Ready(None)`; later [`signal`] calls return an error.

mod registry;

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::task::{Context, Poll};

use self::registry::Subscriber;

/// A Unix signal that can be received as a stream.
///
/// ```
/// use keel_runtime::signal::SignalKind;
///
/// assert_eq!(SignalKind::Interrupt.as_raw(), libc::SIGINT);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignalKind {
    /// `SIGTERM`: polite request to terminate, sent by `kill` and service managers.
    Terminate,
    /// `SIGINT`: interrupt from the terminal (Ctrl-C).
    Interrupt,
    /// `SIGHUP`: the terminal hung up; by convention, "reload configuration" for daemons.
    Hangup,
    /// `SIGQUIT`: quit from the terminal (Ctrl-\).
    Quit,
    /// `SIGUSR1`: user-defined.
    User1,
    /// `SIGUSR2`: user-defined.
    User2,
}

impl SignalKind {
    /// Number of kinds; the length of the registry's per-signal arrays.
    const COUNT: usize = 6;

    /// Every kind, in `index` order.
    const ALL: [SignalKind; Self::COUNT] = [
        SignalKind::Terminate,
        SignalKind::Interrupt,
        SignalKind::Hangup,
        SignalKind::Quit,
        SignalKind::User1,
        SignalKind::User2,
    ];

    /// The platform's signal number (`libc::SIGTERM` and so on).
    ///
    /// ```
    /// use keel_runtime::signal::SignalKind;
    ///
    /// assert_eq!(SignalKind::Terminate.as_raw(), libc::SIGTERM);
    /// ```
    pub fn as_raw(self) -> i32 {
        match self {
            SignalKind::Terminate => libc::SIGTERM,
            SignalKind::Interrupt => libc::SIGINT,
            SignalKind::Hangup => libc::SIGHUP,
            SignalKind::Quit => libc::SIGQUIT,
            SignalKind::User1 => libc::SIGUSR1,
            SignalKind::User2 => libc::SIGUSR2,
        }
    }

    /// Position in [`Self::ALL`] and in the registry's arrays.
    fn index(self) -> usize {
        self as usize
    }
}

/// Subscribes to `kind`, returning a stream of its deliveries.
///
/// The first call for a given kind installs Keel's process-wide handler for it, replacing
/// the default action for the rest of the process's life (see the [module docs](self)); the
/// first call overall also creates the self-pipe and starts the `keel-signal` thread.
/// Deliveries that happen before this call are not seen by the returned [`Signal`].
///
/// # Errors
///
/// Returns the OS error if creating the pipe, spawning the dispatch thread or `sigaction`
/// fails, and an error if the dispatch thread has already shut down.
///
/// # Examples
///
/// ```
/// use keel_runtime::signal::{signal, SignalKind};
///
/// let user1 = signal(SignalKind::User1)?;
/// assert_eq!(user1.kind(), SignalKind::User1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let subscriber = registry::subscribe(kind)?;
    Ok(Signal {
        kind,
        subscriber,
        seen: 0,
    })
}

/// A subscription to one [`SignalKind`]: a stream of deliveries.
///
/// `Send + Sync`; it may be created on one thread and polled on another. Dropping it
/// unsubscribes (the process handler stays installed).
///
/// ```
/// use keel_runtime::signal::{signal, SignalKind};
///
/// async fn shutdown_on_terminate() -> std::io::Result<()> {
///     let mut terminate = signal(SignalKind::Terminate)?;
///     terminate.recv().await;
///     // Begin graceful shutdown.
///     Ok(())
/// }
/// # let _ = shutdown_on_terminate;
/// ```
pub struct Signal {
    kind: SignalKind,
    subscriber: Arc<Subscriber>,
    /// The delivery count last returned for by `poll_recv`.
    seen: u64,
}

impl Signal {
    /// Polls for the next delivery.
    ///
    /// Returns `Ready(Some(()))` once for every batch of deliveries since the previous
    /// `Ready` (several signals between two polls coalesce into one), `Pending` after storing
    /// `cx`'s waker, and `Ready(None)` only if the dispatch machinery has shut down.
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    /// use keel_runtime::signal::{signal, SignalKind};
    ///
    /// let mut user2 = signal(SignalKind::User2)?;
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert_eq!(user2.poll_recv(&mut cx), Poll::Pending);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.subscriber.poll(&mut self.seen, cx)
    }

    /// Waits for the next delivery; `None` only if the dispatch machinery has shut down.
    ///
    /// Cancel-safe: dropping the future loses no delivery.
    ///
    /// ```
    /// use keel_runtime::signal::{signal, SignalKind};
    ///
    /// async fn count_interrupts() -> std::io::Result<u64> {
    ///     let mut interrupt = signal(SignalKind::Interrupt)?;
    ///     let mut count = 0;
    ///     while interrupt.recv().await.is_some() {
    ///         count += 1;
    ///     }
    ///     Ok(count)
    /// }
    /// # let _ = count_interrupts;
    /// ```
    pub async fn recv(&mut self) -> Option<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The signal this subscription receives.
    ///
    /// ```
    /// use keel_runtime::signal::{signal, SignalKind};
    ///
    /// assert_eq!(signal(SignalKind::User1)?.kind(), SignalKind::User1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn kind(&self) -> SignalKind {
        self.kind
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("kind", &self.kind)
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        registry::unsubscribe(self.kind, &self.subscriber);
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    use std::thread::{self, Thread};
    use std::time::{Duration, Instant};

    use parking_lot::Mutex;

    use super::*;

    /// Tests that raise signals hold this, so one test's signal never reaches another's
    /// subscriber and list lengths are stable.
    static SERIAL: Mutex<()> = Mutex::new(());

    /// Generous bound so a broken wake path fails the test instead of hanging it.
    const TIMEOUT: Duration = Duration::from_secs(10);

    struct ThreadWaker(Thread);

    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    /// Runs `fut` on this thread, parking between polls; `None` on timeout.
    fn block_on<F: Future>(fut: F) -> Option<F::Output> {
        let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut fut = pin!(fut);
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                return Some(out);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            thread::park_timeout(deadline - now);
        }
    }

    /// Sends `kind` to this process with `kill(getpid())`, not `raise`, so the kernel may
    /// run the handler on any thread, as in production.
    fn raise(kind: SignalKind) {
        crate::sys::signal::kill_self(kind.as_raw()).unwrap();
    }

    fn poll_once(sig: &mut Signal) -> Poll<Option<()>> {
        sig.poll_recv(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn raised_signal_wakes_subscriber() {
        let _serial = SERIAL.lock();
        let mut sig = signal(SignalKind::User2).unwrap();
        assert_eq!(poll_once(&mut sig), Poll::Pending);
        raise(SignalKind::User2);
        assert_eq!(block_on(sig.recv()), Some(Some(())));
    }

    #[test]
    fn deliveries_coalesce_until_polled() {
        let _serial = SERIAL.lock();
        let mut sig = signal(SignalKind::User2).unwrap();
        let mut witness = signal(SignalKind::User2).unwrap();
        raise(SignalKind::User2);
        assert_eq!(block_on(witness.recv()), Some(Some(())));
        raise(SignalKind::User2);
        assert_eq!(block_on(witness.recv()), Some(Some(())));
        // Both deliveries to `sig` happened before its first poll: one `Ready`, then none.
        assert_eq!(poll_once(&mut sig), Poll::Ready(Some(())));
        assert_eq!(poll_once(&mut sig), Poll::Pending);
    }

    #[test]
    fn two_subscribers_both_receive() {
        let _serial = SERIAL.lock();
        let mut first = signal(SignalKind::User2).unwrap();
        let mut second = signal(SignalKind::User2).unwrap();
        raise(SignalKind::User2);
        assert_eq!(block_on(first.recv()), Some(Some(())));
        assert_eq!(block_on(second.recv()), Some(Some(())));
    }

    #[test]
    fn other_signal_does_not_wake() {
        let _serial = SERIAL.lock();
        let mut user1 = signal(SignalKind::User1).unwrap();
        let mut user2 = signal(SignalKind::User2).unwrap();
        assert_eq!(poll_once(&mut user1), Poll::Pending);
        raise(SignalKind::User2);
        // Once `user2` has it, the dispatch pass for this wake is over.
        assert_eq!(block_on(user2.recv()), Some(Some(())));
        assert_eq!(poll_once(&mut user1), Poll::Pending);
    }

    #[test]
    fn dropped_subscriber_is_removed() {
        let _serial = SERIAL.lock();
        let before = registry::subscriber_count(SignalKind::Hangup);
        let sig = signal(SignalKind::Hangup).unwrap();
        let kept = signal(SignalKind::Hangup).unwrap();
        assert_eq!(registry::subscriber_count(SignalKind::Hangup), before + 2);
        drop(sig);
        assert_eq!(registry::subscriber_count(SignalKind::Hangup), before + 1);
        drop(kept);
        assert_eq!(registry::subscriber_count(SignalKind::Hangup), before);
    }

    #[test]
    fn dropped_subscriber_does_not_block_others() {
        let _serial = SERIAL.lock();
        let dropped = signal(SignalKind::Hangup).unwrap();
        let mut kept = signal(SignalKind::Hangup).unwrap();
        drop(dropped);
        raise(SignalKind::Hangup);
        assert_eq!(block_on(kept.recv()), Some(Some(())));
    }

    #[test]
    fn created_on_one_thread_awaited_on_another() {
        let _serial = SERIAL.lock();
        let mut sig = signal(SignalKind::User1).unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let waiter = thread::spawn(move || {
            // Register the waker first so the wake really crosses threads.
            assert_eq!(poll_once(&mut sig), Poll::Pending);
            ready_tx.send(()).unwrap();
            block_on(sig.recv())
        });
        ready_rx.recv().unwrap();
        raise(SignalKind::User1);
        assert_eq!(waiter.join().unwrap(), Some(Some(())));
    }

    #[test]
    fn closed_subscriber_yields_none() {
        // Detached from the registry, so no signal or lock is involved.
        let mut sig = Signal {
            kind: SignalKind::Quit,
            subscriber: Arc::new(Subscriber::new()),
            seen: 0,
        };
        assert_eq!(poll_once(&mut sig), Poll::Pending);
        sig.subscriber.close();
        assert_eq!(block_on(sig.recv()), Some(None));
    }

    #[test]
    fn signal_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Signal>();
        assert_send_sync::<SignalKind>();
    }

    #[test]
    fn kinds_match_libc() {
        for (i, kind) in SignalKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), i);
        }
        assert_eq!(SignalKind::Quit.as_raw(), libc::SIGQUIT);
        assert_eq!(SignalKind::User1.as_raw(), libc::SIGUSR1);
        assert_eq!(SignalKind::User2.as_raw(), libc::SIGUSR2);
        assert_eq!(SignalKind::Hangup.as_raw(), libc::SIGHUP);
    }
}
