//! Driving a rustls session sans-I/O over Keel's [`TcpStream`], the part the server's TLS
//! (`server/tls/`) and the client's (`client/stream.rs`) share: [`feed`] hands ciphertext
//! read from the socket to rustls and processes it, [`flush`] sends the records rustls
//! made, and [`Session`] is a session past its handshake with its buffers — reads and
//! writes of plaintext. Generic over the side (`rustls::ServerConnection` or
//! `ClientConnection`); each side runs its own handshake loop.
//!
//! Ciphertext read from the socket waits in `incoming` until rustls takes it
//! (`read_tls`, then `process_new_packets`); plaintext comes out of rustls' reader
//! straight into the caller's buffer (`fill_buf`/`consume`: no zeroed scratch space).
//! Writes hand plaintext to rustls' writer and send the records it makes from
//! `outgoing` with one socket write per batch; records rustls wants to send while
//! reading (a TLS 1.3 key update's answer) go out at once. Cancelling a read loses
//! nothing: its only await is the socket read, which fills `incoming`, a field.

use std::io::{self, BufRead, Write};
use std::ops::DerefMut;
use std::task::{Context, Poll, ready};

use keel_runtime::net::TcpStream;
use rustls::ConnectionCommon;
use tokio::io::ReadBuf;

/// Room for one full TLS record (16 KiB of payload plus its header and tag) per read.
pub(crate) const INCOMING_BUFFER: usize = 16 * 1024 + 512;

/// A TLS session past its handshake (`C`: `rustls::ServerConnection` or
/// `ClientConnection`) over its TCP stream.
pub(crate) struct Session<C> {
    pub(crate) tcp: TcpStream,
    pub(crate) tls: C,
    /// Ciphertext read from the socket: `incoming[consumed..]` is not yet handed to
    /// rustls.
    incoming: Vec<u8>,
    consumed: usize,
    /// TLS records on their way to the socket.
    outgoing: Vec<u8>,
}

impl<C, Side> Session<C>
where
    C: DerefMut<Target = ConnectionCommon<Side>>,
{
    /// A session over `tcp`, with the ciphertext its handshake read past its end
    /// (`incoming[consumed..]`: data the peer sent right behind its last flight).
    pub(crate) fn new(tcp: TcpStream, tls: C, incoming: Vec<u8>, consumed: usize) -> Self {
        Session {
            tcp,
            tls,
            incoming,
            consumed,
            outgoing: Vec::new(),
        }
    }

    /// Whether ciphertext read from the socket still waits for rustls.
    pub(crate) fn has_incoming(&self) -> bool {
        self.consumed < self.incoming.len()
    }

    /// Hands rustls the next part of `incoming` and processes it.
    pub(crate) fn feed(&mut self) -> io::Result<()> {
        feed(&mut self.tls, &self.incoming, &mut self.consumed)?;
        if !self.has_incoming() {
            self.incoming.clear();
            self.consumed = 0;
        }
        Ok(())
    }

    /// Makes room for a socket read at the end of `incoming`.
    pub(crate) fn reserve_incoming(&mut self) {
        if !self.has_incoming() {
            self.incoming.clear();
            self.consumed = 0;
        }
        if self.incoming.capacity() == self.incoming.len() {
            self.incoming.reserve(INCOMING_BUFFER);
        }
    }

    /// Reads ciphertext from the socket into `incoming`; `Ok(0)` at its end.
    pub(crate) async fn read_socket(&mut self) -> io::Result<usize> {
        self.reserve_incoming();
        self.tcp.read_buf(&mut self.incoming).await
    }

    /// Reads what the socket already holds into `incoming`, without waiting.
    pub(crate) fn try_read_socket(&mut self) -> io::Result<usize> {
        self.reserve_incoming();
        self.tcp.try_read_buf(&mut self.incoming)
    }

    /// Sends every record rustls has ready.
    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        flush(&mut self.tls, &self.tcp, &mut self.outgoing).await
    }

    /// Moves decrypted bytes into `buf`'s spare capacity: `Some(0)` once the peer closed
    /// the session (`close_notify`), `None` when none are waiting.
    pub(crate) fn take_plaintext(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<usize>> {
        let mut reader = self.tls.reader();
        match reader.fill_buf() {
            Ok(chunk) => {
                let n = chunk.len().min(buf.capacity() - buf.len());
                buf.extend_from_slice(&chunk[..n]);
                reader.consume(n);
                Ok(Some(n))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Appends plaintext to `buf` (within its spare capacity), reading the socket as
    /// needed; `Ok(0)` at the end of the stream. A TCP close without `close_notify` (most
    /// HTTP peers) is the end too: HTTP/1.1 frames its own messages, and a body cut
    /// short is caught by its framing.
    pub(crate) async fn read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        loop {
            if let Some(n) = self.take_plaintext(buf)? {
                return Ok(n);
            }
            if self.has_incoming() {
                self.feed()?;
                self.flush().await?;
                continue;
            }
            if self.read_socket().await? == 0 {
                return Ok(0);
            }
        }
    }

    /// [`read_buf`](Session::read_buf) with only what the socket already holds
    /// (`WouldBlock` when nothing).
    pub(crate) fn try_read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        loop {
            if let Some(n) = self.take_plaintext(buf)? {
                return Ok(n);
            }
            if self.has_incoming() {
                self.feed()?;
                continue;
            }
            if self.try_read_socket()? == 0 {
                return Ok(0);
            }
        }
    }

    /// Encrypts and sends all of `bytes`, record by record as rustls makes them (its own
    /// buffer stays within its limit).
    pub(crate) async fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let n = self.tls.writer().write(bytes)?;
            bytes = &bytes[n..];
            self.flush().await?;
        }
        self.flush().await
    }
}

