//! [`Bulkhead`]: a cap on concurrent calls to one dependency, so a slow dependency holds
//! at most that many tasks (and their sockets and buffers) instead of all of them.
//!
//! A call takes a slot if one is free. Otherwise it joins a FIFO wait queue of at most
//! [`max_queue`](BulkheadBuilder::max_queue) callers and waits up to
//! [`max_wait`](BulkheadBuilder::max_wait); a full queue or a wait past the maximum fails
//! with [`Error::Full`] at once, without running the call.
//!
//! # Protocol
//!
//! One `parking_lot` mutex holds the count of calls in flight and the queue (a slab of
//! waiters plus their FIFO order). A finishing call does not free its slot while someone
//! waits: it hands it to the first waiter (marks it granted, wakes it after unlocking),
//! so a newcomer cannot take the slot ahead of the queue. A waiter dropped while queued
//! (its caller gave up or its wait timed out) leaves the queue; one dropped after being
//! granted hands the slot on. So the count never exceeds the cap and no slot is lost.
//! Like the breaker, a bulkhead is per dependency and shared (`Send + Sync`) across loops.

use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use parking_lot::Mutex;
use slab::Slab;

use super::Error;
use crate::BuildError;
use crate::time::timeout;

/// The default number of concurrent calls: 64.
pub const DEFAULT_MAX_CONCURRENT: usize = 64;
/// The default number of callers that may wait for a slot: 0 (reject at once when full).
pub const DEFAULT_MAX_QUEUE: usize = 0;
/// The default longest wait for a slot: 1 s.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(1);

/// A snapshot of a bulkhead, from [`Bulkhead::metrics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BulkheadMetrics {
    /// Calls holding a slot now.
    pub in_flight: usize,
    /// Callers waiting for a slot now.
    pub queued: usize,
    /// Calls that got a slot, since the start.
    pub admitted: u64,
    /// Calls refused (queue full or wait too long), since the start.
    pub rejected: u64,
}

/// A cap on concurrent calls to one dependency, with a bounded wait queue. Cheap to
/// clone; `Send + Sync`: share one per dependency across loops.
///
/// A call takes a free slot, or waits in a FIFO queue of at most
/// [`max_queue`](BulkheadBuilder::max_queue) callers for up to
/// [`max_wait`](BulkheadBuilder::max_wait); when the queue is full, or the wait runs out,
/// it fails with [`Error::Full`] without running. A freed slot goes to the longest
/// waiter, never to a newcomer.
///
/// # Examples
///
/// ```
/// use keel_runtime::resilience::Bulkhead;
///
/// let bulkhead = Bulkhead::builder("thumbnailer").max_concurrent(2).build().unwrap();
/// let got = keel_runtime::block_on(bulkhead.call(|| async { Ok::<_, std::io::Error>(7) }));
/// assert_eq!(got.unwrap(), 7);
/// assert_eq!(bulkhead.metrics().in_flight, 0);
/// ```
#[derive(Clone)]
pub struct Bulkhead {
    inner: Arc<Inner>,
}

struct Inner {
    dependency: Arc<str>,
    max_concurrent: usize,
    max_queue: usize,
    max_wait: Duration,
    state: Mutex<State>,
}

struct State {
    in_flight: usize,
    waiters: Slab<Waiter>,
    order: VecDeque<usize>,
    admitted: u64,
    rejected: u64,
}

struct Waiter {
    waker: Option<Waker>,
    granted: bool,
}

/// A held slot; freeing (or handing on) the slot when dropped.
struct Slot<'a> {
    inner: &'a Inner,
}

/// A place in the wait queue; leaving the queue (or handing on a granted slot) when
/// dropped before it was turned into a [`Slot`].
struct Queued<'a> {
    inner: &'a Inner,
    key: Option<usize>,
}

/// Settings for a [`Bulkhead`].
#[derive(Debug, Clone)]
pub struct BulkheadBuilder {
    dependency: Arc<str>,
    max_concurrent: usize,
    max_queue: usize,
    max_wait: Duration,
}

impl Bulkhead {
    /// Settings for a bulkhead around `dependency` (the name errors use).
    pub fn builder(dependency: impl Into<Arc<str>>) -> BulkheadBuilder {
        BulkheadBuilder {
            dependency: dependency.into(),
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            max_queue: DEFAULT_MAX_QUEUE,
            max_wait: DEFAULT_MAX_WAIT,
        }
    }

    /// The dependency's name.
    pub fn dependency(&self) -> &str {
        &self.inner.dependency
    }

    /// The most calls in flight at once.
    pub fn max_concurrent(&self) -> usize {
        self.inner.max_concurrent
    }

    /// The most callers waiting for a slot.
    pub fn max_queue(&self) -> usize {
        self.inner.max_queue
    }

    /// Calls in flight, waiting, admitted and rejected.
    pub fn metrics(&self) -> BulkheadMetrics {
        let state = self.inner.state.lock();
        BulkheadMetrics {
            in_flight: state.in_flight,
            queued: state.order.len(),
            admitted: state.admitted,
            rejected: state.rejected,
        }
    }

