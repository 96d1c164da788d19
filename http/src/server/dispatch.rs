//! The one door into the application, whatever the protocol. A protocol (the HTTP/1.1
//! connection in [`h1`](super::h1), an HTTP/2 stream in [`h2`](super::h2); an in-memory
//! test client later) reads and parses a request, then hands it here and writes what comes back:
//!
//! A protocol keeps one [`Exchange`] per request stream (an HTTP/1.1 connection: one for
//! its life; an HTTP/2 stream: one of its own) and reuses it request after request: it is filled in place, never moved,
//! so a request costs no copy of its few hundred bytes.
//!
//! 1. [`Exchange::begin`]: the request's context (a well-formed client `X-Request-ID`
//!    or a new id), its server span, the client's address through trusted proxies, and
//!    the route: the ops endpoints first (probes, `/metrics`: outside the application's
//!    middleware), then the application's router.
//! 2. The protocol reads the body within [`Exchange::body_limit`] and
//!    [`Exchange::deadline`] (a refusal goes through [`Exchange::refuse`]) — unless the
//!    route [streams its body](Exchange::streams_body): then the protocol calls
//!    [`Exchange::call_streaming`] with the body unread and feeds it while the handler
//!    runs.
//! 3. [`Exchange::call`] runs the middleware chain and handler's synchronous part under
//!    the request's context with panics caught; [`Exchange::respond`] awaits it within
//!    the request timeout. A panic is a 500, a timeout a 408, and a carried error is
//!    rendered ([`render`](super::render)).
//! 4. After writing, [`Exchange::finish`] counts the RED metrics, ends the span and writes
//!    the access log line.
//!
//! Between the first step that waits and [`finish`](Exchange::finish), the request is on
//! its loop's in-flight list, so a drain past its deadline can name it.
//!
//! Not an `async fn` end to end: `call` is synchronous so the request's storage ends
//! before the first `.await` (as an `async fn` argument it would stay in every later
//! state of the connection's future).

use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Instant;

use keel_runtime::future::{CatchPanic, catch_panic_sync, within};
use keel_runtime::task_context::{self, Context};
use keel_runtime::time::CoarseInstant;

use super::LoopServer;
use super::access_log::{self, AccessLine};
use super::render::{self, refusal};
use super::request_id::new_request_id;
use super::tls::ClientIdentity;
use super::trace::{self, ServerSpan};
use crate::body::Body;
use crate::error::AppError;
use crate::handler::{BoxFuture, BoxedHandler};
use crate::metrics::InFlightCount;
use crate::middleware::Next;
use crate::params::Params;
use crate::proto::{BodyLength, Method, RequestHead, Version};
use crate::request::Request;
use crate::request_body::RequestBody;
use crate::response::{IntoResponse, Response};
use crate::router::{Resolved, error_endpoint};
use crate::status::StatusCode;

/// The handler's future, or the message of a panic in its synchronous part.
pub(crate) type Call = Result<BoxFuture<Response>, String>;

/// One request on its way through the application (and, between requests, the
/// connection's place for the next one).
pub(crate) struct Exchange {
    server: Rc<LoopServer>,
    peer: SocketAddr,
    /// Timeouts are seconds long and the duration metric's buckets start at 5 ms: the
    /// coarse clock serves both. The access log's milliseconds need the precise one.
    started: CoarseInstant,
    started_precise: Option<Instant>,
    method: Method,
    /// The request's protocol, for the access log.
    version: Version,
    /// The matched route: its pattern (the metrics' and the log's label) and parameters
    /// (taken by the request in [`call`](Exchange::call)).
    route_label: Option<Rc<str>>,
    params: Option<Params>,
    endpoint: Option<BoxedHandler>,
    body_limit: u64,
    /// The route's handler reads the body as it arrives (`Router::streaming_body`).
    streams_body: bool,
    /// The path, kept only for the access log of a request no route matched.
    access_path: Option<String>,
    forwarded_ip: Option<IpAddr>,
    /// The request's context, renewed in place per request when nothing kept a clone of
    /// the previous one (no allocation per request).
    ctx: Context,
    span: Option<ServerSpan>,
    /// Probes and `/metrics`: not traced (their spans would be noise).
    is_ops: bool,
    /// The request ran past the request timeout: its connection must not be reused.
    timed_out: bool,
    /// Counts the request in the in-flight gauge while it is answered.
    in_flight_count: Option<InFlightCount>,
    in_flight: Option<InFlightGuard>,
    /// The connection's verified client certificate (mTLS), put on each request.
    client_identity: Option<ClientIdentity>,
}

