//! [`MemoryStore`]: a rate-limit store in this process's memory, shared by every loop —
//! a token bucket per key (GCRA: one timestamp per key) in sharded maps, so loops
//! contend only when their keys hash to the same shard, and no global lock exists.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::store::{Decision, Policy, Store, StoreError};
use crate::handler::BoxFuture;

/// How many independently locked maps the keys are spread over.
const SHARDS: usize = 64;
/// A shard is swept of expired keys when it grows past this (and then past twice what
/// the sweep left).
const SWEEP_AT: usize = 1024;

/// An in-memory [`Store`]: a token bucket per key, refilled continuously (`limit`
/// tokens per `window`, the bucket holding at most `limit`), kept as the generic cell
/// rate algorithm's single "theoretical arrival time" per key.
///
/// Clones share one store (an `Arc`): build it once, outside the router factory, and
/// give each loop's [`RateLimit`](super::RateLimit) a clone so the limit holds across
/// loops. It counts for this process only; several instances need `RedisStore`
/// (feature `redis-rate-limit`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use keel_http::middleware::{MemoryStore, RateLimit};
///
/// let store = MemoryStore::new(); // once per process
/// // In the per-loop router factory:
/// let limit = RateLimit::builder(store.clone(), 100, Duration::from_secs(60)).build()?;
/// # let _ = limit;
/// # Ok::<(), keel_http::config::EnvError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    hasher: RandomState,
    shards: Box<[Mutex<Shard>]>,
}

impl Default for Inner {
    fn default() -> Inner {
        Inner {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
        }
    }
}

#[derive(Debug)]
struct Shard {
    /// Key → the time its bucket is full again (GCRA's theoretical arrival time).
    tats: HashMap<Box<str>, Instant>,
    sweep_at: usize,
}

impl Default for Shard {
    fn default() -> Shard {
        Shard {
            tats: HashMap::new(),
            sweep_at: SWEEP_AT,
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// How many keys are tracked (expired ones may still count until a sweep).
    pub fn len(&self) -> usize {
        self.inner.shards.iter().map(|s| s.lock().tats.len()).sum()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts one hit for `key` at `now`.
    fn check(&self, key: &str, policy: Policy, now: Instant) -> Decision {
        let limit = policy.limit.max(1);
        let interval = (policy.window / limit).max(Duration::from_nanos(1));
        let shard = self.inner.hasher.hash_one(key) as usize % SHARDS;
        let mut shard = self.inner.shards[shard].lock();
        let tat = shard.tats.get(key).copied().unwrap_or(now).max(now);
        let new_tat = tat + interval;
        if new_tat > now + policy.window {
            return Decision {
                allowed: false,
                remaining: 0,
                reset: tat - now,
                retry_after: new_tat - (now + policy.window),
            };
        }
        match shard.tats.get_mut(key) {
            Some(slot) => *slot = new_tat,
            None => {
                shard.tats.insert(key.into(), new_tat);
                if shard.tats.len() > shard.sweep_at {
                    shard.tats.retain(|_, tat| *tat > now);
                    shard.sweep_at = (shard.tats.len() * 2).max(SWEEP_AT);
                }
            }
        }
        drop(shard);
        let used = new_tat - now;
        let remaining = (policy.window - used).as_nanos() / interval.as_nanos();
        Decision {
            allowed: true,
            remaining: remaining.min(u128::from(limit)) as u32,
            reset: used,
            retry_after: Duration::ZERO,
        }
    }
}

impl Store for MemoryStore {
    fn hit(&self, key: String, policy: Policy) -> BoxFuture<Result<Decision, StoreError>> {
        let decision = self.check(&key, policy, Instant::now());
        Box::pin(std::future::ready(Ok(decision)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_limit_then_refills_one_per_interval() {
        let store = MemoryStore::new();
        let policy = Policy {
            limit: 3,
            window: Duration::from_secs(60),
        };
        let t0 = Instant::now();
        let remaining: Vec<u32> = (0..3)
            .map(|_| store.check("k", policy, t0))
            .map(|d| {
                assert!(d.allowed);
                d.remaining
            })
            .collect();
        assert_eq!(remaining, [2, 1, 0]);
        let denied = store.check("k", policy, t0);
        assert!(!denied.allowed);
        assert_eq!(denied.retry_after, Duration::from_secs(20));
        assert_eq!(denied.reset, Duration::from_secs(60));
        // Another key is independent.
        assert!(store.check("other", policy, t0).allowed);
        // One interval later one token is back, not more.
        let t1 = t0 + Duration::from_secs(20);
        assert!(store.check("k", policy, t1).allowed);
        assert!(!store.check("k", policy, t1).allowed);
        // A whole window later the bucket is full.
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!(store.check("k", policy, t2).remaining, 2);
    }

    #[test]
    fn expired_keys_are_swept() {
        let store = MemoryStore::new();
        let policy = Policy {
            limit: 1,
            window: Duration::from_millis(1),
        };
        let t0 = Instant::now();
        for i in 0..SHARDS * SWEEP_AT {
            store.check(&format!("a{i}"), policy, t0);
        }
        let later = t0 + Duration::from_secs(1);
        for i in 0..SHARDS * SWEEP_AT * 2 {
            store.check(&format!("b{i}"), policy, later);
        }
        // Every shard swept its `a` keys at least once.
        assert!(store.len() < SHARDS * SWEEP_AT * 3, "{}", store.len());
    }
}
