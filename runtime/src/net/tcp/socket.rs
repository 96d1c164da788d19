//! [`TcpSocket`]: a TCP socket not yet bound or connected, for setting options first —
//! above all `SO_REUSEPORT`, which lets every loop own a listener on the same port.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

use super::{TcpListener, TcpStream};

/// The listen backlog used by [`TcpListener::bind`].
pub const DEFAULT_BACKLOG: u32 = 1024;

/// A TCP socket being configured.
///
/// # Examples
///
/// ```
/// use keel_runtime::net::TcpSocket;
///
/// keel_runtime::block_on(async {
///     let socket = TcpSocket::new_v4().unwrap();
///     socket.set_reuseport(true).unwrap();
///     socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
///     let listener = socket.listen(128).unwrap();
///     assert_ne!(listener.local_addr().unwrap().port(), 0);
/// });
/// ```
#[derive(Debug)]
pub struct TcpSocket {
    inner: Socket,
}

impl TcpSocket {
    /// A non-blocking IPv4 TCP socket.
    ///
    /// # Errors
    ///
    /// When the OS refuses a socket (for example, out of file descriptors).
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV4)
    }

    /// A non-blocking IPv6 TCP socket.
    ///
    /// # Errors
    ///
    /// When the OS refuses a socket.
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV6)
    }

    /// A socket of the family of `addr`.
    ///
    /// # Errors
    ///
    /// When the OS refuses a socket.
    pub fn for_addr(addr: SocketAddr) -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::for_address(addr))
    }

    fn new(domain: Domain) -> io::Result<TcpSocket> {
        let inner = Socket::new(
            domain,
            Type::STREAM.nonblocking().cloexec(),
            Some(Protocol::TCP),
        )?;
        Ok(TcpSocket { inner })
    }

    /// Sets `SO_REUSEADDR` (rebinding a port in TIME_WAIT).
    ///
    /// # Errors
    ///
    /// When the OS refuses the option.
    pub fn set_reuseaddr(&self, on: bool) -> io::Result<()> {
        self.inner.set_reuse_address(on)
    }

    /// Sets `SO_REUSEPORT`: several sockets (one per loop) may listen on the same port,
    /// and the kernel balances new connections across them.
    ///
    /// # Errors
    ///
    /// When the OS refuses the option.
    pub fn set_reuseport(&self, on: bool) -> io::Result<()> {
        self.inner.set_reuse_port(on)
    }

    /// Sets `TCP_NODELAY` (accepted streams inherit it on Linux).
    ///
    /// # Errors
    ///
    /// When the OS refuses the option.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.inner.set_tcp_nodelay(on)
    }

    /// Binds to `addr`.
    ///
    /// # Errors
    ///
    /// When the address is in use (without `SO_REUSEPORT` on every socket) or not
    /// available.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        self.inner.bind(&addr.into())
    }

    /// Starts listening with a `backlog` of pending connections and registers the
    /// listener with the current loop.
    ///
    /// # Errors
    ///
    /// When `listen` fails or the caller is not on a Keel loop.
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        TcpListener::from_std(self.listen_std(backlog)?)
    }

    /// Starts listening with a `backlog` of pending connections, without registering
    /// with a loop: for a listener made before any loop runs, handed to one later with
    /// [`TcpListener::from_std`].
    ///
    /// # Errors
    ///
    /// When `listen` fails.
    pub fn listen_std(self, backlog: u32) -> io::Result<std::net::TcpListener> {
        self.inner.listen(backlog.min(i32::MAX as u32) as i32)?;
        Ok(self.inner.into())
    }

    /// Connects to `addr` and registers the stream with the current loop.
    ///
    /// # Errors
    ///
    /// The connect error (refused, unreachable, …), or not being on a Keel loop.
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        match self.inner.connect(&addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        let std: std::net::TcpStream = self.inner.into();
        TcpStream::connecting(mio::net::TcpStream::from_std(std)).await
    }
}
