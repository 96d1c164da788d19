//! One connection's task: read → parse → route → read body → middleware + handler →
//! encode, in a loop, with keep-alive, pipelining, limits and timeouts.
//!
//! # Buffers
//!
//! `rbuf[start..]` holds bytes read but not yet consumed. Every complete request in it
//! is answered before the next read, and the answers to one read are batched in `wbuf`
//! and written with one syscall (pipelining). `rbuf` grows only to fit one head at the
//! head-size limit; bodies stream through it into the request's own buffer.
//!
//! # Timeouts
//!
//! * idle between requests: the keep-alive timeout, then a silent close;
//! * from a request's first byte to its complete head: the headers timeout → 408, close;
//! * from the complete head to the written response: the request timeout → 408, close;
//! * each write of `wbuf` to a peer that does not read: the request timeout, then a
//!   silent close (and `wbuf` holds at most [`MAX_PENDING_WRITE`] plus one response).
//!
//! # Transport
//!
//! [`Conn`] is generic over its byte stream ([`Transport`]): a [`TcpStream`] when
//! serving, memory in the benches (`super::memory`), so both run this same code.

use std::borrow::Cow;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use keel_runtime::net::TcpStream;
use keel_runtime::task_context::{self, Context};
use keel_runtime::time::{CoarseInstant, Sleep, sleep_until, timeout_at};

use super::catch_panic::{CatchPanic, catch};
use super::config::Environment;
use super::request_id::new_request_id;
use super::select::{Either, select};
use super::within::within;
use super::{LoopServer, OpenGuard};
use crate::body::{Body, BodyStream};
use crate::error::AppError;
use crate::limits::Limits;
use crate::middleware::Next;
use crate::proto::decode::Decoder;
use crate::proto::encode::{BodyEncoder, CONTINUE, Connection, Framing, HeadEncoder};
use crate::proto::parse::{ParseError, Status, parse_request_into};
use crate::proto::{BodyLength, Method, RequestHead, Version};
use crate::request::Request;
use crate::response::{IntoResponse, Response};
use crate::router::{Params, Resolved, error_endpoint};
use crate::status::StatusCode;
use crate::trusted_proxies::Remote;

const INITIAL_READ_BUFFER: usize = 8 * 1024;
/// A few responses' worth: the buffer grows (and stays grown) for larger or pipelined
/// answers, so an idle keep-alive connection holds a quarter of a page, not two pages.
const INITIAL_WRITE_BUFFER: usize = 1024;
/// Pending responses above this size are written out before parsing more pipelined
/// requests, so a pipelining client cannot make the server buffer without bound.
const MAX_PENDING_WRITE: usize = 64 * 1024;

/// Serves one accepted connection until it closes, then lets go of its `open` count.
///
/// Not an `async fn`: the connection is built here and moved into the future once. As
/// arguments of an `async fn`, the stream and the rest would keep a second copy of
/// their bytes in every connection's future.
pub(crate) fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    server: Rc<LoopServer>,
    open: OpenGuard,
) -> impl Future<Output = ()> + 'static {
    let _ = stream.set_nodelay(true);
    let mut conn = Conn::new(stream, peer, server);
    async move {
        if let Err(e) = conn.run().await {
            tracing::debug!(peer = %conn.peer, error = %e, "connection ended with an I/O error");
        }
        drop(conn);
        drop(open);
    }
}

/// The byte stream under a connection.
pub(crate) trait Transport {
    /// Appends to `buf` what arrives, within its spare capacity; `Ok(0)` is the end of
    /// the stream (the caller always leaves spare capacity).
    async fn read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize>;
    /// Writes all of `buf`.
    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Appends what the OS already holds, without waiting (`WouldBlock` when nothing).
    fn try_read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize>;
}

impl Transport for TcpStream {
    async fn read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        TcpStream::read_buf(self, buf).await
    }

    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        TcpStream::write_all(self, buf).await
    }

    fn try_read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        TcpStream::try_read_buf(self, buf)
    }
}

