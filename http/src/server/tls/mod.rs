//! TLS for the server, on rustls driven sans-I/O on Keel's own [`TcpStream`], on the
//! connection's own loop (no tokio scheduler, no extra thread): a TLS connection is an
//! HTTP/1.1 connection over a [`TlsStream`] instead of a bare TCP stream.
//!
//! * [`config`]: [`TlsConfig`] — certificate, key, versions, ALPN, handshake timeout,
//!   and `KEEL_TLS_*`;
//! * [`accept`]: the handshake within its timeout, and the answer to plaintext HTTP on
//!   the TLS port;
//! * [`stream`]: [`TlsStream`], the finished session as a
//!   [`Transport`](super::transport::Transport);
//! * `metrics`: `keel_tls_handshakes_total`.
//!
//! A connection's way: accepted and counted against `KEEL_MAX_CONNECTIONS` (it holds its
//! slot through the handshake) → [`serve`]: the handshake on the connection's task → the
//! HTTP/1.1 connection over the TLS stream, unchanged.

mod accept;
mod config;
mod metrics;
mod stream;

use std::net::SocketAddr;
use std::rc::Rc;

use keel_runtime::net::TcpStream;

pub use self::config::{DEFAULT_HANDSHAKE_TIMEOUT, TlsConfig};
use super::{LoopServer, OpenGuard, h1};

/// Exports the handshake counters on `/metrics` (once per process).
pub(crate) fn register_metrics() {
    metrics::register();
}

/// Serves one accepted connection over TLS: the handshake within the handshake timeout,
/// then HTTP/1.1 over the session; `open` is let go when the connection ends.
pub(crate) async fn serve(
    tcp: TcpStream,
    peer: SocketAddr,
    server: Rc<LoopServer>,
    open: OpenGuard,
    tls: TlsConfig,
) {
    match accept::handshake(tcp, &tls).await {
        Ok(stream) => {
            metrics::finished(stream.protocol_version());
            h1::serve(stream, peer, server, open).await;
        }
        Err(why) => {
            metrics::refused(why);
            tracing::debug!(%peer, outcome = why.label(), "TLS handshake did not finish");
        }
    }
}
