//! [`RateLimit`]: at most N requests per window per key (the client IP by default),
//! counted in a [`Store`] — [`MemoryStore`] for one process, `RedisStore` (feature
//! `redis-rate-limit`) for several instances. Refused requests get a JSON 429 with
//! `Retry-After`; every limited response carries the IETF draft's `RateLimit` and
//! `RateLimit-Policy` headers (or draft 6's `RateLimit-Limit`, `-Remaining` and `-Reset`:
//! [`RateLimitHeaders`]).
//!
//! When the store fails (or takes longer than the store timeout) the request is let
//! through (fail-open, the default) or refused with a 503 (fail-closed); either way a
//! warning is logged, at most once a second per loop and limiter.

mod memory;
#[cfg(feature = "redis-rate-limit")]
mod redis;
mod store;

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use keel_runtime::time::timeout;

pub use self::memory::MemoryStore;
#[cfg(feature = "redis-rate-limit")]
pub use self::redis::RedisStore;
pub use self::store::{Decision, Policy, Store, StoreError};
use crate::error::AppError;
use crate::handler::BoxFuture;
use crate::middleware::{Middleware, Next};
use crate::request::Request;
use crate::response::{IntoResponse, Response};
use crate::status::StatusCode;
use keel_runtime::env::EnvError;

/// How long a store may take before it counts as failed, when not set.
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_millis(500);

/// The key function's type: the key a request is counted under, or `None` to leave the
/// request unlimited.
pub type KeyFn = dyn Fn(&Request) -> Option<String>;

/// Which revision of the IETF `RateLimit` header fields draft a limiter answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RateLimitHeaders {
    /// draft-ietf-httpapi-ratelimit-headers-07: one `RateLimit: limit=100, remaining=99,
    /// reset=60` field and `RateLimit-Policy: 100;w=60`.
    #[default]
    Draft7,
    /// Draft 6, which many clients read: `RateLimit-Limit: 100`,
    /// `RateLimit-Remaining: 99`, `RateLimit-Reset: 60` and `RateLimit-Policy: 100;w=60`.
    Draft6,
}

/// Rate-limiting middleware. Build it with [`RateLimit::builder`].
///
/// A limiter belongs to one loop (its store may hold a per-loop connection pool): build
/// it in the router factory, from a store shared across loops ([`MemoryStore`] clones
/// share their counts) or one that shares through a server (`RedisStore`).
///
/// Stricter limits for a route group are a second limiter with its own
/// [`name`](RateLimitBuilder::name), put on the group's routes only: as a
/// [`route_layer`](crate::Router::route_layer) of the group's router, nested under its
/// prefix. (A [`key`](RateLimitBuilder::key) returning `None` leaves a request unlimited,
/// for finer choices; layers run after routing, so [`Request::route`] is known.)
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use keel_http::Router;
/// use keel_http::middleware::{MemoryStore, RateLimit};
///
/// let store = MemoryStore::new(); // once, shared by every loop
/// let make_app = move || {
///     let general = RateLimit::builder(store.clone(), 300, Duration::from_secs(60))
///         .build()
///         .unwrap();
///     // The seed's auth limit: 10 per 15 minutes per client IP, on /auth routes only.
///     let auth = RateLimit::builder(store.clone(), 10, Duration::from_secs(15 * 60))
///         .name("auth")
///         .build()
///         .unwrap();
///     let auth_routes = Router::new()
///         .post("/login", || async { "token" })
///         .route_layer(auth);
///     Router::new()
///         .get("/", || async { "hi" })
///         .nest("/auth", auth_routes)
///         .layer(general)
/// };
/// # let _ = make_app();
/// ```
#[derive(Clone)]
pub struct RateLimit {
    inner: Rc<Inner>,
}

struct Inner {
    store: Box<dyn Store>,
    policy: Policy,
    name: Box<str>,
    key: Box<KeyFn>,
    fail_closed: bool,
    store_timeout: Duration,
    header_style: RateLimitHeaders,
    limit_value: String,
    policy_value: String,
    /// When a store failure was last logged, to log at most once a second.
    last_warning: Cell<Option<Instant>>,
    /// Failures not logged since the last warning.
    unlogged: Cell<u64>,
}

