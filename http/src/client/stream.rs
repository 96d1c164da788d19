//! [`Stream`]: a client connection's byte stream — plain TCP for `http://`, a rustls
//! `ClientConnection` driven sans-I/O over the same [`TcpStream`] for `https://`, on the
//! caller's loop (the driving code is shared with the server: `crate::tls_session`).
//!
//! [`Stream::connect`] opens the TCP connection and, for TLS, runs the handshake —
//! SNI and certificate verification for the URL's host, ALPN `http/1.1`. A certificate
//! or handshake refusal is [`ClientError::Tls`] naming the host; there is no fallback
//! to plaintext.

use std::io::{self, BufRead};
use std::sync::Arc;

use keel_runtime::net::TcpStream;
use rustls::pki_types::ServerName;

use super::error::ClientError;
use crate::tls_session::{INCOMING_BUFFER, Session, rustls_error};

/// A connection's byte stream.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

/// A TLS session over its TCP stream.
pub(crate) struct TlsStream {
    session: Session<rustls::ClientConnection>,
}

impl std::fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("tcp", &self.session.tcp)
            .field("version", &self.session.tls.protocol_version())
            .finish_non_exhaustive()
    }
}

impl Stream {
    /// Opens a connection to `host:port` (the name resolved on the blocking pool); with
    /// `tls`, then runs the TLS handshake verifying the server as `host`.
    pub(crate) async fn connect(
        host: &str,
        port: u16,
        tls: Option<&Arc<rustls::ClientConfig>>,
    ) -> Result<Stream, ClientError> {
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(ClientError::Connect)?;
        // Requests are written in one go; do not let Nagle hold the next one back.
        tcp.set_nodelay(true).map_err(ClientError::Connect)?;
        match tls {
            None => Ok(Stream::Plain(tcp)),
            Some(config) => Ok(Stream::Tls(Box::new(
                TlsStream::handshake(tcp, config, host).await?,
            ))),
        }
    }

    /// Reads into `buf`'s spare capacity (reserve first); `Ok(0)` is the end of the
    /// stream.
    pub(crate) async fn read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.read_buf(buf).await,
            Stream::Tls(tls) => tls.read_buf(buf).await,
        }
    }

    /// Writes all of `bytes`.
    pub(crate) async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.write_all(bytes).await,
            Stream::Tls(tls) => tls.write_all(bytes).await,
        }
    }

    /// Whether an idle connection still looks usable: the server has neither closed it
    /// nor sent data unasked (TLS records that carry no data, such as TLS 1.3 session
    /// tickets arriving late, are taken in and do not count).
    pub(crate) fn is_idle_usable(&mut self) -> bool {
        match self {
            Stream::Plain(tcp) => {
                let mut probe = [0u8; 1];
                matches!(tcp.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
            Stream::Tls(tls) => tls.is_idle_usable(),
        }
    }
}

impl TlsStream {
    /// The client's side of the handshake on `tcp`, verifying the server as `host`
    /// (also the SNI name, unless an IP address).
    async fn handshake(
        tcp: TcpStream,
        config: &Arc<rustls::ClientConfig>,
        host: &str,
    ) -> Result<TlsStream, ClientError> {
        let refused = |reason: String| ClientError::Tls {
            host: host.to_owned(),
            reason,
        };
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| refused(format!("not a TLS server name ({e})")))?;
        let tls = rustls::ClientConnection::new(Arc::clone(config), name)
            .map_err(|e| refused(e.to_string()))?;
        let mut session = Session::new(tcp, tls, Vec::with_capacity(INCOMING_BUFFER), 0);
        while session.tls.is_handshaking() {
            if session.tls.wants_write() {
                session.flush().await.map_err(ClientError::Connect)?;
            }
            if session.has_incoming() {
                if let Err(e) = session.feed() {
                    // The alert rustls queued tells the server why.
                    let _ = session.flush().await;
                    return Err(match rustls_error(&e) {
                        Some(why) => refused(describe(why)),
                        None => ClientError::Connect(e),
                    });
                }
                continue;
            }
            if session.read_socket().await.map_err(ClientError::Connect)? == 0 {
                return Err(ClientError::Connect(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{host} closed the connection during the TLS handshake"),
                )));
            }
        }
        // The client's last flight (its Finished).
        session.flush().await.map_err(ClientError::Connect)?;
        Ok(TlsStream { session })
    }

    async fn read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.session.read_buf(buf).await
    }

    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.session.write_all(bytes).await
    }

    fn is_idle_usable(&mut self) -> bool {
        let session = &mut self.session;
        loop {
            match session.try_read_socket() {
                Ok(0) => return false,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return false,
            }
        }
        while session.has_incoming() {
            if session.feed().is_err() {
                return false;
            }
        }
        // Data (or a close_notify, an empty read) the server sent unasked.
        matches!(session.tls.reader().fill_buf(), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }
}

fn describe(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(_) => {
            format!("the server's certificate was refused: {error}")
        }
        rustls::Error::AlertReceived(_) => format!("the server refused the handshake: {error}"),
        _ => format!("the handshake failed: {error}"),
    }
}