/// One connection's buffers and state over the byte stream `S`.
pub(crate) struct Conn<S> {
    stream: S,
    peer: SocketAddr,
    /// Bytes read and not yet consumed are `rbuf[start..]`; its spare capacity is not
    /// zeroed, so an idle connection's buffer costs only the pages reads touched.
    rbuf: Vec<u8>,
    start: usize,
    wbuf: Vec<u8>,
    /// Body bytes of the response being written, for the access log.
    body_bytes: u64,
    /// The head the next request is parsed into.
    head: RequestHead,
    /// The keep-alive timer, kept between idle stretches (see `read_idle`).
    idle_timer: Option<Sleep>,
    /// The current request's context, renewed in place per request when nothing kept a
    /// clone of the previous one (no allocation per request).
    ctx: Context,
    server: Rc<LoopServer>,
}

/// Whether to keep serving after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    KeepAlive,
    Close,
}

/// A streamed response body still to be written, with its chunk encoder.
type PendingStream = (std::pin::Pin<Box<dyn BodyStream>>, BodyEncoder);

/// What a read that waits for the peer found.
enum Read {
    Data,
    Eof,
    TimedOut,
    Draining,
}

impl<S: Transport> Conn<S> {
    pub(crate) fn new(stream: S, peer: SocketAddr, server: Rc<LoopServer>) -> Conn<S> {
        Conn {
            stream,
            peer,
            rbuf: Vec::with_capacity(INITIAL_READ_BUFFER),
            start: 0,
            wbuf: Vec::with_capacity(INITIAL_WRITE_BUFFER),
            body_bytes: 0,
            head: RequestHead::default(),
            idle_timer: None,
            ctx: Context::new(String::new()),
            server,
        }
    }

    /// The byte stream.
    pub(crate) fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Forgets unread bytes and pending output, keeping the buffers' memory: the state
    /// of a freshly accepted connection.
    pub(crate) fn reset(&mut self) {
        self.start = 0;
        self.rbuf.clear();
        self.wbuf.clear();
    }

    /// Serves requests until the peer closes, the connection must close, or it idles out.
    pub(crate) async fn run(&mut self) -> io::Result<()> {
        let mut head_deadline: Option<Instant> = None;
        // The body limit depends on the route (`Router::body_limit` may raise it above
        // the server default), so `handle` checks it after routing, not the parser.
        let limits = Limits {
            max_body_size: u64::MAX,
            ..self.server.config.limits
        };
        loop {
            let pending = &self.rbuf[self.start..];
            // Parsed into a head from the thread's shelf, which the request puts back
            // when it drops: no allocation for its header index.
            match parse_request_into(pending, &limits, &mut self.head) {
                Ok(Status::Complete(_)) => {
                    head_deadline = None;
                    let head = std::mem::take(&mut self.head);
                    let (head_bytes, index) = crate::recycle::request();
                    self.head.set_index(index);
                    let next = self.handle(head, head_bytes).await?;
                    if next == After::Close {
                        return self.flush().await;
                    }
                    if self.wbuf.len() >= MAX_PENDING_WRITE {
                        self.flush().await?;
                    }
                }
                Ok(Status::Partial) => {
                    // Answers to everything read so far go out before waiting for more.
                    self.flush().await?;
                    let idle = self.start == self.rbuf.len();
                    if idle && self.server.drain.is_draining() {
                        // A request whose bytes already arrived is still answered.
                        match self.read_now()? {
                            Read::Data => continue,
                            _ => return Ok(()),
                        }
                    }
                    let read = if idle {
                        self.read_idle().await?
                    } else {
                        let deadline = *head_deadline.get_or_insert_with(|| {
                            Instant::now() + self.server.config.headers_timeout
                        });
                        self.read_until(deadline).await?
                    };
                    match read {
                        Read::Data => {}
                        Read::Eof | Read::Draining => return Ok(()),
                        Read::TimedOut if idle => return Ok(()),
                        Read::TimedOut => {
                            let err = AppError::new(
                                StatusCode::REQUEST_TIMEOUT,
                                "request_timeout",
                                "the request head did not arrive in time",
                            );
                            self.write_error(
                                err,
                                Version::Http11,
                                false,
                                new_request_id().as_str(),
                            );
                            return self.flush().await;
                        }
                    }
                }
                Err(e) => {
                    // The refused head is over: its headers deadline must not carry over
                    // to the next request on this connection.
                    head_deadline = None;
                    let close = e.must_close()
                        || e.head_len().is_none()
                        || !e.keep_alive()
                        || self.server.drain.is_draining();
                    let version = e.version().unwrap_or(Version::Http11);
                    self.write_error(
                        protocol_error(&e),
                        version,
                        !close,
                        new_request_id().as_str(),
                    );
                    if close {
                        return self.flush().await;
                    }
                    self.start += e.head_len().unwrap_or(0);
                }
            }
        }
    }