/// The default key: the client's IP address, [`Request::client_ip`] (`unknown` without
/// one).
///
/// Behind a proxy every request comes from the proxy: configure
/// [`TrustedProxies`](crate::TrustedProxies) so the address is the client's from the
/// proxy's `X-Forwarded-For`, never one a client wrote itself.
pub fn client_ip(req: &Request) -> String {
    match req.client_ip() {
        Some(ip) => ip.to_string(),
        None => "unknown".to_owned(),
    }
}

impl RateLimit {
    /// A builder for at most `limit` requests per `window` per key, counted in `store`.
    pub fn builder(store: impl Store, limit: u32, window: Duration) -> RateLimitBuilder {
        RateLimitBuilder {
            store: Box::new(store),
            policy: Policy { limit, window },
            name: "rl".to_owned(),
            key: Box::new(|req: &Request| Some(client_ip(req))),
            fail_closed: false,
            store_timeout: DEFAULT_STORE_TIMEOUT,
            header_style: RateLimitHeaders::default(),
        }
    }

    /// The limit and window.
    pub fn policy(&self) -> Policy {
        self.inner.policy
    }

    fn warn(&self, key: &str, what: &dyn fmt::Display) {
        let inner = &self.inner;
        let now = Instant::now();
        let due = inner
            .last_warning
            .get()
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1));
        if !due {
            inner.unlogged.set(inner.unlogged.get() + 1);
            return;
        }
        let suppressed = inner.unlogged.replace(0);
        inner.last_warning.set(Some(now));
        let outcome = if inner.fail_closed {
            "refusing requests (fail-closed)"
        } else {
            "letting requests through (fail-open)"
        };
        tracing::warn!(
            limiter = %inner.name,
            key,
            error = %what,
            suppressed,
            "rate-limit store failed; {outcome}"
        );
    }

    fn headers(&self, res: &mut Response, decision: &Decision) {
        let inner = &self.inner;
        let reset = ceil_secs(decision.reset);
        match inner.header_style {
            RateLimitHeaders::Draft7 => {
                let value = format!(
                    "limit={}, remaining={}, reset={reset}",
                    inner.limit_value, decision.remaining
                );
                res.set_header("ratelimit", value);
            }
            RateLimitHeaders::Draft6 => {
                res.set_header("ratelimit-limit", inner.limit_value.clone());
                res.set_header("ratelimit-remaining", decision.remaining.to_string());
                res.set_header("ratelimit-reset", reset.to_string());
            }
        }
        res.set_header("ratelimit-policy", inner.policy_value.clone());
    }

    fn refuse(&self, decision: &Decision) -> Response {
        let retry = ceil_secs(decision.retry_after).max(1);
        let mut res = AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests; retry in {retry} s"),
        )
        .into_response();
        self.headers(&mut res, decision);
        res.set_header("retry-after", retry.to_string());
        res
    }
}

impl Middleware for RateLimit {
    fn call(&self, req: Request, next: Next) -> BoxFuture<Response> {
        let Some(key) = (self.inner.key)(&req) else {
            return next.run(req);
        };
        let this = self.clone();
        Box::pin(async move {
            let inner = &this.inner;
            let full_key = format!("{}:{key}", inner.name);
            let decision =
                match timeout(inner.store_timeout, inner.store.hit(full_key, inner.policy)).await {
                    Ok(Ok(decision)) => Some(decision),
                    Ok(Err(e)) => {
                        this.warn(&key, &e);
                        None
                    }
                    Err(_) => {
                        let what = format!("no answer within {:?}", inner.store_timeout);
                        this.warn(&key, &what);
                        None
                    }
                };
            match decision {
                Some(d) if !d.allowed => this.refuse(&d),
                Some(d) => {
                    let mut res = next.run(req).await;
                    this.headers(&mut res, &d);
                    res
                }
                None if inner.fail_closed => AppError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "rate_limit_unavailable",
                    "the rate limiter is unavailable",
                )
                .into_response(),
                None => next.run(req).await,
            }
        })
    }
}

