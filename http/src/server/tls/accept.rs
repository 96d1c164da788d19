//! The server's side of a TLS handshake on an accepted connection, within the handshake
//! timeout, on the connection's own task (the loop goes on serving other connections
//! while a handshake waits for its peer): [`handshake`] gives a [`TlsStream`], or the
//! [`Refused`] reason the connection closes.
//!
//! The first byte read decides what the peer speaks: `0x16` opens a TLS handshake
//! record; an ASCII capital is a plaintext HTTP request sent to the TLS port, answered
//! `400` with a JSON body saying so (as nginx answers "The plain HTTP request was sent
//! to HTTPS port") before the connection closes; anything else closes at once.

use std::io;
use std::net::Shutdown;
use std::time::Instant;

use keel_runtime::net::TcpStream;
use keel_runtime::time::timeout_at;

use super::config::TlsConfig;
use super::stream::{INCOMING_BUFFER, TlsStream, feed, flush};
use crate::server::render::refusal;
use crate::server::request_id::new_request_id;
use crate::status::StatusCode;

/// The content type of a TLS handshake record (RFC 8446 §5.1).
const HANDSHAKE_RECORD: u8 = 0x16;

/// What the answer to plaintext HTTP on the TLS port says.
pub(super) const PLAIN_HTTP_MESSAGE: &str = "The plain HTTP request was sent to the HTTPS port";

/// Why a connection closed before its handshake finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// A plaintext HTTP request: answered 400, then closed.
    PlainHttp,
    /// The first byte opened neither a TLS record nor an HTTP request.
    NotTls,
    /// rustls refused the handshake (its alert was sent when the socket took it).
    Failed,
    /// The handshake did not finish within the handshake timeout.
    TimedOut,
    /// The peer closed (or reset) the connection during the handshake.
    Closed,
}

impl Refused {
    /// Its `outcome` label on `/metrics`.
    pub(super) fn label(self) -> &'static str {
        match self {
            Refused::PlainHttp => "plain_http",
            Refused::NotTls => "not_tls",
            Refused::Failed => "failed",
            Refused::TimedOut => "timeout",
            Refused::Closed => "closed",
        }
    }
}

/// Runs the server's side of the handshake on `tcp`, within `config`'s handshake timeout
/// counted from now.
pub(super) async fn handshake(tcp: TcpStream, config: &TlsConfig) -> Result<TlsStream, Refused> {
    let deadline = Instant::now() + config.handshake_timeout;
    match timeout_at(deadline, run(tcp, config)).await {
        Ok(result) => result,
        Err(_) => Err(Refused::TimedOut),
    }
}

async fn run(tcp: TcpStream, config: &TlsConfig) -> Result<TlsStream, Refused> {
    let mut incoming = Vec::with_capacity(INCOMING_BUFFER);
    if read_more(&tcp, &mut incoming).await? == 0 {
        return Err(Refused::Closed);
    }
    match incoming[0] {
        HANDSHAKE_RECORD => {}
        b'A'..=b'Z' => {
            answer_plain_http(&tcp, &mut incoming).await;
            return Err(Refused::PlainHttp);
        }
        _ => return Err(Refused::NotTls),
    }
    let mut tls =
        rustls::ServerConnection::new(config.rustls.clone()).map_err(|_| Refused::Failed)?;
    let mut consumed = 0;
    let mut outgoing = Vec::new();
    while tls.is_handshaking() {
        if consumed < incoming.len() {
            if feed(&mut tls, &incoming, &mut consumed).is_err() {
                // The alert rustls queued tells the peer why.
                let _ = flush(&mut tls, &tcp, &mut outgoing).await;
                return Err(Refused::Failed);
            }
            continue;
        }
        if tls.wants_write() {
            flush(&mut tls, &tcp, &mut outgoing)
                .await
                .map_err(|_| Refused::Closed)?;
        }
        incoming.clear();
        consumed = 0;
        if read_more(&tcp, &mut incoming).await? == 0 {
            return Err(Refused::Closed);
        }
    }
    // The server's last flight (TLS 1.2's Finished, TLS 1.3's session tickets).
    flush(&mut tls, &tcp, &mut outgoing)
        .await
        .map_err(|_| Refused::Closed)?;
    Ok(TlsStream::new(tcp, tls, incoming, consumed))
}

/// Reads what arrives into `incoming`'s spare capacity.
async fn read_more(tcp: &TcpStream, incoming: &mut Vec<u8>) -> Result<usize, Refused> {
    if incoming.len() == incoming.capacity() {
        incoming.reserve(INCOMING_BUFFER);
    }
    tcp.read_buf(incoming)
        .await
        .map_err(|_: io::Error| Refused::Closed)
}

/// Answers plaintext HTTP with a 400, then closes gracefully: the write side first, then
/// whatever the client still sends is read and dropped until it closes (bounded by the
/// handshake timeout), so the close does not reset the connection before the client
/// read the answer.
async fn answer_plain_http(tcp: &TcpStream, incoming: &mut Vec<u8>) {
    if tcp.write_all(&plain_http_answer()).await.is_err() {
        return;
    }
    let _ = tcp.shutdown(Shutdown::Write);
    loop {
        incoming.clear();
        match tcp.read_buf(incoming).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// The whole answer to plaintext HTTP on the TLS port: a 400 in Keel's error JSON, with
/// `Connection: close`.
fn plain_http_answer() -> Vec<u8> {
    let request_id = new_request_id();
    let body =
        refusal(StatusCode::BAD_REQUEST, PLAIN_HTTP_MESSAGE).to_json(request_id.as_str(), true);
    let mut answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nx-request-id: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        request_id.as_str(),
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    answer
}