    /// Answers one parsed request; its head is at `rbuf[start..]` and is copied into
    /// `head_bytes` (empty) for the request to own.
    async fn handle(&mut self, head: RequestHead, mut head_bytes: Vec<u8>) -> io::Result<After> {
        // Timeouts are seconds long and the duration metric's buckets start at 5 ms: the
        // coarse clock serves both. The access log's milliseconds need the precise one.
        let started = CoarseInstant::now();
        let started_precise = self.server.config.access_log.then(Instant::now);
        let request_timeout = self.server.config.request_timeout;
        let head_len = head.head_len();
        head_bytes.extend_from_slice(&self.rbuf[self.start..self.start + head_len]);
        self.start += head_len;

        let is_head = *head.method() == Method::Head;
        let version = head.version();
        let mut keep_alive = head.keep_alive() && !self.server.drain.is_draining();
        // The request's context: a well-formed `X-Request-ID` from the client, else a
        // new id. Current while the middleware and handler run (and in everything they
        // spawn), echoed on the response, written in the access log.
        let client_id = head
            .header(&head_bytes, "x-request-id")
            .and_then(|v| std::str::from_utf8(v).ok())
            .filter(|v| valid_request_id(v));
        match client_id {
            Some(id) => self.ctx.renew(id),
            None => self.ctx.renew(new_request_id().as_str()),
        }
        let server_span = super::trace::start_request(&mut self.ctx, &head, &head_bytes);
        let ctx = self.ctx.clone();
        self.body_bytes = 0;
        // The client's address from a trusted proxy's header; none configured, one branch.
        let proxies = &self.server.config.trusted_proxies;
        let forwarded_ip = if proxies.is_empty() {
            None
        } else {
            proxies.resolve(self.peer.ip(), &head, &head_bytes)
        };

        let path = std::str::from_utf8(head.path(&head_bytes)).unwrap_or("/");
        // Only an unmatched request is logged by its path: a route's pattern says more.
        let mut access_path = None;
        let _in_flight = self.server.stats.start();
        let method = head.method().clone();
        // The ops endpoints (health probes, `/metrics`) come before the application,
        // without its middleware: one comparison per ops path.
        let ops = self.server.ops.as_ref().filter(|ops| ops.matches(path));
        let metrics = crate::metrics::route(&self.server.config, head.method(), path);
        let is_ops = ops.is_some() || metrics.is_some();
        let (endpoint, route, body_limit) = match metrics {
            Some(handler) => (
                handler,
                Some((self.server.metrics_route.clone(), Params::default())),
                None,
            ),
            None => {
                let router = ops.map_or(&self.server.router, |ops| &ops.router);
                match router.resolve(head.method(), path) {
                    Resolved::Found {
                        handler,
                        pattern,
                        params,
                        body_limit,
                    } => (handler, Some((pattern, params)), body_limit),
                    Resolved::Error(err, pattern, allow) => (
                        error_endpoint(err, allow),
                        pattern.map(|p| (p, Params::default())),
                        None,
                    ),
                }
            }
        };
        if route.is_none() && self.server.config.access_log {
            access_path = Some(path.to_owned());
        }
        let route_label = route.as_ref().map(|(pattern, _)| pattern.clone());
        let access = Access {
            started: started_precise,
            method: &method,
            route: route_label.as_deref(),
            path: access_path.as_deref(),
            ctx: &ctx,
            forwarded_ip,
        };
        let limit = body_limit.unwrap_or(self.server.config.limits.max_body_size);
        let layers = if is_ops {
            Rc::from([])
        } else {
            self.server.layers.clone()
        };
        // On the loop's in-flight list (for the drain report) from the first step that
        // waits: a request answered without waiting can never be found in flight.
        let mut in_flight: Option<InFlightGuard> = None;
        let (server, peer) = (self.server.clone(), self.peer);
        let enter = || {
            let key = server
                .in_flight
                .enter(&method, route_label.clone(), peer, started);
            InFlightGuard(server.clone(), key)
        };

        // The body, read in full before the handler runs.
        let body = match head.body() {
            BodyLength::Empty => Vec::new(),
            BodyLength::Known(n) if n > limit => {
                let err = AppError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("request body of {n} bytes is over the limit of {limit} bytes"),
                );
                let status = err.status().as_u16();
                self.write_error(err, version, false, ctx.request_id());
                self.access_log(&access, status);
                return Ok(After::Close);
            }
            framing => {
                in_flight = Some(enter());
                if head.expect_continue() && self.start == self.rbuf.len() {
                    self.wbuf.extend_from_slice(CONTINUE);
                    self.flush().await?;
                }
                let deadline = started.to_instant() + request_timeout;
                match self.read_body(framing, limit, deadline).await? {
                    Ok(body) => body,
                    Err(err) => {
                        if let Some(err) = err {
                            let status = err.status().as_u16();
                            self.write_error(err, version, false, ctx.request_id());
                            self.access_log(&access, status);
                        }
                        return Ok(After::Close);
                    }
                }
            }
        };

