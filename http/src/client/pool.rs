//! [`IdlePool`]: the client's idle keep-alive connections, a short list per scheme, host
//! and port (so `http` and `https` to one host and port never share a connection), on
//! one loop.
//!
//! Not a [`keel_pool::Pool`]: that pool caps the connections *open* to one backend, queues
//! callers behind the cap, retries failed connects with backoff and runs a reaper task.
//! A client wants none of that per host: requests in flight are not capped, a refused
//! connect is the caller's error at once (under the connect timeout), and hosts come and
//! go with the URLs called. What it needs is a bounded list of idle connections per key,
//! most recently used first, checked before reuse — this file.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::connection::Connection;
use super::url::Scheme;

/// Where a connection goes: the scheme (plain or TLS), the host as resolved (lowercased
/// name or IP literal) and port.
pub(crate) type Key = (Scheme, String, u16);

struct Idle {
    conn: Connection,
    since: Instant,
}

/// Idle connections per host.
pub(crate) struct IdlePool {
    max_idle_per_host: usize,
    idle_timeout: Duration,
    hosts: RefCell<HashMap<Key, Vec<Idle>>>,
}

impl std::fmt::Debug for IdlePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdlePool")
            .field("max_idle_per_host", &self.max_idle_per_host)
            .field("idle", &self.idle_count())
            .finish()
    }
}

impl IdlePool {
    pub(crate) fn new(max_idle_per_host: usize, idle_timeout: Duration) -> IdlePool {
        IdlePool {
            max_idle_per_host,
            idle_timeout,
            hosts: RefCell::new(HashMap::new()),
        }
    }

    /// The most recently returned idle connection to `key` that is still usable; stale,
    /// expired or closed ones met on the way are dropped (closed).
    pub(crate) fn take(&self, key: &Key) -> Option<Connection> {
        let mut hosts = self.hosts.borrow_mut();
        let list = hosts.get_mut(key)?;
        let now = Instant::now();
        let mut found = None;
        while let Some(mut idle) = list.pop() {
            if now.duration_since(idle.since) < self.idle_timeout && idle.conn.is_idle_usable() {
                found = Some(idle.conn);
                break;
            }
        }
        if list.is_empty() {
            hosts.remove(key);
        }
        found
    }

    /// Keeps `conn` for reuse, closing the oldest idle connection of its host when the host
    /// is at its cap (and expired ones of that host).
    pub(crate) fn put(&self, key: Key, conn: Connection) {
        if self.max_idle_per_host == 0 {
            return;
        }
        let now = Instant::now();
        let mut hosts = self.hosts.borrow_mut();
        let list = hosts.entry(key).or_default();
        list.retain(|idle| now.duration_since(idle.since) < self.idle_timeout);
        if list.len() >= self.max_idle_per_host {
            list.remove(0);
        }
        list.push(Idle { conn, since: now });
    }

    /// Idle connections held, over all hosts.
    pub(crate) fn idle_count(&self) -> usize {
        self.hosts.borrow().values().map(Vec::len).sum()
    }

    /// Closes every idle connection.
    pub(crate) fn clear(&self) {
        self.hosts.borrow_mut().clear();
    }
}
