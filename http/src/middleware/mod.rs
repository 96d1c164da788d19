//! [`Middleware`]: code around every request — before the handler, after it, or instead
//! of it. A middleware gets the request and [`Next`], the rest of the chain; it may
//! answer itself, change the request, or change the response `next.run(req)` returns.
//!
//! The security set built on it, one file each:
//!
//! * [`SecurityHeaders`] — Helmet's response headers.
//! * [`Cors`] — cross-origin requests from an explicit list of origins.
//! * [`RateLimit`] — N requests per window per key, in a [`Store`] shared by loops or
//!   by instances.
//! * [`Compression`] — brotli or gzip by `Accept-Encoding`, large bodies on the worker
//!   pool.

pub(crate) mod compression;
mod cors;
mod rate_limit;
mod security_headers;

use std::future::Future;
use std::rc::Rc;

use crate::handler::{BoxFuture, BoxedHandler};
use crate::request::Request;
use crate::response::Response;

pub use self::compression::{
    Compression, CompressionBuilder, DEFAULT_BROTLI_QUALITY, DEFAULT_COMPRESSION_LEVEL,
    DEFAULT_COMPRESSION_MIN_SIZE, DEFAULT_COMPRESSION_OFFLOAD_SIZE,
};
pub use self::cors::{
    Cors, CorsBuilder, DEFAULT_CORS_HEADERS, DEFAULT_CORS_MAX_AGE, DEFAULT_CORS_METHODS,
};
#[cfg(feature = "redis-rate-limit")]
pub use self::rate_limit::RedisStore;
pub use self::rate_limit::{
    DEFAULT_STORE_TIMEOUT, Decision, KeyFn, MemoryStore, Policy, RateLimit, RateLimitBuilder,
    RateLimitHeaders, Store, StoreError, client_ip,
};
pub use self::security_headers::{
    DEFAULT_CONTENT_SECURITY_POLICY, DEFAULT_STRICT_TRANSPORT_SECURITY, SecurityHeaders,
    SecurityHeadersBuilder,
};

/// One layer around the handlers of a [`Router`](crate::Router).
///
/// Implemented for closures `Fn(Request, Next) -> impl Future<Output = Response>`.
///
/// # Examples
///
/// ```
/// use keel_http::{Next, Request, Response, Router};
///
/// async fn server_timing(req: Request, next: Next) -> Response {
///     let start = std::time::Instant::now();
///     let mut res = next.run(req).await;
///     res.set_header("server-timing", format!("app;dur={}", start.elapsed().as_millis()));
///     res
/// }
///
/// let router = Router::new().get("/", || async { "hi" }).layer(server_timing);
/// # let _ = router;
/// ```
pub trait Middleware: 'static {
    /// Handles `req`, usually by calling `next.run(req)` somewhere.
    fn call(&self, req: Request, next: Next) -> BoxFuture<Response>;
}

impl<F, Fut> Middleware for F
where
    F: Fn(Request, Next) -> Fut + 'static,
    Fut: Future<Output = Response> + 'static,
{
    fn call(&self, req: Request, next: Next) -> BoxFuture<Response> {
        Box::pin((self)(req, next))
    }
}

/// The rest of the middleware chain, ending in the handler.
pub struct Next {
    chain: Rc<[Rc<dyn Middleware>]>,
    index: usize,
    endpoint: BoxedHandler,
}

impl Next {
    pub(crate) fn new(chain: Rc<[Rc<dyn Middleware>]>, endpoint: BoxedHandler) -> Next {
        Next {
            chain,
            index: 0,
            endpoint,
        }
    }

    /// Runs the rest of the chain on `req`.
    #[inline]
    pub fn run(mut self, req: Request) -> BoxFuture<Response> {
        match self.chain.get(self.index).cloned() {
            Some(layer) => {
                self.index += 1;
                layer.call(req, self)
            }
            None => (self.endpoint)(req),
        }
    }
}

impl std::fmt::Debug for Next {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next")
            .field("remaining", &(self.chain.len() - self.index))
            .finish()
    }
}

/// Adds `token` to the response's `Vary` header unless it is already there (or `Vary`
/// is `*`).
pub(crate) fn add_vary(res: &mut Response, token: &'static str) {
    match res.header("vary") {
        None => res.set_header("vary", token),
        Some(vary) => {
            let present = vary
                .split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.eq_ignore_ascii_case(token));
            if !present {
                let merged = format!("{vary}, {token}");
                res.set_header("vary", merged);
            }
        }
    }
}
