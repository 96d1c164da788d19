//! An HTTP/1.1 connection: read → parse → hand the request to the
//! [dispatch](super::dispatch) → frame and write the response, in a loop, with
//! keep-alive ([`keep_alive`]), pipelining, limits and timeouts. Everything between the
//! parsed head and the response (routing, middleware, the handler, errors, metrics, the
//! access log) is the dispatch's, shared with every other protocol.
//!
//! * this file: the connection's buffers, the read loop and its timeouts;
//! * [`body`]: reading a request body from the buffer, with `100 Continue`;
//! * [`stream_body`]: feeding a streamed body to its handler as it reads (routes marked
//!   `Router::streaming_body`);
//! * [`write`]: encoding responses into the write buffer, streaming bodies, flushing;
//! * [`upgrade`]: a `101 Switching Protocols` ends the loop and hands the stream over.
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

mod body;
mod keep_alive;
mod stream_body;
mod upgrade;
mod write;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use keel_runtime::future::{Either, select};
use keel_runtime::time::{CoarseInstant, Sleep, sleep_until, timeout_at};

use self::keep_alive::{After, KeepAlive};
use super::dispatch::{self, Exchange};
use super::render::{refusal, timed_out};
use super::request_id::new_request_id;
use super::transport::Transport;
use super::{LoopServer, OpenGuard};
use crate::limits::Limits;
use crate::proto::parse::{Status, parse_request_into};
use crate::proto::{BodyLength, Method, RequestHead, Version};
use crate::status::StatusCode;
use crate::upgrade::OnUpgrade;

const INITIAL_READ_BUFFER: usize = 8 * 1024;
/// A few responses' worth: the buffer grows (and stays grown) for larger or pipelined
/// answers, so an idle keep-alive connection holds a quarter of a page, not two pages.
const INITIAL_WRITE_BUFFER: usize = 1024;
/// Pending responses above this size are written out before parsing more pipelined
/// requests, so a pipelining client cannot make the server buffer without bound.
const MAX_PENDING_WRITE: usize = 64 * 1024;

/// Serves one accepted connection (a TCP stream, or a TLS session over one) until it
/// closes, then lets go of its `open` count.
///
/// Not an `async fn`: the connection is built here and moved into the future once. As
/// arguments of an `async fn`, the stream and the rest would keep a second copy of
/// their bytes in every connection's future.
pub(crate) fn serve<S: Transport + 'static>(
    stream: S,
    peer: SocketAddr,
    server: Rc<LoopServer>,
    open: OpenGuard,
) -> impl Future<Output = ()> + 'static {
    let mut conn = Conn::new(stream, peer, server);
    async move {
        let ended = conn.run().await;
        if let Err(e) = &ended {
            tracing::debug!(peer = %conn.peer, error = %e, "connection ended with an I/O error");
        }
        if ended.is_ok() && conn.at_h2c_preface() {
            // HTTP/2 with prior knowledge: the connection goes on as h2c, from the preface.
            let Conn {
                stream,
                rbuf,
                server,
                ..
            } = conn;
            if let Some(tcp) = stream.into_h2c() {
                Box::pin(super::h2::serve(tcp, rbuf, peer, server, open, None)).await;
            }
            return;
        }
        // A written `101`: the connection is the continuation's until it ends.
        match conn.upgrade.take().filter(|_| ended.is_ok()) {
            Some(on_upgrade) => conn.hand_over(*on_upgrade).await,
            None => {
                conn.stream.close().await;
                drop(conn);
            }
        }
        drop(open);
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
    /// The head the next request is parsed into.
    head: RequestHead,
    /// The keep-alive timer, kept between idle stretches (see `read_idle`).
    idle_timer: Option<Sleep>,
    /// The request being answered: reused request after request, filled in place.
    exchange: Exchange,
    server: Rc<LoopServer>,
    /// Set by a written `101 Switching Protocols`: what runs on the stream next.
    upgrade: Option<Box<OnUpgrade>>,
}

/// How long an idle keep-alive connection of a draining server waits for a next request
/// before it closes (at most the keep-alive timeout). A client that just had an answer
/// may already have sent its next request: closing at once would lose it on the way
/// (written by the client, never answered). Loopback and data-center round trips are far
/// shorter; a client idle this long is not about to send.
const DRAIN_IDLE_GRACE: Duration = Duration::from_secs(1);

/// What a read that waits for the peer found.
enum Read {
    Data,
    Eof,
    TimedOut,
    /// The server started draining while the connection was idle.
    Draining,
}

