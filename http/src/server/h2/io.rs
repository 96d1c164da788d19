//! [`H2Io`]: the byte stream the `h2` crate drives, over Keel's TCP stream or TLS session
//! through tokio's `AsyncRead`/`AsyncWrite` (only the traits: Keel's loop does the
//! waiting). On the way it gives `h2` first the bytes the HTTP/1.1 connection already
//! read (the preface it recognised), shows every byte to the connection's
//! [`FloodGuard`], and counts bytes on `/metrics`.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::flood::FloodGuard;
use crate::metrics::HttpStats;

/// A byte stream as `h2` sees it.
pub(super) struct H2Io<S> {
    inner: S,
    /// Read before `h2` took over: handed out first.
    rewind: Vec<u8>,
    rewind_at: usize,
    guard: Rc<FloodGuard>,
    stats: Rc<HttpStats>,
    /// Whether the trip was already reported to the driver (woken once).
    stopped: bool,
}

impl<S> H2Io<S> {
    /// `inner`, with `rewind` (bytes already read from it) to be read first.
    pub(super) fn new(
        inner: S,
        rewind: Vec<u8>,
        guard: Rc<FloodGuard>,
        stats: Rc<HttpStats>,
    ) -> H2Io<S> {
        H2Io {
            inner,
            rewind,
            rewind_at: 0,
            guard,
            stats,
            stopped: false,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for H2Io<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.guard.tripped().is_some() {
            // A flood: nothing more reaches `h2`. The driver, woken once, says GOAWAY.
            if !this.stopped {
                this.stopped = true;
                cx.waker().wake_by_ref();
            }
            return Poll::Pending;
        }
        if this.rewind_at < this.rewind.len() {
            let rest = &this.rewind[this.rewind_at..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.guard.inbound(&rest[..n]);
            this.rewind_at += n;
            if this.rewind_at == this.rewind.len() {
                this.rewind = Vec::new();
                this.rewind_at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let read = &buf.filled()[before..];
            this.stats.bytes_in(read.len());
            this.guard.inbound(read);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for H2Io<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            this.stats.bytes_out(n);
            this.guard.outbound(&buf[..n]);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled {
            this.stats.bytes_out(n);
            let mut left = n;
            for buf in bufs {
                if left == 0 {
                    break;
                }
                let take = left.min(buf.len());
                this.guard.outbound(&buf[..take]);
                left -= take;
            }
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