impl fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("name", &self.inner.name)
            .field("policy", &self.inner.policy)
            .field("fail_closed", &self.inner.fail_closed)
            .field("store_timeout", &self.inner.store_timeout)
            .finish_non_exhaustive()
    }
}

/// Configures a [`RateLimit`]; [`build`](RateLimitBuilder::build) checks the settings.
pub struct RateLimitBuilder {
    store: Box<dyn Store>,
    policy: Policy,
    name: String,
    key: Box<KeyFn>,
    fail_closed: bool,
    store_timeout: Duration,
    header_style: RateLimitHeaders,
}

impl RateLimitBuilder {
    /// The limiter's name, prefixed to its keys so limiters sharing a store count apart.
    ///
    /// # Default
    ///
    /// `rl`.
    pub fn name(mut self, name: impl Into<String>) -> RateLimitBuilder {
        self.name = name.into();
        self
    }

    /// What a request is counted under: client IP plus user, an API key… `None` leaves
    /// the request unlimited.
    ///
    /// # Default
    ///
    /// [`client_ip`].
    pub fn key(mut self, key: impl Fn(&Request) -> Option<String> + 'static) -> Self {
        self.key = Box::new(key);
        self
    }

    /// Whether a failing store refuses requests (503) instead of letting them through.
    ///
    /// # Default
    ///
    /// `false` (fail-open).
    pub fn fail_closed(mut self, fail_closed: bool) -> RateLimitBuilder {
        self.fail_closed = fail_closed;
        self
    }

    /// How long the store may take before it counts as failed.
    ///
    /// # Default
    ///
    /// [`DEFAULT_STORE_TIMEOUT`].
    pub fn store_timeout(mut self, limit: Duration) -> RateLimitBuilder {
        self.store_timeout = limit;
        self
    }

    /// Which draft's header fields the responses carry.
    ///
    /// # Default
    ///
    /// [`RateLimitHeaders::Draft7`]: `RateLimit` and `RateLimit-Policy`.
    pub fn headers(mut self, style: RateLimitHeaders) -> RateLimitBuilder {
        self.header_style = style;
        self
    }

    /// The middleware.
    ///
    /// # Errors
    ///
    /// A limit of 0 (`rate_limit.limit`), a window under 1 ms (`rate_limit.window`), an
    /// empty name (`rate_limit.name`) or a zero store timeout
    /// (`rate_limit.store_timeout`).
    pub fn build(self) -> Result<RateLimit, EnvError> {
        let Policy { limit, window } = self.policy;
        if limit == 0 {
            return Err(EnvError::new("rate_limit.limit", "0", "at least 1"));
        }
        if window < Duration::from_millis(1) {
            return Err(EnvError::new(
                "rate_limit.window",
                &format!("{window:?}"),
                "at least 1 ms",
            ));
        }
        if self.name.is_empty() {
            return Err(EnvError::new("rate_limit.name", "", "a non-empty name"));
        }
        if self.store_timeout.is_zero() {
            return Err(EnvError::new(
                "rate_limit.store_timeout",
                "0s",
                "a positive duration",
            ));
        }
        Ok(RateLimit {
            inner: Rc::new(Inner {
                store: self.store,
                policy: self.policy,
                name: self.name.into(),
                key: self.key,
                fail_closed: self.fail_closed,
                store_timeout: self.store_timeout,
                header_style: self.header_style,
                limit_value: limit.to_string(),
                policy_value: format!("{limit};w={}", ceil_secs(window)),
                last_warning: Cell::new(None),
                unlogged: Cell::new(0),
            }),
        })
    }
}

impl fmt::Debug for RateLimitBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitBuilder")
            .field("name", &self.name)
            .field("policy", &self.policy)
            .field("fail_closed", &self.fail_closed)
            .field("store_timeout", &self.store_timeout)
            .finish_non_exhaustive()
    }
}

/// Whole seconds, rounded up.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}
