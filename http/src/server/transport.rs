//! [`Transport`]: the byte stream under a connection — a [`TcpStream`] when serving,
//! a TLS session over one (`super::tls`), memory in the benches (`super::memory`), so
//! all run the same protocol code; each is also an
//! [`UpgradedStream`] for a connection that switches protocols. A plaintext TCP stream
//! may also turn into an HTTP/2 connection (h2c) when its first bytes are the HTTP/2
//! preface.

use std::future::Future;
use std::io;

use keel_runtime::net::TcpStream;

use super::tls::ClientIdentity;
use crate::upgrade::{LocalFuture, UpgradedStream};

/// The byte stream under a connection.
pub(crate) trait Transport {
    /// Appends to `buf` what arrives, within its spare capacity; `Ok(0)` is the end of
    /// the stream (the caller always leaves spare capacity).
    fn read_buf(&mut self, buf: &mut Vec<u8>) -> impl Future<Output = io::Result<usize>>;
    /// Writes all of `buf`.
    fn write_all(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<()>>;
    /// Appends what the OS already holds, without waiting (`WouldBlock` when nothing).
    fn try_read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize>;
    /// Says goodbye before the stream drops, within a short bound of its own (a TLS
    /// session's `close_notify`); nothing for a bare stream, whose drop closes it.
    async fn close(&mut self) {}
    /// The verified client certificate of the stream (an mTLS session), if any.
    fn client_identity(&self) -> Option<ClientIdentity> {
        None
    }
    /// Whether an HTTP/2 preface on this stream starts h2c (a plaintext TCP stream: HTTP/2
    /// with prior knowledge); a TLS session negotiates HTTP/2 by ALPN instead.
    const SPEAKS_H2C: bool = false;
    /// The TCP stream under an h2c connection (`Some` exactly when `SPEAKS_H2C`).
    fn into_h2c(self) -> Option<TcpStream>
    where
        Self: Sized,
    {
        None
    }
}

/// The stream's own futures, not wrapped in another state machine (two or three reads
/// and writes per request).
impl Transport for TcpStream {
    #[inline]
    fn read_buf(&mut self, buf: &mut Vec<u8>) -> impl Future<Output = io::Result<usize>> {
        TcpStream::read_buf(self, buf)
    }

    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<()>> {
        TcpStream::write_all(self, buf)
    }

    fn try_read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        TcpStream::try_read_buf(self, buf)
    }

    const SPEAKS_H2C: bool = true;

    fn into_h2c(self) -> Option<TcpStream> {
        Some(self)
    }
}

/// Every transport can be handed to an upgraded protocol (a WebSocket), which boxes its
/// futures: it does not know the stream's type.
impl<T: Transport> UpgradedStream for T {
    fn read_buf<'a>(&'a mut self, buf: &'a mut Vec<u8>) -> LocalFuture<'a, io::Result<usize>> {
        Box::pin(Transport::read_buf(self, buf))
    }

    fn write_all<'a>(&'a mut self, buf: &'a [u8]) -> LocalFuture<'a, io::Result<()>> {
        Box::pin(Transport::write_all(self, buf))
    }

    fn close(&mut self) -> LocalFuture<'_, ()> {
        Box::pin(Transport::close(self))
    }
}
