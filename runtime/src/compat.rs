//! The `tokio-io` feature: tokio's [`AsyncRead`]/[`AsyncWrite`] on [`TcpStream`], so
//! runtime-agnostic clients written against those traits (tokio-postgres with
//! `default-features = false` and `Config::connect_raw`, for instance) run on Keel's
//! loops.
//!
//! Only the two traits come from tokio (`default-features = false`): Keel never starts
//! tokio's scheduler, reactor or timer. Readiness, wakes and timers stay Keel's; the
//! impls forward to [`TcpStream::poll_read`], [`TcpStream::poll_write`] and
//! [`TcpStream::poll_write_vectored`]. They exist for both `TcpStream` and
//! `&TcpStream` (every method takes `&self`), so one task may read while another
//! writes through a shared reference.
//!
//! ```
//! # #[cfg(feature = "tokio-io")] {
//! use keel_runtime::net::{TcpListener, TcpStream};
//! use tokio::io::{AsyncRead, AsyncWrite};
//!
//! fn needs_tokio_io<S: AsyncRead + AsyncWrite + Unpin>(_: &S) {}
//!
//! keel_runtime::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//!     let stream = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
//!     needs_tokio_io(&stream);
//! });
//! # }
//! ```

use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::net::TcpStream;

/// Reads into the unfilled part of `buf` and marks what arrived as filled, without
/// zeroing the unfilled part first (`sys::socket::recv_read_buf`).
fn poll_read_buf(
    stream: &TcpStream,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    let len = buf.remaining();
    stream
        .poll_recv(cx, len, |s| crate::sys::socket::recv_read_buf(s, buf))
        .map_ok(|_| ())
}

/// Half-closes the write side; a socket the peer already reset counts as shut down.
fn shutdown_write(stream: &TcpStream) -> Poll<io::Result<()>> {
    match stream.shutdown(Shutdown::Write) {
        Err(e) if e.kind() != io::ErrorKind::NotConnected => Poll::Ready(Err(e)),
        _ => Poll::Ready(Ok(())),
    }
}

// ===== impl TcpStream =====

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        poll_read_buf(&self, cx, buf)
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        TcpStream::poll_write(&self, cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        TcpStream::poll_write_vectored(&self, cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Writes go straight to the socket; there is no user-space buffer to flush.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        shutdown_write(&self)
    }
}

// ===== impl &TcpStream =====

impl AsyncRead for &TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        poll_read_buf(&self, cx, buf)
    }
}

impl AsyncWrite for &TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        TcpStream::poll_write(&self, cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        TcpStream::poll_write_vectored(&self, cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        shutdown_write(&self)
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::Context;

    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

    use crate::net::{TcpListener, TcpStream};

    #[test]
    fn round_trip_through_the_tokio_traits() {
        crate::block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            crate::spawn_local(async move {
                let (stream, _) = listener.accept().await.unwrap();
                let mut buf = [0; 4];
                stream.read_exact(&mut buf).await.unwrap();
                stream.write_all(&buf).await.unwrap();
            });
            let mut stream = TcpStream::connect(addr).await.unwrap();
            let written = std::future::poll_fn(|cx: &mut Context<'_>| {
                Pin::new(&mut stream).poll_write(cx, b"ping")
            })
            .await
            .unwrap();
            assert_eq!(written, 4);
            let mut storage = [0; 4];
            let mut buf = ReadBuf::new(&mut storage);
            while buf.remaining() > 0 {
                std::future::poll_fn(|cx| Pin::new(&mut &stream).poll_read(cx, &mut buf))
                    .await
                    .unwrap();
            }
            assert_eq!(buf.filled(), b"ping");
            std::future::poll_fn(|cx| Pin::new(&mut stream).poll_shutdown(cx))
                .await
                .unwrap();
        });
    }
}