impl Exchange {
    /// The exchange of a request stream from `peer`, before its first request.
    pub(crate) fn new(server: Rc<LoopServer>, peer: SocketAddr) -> Exchange {
        Exchange {
            server,
            peer,
            started: CoarseInstant::now(),
            started_precise: None,
            method: Method::Get,
            version: Version::Http11,
            route_label: None,
            params: None,
            endpoint: None,
            body_limit: 0,
            streams_body: false,
            access_path: None,
            forwarded_ip: None,
            ctx: Context::new(String::new()),
            span: None,
            is_ops: false,
            timed_out: false,
            in_flight_count: None,
            in_flight: None,
            client_identity: None,
        }
    }

    /// Puts `identity` (the connection's verified client certificate) on every request.
    pub(crate) fn set_client_identity(&mut self, identity: Option<ClientIdentity>) {
        self.client_identity = identity;
    }

    /// Starts answering the request `head` (whose bytes are `head_bytes`): renews the
    /// context, starts the span and resolves the route.
    #[inline]
    pub(crate) fn begin(&mut self, head: &RequestHead, head_bytes: &[u8]) {
        self.started = CoarseInstant::now();
        self.timed_out = false;
        debug_assert!(
            self.in_flight.is_none(),
            "the previous request was finished"
        );
        let server = &*self.server;
        let config = &server.config;
        self.started_precise = config.access_log.then(Instant::now);
        // The request's context: a well-formed `X-Request-ID` from the client, else a
        // new id. Current while the middleware and handler run (and in everything they
        // spawn), echoed on the response, written in the access log.
        let client_id = head
            .header(head_bytes, "x-request-id")
            .and_then(|v| std::str::from_utf8(v).ok())
            .filter(|v| valid_request_id(v));
        match client_id {
            Some(id) => self.ctx.renew(id),
            None => self.ctx.renew(new_request_id().as_str()),
        }
        self.span = trace::start_request(&mut self.ctx, head, head_bytes);
        // The client's address from a trusted proxy's header; none configured, one branch.
        let proxies = &config.trusted_proxies;
        self.forwarded_ip = if proxies.is_empty() {
            None
        } else {
            proxies.resolve(self.peer.ip(), head, head_bytes)
        };
        self.in_flight_count = Some(server.stats.start());
        let path = keel_runtime::ascii::to_str(head.path(head_bytes)).unwrap_or("/");
        // The ops endpoints come before the application, without its middleware: one
        // comparison per ops path.
        let ops = server.ops.as_ref().filter(|ops| ops.matches(path));
        self.is_ops = ops.is_some();
        let router = ops.map_or(&server.router, |ops| &ops.router);
        let (body_limit, streams_body) = match router.resolve(head.method(), path) {
            Resolved::Found {
                handler,
                pattern,
                params,
                body_limit,
                streams_body,
            } => {
                self.endpoint = Some(handler);
                self.route_label = Some(pattern);
                self.params = Some(params);
                (body_limit, streams_body)
            }
            Resolved::Fallback(handler) => {
                self.endpoint = Some(handler);
                self.params = None;
                self.route_label = None;
                (None, false)
            }
            Resolved::Error(err, pattern, allow) => {
                self.endpoint = Some(error_endpoint(err, allow));
                self.params = pattern.is_some().then(Params::default);
                self.route_label = pattern;
                (None, false)
            }
        };
        self.streams_body = streams_body;
        self.body_limit = body_limit.unwrap_or(config.limits.max_body_size);
        // Only an unmatched request is logged by its path: a route's pattern says more.
        self.access_path =
            (self.route_label.is_none() && config.access_log).then(|| path.to_owned());
        self.method = head.method().clone();
        self.version = head.version();
    }

