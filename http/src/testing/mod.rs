//! [`TestClient`]: an application tested without sockets, like axum's `oneshot` or
//! Fastify's `inject`. Each request is written as HTTP/1.1 bytes into the server's own
//! connection code over an in-memory stream (`server/memory.rs`), so it goes through the
//! same parser, limits, dispatch (ops endpoints, router, middleware, extractors, panic
//! catching, timeouts, error rendering, metrics) and response encoder as a request from
//! a socket; the response's bytes are parsed back into a [`TestResponse`].
//!
//! The client keeps the cookies responses set (by name, for the whole application) and
//! sends them back, like a browser on one site.
//!
//! It runs on a Keel loop: `.send().await` inside `keel_runtime::block_on` (or a test
//! that already runs on one), or [`send_blocking`](TestRequest::send_blocking) from a
//! plain `#[test]`, which starts a loop on the calling thread for the request.

mod request;
mod response;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

pub use self::request::TestRequest;
pub use self::response::TestResponse;
use crate::lifecycle::ShutdownSignal;
use crate::ops::{Ops, OpsMount};
use crate::proto::Method;
use crate::router::Router;
use crate::server::{LoopServer, ServerConfig, memory};

/// An in-memory client of one application. See the [module docs](self).
///
/// # Panics
///
/// [`new`](TestClient::new) and [`build`](TestClientBuilder::build) panic where the
/// server would refuse to start: a handler takes a [`State`](crate::State) the router
/// was not given.
///
/// # Examples
///
/// ```
/// use keel_http::{Json, Router, StatusCode, TestClient};
/// use serde_json::{Value, json};
///
/// async fn create(Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
///     (StatusCode::CREATED, Json(json!({ "name": body["name"] })))
/// }
///
/// let client = TestClient::new(Router::new().post("/users", create));
/// let res = client.post("/users").json(&json!({ "name": "Ada" })).send_blocking();
/// assert_eq!(res.status(), StatusCode::CREATED);
/// assert_eq!(res.json::<Value>()["name"], "Ada");
///
/// // Errors are rendered as they are for a socket: JSON with a code and a request id.
/// let res = client.get("/nope").send_blocking();
/// assert_eq!(res.status(), StatusCode::NOT_FOUND);
/// assert_eq!(res.json::<Value>()["code"], "not_found");
/// assert!(res.header("x-request-id").is_some());
/// ```
pub struct TestClient {
    server: Rc<LoopServer>,
    peer: SocketAddr,
    /// The cookies responses set, by name (the client's jar).
    cookies: RefCell<Vec<(String, String)>>,
}

impl TestClient {
    /// A client of `router` with the default [`ServerConfig`] and no ops endpoints.
    #[track_caller]
    pub fn new(router: Router) -> TestClient {
        TestClient::builder(router).build()
    }

    /// A client of `router`, configured before it is built.
    pub fn builder(router: Router) -> TestClientBuilder {
        TestClientBuilder {
            router,
            config: ServerConfig::default(),
            ops: None,
            peer: memory::PEER,
        }
    }