        // The chain is called here, under the request's context and `catch`: extractors
        // and the handler's own call run synchronously in `run`, and a panic there must
        // be a 500 too. Only the (boxed) future it returns moves on, not the request.
        // The closures borrow the request and take it only in the call: moved into
        // each closure, its few hundred bytes would be copied twice more per request.
        // In a block, so the request's storage ends before the first `.await` below:
        // otherwise every later state of this future keeps room for it.
        let started_call = {
            let state = self.server.router.state();
            let mut req = Some(Request::from_parts(
                head_bytes, head, body, route, self.peer, state,
            ));
            if let (Some(ip), Some(req)) = (forwarded_ip, req.as_mut()) {
                req.set_forwarded_ip(ip);
            }
            catch(|| {
                task_context::enter(Some(ctx.clone()), || {
                    let req = req.take().expect("the chain is called once");
                    Next::new(layers, endpoint).run(req)
                })
            })
        };
        // The deadline counts from the request's start, but is only computed (and a
        // timer armed) if the handler has to wait.
        let deadline = || {
            in_flight.get_or_insert_with(enter);
            started.to_instant() + request_timeout
        };
        let outcome = match started_call {
            Ok(future) => {
                let future = CatchPanic::new(task_context::scope(ctx.clone(), future));
                within(deadline, future).await
            }
            Err(message) => Ok(Err(message)),
        };
        let response = match outcome {
            Ok(Ok(response)) => response,
            Ok(Err(message)) => {
                tracing::error!(peer = %self.peer, panic = %message, "handler panicked; answered 500");
                AppError::internal(format!("handler panicked: {message}")).into_response()
            }
            Err(_elapsed) => {
                keep_alive = false;
                AppError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    "the request took longer than the request timeout",
                )
                .into_response()
            }
        };
        if self.server.drain.is_draining() {
            keep_alive = false;
        }
        let status = response.status().as_u16();
        if matches!(response.body(), Body::Stream(_)) {
            in_flight.get_or_insert_with(enter);
        }
        let after = self
            .write_response(response, is_head, version, keep_alive, ctx.request_id())
            .await;
        drop(in_flight);
        let stats = &self.server.stats;
        let took = started_precise.map_or_else(|| started.elapsed(), |s| s.elapsed());
        stats.request(&method, route_label.as_ref(), status, took);
        self.access_log(&access, status);
        // Probes and `/metrics` are not traced: their spans would be noise.
        if let Some(span) = server_span
            && !is_ops
        {
            span.end(&method, route_label.as_deref(), status);
        }
        after
    }

    /// Reads a body of `framing` up to `limit`. `Ok(Err(Some(e)))`: answer `e` and close;
    /// `Ok(Err(None))`: close silently (the peer left).
    async fn read_body(
        &mut self,
        framing: BodyLength,
        limit: u64,
        deadline: Instant,
    ) -> io::Result<Result<Vec<u8>, Option<AppError>>> {
        let mut decoder = Decoder::new(framing, limit);
        let mut body = Vec::new();
        if let BodyLength::Known(n) = framing {
            body.reserve_exact(n as usize);
        }
        loop {
            let input = &self.rbuf[self.start..];
            match decoder.decode(input, |data| body.extend_from_slice(data)) {
                Ok(progress) => {
                    self.start += progress.consumed;
                    if progress.done {
                        return Ok(Ok(body));
                    }
                }
                Err(e) => {
                    let status =
                        StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
                    let code = if e.status() == 413 {
                        "payload_too_large"
                    } else {
                        "bad_request"
                    };
                    return Ok(Err(Some(AppError::new(status, code, e.reason()))));
                }
            }
            match self.read_until(deadline).await? {
                Read::Data => {}
                Read::Eof | Read::Draining => return Ok(Err(None)),
                Read::TimedOut => {
                    return Ok(Err(Some(AppError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "request_timeout",
                        "the request body did not arrive in time",
                    ))));
                }
            }
        }
    }

    /// Makes room at the end of `rbuf`: moves unread bytes to the front, and grows the
    /// buffer when a head larger than it is still within the limit.
    fn reserve(&mut self) {
        if self.start == self.rbuf.len() {
            self.start = 0;
            self.rbuf.clear();
        }
        if self.rbuf.len() < self.rbuf.capacity() {
            return;
        }
        if self.start > 0 {
            self.rbuf.drain(..self.start);
            self.start = 0;
            return;
        }
        // Full of one unfinished head: grow, up to one byte past the head limit so the
        // parser can see the head is too large.
        let cap = self.server.config.limits.max_head_size + 1;
        let len = self.rbuf.len();
        let new_cap = (len * 2).clamp(INITIAL_READ_BUFFER, cap.max(INITIAL_READ_BUFFER));
        // Past the limit, body bytes stream through: a full buffer there means a head
        // over the limit, which the parser reports before another read.
        let more = if new_cap > len {
            new_cap - len
        } else {
            INITIAL_READ_BUFFER
        };
        self.rbuf.reserve_exact(more);
    }

    async fn read_once(&mut self) -> io::Result<Read> {
        self.reserve();
        let n = self.stream.read_buf(&mut self.rbuf).await?;
        self.server.stats.bytes_in(n);
        if n == 0 {
            return Ok(Read::Eof);
        }
        Ok(Read::Data)
    }

    /// Reads what has already arrived in the socket, without waiting (and without
    /// trusting the cached readiness, which may lag behind the loop's next I/O poll): a
    /// request whose bytes arrived before the drain is still answered.
    fn read_now(&mut self) -> io::Result<Read> {
        self.reserve();
        match self.stream.try_read_buf(&mut self.rbuf) {
            Ok(0) => Ok(Read::Eof),
            Ok(_) => Ok(Read::Data),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Read::Draining),
            Err(e) => Err(e),
        }
    }

    async fn read_until(&mut self, deadline: Instant) -> io::Result<Read> {
        match timeout_at(deadline, self.read_once()).await {
            Ok(read) => read,
            Err(_) => Ok(Read::TimedOut),
        }
    }

    /// Waits for the next request on an idle keep-alive connection, giving up at the
    /// keep-alive timeout or when the server starts draining.
    ///
    /// The keep-alive timer lives as long as the connection: armed once, it is moved
    /// only when it fires before this idle stretch's deadline (the connection was busy
    /// in between), so waiting between requests costs no timer-wheel operation.
    async fn read_idle(&mut self) -> io::Result<Read> {
        let keepalive = self.server.config.keepalive_timeout;
        let idle_since = CoarseInstant::now();
        let server = self.server.clone();
        let mut timer = self
            .idle_timer
            .take()
            .unwrap_or_else(|| sleep_until(idle_since.to_instant() + keepalive));
        // This idle stretch's deadline, worked out when the timer first fires.
        let mut deadline = None;
        let outcome = loop {
            let read = select(self.read_once(), &mut timer);
            match select(read, server.drain.wait()).await {
                Either::Left(Either::Left(read)) => break read,
                Either::Left(Either::Right(())) => {
                    let due = *deadline.get_or_insert_with(|| idle_since.to_instant() + keepalive);
                    if Instant::now() >= due {
                        break Ok(Read::TimedOut);
                    }
                    timer.reset(due);
                }
                // A request whose bytes already arrived is still answered.
                Either::Right(()) => break self.read_now(),
            }
        };
        self.idle_timer = Some(timer);
        outcome
    }

    async fn flush(&mut self) -> io::Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let request_timeout = self.server.config.request_timeout;
        let written = within(
            || Instant::now() + request_timeout,
            self.stream.write_all(&self.wbuf),
        )
        .await;
        if matches!(written, Ok(Ok(()))) {
            self.server.stats.bytes_out(self.wbuf.len());
        }
        self.wbuf.clear();
        match written {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "peer stopped reading",
            )),
        }
    }

    /// Encodes an error response (rendered centrally) into `wbuf`.
    fn write_error(&mut self, err: AppError, version: Version, keep_alive: bool, request_id: &str) {
        // Every refusal before a handler runs comes through here.
        let status = err.status().as_u16();
        self.server.stats.reject(status, err.code());
        // An error response has a sized body, so nothing is handed back to stream.
        let _ = self.encode_head(err.into_response(), false, version, keep_alive, request_id);
    }

    async fn write_response(
        &mut self,
        response: Response,
        is_head: bool,
        version: Version,
        keep_alive: bool,
        request_id: &str,
    ) -> io::Result<After> {
        let (next, stream) = self.encode_head(response, is_head, version, keep_alive, request_id);
        if let Some((stream, encoder)) = stream {
            self.flush().await?;
            self.stream_body(stream, encoder).await?;
        }
        Ok(next)
    }

    /// Encodes status, headers and a sized body into `wbuf`; a streamed body is handed
    /// back with its encoder.
    fn encode_head(
        &mut self,
        mut response: Response,
        is_head: bool,
        version: Version,
        mut keep_alive: bool,
        request_id: &str,
    ) -> (After, Option<PendingStream>) {
        if let Some(err) = response.take_error() {
            if err.status().is_server_error() {
                tracing::error!(
                    request_id,
                    code = err.code(),
                    message = err.message(),
                    "request failed"
                );
            }
            let show_internal = self.server.config.environment == Environment::Development;
            if let Some(after) = err.retry_after_header()
                && response.header("retry-after").is_none()
            {
                response.set_header("retry-after", after);
            }
            response.set_header("content-type", "application/json");
            response.set_body(err.to_json(request_id, show_internal));
        }
        let (status, headers, body) = response.into_parts();
        if matches!(body, Body::Stream(_)) && version == Version::Http10 {
            keep_alive = false;
        }
        let connection = if !keep_alive {
            Connection::Close
        } else if version == Version::Http10 {
            Connection::KeepAlive
        } else {
            Connection::Default
        };
        let mark = self.wbuf.len();
        let mut encoder = HeadEncoder::new(&mut self.wbuf, status.as_u16(), is_head);
        let mut bad_header = false;
        // The request id is echoed unless the response set its own.
        let mut has_id = false;
        let mut checked = self.server.checked_statics.borrow_mut();
        for (name, value) in &headers {
            has_id |= name.len() == 12 && name.eq_ignore_ascii_case("x-request-id");
            let written = match (name, value) {
                (Cow::Borrowed(name), Cow::Borrowed(value)) => {
                    encoder.static_header(name, value, &mut checked)
                }
                _ => encoder.header(name.as_bytes(), value.as_bytes()),
            };
            if written.is_err() {
                bad_header = true;
                break;
            }
        }
        drop(checked);
        if !bad_header && !has_id {
            // Valid by construction: a generated id, or a client's that passed
            // `valid_request_id`.
            encoder.trusted_header(b"x-request-id", request_id.as_bytes());
        }
        crate::recycle::give_headers(headers);
        if bad_header {
            self.wbuf.truncate(mark);
            tracing::error!("response header with invalid characters; answered 500");
            let mut encoder = HeadEncoder::new(&mut self.wbuf, 500, is_head);
            let _ = encoder.header(b"content-type", b"application/json");
            let body: &[u8] = b"{\"error\":\"Internal Server Error\",\"code\":\"internal\"}";
            let mut b = encoder.finish(Framing::Length(body.len() as u64), Connection::Close);
            let _ = b.encode(&mut self.wbuf, body);
            let _ = b.finish(&mut self.wbuf);
            return (After::Close, None);
        }
        let next = if keep_alive {
            After::KeepAlive
        } else {
            After::Close
        };
        match body {
            Body::Stream(stream) => {
                let framing = if version == Version::Http11 {
                    Framing::Chunked
                } else {
                    Framing::CloseDelimited
                };
                let encoder = encoder.finish(framing, connection);
                if is_head {
                    return (next, None);
                }
                (next, Some((stream, encoder)))
            }
            sized => {
                let bytes = sized.as_bytes().unwrap_or_default();
                self.body_bytes = if is_head { 0 } else { bytes.len() as u64 };
                let mut body_encoder =
                    encoder.finish(Framing::Length(bytes.len() as u64), connection);
                let _ = body_encoder.encode(&mut self.wbuf, bytes);
                let _ = body_encoder.finish(&mut self.wbuf);
                (next, None)
            }
        }
    }

    async fn stream_body(
        &mut self,
        mut stream: std::pin::Pin<Box<dyn BodyStream>>,
        mut encoder: BodyEncoder,
    ) -> io::Result<()> {
        loop {
            let chunk = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await;
            match chunk {
                Some(Ok(chunk)) => {
                    if chunk.is_empty() {
                        continue;
                    }
                    encoder
                        .encode(&mut self.wbuf, &chunk)
                        .map_err(|e| io::Error::other(format!("{e:?}")))?;
                    self.body_bytes += chunk.len() as u64;
                    self.flush().await?;
                }
                Some(Err(e)) => {
                    // Abort without the final chunk: the client sees a truncated body.
                    return Err(e);
                }
                None => {
                    encoder
                        .finish(&mut self.wbuf)
                        .map_err(|e| io::Error::other(format!("{e:?}")))?;
                    return self.flush().await;
                }
            }
        }
    }
}

