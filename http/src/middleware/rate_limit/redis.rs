//! [`RedisStore`] (feature `redis-rate-limit`): a rate-limit store in Redis, so every
//! instance sharing the Redis shares the counts — the same token bucket per key as
//! [`MemoryStore`](super::MemoryStore) (GCRA: one timestamp per key), checked and updated
//! by one Lua script (atomic, one round trip) on Redis's own clock, through keel-pool's
//! per-loop Redis pool.

use std::time::Duration;

use keel_pool::Pool;
use keel_pool::redis::{RedisManager, Value};

use super::store::{Decision, Policy, Store, StoreError};
use crate::handler::BoxFuture;

/// GCRA on the key's "theoretical arrival time" (microseconds on Redis's clock, so
/// instances whose clocks disagree still agree): a hit is allowed when, after it, the
/// bucket's debt (`tat - now`) stays within the window. Returns `{allowed, µs until the
/// bucket is full again, µs until a refused hit would be allowed}`. The key expires when
/// the bucket is full again. `ARGV`: window and emission interval, in µs.
const SCRIPT: &str = "\
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now) or now
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat > now + window then
  return {0, tat - now, new_tat - now - window}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, new_tat - now, 0}";

/// A [`Store`] in Redis: a token bucket (`limit` tokens per `window`, refilled
/// continuously) per `{prefix}{limiter}:{key}`, kept as one timestamp and updated by
/// one atomic script.
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
/// # Ok::<(), keel_http::config::EnvError>(())
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
        let limit = policy.limit.max(1);
        let window = policy.window.as_micros().max(1);
        let interval = (window / u128::from(limit)).max(1);
        let (window_arg, interval_arg) = (window.to_string(), interval.to_string());
        Box::pin(async move {
            let mut conn = acquire.await.map_err(|e| {
                StoreError::with_source("redis rate-limit store: no connection", e.to_string())
            })?;
            let reply = conn
                .cmd(&["EVAL", SCRIPT, "1", &key, &window_arg, &interval_arg])
                .await
                .map_err(|e| StoreError::with_source("redis rate-limit store: EVAL failed", e))?;
            let (allowed, reset_us, retry_us) = match &reply {
                Value::Array(items) => match items.as_slice() {
                    [Value::Int(allowed), Value::Int(reset), Value::Int(retry)] => {
                        (*allowed == 1, *reset, *retry)
                    }
                    _ => return Err(unexpected(&reply)),
                },
                _ => return Err(unexpected(&reply)),
            };
            let micros = |us: i64| Duration::from_micros(us.max(0) as u64);
            let reset = micros(reset_us);
            if !allowed {
                return Ok(Decision {
                    allowed: false,
                    remaining: 0,
                    reset,
                    retry_after: micros(retry_us),
                });
            }
            // As in the memory store: whole intervals left in the window.
            let remaining =
                (window.saturating_sub(reset.as_micros()) / interval).min(u128::from(limit));
            Ok(Decision {
                allowed: true,
                remaining: remaining as u32,
                reset,
                retry_after: Duration::ZERO,
            })
        })
    }
}

fn unexpected(reply: &Value) -> StoreError {
    StoreError::new(format!(
        "redis rate-limit store: unexpected reply {reply:?}"
    ))
}
