//! An HTTP/1.1 client on Keel's [`TcpStream`](keel_runtime::net::TcpStream): keep-alive
//! connection reuse per host, DNS on the blocking pool, connect / request / total
//! timeouts, head and body size limits, and the same strict framing rules as the server
//! (a response with both `Content-Length` and `Transfer-Encoding`, a bad `Content-Length`,
//! bad chunk sizes or a bare LF is refused, never guessed at).
//!
//! ```
//! use keel_http::client::Client;
//! use keel_http::{Json, Router, Server};
//! # use keel_runtime::Runtime;
//! # use std::time::Duration;
//!
//! # let runtime = Runtime::builder().loops(1).pin(false).build()?;
//! # let server = Server::bind("127.0.0.1:0")?.handle_signals(false);
//! # let addr = server.local_addr();
//! # let shutdown = server.shutdown_handle();
//! # let thread = std::thread::spawn(move || {
//! #     server.serve(&runtime, || {
//! #         Router::new().post("/echo", |Json(v): Json<serde_json::Value>| async move { Json(v) })
//! #     })
//! # });
//! // On a Keel loop (here a one-off `block_on`; in a service, the loop's app instance).
//! keel_runtime::block_on(async move {
//!     let client = Client::builder()
//!         .request_timeout(Duration::from_secs(5))
//!         .build();
//!     let res = client
//!         .post(&format!("http://{addr}/echo"))
//!         .json(&serde_json::json!({ "n": 1 }))
//!         .send()
//!         .await?;
//!     assert!(res.status().is_success());
//!     let echoed: serde_json::Value = res.json().await?;
//!     assert_eq!(echoed["n"], 1);
//!     Ok::<(), keel_http::client::ClientError>(())
//! })?;
//! # shutdown.shutdown();
//! # thread.join().unwrap()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # One client per loop
//!
//! A [`Client`] is `Rc`-based and `!Send`, like `keel_pool`'s pools: it and its idle
//! connections belong to the loop that uses it, and a connection's I/O never leaves that
//! loop. Build one per loop — for example in the app factory that
//! [`Server::serve`](crate::Server::serve) runs once per loop, handed to the router with
//! [`Router::with_state`](crate::Router::with_state) — and clone it freely on that loop
//! (clones share the pool). A client may be built off the loop; it touches the runtime
//! only when it sends.
//!
//! # Connection reuse
//!
//! Idle keep-alive connections are kept per scheme, host and port, at most
//! [`ClientBuilder::max_idle_per_host`] each, for at most [`ClientBuilder::idle_timeout`].
//! A connection goes back only when its response body was read to the end, nothing
//! followed it, and neither the request nor the response asked to close (a body delimited
//! by the server closing is never reusable). Before reuse the connection is checked for a
//! close or unexpected bytes from the server. A request that meets a connection the server
//! closed meanwhile is sent once more on a new connection, if its method is idempotent.
//! Why this is a small per-host list rather than a `keel_pool::Pool` is in the `pool`
//! file's docs: a `Pool` caps open connections and queues callers, which a client calling
//! arbitrary hosts must not do.
//!
//! # Timeouts and limits
//!
//! * connect ([`ClientBuilder::connect_timeout`]): DNS and TCP connect;
//! * request ([`ClientBuilder::request_timeout`]): from writing the request to the last
//!   body byte;
//! * total ([`ClientBuilder::total_timeout`], off by default): the whole call.
//!
//! A timeout is [`ClientError::Timeout`] naming its phase. A response head over
//! [`ClientBuilder::max_head_size`] or [`ClientBuilder::max_headers`] is
//! [`ClientError::HeadTooLarge`]; a body over [`ClientBuilder::max_body_size`] is
//! [`ClientError::BodyTooLarge`] when it is read. Status codes are never errors.
//!
//! Redirects are not followed unless [`ClientBuilder::follow_redirects`] allows: by
//! default a `3xx` is returned as it is.
//!
//! # WebSocket
//!
//! [`Client::websocket`] opens a `ws://` or `wss://` socket ([`crate::ws::WebSocket`]) on
//! a new connection; a `101` answers only that (anywhere else it is an
//! [`ClientError::InvalidResponse`]).
//!
//! # Resilience
//!
//! A client can send every request through a [`Retry`](keel_runtime::resilience::Retry)
//! policy, a [`CircuitBreaker`](keel_runtime::resilience::CircuitBreaker) and a
//! [`Bulkhead`](keel_runtime::resilience::Bulkhead) — in that order, outside in
//! ([`ClientBuilder::retry`], [`ClientBuilder::circuit_breaker`],
//! [`ClientBuilder::bulkhead`]). Such a client is a client for one dependency: the tools
//! are shared across loops (`Send + Sync`, cloned into each loop's client), the client
//! stays per loop. Outcomes are classified for them: connect failures, timeouts, resets
//! and 429/502/503/504 are transient (retried, honouring `Retry-After`); a 5xx or 429
//! counts against the breaker; a 4xx is an answer like any other. An open breaker or a
//! full bulkhead fails at once with [`ClientError::CircuitOpen`] or
//! [`ClientError::BulkheadFull`] ([`ClientError::is_rejected`]): serve a fallback.
//!
//! ```
//! use std::time::Duration;
//! use keel_http::client::Client;
//! use keel_runtime::resilience::{CircuitBreaker, Retry, RetryBudget};
//!
//! let retry = Retry::builder("inventory")
//!     .max_attempts(3)
//!     .base_delay(Duration::from_millis(50))
//!     .budget(RetryBudget::new())
//!     .build()?;
//! let breaker = CircuitBreaker::builder("inventory").build()?;
//! let client = Client::builder()
//!     .retry(retry)
//!     .circuit_breaker(breaker.clone())
//!     .build();
//! // A port nothing listens on: connect fails, is retried, then returned.
//! let down = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
//! keel_runtime::block_on(async {
//!     let res = client.get(&format!("http://{down}/stock/7")).send().await;
//!     let stock = match res {
//!         Ok(res) => res.text().await.unwrap_or_default(),
//!         Err(e) if e.is_rejected() => "cached stock".to_owned(),
//!         Err(e) => {
//!             assert!(e.is_connect());
//!             "unknown".to_owned()
//!         }
//!     };
//!     assert_eq!(stock, "unknown");
//! });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Tracing
//!
//! When tracing is on ([`otlp`](crate::otlp)), each request sent is a client span, a
//! child of the request being served (the [request context](keel_runtime::task_context)'s
//! span), and carries its context as `traceparent` (and the incoming `tracestate`), so
//! the called service continues the trace. A request that sets its own `traceparent`
//! header is sent as it is, without a client span.
//!
//! # TLS
//!
//! `https://` URLs are served over TLS: rustls driven on the caller's loop over the same
//! [`TcpStream`](keel_runtime::net::TcpStream) (no tokio, no extra thread), TLS 1.3 and
//! 1.2, SNI and certificate verification for the URL's host, ALPN `http/1.1`. Servers
//! are verified against the Mozilla roots bundled by `webpki-roots` (the same in every
//! container, `scratch` included), plus the CAs of `KEEL_CLIENT_CA` and
//! [`ClientBuilder::add_ca_file`]. The handshake counts against the connect timeout. A
//! refused certificate or handshake is [`ClientError::Tls`] naming the host and the
//! reason ([`ClientError::is_tls`]); nothing falls back to plaintext. Idle connections
//! are kept per scheme, host and port: `http` and `https` never share one. See
//! `docs/tls.md`.
//!
//! ```no_run
//! use keel_http::client::Client;
//!
//! # keel_runtime::block_on(async {
//! let client = Client::builder()
//!     .add_ca_file("/etc/ssl/internal-ca.pem")
//!     .expect("a usable CA file")
//!     .build();
//! match client.get("https://inventory.internal/items/7").send().await {
//!     Ok(res) => println!("{}", res.status()),
//!     Err(e) if e.is_tls() => eprintln!("refused: {e}"), // "TLS with inventory.internal failed: …"
//!     Err(e) => eprintln!("{e}"),
//! }
//! # });
//! ```