/// What the access log line says about a request besides its status and size.
struct Access<'a> {
    /// The precise start, kept only when the access log is on.
    started: Option<Instant>,
    method: &'a Method,
    route: Option<&'a str>,
    /// The path, for a request no route matched.
    path: Option<&'a str>,
    ctx: &'a Context,
    /// The client's address from a trusted proxy, when not the peer's.
    forwarded_ip: Option<IpAddr>,
}

impl<S: Transport> Conn<S> {
    /// The access log line (`keel_http::access`, info) for an answered request, under
    /// its context (so it carries the request id), unless switched off or filtered out.
    fn access_log(&self, access: &Access<'_>, status: u16) {
        if !self.server.config.access_log
            || !tracing::enabled!(target: "keel_http::access", tracing::Level::INFO)
        {
            return;
        }
        let duration: Duration = access.started.map_or(Duration::ZERO, |s| s.elapsed());
        let duration_ms = (duration.as_secs_f64() * 1e6).round() / 1e3;
        task_context::enter(Some(access.ctx.clone()), || {
            tracing::info!(
                target: "keel_http::access",
                method = access.method.as_str(),
                route = access.route,
                path = access.path,
                status,
                duration_ms,
                bytes = self.body_bytes,
                remote = %Remote::new(self.peer, access.forwarded_ip),
                proxy = access.forwarded_ip.map(|_| tracing::field::display(self.peer)),
                "request"
            );
        });
    }
}

/// Removes a request from its loop's in-flight list when it is answered (or dropped).
struct InFlightGuard(Rc<LoopServer>, usize);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.in_flight.leave(self.1);
    }
}

/// The JSON error for a request the parser refused.
fn protocol_error(e: &ParseError) -> AppError {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let code = match e.status() {
        413 => "payload_too_large",
        414 => "uri_too_long",
        431 => "header_fields_too_large",
        501 => "not_implemented",
        505 => "http_version_not_supported",
        _ => "bad_request",
    };
    AppError::new(status, code, e.reason())
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
