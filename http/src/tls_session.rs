//! Driving a rustls session sans-I/O over Keel's [`TcpStream`], the part the server's TLS
//! (`server/tls/`) and the client's (`client/tls.rs`) share: [`feed`] hands ciphertext
//! read from the socket to rustls and processes it, [`flush`] sends the records rustls
//! made. Generic over the side (`rustls::ConnectionCommon<ServerConnectionData>` or
//! `<ClientConnectionData>`); each side owns its buffers and its own handshake loop.

use std::io;

use keel_runtime::net::TcpStream;
use rustls::ConnectionCommon;

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
