//! [`TcpStream`]: a connected TCP socket on the current loop — read, write (also
//! vectored), shutdown, options — counted in the loop's open-connections figure.

use std::future::poll_fn;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::task::{Context, Poll};
use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};

use super::TcpSocket;
use crate::current_loop;
use crate::net::registration::Registered;
use crate::net::scheduled_io::Direction;
use crate::net::{ToSocketAddrs, lookup_host};
use crate::sys;

/// A TCP connection registered with the loop that created it.
///
/// All operations take `&self`, so one task may read while another writes on the same
/// stream (both on this loop).
///
/// # Examples
///
/// ```
/// use keel_runtime::net::{TcpListener, TcpStream};
///
/// keel_runtime::block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     keel_runtime::spawn_local(async move {
///         let (stream, _) = listener.accept().await.unwrap();
///         let mut buf = [0; 5];
///         let n = stream.read(&mut buf).await.unwrap();
///         stream.write_all(&buf[..n]).await.unwrap();
///     });
///     let stream = TcpStream::connect(addr).await.unwrap();
///     stream.write_all(b"hello").await.unwrap();
///     let mut buf = [0; 5];
///     stream.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"hello");
/// });
/// ```
#[derive(Debug)]
pub struct TcpStream {
    inner: Registered<mio::net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying each address it resolves to in turn.
    ///
    /// Host names (`"db.internal:5432"`, `("db.internal", 5432)`) are resolved with
    /// [`lookup_host`], on the blocking pool's DNS class, never on the loop; socket
    /// addresses and IP literals need no lookup.
    ///
    /// # Errors
    ///
    /// The lookup's error, the last connect error, or not being on a Keel loop.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let mut last = None;
        for addr in lookup_host(addr).await? {
            match TcpSocket::for_addr(addr)?.connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no address to connect to")
        }))
    }

    /// Wraps a socket whose non-blocking connect is in progress and waits for it.
    pub(crate) async fn connecting(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        let stream = TcpStream::accepted(stream)?;
        poll_fn(|cx| stream.inner.poll_ready(cx, Direction::Write)).await;
        if let Some(e) = stream.inner.get_ref().take_error()? {
            return Err(e);
        }
        match stream.inner.get_ref().peer_addr() {
            Ok(_) => Ok(stream),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                // Woken without a verdict: wait for the next edge.
                stream.inner.clear_ready(Direction::Write);
                poll_fn(|cx| stream.inner.poll_ready(cx, Direction::Write)).await;
                match stream.inner.get_ref().take_error()? {
                    Some(e) => Err(e),
                    None => stream.inner.get_ref().peer_addr().map(|_| stream),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Registers an accepted or connecting stream with the current loop.
    pub(crate) fn accepted(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        let inner = Registered::new(stream)?;
        current_loop::with_core(|core| core.stats.stream_opened());
        Ok(TcpStream { inner })
    }

    /// Registers a connected std stream with the current loop (made non-blocking).
    ///
    /// # Errors
    ///
    /// When the stream cannot be made non-blocking or registered.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::accepted(mio::net::TcpStream::from_std(stream))
    }

    /// Reads into `buf`; `Ok(0)` means the peer closed its side.
    ///
    /// # Errors
    ///
    /// Socket errors such as a reset connection.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read(cx, buf)).await
    }

    /// Reads into the spare capacity of `buf` (between its length and its capacity) and
    /// appends what arrived, without zeroing that capacity first: a connection can keep
    /// an 8 KiB buffer of which only the pages a read touches become resident (tokio's
    /// `read_buf`). `Ok(0)` means the peer closed its side, or that `buf` had no spare
    /// capacity: reserve before reading.
    ///
    /// # Errors
    ///
    /// Socket errors such as a reset connection.
    pub async fn read_buf(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read_buf(cx, buf)).await
    }

    /// Reads exactly `buf.len()` bytes.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` when the peer closes first; socket errors.
    pub async fn read_exact(&self, mut buf: &mut [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read(buf).await? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => buf = &mut buf[n..],
            }
        }
        Ok(())
    }

    /// Writes some of `buf`, returning how much.
    ///
    /// # Errors
    ///
    /// Socket errors such as a broken pipe.
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_write(cx, buf)).await
    }

    /// Writes all of `buf`.
    ///
    /// # Errors
    ///
    /// Socket errors; `WriteZero` when the socket accepts nothing.
    pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }

    /// Writes from several buffers in one syscall (`writev`), returning how much.
    ///
    /// # Errors
    ///
    /// Socket errors.
    pub async fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_write_vectored(cx, bufs)).await
    }

    /// Polls a read into `buf`.
    ///
    /// # Errors
    ///
    /// Socket errors.
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let len = buf.len();
        self.inner
            .poll_transfer(cx, Direction::Read, len, |mut s| s.read(buf))
    }

    /// Polls a read into the spare capacity of `buf`, appending what arrived (see
    /// [`read_buf`](Self::read_buf)).
    ///
    /// # Errors
    ///
    /// Socket errors.
    #[inline]
    pub fn poll_read_buf(
        &self,
        cx: &mut Context<'_>,
        buf: &mut Vec<u8>,
    ) -> Poll<io::Result<usize>> {
        let len = buf.capacity() - buf.len();
        self.poll_recv(cx, len, |s| sys::socket::recv_append(s, buf))
    }

    /// Polls a read by `recv`, one of `sys::socket`'s functions receiving into up to
    /// `len` bytes that need not be initialised (a `Vec`'s tail, tokio's `ReadBuf`), so
    /// the caller does not zero them first.
    #[inline]
    pub(crate) fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        len: usize,
        recv: impl FnMut(&mio::net::TcpStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_transfer(cx, Direction::Read, len, recv)
    }

    /// Polls a write of `buf`.
    ///
    /// # Errors
    ///
    /// Socket errors.
    #[inline]
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.inner
            .poll_transfer(cx, Direction::Write, buf.len(), |mut s| s.write(buf))
    }

    /// Polls a vectored write.
    ///
    /// # Errors
    ///
    /// Socket errors.
    pub fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.inner
            .poll_transfer(cx, Direction::Write, len, |mut s| s.write_vectored(bufs))
    }

    /// Waits until the stream is readable (data, end of stream or an error).
    pub async fn readable(&self) {
        poll_fn(|cx| self.inner.poll_ready(cx, Direction::Read)).await
    }

    /// Reads without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when no data is there, or socket errors.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let result = self.inner.get_ref().read(buf);
        match &result {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.inner.clear_ready(Direction::Read);
            }
            Ok(n) if *n > 0 && *n < buf.len() => self.inner.clear_after_short(Direction::Read),
            _ => {}
        }
        result
    }

    /// Reads what has already arrived into the spare capacity of `buf` without waiting,
    /// appending it (see [`read_buf`](Self::read_buf)).
    ///
    /// # Errors
    ///
    /// `WouldBlock` when no data is there, or socket errors.
    pub fn try_read_buf(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let len = buf.capacity() - buf.len();
        let result = sys::socket::recv_append(self.inner.get_ref(), buf);
        match &result {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.inner.clear_ready(Direction::Read);
            }
            Ok(n) if *n > 0 && *n < len => self.inner.clear_after_short(Direction::Read),
            _ => {}
        }
        result
    }

    /// Shuts down the read half, the write half or both.
    ///
    /// # Errors
    ///
    /// When the socket is not connected.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }

    /// Sets `TCP_NODELAY` (send small writes at once instead of coalescing them).
    ///
    /// # Errors
    ///
    /// When the OS refuses.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.inner.get_ref().set_nodelay(on)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    ///
    /// When the OS cannot tell.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.get_ref().nodelay()
    }

    /// Turns TCP keepalive on, probing after `idle` without traffic (`SO_KEEPALIVE` and
    /// `TCP_KEEPIDLE`), or off with `None`. The probe interval and count stay the OS's
    /// unless [`set_keepalive_probes`](Self::set_keepalive_probes) sets them. A peer
    /// that vanished (host down, cable pulled, NAT entry expired) then fails reads
    /// with an error instead of leaving the connection hanging.
    ///
    /// # Errors
    ///
    /// When the OS refuses (e.g. an `idle` beyond its maximum).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use keel_runtime::net::{TcpListener, TcpStream};
    ///
    /// keel_runtime::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let stream = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     stream.set_keepalive(Some(Duration::from_secs(60))).unwrap();
    ///     assert_eq!(stream.keepalive().unwrap(), Some(Duration::from_secs(60)));
    ///     stream.set_keepalive(None).unwrap();
    ///     assert_eq!(stream.keepalive().unwrap(), None);
    /// });
    /// ```
    pub fn set_keepalive(&self, idle: Option<Duration>) -> io::Result<()> {
        let socket = SockRef::from(self.inner.get_ref());
        match idle {
            Some(idle) => socket.set_tcp_keepalive(&TcpKeepalive::new().with_time(idle)),
            None => socket.set_keepalive(false),
        }
    }

    /// Sets the interval between keepalive probes (`TCP_KEEPINTVL`) and how many
    /// unanswered ones close the connection (`TCP_KEEPCNT`); `None` leaves that one as
    /// it is. Also turns keepalive on (with the idle time left as it is).
    ///
    /// # Errors
    ///
    /// When the OS refuses.
    pub fn set_keepalive_probes(
        &self,
        interval: Option<Duration>,
        retries: Option<u32>,
    ) -> io::Result<()> {
        let mut params = TcpKeepalive::new();
        if let Some(interval) = interval {
            params = params.with_interval(interval);
        }
        if let Some(retries) = retries {
            params = params.with_retries(retries);
        }
        SockRef::from(self.inner.get_ref()).set_tcp_keepalive(&params)
    }

    /// The keepalive idle time while keepalive is on, `None` while it is off.
    ///
    /// # Errors
    ///
    /// When the OS cannot tell.
    pub fn keepalive(&self) -> io::Result<Option<Duration>> {
        let socket = SockRef::from(self.inner.get_ref());
        if socket.keepalive()? {
            socket.tcp_keepalive_time().map(Some)
        } else {
            Ok(None)
        }
    }

    /// The keepalive probe interval and count (`TCP_KEEPINTVL`, `TCP_KEEPCNT`), whether
    /// keepalive is on or not.
    ///
    /// # Errors
    ///
    /// When the OS cannot tell.
    pub fn keepalive_probes(&self) -> io::Result<(Duration, u32)> {
        let socket = SockRef::from(self.inner.get_ref());
        Ok((
            socket.tcp_keepalive_interval()?,
            socket.tcp_keepalive_retries()?,
        ))
    }

    /// The remote address.
    ///
    /// # Errors
    ///
    /// When the socket is not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// When the OS cannot tell.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        current_loop::with_core(|core| core.stats.stream_closed());
    }
}
