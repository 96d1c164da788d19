//! A request body streamed to its handler on HTTP/1.1 (routes marked
//! `Router::streaming_body`): the connection feeds the handler's
//! [`RequestBody`] from its read buffer only when the handler asks for a chunk, so the
//! socket is read as fast as the handler consumes and no faster.
//!
//! The handler and the feeder run in the connection's one task, side by side: a
//! [`Pipe`] holds at most one decoded chunk between them. `100 Continue` goes out when
//! the handler first asks. The route's limit, the framing (`Content-Length` or chunked)
//! and the request deadline are checked as bytes arrive; a failure is the handler's
//! next chunk's error, and the connection closes after the response. A handler that
//! answers before reading the body to its end closes the connection too, after reading
//! and dropping what the client still sends for a bounded time and amount (so the
//! client sees the response rather than a reset).

use std::cell::RefCell;
use std::io;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::Bytes;
use keel_runtime::future::{Either, select};
use keel_runtime::time::timeout_at;

use super::keep_alive::{After, KeepAlive};
use super::{Conn, INITIAL_READ_BUFFER};
use crate::error::AppError;
use crate::proto::decode::Decoder;
use crate::proto::encode::CONTINUE;
use crate::proto::head::HeaderSpan;
use crate::proto::{BodyLength, Method, Version};
use crate::request_body::{BodySource, RequestBody};
use crate::server::LoopServer;
use crate::server::render::{refusal, timed_out};
use crate::server::transport::Transport;
use crate::status::StatusCode;

/// What is between the feeder and the handler's body.
#[derive(Default)]
struct Pipe {
    state: RefCell<PipeState>,
}

#[derive(Default)]
struct PipeState {
    /// A decoded chunk the handler has not taken yet.
    chunk: Option<Bytes>,
    /// The body ended: `Ok` at its end, `Err` when it broke.
    end: Option<Result<(), AppError>>,
    /// The handler asked for a chunk and none was there.
    wanted: bool,
    /// The handler dropped its body.
    reader_gone: bool,
    /// The response went out: the connection took its socket back.
    closed: bool,
    reader: Option<Waker>,
    feeder: Option<Waker>,
}

impl Pipe {
    fn with<R>(&self, f: impl FnOnce(&mut PipeState) -> R) -> R {
        f(&mut self.state.borrow_mut())
    }

    /// Hands `chunk` to the handler.
    fn push(&self, chunk: Vec<u8>) {
        self.with(|s| {
            s.chunk = Some(Bytes::from(chunk));
            s.wanted = false;
            if let Some(w) = s.reader.take() {
                w.wake();
            }
        });
    }

    /// Ends the body (`Ok`: complete).
    fn end(&self, end: Result<(), AppError>) {
        self.with(|s| {
            s.end = Some(end);
            if let Some(w) = s.reader.take() {
                w.wake();
            }
        });
    }

