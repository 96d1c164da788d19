//! [`TlsStream`]: a finished TLS session over a [`TcpStream`], driven sans-I/O on the
//! connection's own loop ([`Session`], shared with the client), as a [`Transport`] — so
//! the HTTP/1.1 connection runs over it unchanged.
//!
//! When the connection ends, the session says so (`close_notify`) before the socket
//! closes, so a strict client (OpenSSL 3) does not see a truncation.

use std::io;

use std::time::Duration;

use keel_runtime::net::TcpStream;
use keel_runtime::time::timeout;

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
            session: Session::new(tcp, tls, incoming, consumed),
        }
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
