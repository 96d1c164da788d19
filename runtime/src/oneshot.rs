//! A single-value channel from a pool thread back to the awaiting task: a
//! `Mutex<State>` holding the value and the receiver's [`Waker`].
//!
//! # Protocol
//!
//! * The [`Sender`] stores the value (or, when dropped unsent, marks the channel closed)
//!   and wakes the stored waker *after* releasing the lock. Keel's wakers are
//!   `Send + Sync` and route a wake from a pool thread through the owning loop's inject
//!   queue, so the task is polled again on its own loop.
//! * The [`Receiver`] takes the value, or stores its waker, under the same lock, so a
//!   value sent between "nothing there" and "waker stored" cannot be missed.
//! * Dropping the receiver marks the channel closed for the sender: pool threads check
//!   [`Sender::is_closed`] before starting a job, which is how a dropped handle cancels
//!   a queued job.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

struct State<T> {
    value: Option<T>,
    waker: Option<Waker>,
    sender_gone: bool,
    receiver_gone: bool,
}

/// Creates a connected sender/receiver pair.
pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let state = Arc::new(Mutex::new(State {
        value: None,
        waker: None,
        sender_gone: false,
        receiver_gone: false,
    }));
    (
        Sender {
            state: state.clone(),
        },
        Receiver { state },
    )
}

/// The sending half; sends at most once.
pub(crate) struct Sender<T> {
    state: Arc<Mutex<State<T>>>,
}

impl<T> Sender<T> {
    /// Hands `value` to the receiver and wakes it. Gives the value back when the receiver
    /// is gone.
    pub(crate) fn send(self, value: T) -> Result<(), T> {
        let waker = {
            let mut state = self.state.lock();
            if state.receiver_gone {
                return Err(value);
            }
            state.value = Some(value);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Whether the receiver was dropped (nobody wants the value any more).
    pub(crate) fn is_closed(&self) -> bool {
        self.state.lock().receiver_gone
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.state.lock();
            state.sender_gone = true;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The sender was dropped without sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

/// The receiving half: a future of the value.
pub(crate) struct Receiver<T> {
    state: Arc<Mutex<State<T>>>,
}

impl<T> Receiver<T> {
    /// Whether a value is waiting or the sender is gone (polling would be ready).
    pub(crate) fn is_terminated(&self) -> bool {
        let state = self.state.lock();
        state.value.is_some() || state.sender_gone
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, Closed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.state.lock();
        if let Some(value) = state.value.take() {
            return Poll::Ready(Ok(value));
        }
        if state.sender_gone {
            return Poll::Ready(Err(Closed));
        }
        match &mut state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let value = {
            let mut state = self.state.lock();
            state.receiver_gone = true;
            state.waker = None;
            state.value.take()
        };
        // An unread value is dropped outside the lock.
        drop(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    struct Flag(std::sync::atomic::AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn poll<T>(rx: &mut Receiver<T>, flag: &Arc<Flag>) -> Poll<Result<T, Closed>> {
        let waker = Waker::from(flag.clone());
        Pin::new(rx).poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn value_after_pending_wakes() {
        let flag = Arc::new(Flag(Default::default()));
        let (tx, mut rx) = channel();
        assert!(poll(&mut rx, &flag).is_pending());
        std::thread::spawn(move || tx.send(7).unwrap())
            .join()
            .unwrap();
        assert!(flag.0.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(poll(&mut rx, &flag), Poll::Ready(Ok(7)));
    }

    #[test]
    fn dropped_sides() {
        let flag = Arc::new(Flag(Default::default()));
        let (tx, mut rx) = channel::<u8>();
        drop(tx);
        assert_eq!(poll(&mut rx, &flag), Poll::Ready(Err(Closed)));
        let (tx, rx) = channel::<u8>();
        assert!(!tx.is_closed());
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send(1), Err(1));
    }
}