mod builder;
mod connection;
mod error;
mod exchange;
mod inner;
mod pool;
mod request;
mod resilient;
mod response;
mod span;
mod stream;
pub(crate) mod tls;
pub(crate) mod url;
mod websocket;

use std::rc::Rc;

pub use self::builder::{
    ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_IDLE_PER_HOST,
    DEFAULT_MAX_RESPONSE_BODY, DEFAULT_MAX_RESPONSE_HEAD, DEFAULT_MAX_RESPONSE_HEADERS,
    DEFAULT_REQUEST_TIMEOUT,
};
pub use self::error::{ClientError, TimeoutPhase};
use self::inner::Inner;
pub use self::request::RequestBuilder;
pub use self::response::Response;
use crate::proto::method::Method;

/// An HTTP/1.1 client for one loop; see the [module docs](self).
///
/// Cloning is cheap and shares the idle connections.
///
/// # Examples
///
/// ```no_run
/// use keel_http::client::Client;
///
/// # keel_runtime::block_on(async {
/// let client = Client::new();
/// let res = client
///     .get("http://inventory.internal:8080/items/7")
///     .header("accept", "application/json")
///     .send()
///     .await?;
/// if res.status().is_success() {
///     let item: serde_json::Value = res.json().await?;
///     println!("{item}");
/// }
/// # Ok::<(), keel_http::client::ClientError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    inner: Rc<Inner>,
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    /// A client with the default settings (see [`ClientBuilder`]).
    pub fn new() -> Client {
        ClientBuilder::new().build()
    }

    /// A builder for a client with other settings.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A request with `method` to `url` (`http[s]://host[:port]/path?query`).
    pub fn request(&self, method: crate::Method, url: &str) -> RequestBuilder {
        RequestBuilder::new(Rc::clone(&self.inner), method, url)
    }

    /// A `GET` request to `url`.
    pub fn get(&self, url: &str) -> RequestBuilder {
        self.request(Method::Get, url)
    }

    /// A `POST` request to `url`.
    pub fn post(&self, url: &str) -> RequestBuilder {
        self.request(Method::Post, url)
    }

    /// A `PUT` request to `url`.
    pub fn put(&self, url: &str) -> RequestBuilder {
        self.request(Method::Put, url)
    }

    /// A `PATCH` request to `url`.
    pub fn patch(&self, url: &str) -> RequestBuilder {
        self.request(Method::Patch, url)
    }

    /// A `DELETE` request to `url`.
    pub fn delete(&self, url: &str) -> RequestBuilder {
        self.request(Method::Delete, url)
    }

    /// A `HEAD` request to `url`.
    pub fn head(&self, url: &str) -> RequestBuilder {
        self.request(Method::Head, url)
    }

    /// Idle connections held for reuse, over all hosts.
    pub fn idle_connections(&self) -> usize {
        self.inner.pool.idle_count()
    }

    /// Closes every idle connection (those in use close or return as usual).
    pub fn clear_idle(&self) {
        self.inner.pool.clear();
    }
}

// `build` lives here rather than in `builder.rs`, so the builder stays below the client it
// builds (no import cycle between the two files).
impl ClientBuilder {
    /// The client.
    pub fn build(self) -> Client {
        Client {
            inner: Rc::new(Inner::new(self.config)),
        }
    }
}
