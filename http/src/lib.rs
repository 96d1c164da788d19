//! Keel's HTTP/1.1 server: strict parsing, keep-alive and pipelining, limits and timeouts,
//! a router with typed extractors, middleware, and central JSON errors.
//!
//! ```no_run
//! use keel_http::{Json, Ops, Path, Router, Server, ServerConfig};
//! use keel_runtime::Runtime;
//!
//! async fn user(Path(id): Path<u64>) -> Json<serde_json::Value> {
//!     Json(serde_json::json!({ "id": id }))
//! }
//!
//! let runtime = Runtime::new()?; // one loop per core
//! Server::bind("0.0.0.0:3000")?
//!     .config(ServerConfig::from_env()?) // limits, timeouts, headers
//!     .ops(Ops::from_env()?) // probes and /metrics: KEEL_OPS_ADDR, KEEL_METRICS_TOKEN
//!     .serve(&runtime, || {
//!         // Runs once per loop: each loop owns its router and state.
//!         Router::new()
//!             .get("/plaintext", || async { "Hello, World!" })
//!             .get("/users/:id", user)
//!     })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # State
//!
//! The factory runs once per loop, so state built inside it is per loop (no lock, need
//! not be `Send`); state shared by every loop is built once outside it behind an `Arc`.
//! Either way, give it to the router with [`Router::with_state`] and take it in handlers
//! with the [`State`] extractor.
//!
//! # Layers
//!
//! * `proto` — the protocol core, no I/O: parsing, body decoding, response encoding.
//! * [`server`](Server) — sockets, connections, timeouts, TLS ([`TlsConfig`]), HTTP/2
//!   ([`H2Config`]), the shutdown state machine.
//! * [`ops`] — the health probes (and the place for `/metrics`), before the app.
//! * [`Router`], [`Handler`], [`FromRequestParts`] and [`FromRequest`] extractors,
//!   [`Middleware`] — the app.
//! * [`AppError`] — every error, rendered centrally as JSON.
//! * [`client`] — an HTTP/1.1 client for outbound calls, with per-loop connection reuse,
//!   and optionally a retry policy, circuit breaker and bulkhead.
//! * [`otlp`] — OpenTelemetry trace export (OTLP/HTTP JSON), from the `OTEL_*` variables.
//! * [`testing`] — [`TestClient`]: requests through the server's own code in memory,
//!   for tests without sockets.
//! * `recycle` — per-thread shelves of request buffers, so steady serving allocates less.

#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod body;
pub mod client;
pub mod config;
mod error;
mod extract;
mod handler;
mod header;
mod lifecycle;
mod limits;
pub mod metrics;
pub mod middleware;
pub mod ops;
pub mod otlp;
mod params;
mod proto;
mod recycle;
mod request;
mod request_body;
mod response;
mod router;
mod server;
pub mod sse;
mod state_map;
pub mod static_files;
mod status;
pub mod testing;
mod tls_session;
mod trusted_proxies;
mod upgrade;
pub mod ws;

pub use body::{Body, BodyStream};
pub use config::Config;
pub use cookie;
pub use error::{AppError, UNAVAILABLE_RETRY_AFTER};
pub use extract::{
    ClientIp, CookieJar, CookieKey, Form, FromHeader, FromRequest, FromRequestParts, Header,
    Headers, Path, PrivateCookieJar, Query, RemoteAddr, SignedCookieJar, State, Valid,
    secure_cookie,
};
pub use garde;
pub use handler::{BoxFuture, Handler};
pub use header::{HeaderName, HeaderValue};
pub use limits::{
    DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_HEAD_SIZE, DEFAULT_MAX_HEADERS, DEFAULT_MAX_URI_LEN, Limits,
};
pub use middleware::{Middleware, Next};
pub use ops::{HealthHandle, Ops};
pub use params::Params;
pub use proto::Version;
pub use proto::method::Method;
pub use request::Request;
pub use request_body::RequestBody;
pub use response::{IntoResponse, Json, Response};
pub use router::Router;
pub use server::config::{
    DEFAULT_HEADERS_TIMEOUT, DEFAULT_KEEPALIVE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_REQUEST_TIMEOUT, DEFAULT_SHUTDOWN_DELAY, DEFAULT_SHUTDOWN_TIMEOUT,
};
pub use server::{ClientIdentity, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_RELOAD_INTERVAL};
pub use server::{
    DEFAULT_H2_IDLE_TIMEOUT, DEFAULT_INITIAL_CONNECTION_WINDOW, DEFAULT_INITIAL_STREAM_WINDOW,
    DEFAULT_MAX_CONCURRENT_STREAMS, DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_HEADER_LIST_SIZE, H2Config,
};
pub use server::{
    DEFAULT_HOOK_BUDGET, Environment, HookOutcome, HookReport, InFlightRequest, Outcome, Phase,
    ServeReport, Server, ServerConfig, ShutdownHandle, TlsConfig,
};
pub use status::StatusCode;
pub use testing::TestClient;
pub use trusted_proxies::{ForwardedHeader, TrustedProxies};

/// Entry points for the fuzz targets in `fuzz/`; not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::limits::Limits;
    pub use crate::proto::decode::Decoder;
    pub use crate::proto::parse::parse_request;
    pub use crate::router::{PathTree, RouteError};

    use crate::proto::parse::Status;

    /// The request the server hands to extractors for `bytes`: the head parsed with the
    /// default limits, and every byte after it as the body (whatever the head's framing
    /// says). `None` when the head is incomplete or refused.
    pub fn request(bytes: &[u8]) -> Option<crate::Request> {
        match parse_request(bytes, &Limits::default()) {
            Ok(Status::Complete(head)) => {
                let head_len = head.head_len();
                let mut req = crate::Request::new(bytes[..head_len].to_vec(), head, None);
                req.set_body(bytes[head_len..].to_vec());
                Some(req)
            }
            _ => None,
        }
    }
}

/// Entry points for the benches in `benches/`; not a stable API.
#[doc(hidden)]
pub mod _benchable {
    use std::rc::Rc;

    pub use crate::proto::head::RequestHead;
    pub use crate::proto::parse::Status;
    pub use crate::server::memory::MemoryConnection;
    use crate::{Method, Params, Router, router::Resolved};

    /// What `router` resolves `method` and `path` to, as the server does for each request:
    /// the matched route's pattern and parameters, or the status of the error answered
    /// instead (404, 405).
    pub fn resolve(router: &Router, method: &Method, path: &str) -> Result<(Rc<str>, Params), u16> {
        match router.resolve(method, path) {
            Resolved::Found {
                pattern, params, ..
            } => Ok((pattern, params)),
            Resolved::Error(err, ..) => Err(err.status().as_u16()),
            // The fallback's status is its handler's; unmatched, like a 404.
            Resolved::Fallback(_) => Err(404),
        }
    }
}
