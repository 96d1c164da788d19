//! The driver: what runs on the connection's task beside the handler once the `101` is
//! written. It owns the byte stream and tungstenite's protocol state
//! ([`WebSocketContext`], sans I/O over [`Buffers`]) and moves messages between them and
//! the handler's queues ([`Shared`]); it also
//!
//! * answers pings (tungstenite) and pings a quiet peer every `ping_interval`;
//! * closes an idle peer (1001 after `idle_timeout` without a frame);
//! * runs the close handshake: the peer's close is answered, the handler's (or the
//!   end of its handles: 1000) waits for the peer's answer within `close_timeout`;
//! * fails the connection on a protocol violation (1002), a text message that is not
//!   UTF-8 (1007), or a message or frame over its limit (1009);
//! * closes with 1001 when the server drains;
//! * reads only while the handler keeps up (`read_ahead` messages queued at most).
//!
//! Writes are never cancelled (a half-written frame would corrupt the stream); reads
//! are, and lose nothing ([`UpgradedStream::read_buf`] is cancel-safe).

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::task::Poll;
use std::time::Instant;

use keel_runtime::future::{Either, select, within};
use keel_runtime::time::{Sleep, sleep_until};
use tungstenite::error::{CapacityError, Error as RawError, ProtocolError};
pub(crate) use tungstenite::protocol::Role;
use tungstenite::protocol::WebSocketContext;

use super::buffers::Buffers;
use super::message::{CloseFrame, Message, WsError, close_code};
use super::metrics;
use super::settings::Settings;
use super::socket::Shared;
use crate::lifecycle::LocalDrain;
use crate::upgrade::{Upgraded, UpgradedStream};

/// What ended a wait.
enum Woken {
    Read(io::Result<usize>),
    /// The handler queued a message, asked to close, dropped its handles or made room.
    Handles,
    Timer,
    Drain,
}

/// One WebSocket's protocol state and timers.
struct Driver {
    ctx: WebSocketContext,
    io: Buffers,
    shared: Rc<RefCell<Shared>>,
    settings: Settings,
    /// When our close frame went out: the peer's answer is due within the close timeout.
    closing_since: Option<Instant>,
    /// A protocol failure's close frame is on its way: the connection ends once written.
    failing: bool,
    /// The protocol is over: the stream closes once the output is written.
    terminated: bool,
    last_heard: Instant,
    last_ping: Instant,
    timer: Sleep,
}

/// Drives the socket (`role`: the server's side, or the client's, which masks its
/// frames) until its close handshake is over (or the peer went away), then closes the
/// stream.
pub(crate) async fn run(
    upgraded: Upgraded,
    role: Role,
    settings: Settings,
    shared: Rc<RefCell<Shared>>,
) {
    let Upgraded {
        mut stream,
        leftover,
        host,
    } = upgraded;
    let now = Instant::now();
    let mut driver = Driver {
        ctx: WebSocketContext::new(role, Some(settings.tungstenite())),
        io: Buffers::new(leftover),
        shared,
        settings,
        closing_since: None,
        failing: false,
        terminated: false,
        last_heard: now,
        last_ping: now,
        timer: sleep_until(now),
    };
    metrics::opened();
    let ended = driver.drive(&mut *stream, host.drain()).await;
    {
        let mut shared = driver.shared.borrow_mut();
        shared.closed = true;
        shared.outgoing.clear();
        shared.outgoing_bytes = 0;
        if let Err(e) = ended {
            tracing::debug!(error = %e, "WebSocket connection failed");
            shared.incoming.push_back(Err(WsError::Io(e)));
        }
        shared.wake_handles();
    }
    stream.close().await;
    metrics::closed();
}

