//! The pool's background tasks: the maintenance task (each `reap_interval`: close idle
//! connections that are broken, past their lifetime or idle too long, refill `min`,
//! warn about leases held past the leak threshold) and the task that times queued
//! acquires out at their deadlines. Both hold only a `Weak` and end with the pool.

use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keel_runtime::time::{sleep, sleep_until, timeout};

use super::state::{Inner, SlotGuard};
use crate::manager::{CheckOutcome, Manager};
use crate::metrics::Reason;

impl<M: Manager> Inner<M> {
    /// Starts the background task once (the first acquire on a loop does).
    pub(super) fn start_maintenance(self: &Rc<Self>) {
        if self.maintenance.replace(true) {
            return;
        }
        let weak = Rc::downgrade(self);
        let interval = self.config.reap_interval;
        drop(
            keel_runtime::task::Builder::new()
                .name("keel-pool maintenance")
                .spawn_local(maintain(weak, interval)),
        );
    }

    /// Makes sure a task times queued acquires out at their deadlines (see
    /// `permits.rs`): one per pool while anyone waits, instead of a timer per waiter.
    pub(super) fn start_expiring(self: &Rc<Self>) {
        if self.expiring.replace(true) {
            return;
        }
        drop(
            keel_runtime::task::Builder::new()
                .name("keel-pool waiter expiry")
                .spawn_local(expire_waiters(Rc::downgrade(self))),
        );
    }

    /// Closes idle connections that are broken ([`Manager::check`]), past their
    /// lifetime, or idle past the idle timeout (down to `min`).
    fn reap(&self) {
        let now = Instant::now();
        // Out of the state while the manager looks at them (no borrow across a call).
        let idle = std::mem::take(&mut self.state.borrow_mut().idle);
        let mut keep = VecDeque::with_capacity(idle.len());
        let mut gone = Vec::new();
        let mut left = idle.len();
        for mut conn in idle {
            let reason = if conn.expired(now) {
                Some(Reason::MaxLifetime)
            } else if self.manager.check(&mut conn.raw) == CheckOutcome::Broken {
                Some(Reason::Broken)
            } else if left > self.config.min
                && self
                    .config
                    .idle_timeout
                    .is_some_and(|t| now.saturating_duration_since(conn.idle_since) >= t)
            {
                Some(Reason::IdleTimeout)
            } else {
                None
            };
            match reason {
                Some(reason) => {
                    left -= 1;
                    gone.push((conn, reason));
                }
                None => keep.push_back(conn),
            }
        }
        {
            let mut st = self.state.borrow_mut();
            st.size -= gone.len();
            // Anything returned meanwhile is more recent: it stays at the back.
            keep.append(&mut st.idle);
            st.idle = keep;
        }
        for (conn, reason) in gone {
            self.discard(conn, reason);
        }
    }

    /// Opens connections until `min` are idle (or `max` exist); stops at the first
    /// failure (the next tick tries again).
    async fn refill(self: &Rc<Self>) {
        loop {
            {
                let mut st = self.state.borrow_mut();
                if st.closed || st.idle.len() >= self.config.min || st.size >= self.config.max {
                    return;
                }
                st.size += 1;
            }
            let slot = SlotGuard { inner: self };
            match timeout(self.config.create_timeout, self.manager.create()).await {
                Ok(Ok(raw)) => {
                    self.counters.created();
                    self.health.succeeded();
                    slot.disarm();
                    let conn = self.wrap(raw);
                    self.dispatch(conn);
                }
                Ok(Err(e)) => {
                    self.counters.create_failed();
                    self.health.failed(&Arc::new(e));
                    return;
                }
                Err(_) => {
                    self.counters.create_failed();
                    self.health.failed_text(format!(
                        "create timed out after {:?}",
                        self.config.create_timeout
                    ));
                    return;
                }
            }
        }
    }

    /// Warns once about each lease held longer than the leak threshold.
    fn find_leaks(&self) {
        let Some(threshold) = self.config.leak_threshold else {
            return;
        };
        let now = Instant::now();
        let mut st = self.state.borrow_mut();
        for (_, lease) in st.leases.iter_mut() {
            let held = now.saturating_duration_since(lease.taken);
            if !lease.warned && held > threshold {
                lease.warned = true;
                self.counters.leaked();
                tracing::warn!(
                    held_ms = held.as_millis() as u64,
                    threshold_ms = threshold.as_millis() as u64,
                    taken_at = %lease.location,
                    "keel-pool: connection held longer than the leak threshold (possible leak)"
                );
            }
        }
    }
}

/// The background task: reap, refill, look for leaks, sleep; ends with the pool.
async fn maintain<M: Manager>(pool: Weak<Inner<M>>, interval: Duration) {
    loop {
        {
            let Some(inner) = pool.upgrade() else {
                return;
            };
            if inner.state.borrow().closed {
                return;
            }
            inner.reap();
            inner.find_leaks();
            inner.refill().await;
        }
        sleep(interval).await;
    }
}

/// Times out the pool's queued acquires at their deadlines; ends when nobody waits
/// (`start_expiring` starts it again) or the pool is gone.
async fn expire_waiters<M: Manager>(pool: Weak<Inner<M>>) {
    /// Clears `expiring` however the task ends — also when its loop drops it at
    /// shutdown, so that a pool outliving the loop starts a new one.
    struct Running<M: Manager>(Weak<Inner<M>>);
    impl<M: Manager> Drop for Running<M> {
        fn drop(&mut self) {
            if let Some(inner) = self.0.upgrade() {
                inner.expiring.set(false);
            }
        }
    }
    let _running = Running(pool.clone());
    loop {
        let Some(inner) = pool.upgrade() else {
            return;
        };
        let next = inner.state.borrow_mut().waiters.expire(Instant::now());
        // Not held across the sleep: the task must not keep the pool alive.
        drop(inner);
        match next {
            Some(deadline) => sleep_until(deadline).await,
            None => return,
        }
    }
}
