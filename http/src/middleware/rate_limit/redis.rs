//! [`RedisStore`] (feature `redis-rate-limit`): a rate-limit store in Redis, so every
//! instance sharing the Redis shares the counts — a fixed window per key, counted and
//! given its expiry by one Lua script (atomic, one round trip) through keel-pool's
//! per-loop Redis pool.

use std::time::Duration;

use keel_pool::Pool;
use keel_pool::redis::{RedisManager, Value};

use super::store::{Decision, Policy, Store, StoreError};
use crate::handler::BoxFuture;

/// Counts the hit and returns `{count, milliseconds until the window ends}`. The expiry
/// is set by the hit that opens the window (and repaired if a key ever lacks one), so a
/// window lasts `ARGV[1]` ms from its first hit.
const SCRIPT: &str = "\
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}";

/// A [`Store`] in Redis: `INCR` + `PEXPIRE` on `{prefix}{limiter}:{key}` in one atomic
/// script, a fixed window starting at a key's first hit.
///
/// It holds a keel-pool [`Pool`], which belongs to one loop: build a pool and a store
/// per loop, in the router factory. Bound the pool's acquire timeout (or rely on the
/// limiter's store timeout) so a Redis outage costs each request little before the
/// limiter fails open or closed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use keel_http::middleware::{RateLimit, RedisStore};
/// use keel_pool::Pool;
/// use keel_pool::redis::RedisManager;
///
/// // In the per-loop router factory:
/// let pool = Pool::builder(RedisManager::new("127.0.0.1:6379".parse().unwrap()))
///     .max(4)
///     .acquire_timeout(Duration::from_millis(200))
///     .build();
/// let store = RedisStore::new(pool, "myapp:");
/// let limit = RateLimit::builder(store, 100, Duration::from_secs(60)).build()?;
/// # let _ = limit;
/// # Ok::<(), keel_http::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RedisStore {
    pool: Pool<RedisManager>,
    prefix: Box<str>,
}

impl RedisStore {
    /// A store using `pool`, its keys starting with `prefix`.
    pub fn new(pool: Pool<RedisManager>, prefix: impl Into<String>) -> RedisStore {
        RedisStore {
            pool,
            prefix: prefix.into().into_boxed_str(),
        }
    }
}

impl Store for RedisStore {
    fn hit(&self, key: String, policy: Policy) -> BoxFuture<Result<Decision, StoreError>> {
        let acquire = self.pool.get();
        let key = format!("{}{key}", self.prefix);
        let window_ms = policy.window.as_millis().max(1).to_string();
        Box::pin(async move {
            let mut conn = acquire.await.map_err(|e| {
                StoreError::with_source("redis rate-limit store: no connection", e.to_string())
            })?;
            let reply = conn
                .cmd(&["EVAL", SCRIPT, "1", &key, &window_ms])
                .await
                .map_err(|e| StoreError::with_source("redis rate-limit store: EVAL failed", e))?;
            let (count, ttl_ms) = match &reply {
                Value::Array(items) => match items.as_slice() {
                    [Value::Int(count), Value::Int(ttl)] => (*count, *ttl),
                    _ => return Err(unexpected(&reply)),
                },
                _ => return Err(unexpected(&reply)),
            };
            let limit = i64::from(policy.limit);
            let ttl = Duration::from_millis(ttl_ms.max(0) as u64);
            Ok(Decision {
                allowed: count <= limit,
                remaining: (limit - count).max(0) as u32,
                reset: ttl,
                retry_after: if count <= limit { Duration::ZERO } else { ttl },
            })
        })
    }
}

fn unexpected(reply: &Value) -> StoreError {
    StoreError::new(format!(
        "redis rate-limit store: unexpected reply {reply:?}"
    ))
}