impl<S: Transport> Conn<S> {
    pub(crate) fn new(stream: S, peer: SocketAddr, server: Rc<LoopServer>) -> Conn<S> {
        let mut exchange = Exchange::new(server.clone(), peer);
        exchange.set_client_identity(stream.client_identity());
        Conn {
            stream,
            peer,
            rbuf: Vec::with_capacity(INITIAL_READ_BUFFER),
            start: 0,
            wbuf: Vec::with_capacity(INITIAL_WRITE_BUFFER),
            head: RequestHead::default(),
            idle_timer: None,
            exchange,
            server,
            upgrade: None,
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

    /// Whether the connection starts with the HTTP/2 preface and is to go on as h2c
    /// (`run` stops there and `serve` hands the connection over).
    fn at_h2c_preface(&self) -> bool {
        S::SPEAKS_H2C
            && self.start == 0
            && self.server.config.h2.enabled
            && super::h2::starts_with_preface(&self.rbuf)
    }

    /// Serves requests until the peer closes, the connection must close, or it idles out.
    pub(crate) async fn run(&mut self) -> io::Result<()> {
        let mut head_deadline: Option<Instant> = None;
        // The body limit depends on the route (`Router::body_limit` may raise it above
        // the server default), so the dispatch checks it after routing, not the parser.
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
                    let next = self.handle().await?;
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
                    let read = if idle && self.server.drain.is_draining() {
                        // Closing: a next request already on its way is still answered
                        // (with `Connection: close`); none within the grace, and the
                        // connection closes.
                        let grace = DRAIN_IDLE_GRACE.min(self.server.config.keepalive_timeout);
                        self.read_until(Instant::now() + grace).await?
                    } else if idle {
                        self.read_idle().await?
                    } else {
                        let deadline = *head_deadline.get_or_insert_with(|| {
                            Instant::now() + self.server.config.headers_timeout
                        });
                        self.read_until(deadline).await?
                    };
                    match read {
                        Read::Data => {}
                        Read::Eof => return Ok(()),
                        // The drain started while idle: the next turn waits its grace.
                        Read::Draining => {}
                        Read::TimedOut if idle => return Ok(()),
                        Read::TimedOut => {
                            let err = timed_out("the request head did not arrive in time");
                            self.write_refusal(err, Version::Http11, KeepAlive::CLOSE);
                            return self.flush().await;
                        }
                    }
                }
                Err(_) if self.at_h2c_preface() => return Ok(()),
                Err(e) => {
                    // The refused head is over: its headers deadline must not carry over
                    // to the next request on this connection.
                    head_deadline = None;
                    let keep_alive =
                        KeepAlive::for_refused_head(&e, self.server.drain.is_draining());
                    let version = e.version().unwrap_or(Version::Http11);
                    let status =
                        StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
                    let after =
                        self.write_refusal(refusal(status, e.reason()), version, keep_alive);
                    if after == After::Close {
                        return self.flush().await;
                    }
                    self.start += e.head_len().unwrap_or(0);
                }
            }
        }
    }

    /// Answers the request parsed into `self.head`, whose bytes are at `rbuf[start..]`:
    /// they are copied into a buffer from the thread's shelf for the request to own.
    ///
    /// The head stays in the connection until the call takes it (not an argument: the
    /// future would hold a copy of its hundred-odd bytes across the body's reads).
    async fn handle(&mut self) -> io::Result<After> {
        let (mut head_bytes, index) = crate::recycle::request();
        let head_len = self.head.head_len();
        head_bytes.extend_from_slice(&self.rbuf[self.start..self.start + head_len]);
        self.start += head_len;
        let is_head = *self.head.method() == Method::Head;
        let version = self.head.version();
        let mut keep_alive = KeepAlive::for_request(&self.head);
        self.exchange.begin(&self.head, &head_bytes);

        // The body, read in full before the handler runs.
        let body = match self.head.body() {
            BodyLength::Empty => Vec::new(),
            // The handler reads it as it arrives (boxed: only such requests pay for the
            // larger future).
            framing if self.exchange.streams_body() => {
                let streaming =
                    self.handle_streaming(head_bytes, index, framing, version, keep_alive);
                return Box::pin(streaming).await;
            }
            framing => {
                let expect_continue = self.head.expect_continue();
                let read = match self.exchange.check_declared_length(framing) {
                    Ok(()) => self.read_body(framing, expect_continue).await?,
                    Err(err) => Err(Some(err)),
                };
                match read {
                    Ok(body) => body,
                    Err(refused) => {
                        // Refused or cut short: the rest of the body cannot be framed.
                        if let Some(err) = refused {
                            let response = self.exchange.refuse(err);
                            let status = response.status().as_u16();
                            let _ = self.encode(response, is_head, version, KeepAlive::CLOSE, None);
                            self.exchange.finish_refused(status);
                        }
                        return Ok(After::Close);
                    }
                }
            }
        };

        // The head goes to the request; the next one is parsed into the shelf's index.
        let head = std::mem::take(&mut self.head);
        self.head.set_index(index);
        let call = self.exchange.call(head_bytes, head, body);
        let response = self.exchange.respond(call).await;
        if response.is_upgrade() {
            return Ok(self.switch_protocols(response, version));
        }
        if self.exchange.timed_out() {
            keep_alive.close();
        }
        let draining = self.server.drain.is_draining();
        keep_alive.while_draining(draining, || self.more_received());
        let status = response.status().as_u16();
        let written = self
            .write_response(response, is_head, version, keep_alive)
            .await;
        // Counted and logged even when the peer went away during the write.
        let bytes = written.as_ref().map_or(0, |&(_, bytes)| bytes);
        self.exchange.finish(status, bytes);
        written.map(|(after, _)| after)
    }

    /// Encodes a refusal made before the request became an exchange (rendered and
    /// counted by the dispatch) into `wbuf`, with a new request id.
    fn write_refusal(
        &mut self,
        err: crate::error::AppError,
        version: Version,
        keep_alive: KeepAlive,
    ) -> After {
        let request_id = new_request_id();
        let response = dispatch::refuse(&self.server, err, request_id.as_str());
        let (after, _, _) = self.encode(
            response,
            false,
            version,
            keep_alive,
            Some(request_id.as_str()),
        );
        after
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

    /// Whether bytes of a next request are already here: in the buffer (pipelined), or
    /// in the socket (read now, without waiting, and without trusting the cached
    /// readiness, which may lag behind the loop's next I/O poll).
    fn more_received(&mut self) -> bool {
        if self.start < self.rbuf.len() {
            return true;
        }
        self.reserve();
        match self.stream.try_read_buf(&mut self.rbuf) {
            Ok(n) => {
                self.server.stats.bytes_in(n);
                n > 0
            }
            // Nothing yet, or an error the next read reports.
            Err(_) => false,
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
                // The drain started: `run` gives a next request its grace.
                Either::Right(()) => break Ok(Read::Draining),
            }
        };
        self.idle_timer = Some(timer);
        outcome
    }
}
