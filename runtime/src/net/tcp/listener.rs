//! [`TcpListener`]: accepts connections on the current loop and counts them in the loop's
//! metrics (so the kernel's balance across loops is visible).

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::task::{Context, Poll, ready};

use super::socket::DEFAULT_BACKLOG;
use super::{TcpSocket, TcpStream};
use crate::current_loop;
use crate::metrics::batch::bump;
use crate::net::registration::Registered;
use crate::net::scheduled_io::Direction;

/// A TCP listener registered with the loop that created it.
///
/// # Examples
///
/// ```
/// use keel_runtime::net::{TcpListener, TcpStream};
///
/// keel_runtime::block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     let client = keel_runtime::spawn_local(async move { TcpStream::connect(addr).await });
///     let (_server_side, peer) = listener.accept().await.unwrap();
///     let client = client.await.unwrap().unwrap();
///     assert_eq!(client.local_addr().unwrap(), peer);
/// });
/// ```
#[derive(Debug)]
pub struct TcpListener {
    inner: Registered<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds with `SO_REUSEADDR` and `SO_REUSEPORT` set and a backlog of
    /// [`DEFAULT_BACKLOG`](super::socket::DEFAULT_BACKLOG), so every loop can bind the same
    /// address. Tries each address `addr` resolves to until one binds.
    ///
    /// # Errors
    ///
    /// The last bind error, or not being on a Keel loop.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let mut last = None;
        for addr in addr.to_socket_addrs()? {
            match TcpListener::bind_one(addr, DEFAULT_BACKLOG) {
                Ok(listener) => return Ok(listener),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no address to bind to")
        }))
    }

    /// Like [`bind`](TcpListener::bind) for one address, with a chosen backlog.
    ///
    /// # Errors
    ///
    /// The bind or listen error, or not being on a Keel loop.
    pub fn bind_one(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
        TcpListener::from_std(TcpListener::bind_std(addr, backlog)?)
    }

    /// Binds `addr` as [`bind_one`](TcpListener::bind_one) does (`SO_REUSEADDR`,
    /// `SO_REUSEPORT`) but registers with no loop: the listening std socket, for binding
    /// before any loop runs (so the port is known and taken, and a bad address fails
    /// early). One loop then serves it through [`from_std`](TcpListener::from_std) while
    /// the others bind their own listeners on the same address.
    ///
    /// # Errors
    ///
    /// The bind or listen error.
    ///
    /// # Examples
    ///
    /// ```
    /// use keel_runtime::net::{DEFAULT_BACKLOG, TcpListener};
    ///
    /// // No loop yet: port 0 picks a free port, which every loop then shares.
    /// let first = TcpListener::bind_std("127.0.0.1:0".parse().unwrap(), DEFAULT_BACKLOG).unwrap();
    /// let addr = first.local_addr().unwrap();
    /// keel_runtime::block_on(async move {
    ///     let first = TcpListener::from_std(first).unwrap();
    ///     let second = TcpListener::bind_one(addr, DEFAULT_BACKLOG).unwrap();
    ///     assert_eq!(first.local_addr().unwrap(), second.local_addr().unwrap());
    /// });
    /// ```
    pub fn bind_std(addr: SocketAddr, backlog: u32) -> io::Result<std::net::TcpListener> {
        let socket = TcpSocket::for_addr(addr)?;
        socket.set_reuseaddr(true)?;
        socket.set_reuseport(true)?;
        socket.bind(addr)?;
        socket.listen_std(backlog)
    }

    /// Registers a listening std socket with the current loop (made non-blocking).
    ///
    /// # Errors
    ///
    /// When the socket cannot be made non-blocking or registered.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        let inner = Registered::new(mio::net::TcpListener::from_std(listener))?;
        Ok(TcpListener { inner })
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// When the OS cannot tell.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// Waits for the next connection.
    ///
    /// # Errors
    ///
    /// Accept errors such as running out of file descriptors (`EMFILE`); the listener
    /// stays usable.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for the next connection.
    ///
    /// # Errors
    ///
    /// As [`accept`](TcpListener::accept).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (stream, addr) = ready!(self.inner.poll_io(cx, Direction::Read, |l| l.accept()))?;
        current_loop::with_core(|core| bump(&core.stats.connections_accepted));
        Poll::Ready(Ok((TcpStream::accepted(stream)?, addr)))
    }
}
