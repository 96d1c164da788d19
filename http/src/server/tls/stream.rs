//! [`TlsStream`]: a finished TLS session over a [`TcpStream`], driven sans-I/O on the
//! connection's own loop, as a [`Transport`] — so the HTTP/1.1 connection runs over it
//! unchanged.
//!
//! Ciphertext read from the socket waits in `incoming` until rustls takes it
//! (`read_tls`, then `process_new_packets`); plaintext comes out of rustls' reader
//! straight into the connection's buffer (`fill_buf`/`consume`: no zeroed scratch
//! space). Writes hand plaintext to rustls' writer and send the records it makes from
//! `outgoing` with one socket write per batch. Records rustls wants to send while
//! reading (a TLS 1.3 key update's answer) go out with the next write, which an HTTP/1.1
//! server always makes after a read.
//!
//! When the connection ends, the session says so (`close_notify`) before the socket
//! closes, so a strict client (OpenSSL 3) does not see a truncation.
//!
//! Cancelling a read (a timeout, the drain) loses nothing: the only await in it is the
//! socket read, which fills `incoming`, a field.

use std::io::{self, BufRead, Write};

use std::time::Duration;

use keel_runtime::net::TcpStream;
use keel_runtime::time::timeout;

use super::identity::ClientIdentity;
use crate::server::transport::Transport;
pub(super) use crate::tls_session::{feed, flush};

/// Room for one full TLS record (16 KiB of payload plus its header and tag) per read.
pub(super) const INCOMING_BUFFER: usize = 16 * 1024 + 512;

/// How long the `close_notify` alert may wait for a peer that does not read.
const CLOSE_NOTIFY_WAIT: Duration = Duration::from_secs(1);

/// A TLS session whose handshake has finished, over its TCP stream.
pub(crate) struct TlsStream {
    tcp: TcpStream,
    tls: rustls::ServerConnection,
    /// Ciphertext read from the socket: `incoming[consumed..]` is not yet handed to
    /// rustls.
    incoming: Vec<u8>,
    consumed: usize,
    /// TLS records on their way to the socket.
    outgoing: Vec<u8>,
    /// The client's verified certificate (mTLS), read once.
    identity: Option<ClientIdentity>,
}

impl TlsStream {
    /// A stream over `tcp` for the session `tls`, with the ciphertext the handshake read
    /// past its end (`incoming[consumed..]`: a request sent right behind the client's
    /// `Finished`).
    pub(super) fn new(
        tcp: TcpStream,
        tls: rustls::ServerConnection,
        incoming: Vec<u8>,
        consumed: usize,
    ) -> TlsStream {
        let identity = tls
            .peer_certificates()
            .and_then(|certs| certs.first())
            .map(|leaf| ClientIdentity::from_der(leaf));
        TlsStream {
            identity,
            tcp,
            tls,
            incoming,
            consumed,
            outgoing: Vec::new(),
        }
    }

    /// The negotiated protocol version.
    pub(super) fn protocol_version(&self) -> Option<rustls::ProtocolVersion> {
        self.tls.protocol_version()
    }

    /// Moves decrypted bytes into `buf`'s spare capacity: `Some(0)` once the peer closed
    /// the session (`close_notify`), `None` when none are waiting.
    fn take_plaintext(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<usize>> {
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

    /// Whether ciphertext read from the socket still waits for rustls.
    fn has_incoming(&self) -> bool {
        self.consumed < self.incoming.len()
    }

    /// Hands rustls the next part of `incoming` and processes it.
    fn feed(&mut self) -> io::Result<()> {
        feed(&mut self.tls, &self.incoming, &mut self.consumed)?;
        if !self.has_incoming() {
            self.incoming.clear();
            self.consumed = 0;
        }
        Ok(())
    }

    /// Makes room for a socket read at the end of `incoming`.
    fn reserve_incoming(&mut self) {
        if !self.has_incoming() {
            self.incoming.clear();
            self.consumed = 0;
        }
        if self.incoming.capacity() == self.incoming.len() {
            self.incoming.reserve(INCOMING_BUFFER);
        }
    }

    /// Sends every record rustls has ready.
    async fn flush(&mut self) -> io::Result<()> {
        flush(&mut self.tls, &self.tcp, &mut self.outgoing).await
    }
}

impl Transport for TlsStream {
    async fn read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        loop {
            if let Some(n) = self.take_plaintext(buf)? {
                return Ok(n);
            }
            if self.has_incoming() {
                self.feed()?;
                continue;
            }
            self.reserve_incoming();
            if self.tcp.read_buf(&mut self.incoming).await? == 0 {
                // A TCP close without `close_notify` (most HTTP clients): the end of the
                // stream, as HTTP/1.1 frames its own messages.
                return Ok(0);
            }
        }
    }

    async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.tls.writer().write(buf)?;
            buf = &buf[n..];
            // Sent as it is made: rustls' own buffer stays within its limit.
            self.flush().await?;
        }
        self.flush().await
    }

    fn try_read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        loop {
            if let Some(n) = self.take_plaintext(buf)? {
                return Ok(n);
            }
            if self.has_incoming() {
                self.feed()?;
                continue;
            }
            self.reserve_incoming();
            if self.tcp.try_read_buf(&mut self.incoming)? == 0 {
                return Ok(0);
            }
        }
    }

    fn client_identity(&self) -> Option<ClientIdentity> {
        self.identity.clone()
    }

    async fn close(&mut self) {
        self.tls.send_close_notify();
        let _ = timeout(CLOSE_NOTIFY_WAIT, self.flush()).await;
    }
}