    /// Ready when the handler wants a chunk (`true`) or dropped its body (`false`).
    fn poll_demand(&self, cx: &mut Context<'_>) -> Poll<bool> {
        self.with(|s| {
            if s.reader_gone {
                Poll::Ready(false)
            } else if s.wanted && s.chunk.is_none() {
                Poll::Ready(true)
            } else {
                s.feeder = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

/// The handler's side of the pipe.
struct PipeReader(Rc<Pipe>);

impl BodySource for PipeReader {
    fn poll_chunk(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, AppError>>> {
        self.0.with(|s| {
            if let Some(chunk) = s.chunk.take() {
                return Poll::Ready(Some(Ok(chunk)));
            }
            match &s.end {
                Some(Ok(())) => return Poll::Ready(None),
                Some(Err(e)) => return Poll::Ready(Some(Err(e.clone()))),
                None => {}
            }
            if s.closed {
                return Poll::Ready(Some(Err(AppError::internal(
                    "the request body was read after the response was returned",
                ))));
            }
            s.wanted = true;
            s.reader = Some(cx.waker().clone());
            if let Some(w) = s.feeder.take() {
                w.wake();
            }
            Poll::Pending
        })
    }
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        self.0.with(|s| {
            s.reader_gone = true;
            if let Some(w) = s.feeder.take() {
                w.wake();
            }
        });
    }
}

/// How the feeding ended.
#[derive(PartialEq)]
enum Fed {
    /// The whole body was read: the connection may serve a next request.
    Complete,
    /// The handler dropped its body, or the body broke: the connection closes.
    Incomplete,
}

/// The connection's parts the feeder reads with (borrowed beside the exchange, which
/// runs the handler).
struct Feeder<'a, S> {
    stream: &'a mut S,
    rbuf: &'a mut Vec<u8>,
    start: &'a mut usize,
    server: &'a LoopServer,
}

impl<S: Transport> Feeder<'_, S> {
    /// Decodes the body into `pipe` as the handler asks, until it ends or breaks.
    async fn run(
        mut self,
        pipe: &Pipe,
        mut decoder: Decoder,
        mut send_continue: bool,
        deadline: Instant,
    ) -> Fed {
        loop {
            if !std::future::poll_fn(|cx| pipe.poll_demand(cx)).await {
                return Fed::Incomplete;
            }
            if std::mem::take(&mut send_continue) && self.stream.write_all(CONTINUE).await.is_err()
            {
                pipe.end(Err(gone()));
                return Fed::Incomplete;
            }
            loop {
                let mut chunk = Vec::new();
                let input = &self.rbuf[*self.start..];
                match decoder.decode(input, |data| chunk.extend_from_slice(data)) {
                    Ok(progress) => {
                        *self.start += progress.consumed;
                        let got = !chunk.is_empty();
                        if got {
                            pipe.push(chunk);
                        }
                        if progress.done {
                            pipe.end(Ok(()));
                            return Fed::Complete;
                        }
                        if got {
                            break;
                        }
                    }
                    Err(e) => {
                        let status =
                            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
                        pipe.end(Err(refusal(status, e.reason())));
                        return Fed::Incomplete;
                    }
                }
                match self.read(deadline).await {
                    Ok(true) => {}
                    Ok(false) => {
                        pipe.end(Err(gone()));
                        return Fed::Incomplete;
                    }
                    Err(err) => {
                        pipe.end(Err(err));
                        return Fed::Incomplete;
                    }
                }
            }
        }
    }

    /// Reads more of the body into the (consumed) read buffer: `false` at the peer's
    /// end of stream.
    async fn read(&mut self, deadline: Instant) -> Result<bool, AppError> {
        if *self.start == self.rbuf.len() {
            *self.start = 0;
            self.rbuf.clear();
        }
        if self.rbuf.len() == self.rbuf.capacity() {
            self.rbuf.drain(..*self.start);
            *self.start = 0;
            self.rbuf.reserve(INITIAL_READ_BUFFER);
        }
        match timeout_at(deadline, self.stream.read_buf(self.rbuf)).await {
            Ok(Ok(n)) => {
                self.server.stats.bytes_in(n);
                Ok(n > 0)
            }
            Ok(Err(_)) => Ok(false),
            Err(_) => Err(timed_out("the request body did not arrive in time")),
        }
    }
}

/// The error of a body whose client went away mid-way.
fn gone() -> AppError {
    refusal(
        StatusCode::BAD_REQUEST,
        "the connection ended before the request body did",
    )
}

impl<S: Transport> Conn<S> {
    /// Answers a request whose route streams its body (its head in `self.head`, the
    /// next head's index `index`): the handler runs while the body is fed to it.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn handle_streaming(
        &mut self,
        head_bytes: Vec<u8>,
        index: Vec<HeaderSpan>,
        framing: BodyLength,
        version: Version,
        mut keep_alive: KeepAlive,
    ) -> io::Result<After> {
        let is_head = *self.head.method() == Method::Head;
        let expect_continue = self.head.expect_continue();
        if let Err(err) = self.exchange.check_declared_length(framing) {
            let response = self.exchange.refuse(err);
            let status = response.status().as_u16();
            let _ = self.encode(response, is_head, version, KeepAlive::CLOSE, None);
            self.exchange.finish_refused(status);
            return Ok(After::Close);
        }
        // Earlier pipelined answers go out before the wait on this body.
        self.flush().await?;
        let deadline = self.exchange.deadline();
        let pipe = Rc::new(Pipe::default());
        let head = std::mem::take(&mut self.head);
        self.head.set_index(index);
        let body = RequestBody::streamed(PipeReader(pipe.clone()));
        let call = self.exchange.call_streaming(head_bytes, head, body);
        let send_continue = expect_continue && self.start == self.rbuf.len();
        let decoder = Decoder::new(framing, self.exchange.body_limit());
        let feeder = Feeder {
            stream: &mut self.stream,
            rbuf: &mut self.rbuf,
            start: &mut self.start,
            server: &self.server,
        };
        let (response, fed) = {
            let mut feed = pin!(feeder.run(&pipe, decoder, send_continue, deadline));
            let mut respond = pin!(self.exchange.respond(call));
            match select(respond.as_mut(), feed.as_mut()).await {
                Either::Left(response) => (response, Fed::Incomplete),
                Either::Right(fed) => (respond.await, fed),
            }
        };
        pipe.with(|s| s.closed = true);
        if fed == Fed::Incomplete {
            keep_alive.close();
        }
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
        let bytes = written.as_ref().map_or(0, |&(_, bytes)| bytes);
        self.exchange.finish(status, bytes);
        let after = written?.0;
        if fed == Fed::Incomplete {
            self.linger().await;
            return Ok(After::Close);
        }
        Ok(after)
    }

    /// Before closing on a body left unread: sends the response, then reads and drops
    /// what the client is still sending, for a bounded time and amount. Closing at once
    /// with unread bytes in the socket makes the kernel reset the connection, and the
    /// client may lose the response it has not read yet (a 413, say).
    async fn linger(&mut self) {
        if self.flush().await.is_err() {
            return;
        }
        let until = Instant::now() + LINGER_TIME;
        let mut discarded = 0;
        while discarded < LINGER_BYTES {
            self.start = 0;
            self.rbuf.clear();
            match timeout_at(until, self.stream.read_buf(&mut self.rbuf)).await {
                Ok(Ok(n)) if n > 0 => discarded += n,
                _ => break,
            }
        }
        self.start = 0;
        self.rbuf.clear();
    }
}

/// How long, and how many bytes, [`Conn::linger`] reads from a client still sending a
/// body nobody reads before the connection closes.
const LINGER_TIME: std::time::Duration = std::time::Duration::from_secs(1);
const LINGER_BYTES: usize = 1 << 20;