    /// A request with `method` to `target` (a path, with its query if any:
    /// `/users?page=2`).
    pub fn request(&self, method: Method, target: &str) -> TestRequest<'_> {
        TestRequest::new(self, method, target)
    }

    /// A `GET` to `target`.
    pub fn get(&self, target: &str) -> TestRequest<'_> {
        self.request(Method::Get, target)
    }

    /// A `HEAD` to `target`.
    pub fn head(&self, target: &str) -> TestRequest<'_> {
        self.request(Method::Head, target)
    }

    /// A `POST` to `target`.
    pub fn post(&self, target: &str) -> TestRequest<'_> {
        self.request(Method::Post, target)
    }

    /// A `PUT` to `target`.
    pub fn put(&self, target: &str) -> TestRequest<'_> {
        self.request(Method::Put, target)
    }

    /// A `PATCH` to `target`.
    pub fn patch(&self, target: &str) -> TestRequest<'_> {
        self.request(Method::Patch, target)
    }

    /// A `DELETE` to `target`.
    pub fn delete(&self, target: &str) -> TestRequest<'_> {
        self.request(Method::Delete, target)
    }

    /// An `OPTIONS` to `target`.
    pub fn options(&self, target: &str) -> TestRequest<'_> {
        self.request(Method::Options, target)
    }

    /// The value of the cookie `name` in the client's jar.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let jar = self.cookies.borrow();
        jar.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }

    /// Puts a cookie in the client's jar, sent with every later request.
    pub fn set_cookie(&self, name: &str, value: &str) {
        let mut jar = self.cookies.borrow_mut();
        jar.retain(|(n, _)| n != name);
        jar.push((name.to_owned(), value.to_owned()));
    }

    /// Empties the client's jar.
    pub fn clear_cookies(&self) {
        self.cookies.borrow_mut().clear();
    }

    /// The `Cookie` header of the jar (`None` when it is empty).
    fn cookie_header(&self) -> Option<String> {
        let jar = self.cookies.borrow();
        (!jar.is_empty()).then(|| {
            let pairs: Vec<String> = jar.iter().map(|(n, v)| format!("{n}={v}")).collect();
            pairs.join("; ")
        })
    }

    /// Keeps what a response's `Set-Cookie` fields say: a new value, or a removal (an
    /// expiry in the past or `Max-Age` of zero or less).
    fn store_cookies(&self, response: &TestResponse) {
        let mut jar = self.cookies.borrow_mut();
        for cookie in response.cookies() {
            jar.retain(|(n, _)| n != cookie.name());
            let expired = cookie
                .max_age()
                .is_some_and(|age| age.is_zero() || age.is_negative())
                || cookie
                    .expires_datetime()
                    .is_some_and(|at| at <= cookie::time::OffsetDateTime::now_utc());
            if !expired {
                jar.push((cookie.name().to_owned(), cookie.value().to_owned()));
            }
        }
    }

    async fn exchange(&self, input: Vec<u8>) -> Vec<u8> {
        match memory::serve_bytes(self.server.clone(), self.peer, input).await {
            Ok(output) => output,
            Err(e) => panic!("the in-memory connection failed: {e}"),
        }
    }
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient")
            .field("router", &self.server.router)
            .field("peer", &self.peer)
            .field("cookies", &self.cookies.borrow().len())
            .finish()
    }
}

/// Settings of a [`TestClient`]: [`TestClient::builder`].
#[derive(Debug)]
pub struct TestClientBuilder {
    router: Router,
    config: ServerConfig,
    ops: Option<Ops>,
    peer: SocketAddr,
}

impl TestClientBuilder {
    /// Serves with `config` (limits, timeouts, trusted proxies, environment, …) instead
    /// of the default.
    pub fn config(mut self, config: ServerConfig) -> TestClientBuilder {
        self.config = config;
        self
    }

    /// Serves the ops endpoints (`/health/*`, `/metrics`) of `ops` before the router, as
    /// a server does on its listener (a separate ops listener is not used: they are
    /// served by this client). The server counts as started, so the probes answer 200
    /// unless a readiness check fails.
    pub fn ops(mut self, ops: Ops) -> TestClientBuilder {
        self.ops = Some(ops);
        self
    }

    /// Requests come from `peer` (default `127.0.0.1:1`): what [`RemoteAddr`](crate::RemoteAddr)
    /// reports and trusted proxies are checked against.
    pub fn peer(mut self, peer: SocketAddr) -> TestClientBuilder {
        self.peer = peer;
        self
    }

    /// The client.
    ///
    /// # Panics
    ///
    /// When a handler takes a [`State`](crate::State) the router was not given.
    #[track_caller]
    pub fn build(self) -> TestClient {
        if let Err(message) = self.router.check_states() {
            panic!("TestClient: {message}");
        }
        let mount = self.ops.filter(Ops::is_enabled).map(|ops| {
            let signal = Arc::new(ShutdownSignal::default());
            signal.mark_started();
            let (surface, _listener) = ops.into_parts(signal);
            OpsMount::new(&surface)
        });
        TestClient {
            server: Rc::new(LoopServer::new(self.router, self.config, mount)),
            peer: self.peer,
            cookies: RefCell::default(),
        }
    }
}
