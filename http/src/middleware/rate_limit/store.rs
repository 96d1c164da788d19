//! The [`Store`] trait a [`RateLimit`](super::RateLimit) counts hits in, with what it is
//! asked ([`Policy`]), what it answers ([`Decision`]) and how it fails ([`StoreError`]).

use std::error::Error;
use std::fmt;
use std::time::Duration;

use crate::handler::BoxFuture;

/// A limit: at most `limit` requests per `window` for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Requests allowed per window (at least 1).
    pub limit: u32,
    /// The window (at least 1 ms).
    pub window: Duration,
}

/// A store's answer to one hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may go on.
    pub allowed: bool,
    /// Requests still allowed in the current window after this one.
    pub remaining: u32,
    /// Time until the key's quota is whole again (the `reset` of `RateLimit`).
    pub reset: Duration,
    /// When refused: time until a request would be allowed (`Retry-After`).
    pub retry_after: Duration,
}

/// Counts hits per key. Called once per limited request, on the request's loop; the
/// future may be `!Send` (a per-loop connection pool, for example).
///
/// Implementations: [`MemoryStore`](super::MemoryStore) (this process, every loop) and,
/// with the `redis-rate-limit` feature, `RedisStore` (every instance sharing a Redis).
pub trait Store: 'static {
    /// Counts one request for `key` under `policy` and says whether it is allowed.
    fn hit(&self, key: String, policy: Policy) -> BoxFuture<Result<Decision, StoreError>>;
}

/// A store that could not answer (its backend is down, slow or confused).
#[derive(Debug)]
pub struct StoreError {
    message: String,
    source: Option<Box<dyn Error + Send + Sync>>,
}

impl StoreError {
    /// An error described by `message`.
    pub fn new(message: impl Into<String>) -> StoreError {
        StoreError {
            message: message.into(),
            source: None,
        }
    }

    /// An error described by `message`, caused by `source`.
    pub fn with_source(
        message: impl Into<String>,
        source: impl Into<Box<dyn Error + Send + Sync>>,
    ) -> StoreError {
        StoreError {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}
