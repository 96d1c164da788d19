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
//! * `certs`: the served certificates (the default, and others chosen by SNI) as
//!   rustls' certificate resolver;
//! * [`identity`]: [`ClientIdentity`], a verified client certificate (mTLS);
//! * `reload`: certificates reloaded when their files change;
//! * `x509`: the fields Keel reads out of a certificate (expiry, names, subject);
//! * `metrics`: handshakes, their duration, reloads, certificate expiry.
//!
//! A connection's way: accepted and counted against `KEEL_MAX_CONNECTIONS` (it holds its
//! slot through the handshake) → [`serve`]: the handshake on the connection's task → the
//! HTTP/1.1 connection over the TLS stream, unchanged, or the HTTP/2 one when ALPN chose
//! `h2`.

mod accept;
mod certs;
mod config;
mod identity;
mod metrics;
mod reload;
mod stream;
mod x509;

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use keel_runtime::net::TcpStream;

pub use self::config::{DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_RELOAD_INTERVAL, TlsConfig};
pub use self::identity::ClientIdentity;
use super::transport::Transport;
use super::{LoopServer, OpenGuard, h1, h2};

/// Exports the TLS families on `/metrics` (once per process), and starts what runs
/// beside a TLS server (once per config): the certificate reload thread, the expiry
/// gauge.
pub(crate) fn start(tls: Option<&TlsConfig>) {
    metrics::register();
    if let Some((store, stamps, interval)) = tls.and_then(TlsConfig::companions) {
        metrics::watch_expiry(store);
        if !interval.is_zero() {
            reload::watch(store, stamps.clone(), interval);
        }
    }
}

/// Serves one accepted connection over TLS: the handshake within the handshake timeout,
/// then HTTP/2 over the session when ALPN chose `h2`, else HTTP/1.1; `open` is let go
/// when the connection ends.
pub(crate) async fn serve(
    tcp: TcpStream,
    peer: SocketAddr,
    server: Rc<LoopServer>,
    open: OpenGuard,
    tls: TlsConfig,
) {
    let accepted = Instant::now();
    match accept::handshake(tcp, &tls).await {
        Ok(stream) => {
            metrics::finished(stream.protocol_version(), accepted.elapsed());
            if stream.is_h2() {
                let identity = stream.client_identity();
                Box::pin(h2::serve(stream, Vec::new(), peer, server, open, identity)).await;
            } else {
                h1::serve(stream, peer, server, open).await;
            }
        }
        Err(why) => {
            metrics::refused(why);
            tracing::debug!(%peer, outcome = why.label(), "TLS handshake did not finish");
        }
    }
}