    /// The most body bytes this request's route accepts.
    pub(crate) fn body_limit(&self) -> u64 {
        self.body_limit
    }

    /// Whether the route's handler reads the body as it arrives: the protocol hands it
    /// a [`RequestBody`] through [`call_streaming`](Exchange::call_streaming) instead of
    /// reading the body first.
    pub(crate) fn streams_body(&self) -> bool {
        self.streams_body
    }

    /// The refusal for a body whose declared length is over the route's limit, before
    /// any of it is read.
    pub(crate) fn check_declared_length(&self, framing: BodyLength) -> Result<(), AppError> {
        match framing {
            BodyLength::Known(n) if n > self.body_limit => Err(refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "request body of {n} bytes is over the limit of {} bytes",
                    self.body_limit
                ),
            )),
            _ => Ok(()),
        }
    }

    /// When the request must be answered: its start plus the request timeout. Asking
    /// means the request waits, so from now on it is on the in-flight list.
    pub(crate) fn deadline(&mut self) -> Instant {
        self.waits();
        self.started.to_instant() + self.server.config.request_timeout
    }

    /// The request id (echoed on the response).
    pub(crate) fn request_id(&self) -> &str {
        self.ctx.request_id()
    }

    /// Puts the request on its loop's in-flight list (once).
    fn waits(&mut self) {
        if self.in_flight.is_none() {
            let key = self.server.in_flight.enter(
                &self.method,
                self.route_label.clone(),
                self.peer,
                self.started,
            );
            self.in_flight = Some(InFlightGuard(self.server.clone(), key));
        }
    }

    /// The response for a request the server refuses itself (its body broke a rule or
    /// did not arrive): counted as a rejection, rendered, and access-logged by
    /// [`finish_refused`](Exchange::finish_refused).
    pub(crate) fn refuse(&self, err: AppError) -> Response {
        refuse(&self.server, err, self.ctx.request_id())
    }

    /// Runs the middleware chain and handler's synchronous part (extractors included)
    /// under the request's context, with panics caught. Only the (boxed) future it
    /// returns moves on, not the request.
    #[inline]
    pub(crate) fn call(&mut self, head_bytes: Vec<u8>, head: RequestHead, body: Vec<u8>) -> Call {
        self.call_with(head_bytes, head, body, None)
    }

    /// [`call`](Exchange::call) for a route that [streams its body](Exchange::streams_body):
    /// the request carries `body`, unread, for the handler's [`RequestBody`] extractor.
    pub(crate) fn call_streaming(
        &mut self,
        head_bytes: Vec<u8>,
        head: RequestHead,
        body: RequestBody,
    ) -> Call {
        self.call_with(head_bytes, head, Vec::new(), Some(body))
    }

    #[inline(always)]
    fn call_with(
        &mut self,
        head_bytes: Vec<u8>,
        head: RequestHead,
        body: Vec<u8>,
        streamed: Option<RequestBody>,
    ) -> Call {
        let route = self.route_label.clone().zip(self.params.take());
        let state = self.server.router.state();
        let endpoint = self.endpoint.take().expect("an exchange is called once");
        // The ops endpoints run without the application's middleware.
        let layers = if self.is_ops {
            self.server.no_layers.clone()
        } else {
            self.server.layers.clone()
        };
        // The closure borrows the request and takes it only in the call: moved into it,
        // its few hundred bytes would be copied twice more per request.
        let mut req = Some(Request::from_parts(
            head_bytes, head, body, route, self.peer, state,
        ));
        if let (Some(ip), Some(req)) = (self.forwarded_ip, req.as_mut()) {
            req.set_forwarded_ip(ip);
        }
        if let (Some(identity), Some(req)) = (&self.client_identity, req.as_mut()) {
            req.insert_extension(identity.clone());
        }
        if let (Some(body), Some(req)) = (streamed, req.as_mut()) {
            req.insert_extension(body);
        }
        let ctx = &self.ctx;
        catch_panic_sync(|| {
            task_context::enter(Some(ctx.clone()), || {
                let req = req.take().expect("the chain is called once");
                Next::new(layers, endpoint).run(req)
            })
        })
    }

    /// Awaits the handler within the request timeout (counted from the request's start;
    /// a timer is armed only if the handler has to wait) and renders the response
    /// ([`timed_out`](Exchange::timed_out) says whether the request ran out of time).
    pub(crate) async fn respond(&mut self, call: Call) -> Response {
        let outcome = match call {
            Ok(future) => {
                let future = CatchPanic::new(task_context::scope(self.ctx.clone(), future));
                let deadline = || self.deadline();
                within(deadline, future).await
            }
            Err(message) => Ok(Err(message)),
        };
        let mut response = match outcome {
            Ok(Ok(response)) => response,
            Ok(Err(message)) => {
                tracing::error!(peer = %self.peer, panic = %message, "handler panicked; answered 500");
                AppError::internal(format!("handler panicked: {message}")).into_response()
            }
            Err(_elapsed) => {
                self.timed_out = true;
                render::timed_out("the request took longer than the request timeout")
                    .into_response()
            }
        };
        render::render(
            &mut response,
            self.ctx.request_id(),
            self.server.config.environment,
        );
        if matches!(response.body(), Body::Stream(_)) {
            // Still being answered while its body streams.
            self.waits();
        }
        response
    }

    /// Whether the request ran past the request timeout (its connection must not be
    /// reused).
    pub(crate) fn timed_out(&self) -> bool {
        self.timed_out
    }

    /// The request was answered with `status` and `bytes` of body: RED metrics, the
    /// span's end, the access log line; off the in-flight list and the gauge.
    #[inline]
    pub(crate) fn finish(&mut self, status: u16, bytes: u64) {
        self.end();
        let took = self
            .started_precise
            .map_or_else(|| self.started.elapsed(), |s| s.elapsed());
        self.server
            .stats
            .request(&self.method, self.route_label.as_ref(), status, took);
        if self.server.config.access_log {
            self.access_log(status, bytes);
            self.access_path = None;
        }
        if let Some(span) = self.span.take()
            && !self.is_ops
        {
            span.end(&self.method, self.route_label.as_deref(), status);
        }
    }

    /// A request refused by [`refuse`](Exchange::refuse) was answered with `status`:
    /// only its access log line (rejections have their own counter).
    pub(crate) fn finish_refused(&mut self, status: u16) {
        self.end();
        // Never called: the handler and its route go unused.
        self.endpoint = None;
        self.params = None;
        self.access_log(status, 0);
        self.span = None;
    }

    /// Lets go of what the request held while it was answered (the handler and its
    /// parameters went to the call).
    #[inline]
    fn end(&mut self) {
        self.in_flight = None;
        self.in_flight_count = None;
    }

    #[cold]
    fn access_log(&self, status: u16, bytes: u64) {
        if !access_log::enabled(self.server.config.access_log) {
            return;
        }
        access_log::write(&AccessLine {
            started: self.started_precise,
            method: &self.method,
            protocol: self.version,
            route: self.route_label.as_deref(),
            path: self.access_path.as_deref(),
            ctx: &self.ctx,
            peer: self.peer,
            forwarded_ip: self.forwarded_ip,
            status,
            bytes,
        });
    }
}

/// The response for a request the server refuses before it is an exchange (a malformed
/// head, a head that came too slowly) or instead of running it: counted as a rejection
/// and rendered with `request_id`.
pub(crate) fn refuse(server: &LoopServer, err: AppError, request_id: &str) -> Response {
    server.stats.reject(err.status().as_u16(), err.code());
    let mut response = err.into_response();
    render::render(&mut response, request_id, server.config.environment);
    response
}

/// Removes a request from its loop's in-flight list when it is answered (or dropped).
struct InFlightGuard(Rc<LoopServer>, usize);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.in_flight.leave(self.1);
    }
}

/// An `X-Request-ID` we accept from clients: 1–128 characters of `[A-Za-z0-9._:-]`.
fn valid_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids() {
        assert!(valid_request_id("abc-123_x.y:z"));
        assert!(!valid_request_id(""));
        assert!(!valid_request_id("has space"));
        assert!(!valid_request_id(&"a".repeat(129)));
        assert!(valid_request_id(new_request_id().as_str()));
    }
}