// ===== the same, polled (tokio's AsyncRead/AsyncWrite on a server's TLS stream) =====

impl<C, Side> Session<C>
where
    C: DerefMut<Target = ConnectionCommon<Side>>,
{
    /// Polls for plaintext into `buf`'s unfilled part, reading the socket as needed;
    /// nothing filled is the end of the stream.
    pub(crate) fn poll_read_plain(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut reader = self.tls.reader();
            match reader.fill_buf() {
                Ok(chunk) => {
                    let n = chunk.len().min(buf.remaining());
                    buf.put_slice(&chunk[..n]);
                    reader.consume(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
            if self.has_incoming() {
                self.feed()?;
                // Records rustls answers with (a key update's) go out when the socket
                // takes them; a full socket leaves them for the next write.
                if let Poll::Ready(Err(e)) = self.poll_send_records(cx) {
                    return Poll::Ready(Err(e));
                }
                continue;
            }
            self.reserve_incoming();
            if ready!(self.tcp.poll_read_buf(cx, &mut self.incoming))? == 0 {
                return Poll::Ready(Ok(()));
            }
        }
    }

    /// Encrypts what of `buf` rustls takes, once the records made before went out.
    pub(crate) fn poll_write_plain(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_send_records(cx))?;
        let n = self.tls.writer().write(buf)?;
        // Sent now if the socket takes them; otherwise by the next write or flush.
        if let Poll::Ready(Err(e)) = self.poll_send_records(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    /// Sends every record rustls has ready.
    pub(crate) fn poll_send_records(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            while self.tls.wants_write() {
                self.tls.write_tls(&mut self.outgoing)?;
            }
            if self.outgoing.is_empty() {
                return Poll::Ready(Ok(()));
            }
            let n = ready!(self.tcp.poll_write(cx, &self.outgoing))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.outgoing.drain(..n);
        }
    }
}

/// Hands rustls the next part of `incoming[*consumed..]` and processes it; a protocol
/// error is `InvalidData` carrying the [`rustls::Error`] (rustls has queued its alert,
/// which the next [`flush`] sends).
pub(crate) fn feed<Side>(
    tls: &mut ConnectionCommon<Side>,
    incoming: &[u8],
    consumed: &mut usize,
) -> io::Result<()> {
    let mut rest = &incoming[*consumed..];
    let n = tls.read_tls(&mut rest)?;
    *consumed += n;
    tls.process_new_packets()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(())
}

/// Writes every record `tls` has ready to `tcp`, through `outgoing` (one socket write
/// per batch).
pub(crate) async fn flush<Side>(
    tls: &mut ConnectionCommon<Side>,
    tcp: &TcpStream,
    outgoing: &mut Vec<u8>,
) -> io::Result<()> {
    while tls.wants_write() {
        tls.write_tls(outgoing)?;
    }
    if !outgoing.is_empty() {
        tcp.write_all(outgoing).await?;
        outgoing.clear();
    }
    Ok(())
}

/// The rustls error inside an error from [`feed`], if it carries one.
pub(crate) fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}