    /// Runs `op` once a slot is free, holding the slot until `op`'s future finishes (or
    /// is dropped).
    ///
    /// # Errors
    ///
    /// [`Error::Full`] without running `op` when no slot is free and the queue is full,
    /// or no slot came free within the maximum wait; [`Error::Inner`] with `op`'s error.
    pub async fn call<T, E, F, Fut>(&self, op: F) -> Result<T, Error<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let full = || Error::Full {
            dependency: self.inner.dependency.clone(),
        };
        let _slot = match self.inner.try_enter() {
            Ok(slot) => slot,
            Err(Some(queued)) => match timeout(self.inner.max_wait, queued.wait()).await {
                Ok(slot) => slot,
                Err(_) => {
                    self.inner.state.lock().rejected += 1;
                    return Err(full());
                }
            },
            Err(None) => return Err(full()),
        };
        op().await
            .map_err(|e| Error::inner_of(&self.inner.dependency, e))
    }
}

impl fmt::Debug for Bulkhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bulkhead")
            .field("dependency", &self.inner.dependency)
            .field("max_concurrent", &self.inner.max_concurrent)
            .field("max_queue", &self.inner.max_queue)
            .field("max_wait", &self.inner.max_wait)
            .field("metrics", &self.metrics())
            .finish()
    }
}

impl Inner {
    /// A slot now, a place in the queue, or `None` (counted as rejected) when the queue
    /// is full.
    fn try_enter(&self) -> Result<Slot<'_>, Option<Queued<'_>>> {
        let mut state = self.state.lock();
        if state.in_flight < self.max_concurrent && state.order.is_empty() {
            state.in_flight += 1;
            state.admitted += 1;
            return Ok(Slot { inner: self });
        }
        if state.order.len() >= self.max_queue {
            state.rejected += 1;
            return Err(None);
        }
        let key = state.waiters.insert(Waiter {
            waker: None,
            granted: false,
        });
        state.order.push_back(key);
        Err(Some(Queued {
            inner: self,
            key: Some(key),
        }))
    }

    /// Frees one slot: hands it to the first waiter if there is one.
    fn release(&self) {
        let waker = {
            let mut state = self.state.lock();
            match state.order.pop_front() {
                Some(key) => {
                    let waiter = &mut state.waiters[key];
                    waiter.granted = true;
                    waiter.waker.take()
                }
                None => {
                    state.in_flight -= 1;
                    None
                }
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<'a> Queued<'a> {
    async fn wait(mut self) -> Slot<'a> {
        poll_fn(|cx| {
            let key = self.key.expect("polled after completion");
            let mut state = self.inner.state.lock();
            let waiter = &mut state.waiters[key];
            if waiter.granted {
                state.waiters.remove(key);
                state.admitted += 1;
                self.key = None;
                Poll::Ready(Slot { inner: self.inner })
            } else {
                if !waiter
                    .waker
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    waiter.waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        })
        .await
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let granted = {
            let mut state = self.inner.state.lock();
            let waiter = state.waiters.remove(key);
            if !waiter.granted {
                state.order.retain(|&k| k != key);
            }
            waiter.granted
        };
        if granted {
            // The slot was handed to us and we no longer want it: pass it on.
            self.inner.release();
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.inner.release();
    }
}

impl BulkheadBuilder {
    /// The most calls in flight at once (at least 1).
    ///
    /// # Default
    ///
    /// [`DEFAULT_MAX_CONCURRENT`] (64).
    pub fn max_concurrent(mut self, n: usize) -> Self {
        self.max_concurrent = n;
        self
    }

    /// The most callers waiting for a slot (0: reject at once when all slots are taken).
    ///
    /// # Default
    ///
    /// [`DEFAULT_MAX_QUEUE`] (0).
    pub fn max_queue(mut self, n: usize) -> Self {
        self.max_queue = n;
        self
    }

    /// The longest a queued caller waits for a slot before failing with
    /// [`Error::Full`].
    ///
    /// # Default
    ///
    /// [`DEFAULT_MAX_WAIT`] (1 s).
    pub fn max_wait(mut self, d: Duration) -> Self {
        self.max_wait = d;
        self
    }

    /// The bulkhead.
    ///
    /// # Errors
    ///
    /// `max_concurrent` of 0, naming the setting.
    pub fn build(self) -> Result<Bulkhead, BuildError> {
        if self.max_concurrent == 0 {
            return Err(BuildError::invalid_value(
                "bulkhead max_concurrent",
                "0",
                "at least 1",
            ));
        }
        Ok(Bulkhead {
            inner: Arc::new(Inner {
                dependency: self.dependency,
                max_concurrent: self.max_concurrent,
                max_queue: self.max_queue,
                max_wait: self.max_wait,
                state: Mutex::new(State {
                    in_flight: 0,
                    waiters: Slab::new(),
                    order: VecDeque::new(),
                    admitted: 0,
                    rejected: 0,
                }),
            }),
        })
    }
}