impl Driver {
    async fn drive(
        &mut self,
        stream: &mut dyn UpgradedStream,
        drain: &LocalDrain,
    ) -> io::Result<()> {
        loop {
            self.take_from_handles();
            self.read_buffered();
            self.flush_protocol();
            if !self.io.output.is_empty() {
                let deadline = Instant::now() + self.settings.write_timeout();
                match within(|| deadline, stream.write_all(&self.io.output)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(e),
                    Err(_) => {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the peer stopped reading",
                        ));
                    }
                }
                self.io.output.clear();
                if self.failing {
                    self.terminated = true;
                }
                self.shared.borrow_mut().wake_handles();
                continue;
            }
            if self.terminated {
                return Ok(());
            }
            match self.wait(stream, drain).await {
                Woken::Read(Ok(0)) => {
                    // The peer went away, with or without its close frame: the handler
                    // sees the end of the messages.
                    return Ok(());
                }
                Woken::Read(Ok(_)) => self.last_heard = Instant::now(),
                Woken::Read(Err(e)) => return Err(e),
                Woken::Handles => {}
                Woken::Timer => self.on_timer(),
                Woken::Drain => {
                    self.start_close(CloseFrame::new(
                        close_code::GOING_AWAY,
                        "server shutting down",
                    ));
                }
            }
        }
    }

    /// Whether the handler's queue has room for another message.
    fn has_room(&self) -> bool {
        self.shared.borrow().incoming.len() < self.settings.read_ahead
    }

    /// Waits for bytes from the peer (while the handler keeps up), the handler, the next
    /// timer, or the drain.
    async fn wait(&mut self, stream: &mut dyn UpgradedStream, drain: &LocalDrain) -> Woken {
        let reading = self.has_room();
        if !reading {
            // Not reading is the handler's backpressure, not the peer's silence.
            self.last_heard = Instant::now();
        }
        let deadline = self.next_deadline();
        if let Some(deadline) = deadline {
            self.timer.reset(deadline);
        }
        let closing = self.closing_since.is_some();
        let read_ahead = self.settings.read_ahead;
        let input = self.io.input_for_read();
        let read = async {
            if reading {
                stream.read_buf(input).await
            } else {
                std::future::pending().await
            }
        };
        let shared = &self.shared;
        let handles = std::future::poll_fn(|cx| {
            let mut s = shared.borrow_mut();
            let work = !s.outgoing.is_empty()
                || (!closing && (s.close_request.is_some() || s.handles == 0))
                || (!reading && s.incoming.len() < read_ahead);
            if work {
                Poll::Ready(())
            } else {
                s.driver_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        });
        let timer = &mut self.timer;
        let timer = async {
            if deadline.is_some() {
                timer.await
            } else {
                std::future::pending().await
            }
        };
        let drained = async {
            if closing {
                std::future::pending().await
            } else {
                drain.wait().await
            }
        };
        match select(select(read, handles), select(timer, drained)).await {
            Either::Left(Either::Left(read)) => Woken::Read(read),
            Either::Left(Either::Right(())) => Woken::Handles,
            Either::Right(Either::Left(())) => Woken::Timer,
            Either::Right(Either::Right(())) => Woken::Drain,
        }
    }

    /// The next timer: the close handshake's end while closing; else the idle timeout
    /// and the next ping.
    fn next_deadline(&self) -> Option<Instant> {
        let s = &self.settings;
        if let Some(since) = self.closing_since {
            return Some(since + s.close_timeout);
        }
        let idle = (!s.idle_timeout.is_zero()).then(|| self.last_heard + s.idle_timeout);
        let ping = (!s.ping_interval.is_zero())
            .then(|| self.last_heard.max(self.last_ping) + s.ping_interval);
        match (idle, ping) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn on_timer(&mut self) {
        let now = Instant::now();
        let s = &self.settings;
        if let Some(since) = self.closing_since {
            if now >= since + s.close_timeout {
                // The peer did not answer our close frame.
                self.terminated = true;
            }
            return;
        }
        if !s.idle_timeout.is_zero() && now >= self.last_heard + s.idle_timeout {
            self.start_close(CloseFrame::new(close_code::GOING_AWAY, "idle timeout"));
            return;
        }
        if !s.ping_interval.is_zero()
            && now >= self.last_heard.max(self.last_ping) + s.ping_interval
        {
            self.last_ping = now;
            let ping = tungstenite::Message::Ping(Default::default());
            let _ = self.ctx.write(&mut self.io, ping);
        }
    }

    /// Hands the handler's queued messages to the protocol, and its close (or the end of
    /// its handles) too.
    fn take_from_handles(&mut self) {
        let mut shared = self.shared.borrow_mut();
        if self.closing_since.is_some() || self.terminated {
            shared.outgoing.clear();
            shared.outgoing_bytes = 0;
            return;
        }
        while let Some(message) = shared.outgoing.pop_front() {
            shared.outgoing_bytes = shared.outgoing_bytes.saturating_sub(message.len());
            let counted = matches!(message, Message::Text(_) | Message::Binary(_));
            if self.ctx.write(&mut self.io, message.into_raw()).is_ok() && counted {
                metrics::message_out();
            }
        }
        let close = match &shared.close_request {
            Some(frame) => Some(frame.clone()),
            None if shared.handles == 0 => Some(CloseFrame::new(close_code::NORMAL, "")),
            None => None,
        };
        drop(shared);
        if let Some(frame) = close {
            self.start_close(frame);
        }
    }

    /// Sends our close frame (once); the peer's answer is due within the close timeout.
    fn start_close(&mut self, frame: CloseFrame) {
        if self.closing_since.is_some() || self.terminated {
            return;
        }
        self.closing_since = Some(Instant::now());
        self.shared
            .borrow_mut()
            .close_request
            .get_or_insert_with(|| frame.clone());
        // Only fails when the peer's close came first (then it is answered already).
        let _ = self.ctx.close(&mut self.io, Some(frame.into_raw()));
    }

    /// Decodes the messages already read, while the handler's queue has room.
    fn read_buffered(&mut self) {
        while !self.terminated && self.has_room() {
            match self.ctx.read(&mut self.io) {
                Ok(raw) => {
                    let Some(message) = Message::from_raw(raw) else {
                        continue;
                    };
                    if !matches!(message, Message::Close(_)) {
                        metrics::message_in();
                    }
                    let mut shared = self.shared.borrow_mut();
                    shared.incoming.push_back(Ok(message));
                    shared.wake_handles();
                }
                Err(RawError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(RawError::ConnectionClosed | RawError::AlreadyClosed) => {
                    self.terminated = true;
                }
                Err(e) => self.fail(e),
            }
        }
    }

    /// Ends the protocol after `error`: with a close frame naming it when the peer broke
    /// a rule, at once when the connection is gone.
    fn fail(&mut self, error: RawError) {
        let code = match &error {
            RawError::Capacity(CapacityError::MessageTooLong { .. })
            | RawError::Capacity(_)
            | RawError::WriteBufferFull(_) => close_code::MESSAGE_TOO_BIG,
            RawError::Utf8(_) => close_code::INVALID_PAYLOAD,
            RawError::Protocol(ProtocolError::ResetWithoutClosingHandshake) | RawError::Io(_) => {
                self.terminated = true;
                return;
            }
            _ => close_code::PROTOCOL_ERROR,
        };
        let message = error.to_string();
        tracing::debug!(code, error = %message, "WebSocket peer broke the protocol; closing");
        {
            let mut shared = self.shared.borrow_mut();
            shared
                .incoming
                .push_back(Err(WsError::Protocol { code, message }));
            shared.wake_handles();
        }
        self.start_close(CloseFrame::new(code, ""));
        self.failing = true;
        if self.io.output.is_empty() {
            // Nothing could be sent (the peer's close came first): done.
            self.terminated = true;
        }
    }

    /// Moves what tungstenite still holds (pongs, close answers) into the output.
    fn flush_protocol(&mut self) {
        match self.ctx.flush(&mut self.io) {
            Ok(()) => {}
            // A server's close handshake is over once its answer is written.
            Err(RawError::ConnectionClosed | RawError::AlreadyClosed) => self.terminated = true,
            Err(e) => {
                tracing::debug!(error = %e, "WebSocket flush failed");
                self.terminated = true;
            }
        }
    }
}
