//! [`TlsStream`]: a finished TLS session over a [`TcpStream`], driven sans-I/O on the
//! connection's own loop ([`Session`], shared with the client), as a [`Transport`] — so
//! the HTTP/1.1 connection runs over it unchanged.
//!
//! It is also tokio's `AsyncRead`/`AsyncWrite` (only the traits, polled on Keel's loop),
//! for the `h2` crate when ALPN chose HTTP/2.
//!
//! When the connection ends, the session says so (`close_notify`) before the socket
//! closes, so a strict client (OpenSSL 3) does not see a truncation.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use keel_runtime::net::TcpStream;
use keel_runtime::time::timeout;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::identity::ClientIdentity;
use crate::server::transport::Transport;
use crate::tls_session::Session;
pub(super) use crate::tls_session::{INCOMING_BUFFER, feed, flush};

/// How long the `close_notify` alert may wait for a peer that does not read.
const CLOSE_NOTIFY_WAIT: Duration = Duration::from_secs(1);

/// A TLS session whose handshake has finished, over its TCP stream.
pub(crate) struct TlsStream {
    session: Session<rustls::ServerConnection>,
    /// The client's verified certificate (mTLS), read once.
    identity: Option<ClientIdentity>,
    /// `close_notify` was queued (an `AsyncWrite` shutdown).
    closing: bool,
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
            closing: false,
            session: Session::new(tcp, tls, incoming, consumed),
        }
    }

    /// Whether ALPN chose HTTP/2.
    pub(super) fn is_h2(&self) -> bool {
        self.session.tls.alpn_protocol() == Some(b"h2")
    }

    /// The negotiated protocol version.
    pub(super) fn protocol_version(&self) -> Option<rustls::ProtocolVersion> {
        self.session.tls.protocol_version()
    }
}

impl Transport for TlsStream {
    async fn read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.session.read_buf(buf).await
    }

    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.session.write_all(buf).await
    }

    fn try_read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.session.try_read_buf(buf)
    }

    fn client_identity(&self) -> Option<ClientIdentity> {
        self.identity.clone()
    }

    async fn close(&mut self) {
        self.session.tls.send_close_notify();
        let _ = timeout(CLOSE_NOTIFY_WAIT, self.session.flush()).await;
    }
}

impl AsyncRead for TlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.session.poll_read_plain(cx, buf)
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.session.poll_write_plain(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.session.poll_send_records(cx)
    }

    /// `close_notify`, then the TCP write side closes.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.closing {
            self.closing = true;
            self.session.tls.send_close_notify();
        }
        ready!(self.session.poll_send_records(cx))?;
        let _ = self.session.tcp.shutdown(std::net::Shutdown::Write);
        Poll::Ready(Ok(()))
    }
}
