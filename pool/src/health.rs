//! [`BackendHealth`]: whether the backend is reachable, as the pool's creates see it —
//! for readiness checks — the tracker that records it, and the copy it publishes for
//! other threads (read through [`PoolHealth`](crate::PoolHealth)).

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// What the pool knows about its backend, from its connection attempts
/// ([`Pool::health`](crate::Pool::health)).
///
/// Unhealthy from the first failed create (or refill) until the next successful one.
/// A pool that never tried to connect is healthy.
///
/// # Examples
///
/// ```
/// # use keel_pool::{Manager, Pool};
/// # struct M;
/// # impl Manager for M {
/// #     type Connection = (); type Error = std::io::Error;
/// #     async fn create(&self) -> Result<(), Self::Error> {
/// #         Err(std::io::Error::other("connection refused"))
/// #     }
/// #     async fn recycle(&self, _: &mut ()) -> Result<(), Self::Error> { Ok(()) }
/// # }
/// keel_runtime::block_on(async {
///     let pool = Pool::builder(M).fail_fast(true).build();
///     assert!(pool.health().healthy);
///     assert!(pool.get().await.is_err());
///     let health = pool.health();
///     assert!(!health.healthy && health.down_since.is_some());
///     assert_eq!(health.last_error.as_deref(), Some("connection refused"));
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackendHealth {
    /// No create failed since the last one that succeeded.
    pub healthy: bool,
    /// When the current run of failures began (`None` while healthy).
    pub down_since: Option<Instant>,
    /// Failed creates since the last success.
    pub consecutive_failures: u64,
    /// The last create error's text (kept after recovery, for the record).
    pub last_error: Option<String>,
    /// When a create last succeeded.
    pub last_success: Option<Instant>,
}

/// What one pool publishes: its last [`BackendHealth`] and whether it was closed.
#[derive(Debug)]
pub(crate) struct Published {
    health: Mutex<BackendHealth>,
    closed: AtomicBool,
}

impl Published {
    pub(crate) fn new(initial: BackendHealth) -> Arc<Published> {
        Arc::new(Published {
            health: Mutex::new(initial),
            closed: AtomicBool::new(false),
        })
    }

    /// Replaces the published health (called by the pool after each create outcome).
    pub(crate) fn set(&self, health: BackendHealth) {
        *self.health.lock().unwrap_or_else(PoisonError::into_inner) = health;
    }

    pub(crate) fn set_closed(&self) {
        self.closed.store(true, Ordering::Release);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn snapshot(&self) -> BackendHealth {
        self.health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The pool's record of its creates.
pub(crate) struct Tracker<E> {
    state: RefCell<State<E>>,
    /// The snapshot other threads read ([`PoolHealth`](crate::PoolHealth)), replaced
    /// after every create outcome.
    published: Arc<Published>,
}

struct State<E> {
    down_since: Option<Instant>,
    failures: u64,
    /// The last connect error itself, for the timeouts of acquires queued behind it.
    error: Option<Arc<E>>,
    text: Option<String>,
    last_success: Option<Instant>,
}

impl<E: fmt::Display> Tracker<E> {
    pub(crate) fn new() -> Tracker<E> {
        let state = State {
            down_since: None,
            failures: 0,
            error: None,
            text: None,
            last_success: None,
        };
        Tracker {
            published: Published::new(state.snapshot()),
            state: RefCell::new(state),
        }
    }

    /// The handle other threads read this tracker's health through.
    pub(crate) fn published(&self) -> &Arc<Published> {
        &self.published
    }

    /// A create succeeded.
    pub(crate) fn succeeded(&self) {
        let mut st = self.state.borrow_mut();
        st.down_since = None;
        st.failures = 0;
        st.error = None;
        st.last_success = Some(Instant::now());
        self.published.set(st.snapshot());
    }

    /// A create failed with `error` (kept for the waiters' timeouts).
    pub(crate) fn failed(&self, error: &Arc<E>) {
        self.failed_with(Some(error.clone()), error.to_string());
    }

    /// A create failed; only its text is known (timed out, or given away).
    pub(crate) fn failed_text(&self, text: String) {
        self.failed_with(None, text);
    }

    fn failed_with(&self, error: Option<Arc<E>>, text: String) {
        let mut st = self.state.borrow_mut();
        st.down_since.get_or_insert_with(Instant::now);
        st.failures += 1;
        if error.is_some() {
            st.error = error;
        }
        st.text = Some(text);
        self.published.set(st.snapshot());
    }

    /// Whether the last create failed.
    pub(crate) fn is_healthy(&self) -> bool {
        self.state.borrow().down_since.is_none()
    }

    /// The last connect error, while the backend is failing.
    pub(crate) fn current_error(&self) -> Option<Arc<E>> {
        let st = self.state.borrow();
        st.down_since.and(st.error.clone())
    }

    pub(crate) fn snapshot(&self) -> BackendHealth {
        self.state.borrow().snapshot()
    }
}

impl<E> State<E> {
    fn snapshot(&self) -> BackendHealth {
        BackendHealth {
            healthy: self.down_since.is_none(),
            down_since: self.down_since,
            consecutive_failures: self.failures,
            last_error: self.text.clone(),
            last_success: self.last_success,
        }
    }
}
