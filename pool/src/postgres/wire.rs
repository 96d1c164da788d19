//! The sniffing stream: a [`TcpStream`] wrapper that follows the PostgreSQL message
//! framing both ways, so a [`PgConnection`](super::PgConnection) knows its transaction
//! status and how many requests still await their `ReadyForQuery`.

use std::cell::Cell;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use keel_runtime::net::TcpStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The transaction status byte of `ReadyForQuery`: idle.
pub(super) const IDLE: u8 = b'I';

/// What the sniffer learned about the conversation, shared with the [`PgConnection`].
#[derive(Debug)]
pub(super) struct Wire {
    /// The status byte of the last `ReadyForQuery`.
    pub(super) status: Cell<u8>,
    /// `Query` and `Sync` messages sent whose `ReadyForQuery` has not come back yet.
    pub(super) pending: Cell<u32>,
}

impl Wire {
    pub(super) fn new() -> Rc<Wire> {
        Rc::new(Wire {
            status: Cell::new(IDLE),
            pending: Cell::new(0),
        })
    }

    /// Idle, and nothing in flight.
    pub(super) fn settled(&self) -> bool {
        self.status.get() == IDLE && self.pending.get() == 0
    }
}

/// Which way a [`Framing`] follows the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    /// Server to client: every message is `type`, `i32` length, body.
    Backend,
    /// Client to server: the same, except the first (startup) message, which has no
    /// type byte.
    Frontend,
}

/// Where a reader stands in one direction's message stream.
#[derive(Debug)]
pub(super) struct Framing {
    direction: Direction,
    /// The startup message (untyped) has been passed.
    started: bool,
    header: [u8; 5],
    header_len: usize,
    /// Body bytes of the current message still to come.
    remaining: usize,
    /// The current message is `ReadyForQuery` and its status byte is next.
    want_status: bool,
}

impl Framing {
    pub(super) fn new(direction: Direction) -> Framing {
        Framing {
            direction,
            started: direction == Direction::Backend,
            header: [0; 5],
            header_len: 0,
            remaining: 0,
            want_status: false,
        }
    }

    /// Follows `bytes`, counting requests sent and noting each `ReadyForQuery`.
    fn feed(&mut self, mut bytes: &[u8], wire: &Wire) {
        while !bytes.is_empty() {
            if self.remaining > 0 {
                if self.want_status {
                    wire.status.set(bytes[0]);
                    wire.pending.set(wire.pending.get().saturating_sub(1));
                    self.want_status = false;
                }
                let skip = self.remaining.min(bytes.len());
                self.remaining -= skip;
                bytes = &bytes[skip..];
                continue;
            }
            let header_size = if self.started { 5 } else { 4 };
            self.header[self.header_len] = bytes[0];
            self.header_len += 1;
            bytes = &bytes[1..];
            if self.header_len < header_size {
                continue;
            }
            self.header_len = 0;
            let len = &self.header[header_size - 4..header_size];
            let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
            self.remaining = usize::try_from(len).unwrap_or(4).saturating_sub(4);
            if !self.started {
                self.started = true;
                continue;
            }
            match (self.direction, self.header[0]) {
                (Direction::Backend, b'Z') => self.want_status = self.remaining > 0,
                (Direction::Frontend, b'Q' | b'S') => wire.pending.set(wire.pending.get() + 1),
                _ => {}
            }
        }
    }
}

/// A TcpStream that follows the conversation both ways (see the module docs).
pub(super) struct Sniff {
    pub(super) stream: TcpStream,
    pub(super) wire: Rc<Wire>,
    pub(super) read: Framing,
    pub(super) write: Framing,
}

impl AsyncRead for Sniff {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            this.read.feed(&buf.filled()[before..], &this.wire);
        }
        result
    }
}

impl AsyncWrite for Sniff {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            this.write.feed(&buf[..n], &this.wire);
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(mut n)) = result {
            for buf in bufs {
                let take = n.min(buf.len());
                this.write.feed(&buf[..take], &this.wire);
                n -= take;
                if n == 0 {
                    break;
                }
            }
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn follows_ready_for_query_across_splits() {
        let mut stream = message(b'C', b"BEGIN\0");
        stream.extend(message(b'Z', b"T"));
        stream.extend(message(b'E', b"SERROR\0"));
        stream.extend(message(b'Z', b"E"));
        for cut in 0..stream.len() {
            let wire = Wire::new();
            wire.pending.set(2);
            let mut framing = Framing::new(Direction::Backend);
            framing.feed(&stream[..cut], &wire);
            framing.feed(&stream[cut..], &wire);
            assert_eq!(wire.status.get(), b'E', "cut at {cut}");
            assert_eq!(wire.pending.get(), 0);
        }
        let wire = Wire::new();
        wire.status.set(b'E');
        let mut framing = Framing::new(Direction::Backend);
        for byte in message(b'Z', b"I") {
            framing.feed(&[byte], &wire);
        }
        assert!(wire.settled());
    }

    #[test]
    fn counts_requests_after_the_untyped_startup_message() {
        let mut startup = 12i32.to_be_bytes().to_vec();
        startup.extend_from_slice(&[0, 3, 0, 0, b'x', 0, 0, 0]);
        let mut stream = startup;
        stream.extend(message(b'Q', b"SELECT 1\0"));
        stream.extend(message(b'P', b"\0SELECT 1\0\0\0"));
        stream.extend(message(b'S', b""));
        let wire = Wire::new();
        let mut framing = Framing::new(Direction::Frontend);
        for chunk in stream.chunks(3) {
            framing.feed(chunk, &wire);
        }
        assert_eq!(wire.pending.get(), 2);
        assert!(!wire.settled());
    }
}
