//! The `postgres` feature: [`PgManager`], a [`Manager`] over tokio-postgres driven on
//! Keel's loop.
//!
//! tokio-postgres is built with `default-features = false` (no `runtime` feature, so
//! no tokio reactor or timer): each connection is a Keel
//! [`TcpStream`] handed to `Config::connect_raw` through
//! keel-runtime's `tokio-io` compat, and the returned connection future (which does
//! the socket I/O) is `spawn_local`ed on the same loop as the pool. See
//! `docs/why-postgres-client.md`.
//!
//! # Recycling
//!
//! The stream is wrapped in a sniffer that follows the message framing both ways: it
//! counts `Query`/`Sync` messages sent (each earns exactly one `ReadyForQuery`) and
//! remembers the transaction status of the last `ReadyForQuery` (`I` idle, `T` in a
//! transaction, `E` in a failed one). The count matters because the server flushes an
//! `ErrorResponse` before its `ReadyForQuery`: a client may see the error, and return
//! the connection, before the status arrives. On return and before each checkout,
//! [`Manager::check`] reports a closed client as broken, and a connection that is not
//! *settled* (idle with nothing in flight: returned inside a transaction, failed or
//! not, or with a cancelled query still running) as needing a recycle; the recycle
//! runs `ROLLBACK` (queued behind anything in flight) and closes the connection unless
//! it is settled afterwards. A
//! connection idle past the validation window is checked with an empty query.
//!
//! # Examples
//!
//! ```no_run
//! use std::time::Duration;
//! use keel_pool::Pool;
//! use keel_pool::postgres::PgManager;
//!
//! keel_runtime::block_on(async {
//!     let config = "host=127.0.0.1 user=postgres dbname=test".parse().unwrap();
//!     let manager = PgManager::new(config)
//!         .application_name("my-service")
//!         .statement_timeout(Duration::from_secs(5));
//!     let pool = Pool::builder(manager).max(5).build();
//!     let conn = pool.get().await.unwrap();
//!     let row = conn.query_one("SELECT 1 + 1", &[]).await.unwrap();
//!     assert_eq!(row.get::<_, i32>(0), 2);
//! });
//! ```

use std::cell::Cell;
use std::fmt;
use std::io;
use std::net::ToSocketAddrs;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use keel_runtime::net::TcpStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, Config, NoTls};

use crate::manager::{Health, Manager};

/// The client crate, re-exported so its `Config`, `Row` and types match this module's.
pub use tokio_postgres;

/// The transaction status byte of `ReadyForQuery`: idle.
const IDLE: u8 = b'I';

/// What creating or checking a PostgreSQL connection can fail with.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Connecting the socket failed (or the config names no TCP host).
    Io(io::Error),
    /// The server or the protocol failed.
    Postgres(tokio_postgres::Error),
    /// The connection is closed.
    Closed,
    /// `ROLLBACK` did not bring the connection back to idle.
    StillInTransaction,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "postgres connect error: {e}"),
            Error::Postgres(e) => write!(f, "postgres error: {e}"),
            Error::Closed => f.write_str("postgres connection is closed"),
            Error::StillInTransaction => f.write_str("postgres connection still in a transaction"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Postgres(e) => Some(e),
            _ => None,
        }
    }
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Error {
        Error::Postgres(e)
    }
}

/// Opens PostgreSQL connections over Keel's TcpStream for a [`Pool`](crate::Pool).
///
/// The first TCP host and port of the config are used; TLS is not supported yet (the
/// config's `sslmode` is forced to `disable`). Host names are resolved with the OS
/// resolver synchronously: prefer an IP address.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use keel_pool::postgres::PgManager;
///
/// let mut config = tokio_postgres::Config::new();
/// config.host("127.0.0.1").user("postgres").dbname("test");
/// let manager = PgManager::new(config)
///     .application_name("api")
///     .statement_timeout(Duration::from_secs(2));
/// assert_eq!(manager.config().get_application_name(), Some("api"));
/// ```
#[derive(Debug, Clone)]
pub struct PgManager {
    config: Config,
}

impl PgManager {
    /// A manager connecting with `config` (TLS off).
    pub fn new(mut config: Config) -> PgManager {
        config.ssl_mode(SslMode::Disable);
        PgManager { config }
    }

    /// Sets `application_name` (shown in `pg_stat_activity`).
    ///
    /// # Default
    ///
    /// The config's, else none.
    pub fn application_name(mut self, name: &str) -> Self {
        self.config.application_name(name);
        self
    }

    /// Sets the server's `statement_timeout` for every connection, through the startup
    /// `options` (no extra round trip).
    ///
    /// # Default
    ///
    /// The server's (usually none).
    pub fn statement_timeout(mut self, timeout: Duration) -> Self {
        let setting = format!("-c statement_timeout={}", timeout.as_millis());
        let options = match self.config.get_options() {
            Some(existing) if !existing.is_empty() => format!("{existing} {setting}"),
            _ => setting,
        };
        self.config.options(options);
        self
    }

    /// The tokio-postgres config in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn connect_addr(&self) -> io::Result<std::net::SocketAddr> {
        let host = self
            .config
            .get_hosts()
            .iter()
            .find_map(|h| match h {
                Host::Tcp(name) => Some(name.as_str()),
                #[allow(unreachable_patterns, reason = "Unix hosts exist on unix only")]
                _ => None,
            })
            .unwrap_or("127.0.0.1");
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        (host, port).to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "postgres host resolved to nothing",
            )
        })
    }
}

impl Manager for PgManager {
    type Connection = PgConnection;
    type Error = Error;

    async fn create(&self) -> Result<PgConnection, Error> {
        let addr = self.connect_addr().map_err(Error::Io)?;
        let stream = match self.config.get_connect_timeout() {
            Some(limit) => keel_runtime::time::timeout(*limit, TcpStream::connect(addr))
                .await
                .map_err(|_| Error::Io(io::ErrorKind::TimedOut.into()))?,
            None => TcpStream::connect(addr).await,
        }
        .map_err(Error::Io)?;
        stream.set_nodelay(true).map_err(Error::Io)?;
        let wire = Wire::new();
        let stream = Sniff {
            stream,
            wire: wire.clone(),
            read: Framing::new(Direction::Backend),
            write: Framing::new(Direction::Frontend),
        };
        let (client, connection) = self.config.connect_raw(stream, NoTls).await?;
        let driver = keel_runtime::task::Builder::new()
            .name("keel-pool postgres connection")
            .spawn_local(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "keel-pool: postgres connection ended");
                }
            });
        drop(driver); // detached: it ends when the client is dropped or the socket closes
        Ok(PgConnection { client, wire })
    }

    async fn recycle(&self, conn: &mut PgConnection) -> Result<(), Error> {
        if conn.client.is_closed() {
            return Err(Error::Closed);
        }
        if !conn.wire.settled() {
            // Queued behind whatever is still in flight; when it completes, every
            // earlier reply has been read.
            conn.client.batch_execute("ROLLBACK").await?;
            if !conn.wire.settled() {
                return Err(Error::StillInTransaction);
            }
            return Ok(());
        }
        conn.client.batch_execute("").await?;
        Ok(())
    }

    fn check(&self, conn: &mut PgConnection) -> Health {
        if conn.client.is_closed() {
            Health::Broken
        } else if !conn.wire.settled() {
            Health::NeedsRecycle
        } else {
            Health::Ok
        }
    }
}

/// A pooled PostgreSQL connection: derefs to the tokio-postgres [`Client`].
pub struct PgConnection {
    client: Client,
    wire: Rc<Wire>,
}

impl PgConnection {
    /// The transaction status of the last `ReadyForQuery`: `b'I'` idle, `b'T'` in a
    /// transaction, `b'E'` in a failed transaction. It may lag behind a reply the
    /// client already returned (the server flushes an error before its
    /// `ReadyForQuery`); [`is_settled`](PgConnection::is_settled) says when it is final.
    pub fn transaction_status(&self) -> u8 {
        self.wire.status.get()
    }

    /// Idle (`b'I'`) with no request still waiting for its `ReadyForQuery`.
    pub fn is_settled(&self) -> bool {
        self.wire.settled()
    }
}

impl Deref for PgConnection {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl DerefMut for PgConnection {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

impl fmt::Debug for PgConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConnection")
            .field("closed", &self.client.is_closed())
            .field("status", &(self.wire.status.get() as char))
            .field("pending", &self.wire.pending.get())
            .finish()
    }
}

// ===== the sniffing stream =====

/// What the sniffer learned about the conversation, shared with the [`PgConnection`].
#[derive(Debug)]
struct Wire {
    /// The status byte of the last `ReadyForQuery`.
    status: Cell<u8>,
    /// `Query` and `Sync` messages sent whose `ReadyForQuery` has not come back yet.
    pending: Cell<u32>,
}

impl Wire {
    fn new() -> Rc<Wire> {
        Rc::new(Wire {
            status: Cell::new(IDLE),
            pending: Cell::new(0),
        })
    }

    /// Idle, and nothing in flight.
    fn settled(&self) -> bool {
        self.status.get() == IDLE && self.pending.get() == 0
    }
}

/// Which way a [`Framing`] follows the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Server to client: every message is `type`, `i32` length, body.
    Backend,
    /// Client to server: the same, except the first (startup) message, which has no
    /// type byte.
    Frontend,
}

/// Where a reader stands in one direction's message stream.
#[derive(Debug)]
struct Framing {
    direction: Direction,
    /// The startup message (untyped) has been passed.
    started: bool,
    header: [u8; 5],
    header_len: usize,
    /// Body bytes of the current message still to come.
    remaining: usize,
    /// The current message is `ReadyForQuery` and its status byte is next.
    want_status: bool,
}

impl Framing {
    fn new(direction: Direction) -> Framing {
        Framing {
            direction,
            started: direction == Direction::Backend,
            header: [0; 5],
            header_len: 0,
            remaining: 0,
            want_status: false,
        }
    }

    /// Follows `bytes`, counting requests sent and noting each `ReadyForQuery`.
    fn feed(&mut self, mut bytes: &[u8], wire: &Wire) {
        while !bytes.is_empty() {
            if self.remaining > 0 {
                if self.want_status {
                    wire.status.set(bytes[0]);
                    wire.pending.set(wire.pending.get().saturating_sub(1));
                    self.want_status = false;
                }
                let skip = self.remaining.min(bytes.len());
                self.remaining -= skip;
                bytes = &bytes[skip..];
                continue;
            }
            let header_size = if self.started { 5 } else { 4 };
            self.header[self.header_len] = bytes[0];
            self.header_len += 1;
            bytes = &bytes[1..];
            if self.header_len < header_size {
                continue;
            }
            self.header_len = 0;
            let len = &self.header[header_size - 4..header_size];
            let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
            self.remaining = usize::try_from(len).unwrap_or(4).saturating_sub(4);
            if !self.started {
                self.started = true;
                continue;
            }
            match (self.direction, self.header[0]) {
                (Direction::Backend, b'Z') => self.want_status = self.remaining > 0,
                (Direction::Frontend, b'Q' | b'S') => wire.pending.set(wire.pending.get() + 1),
                _ => {}
            }
        }
    }
}

/// A TcpStream that follows the conversation both ways (see the module docs).
struct Sniff {
    stream: TcpStream,
    wire: Rc<Wire>,
    read: Framing,
    write: Framing,
}

impl AsyncRead for Sniff {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            this.read.feed(&buf.filled()[before..], &this.wire);
        }
        result
    }
}

impl AsyncWrite for Sniff {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            this.write.feed(&buf[..n], &this.wire);
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(mut n)) = result {
            for buf in bufs {
                let take = n.min(buf.len());
                this.write.feed(&buf[..take], &this.wire);
                n -= take;
                if n == 0 {
                    break;
                }
            }
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn follows_ready_for_query_across_splits() {
        let mut stream = message(b'C', b"BEGIN\0");
        stream.extend(message(b'Z', b"T"));
        stream.extend(message(b'E', b"SERROR\0"));
        stream.extend(message(b'Z', b"E"));
        for cut in 0..stream.len() {
            let wire = Wire::new();
            wire.pending.set(2);
            let mut framing = Framing::new(Direction::Backend);
            framing.feed(&stream[..cut], &wire);
            framing.feed(&stream[cut..], &wire);
            assert_eq!(wire.status.get(), b'E', "cut at {cut}");
            assert_eq!(wire.pending.get(), 0);
        }
        let wire = Wire::new();
        wire.status.set(b'E');
        let mut framing = Framing::new(Direction::Backend);
        for byte in message(b'Z', b"I") {
            framing.feed(&[byte], &wire);
        }
        assert!(wire.settled());
    }

    #[test]
    fn counts_requests_after_the_untyped_startup_message() {
        let mut startup = 12i32.to_be_bytes().to_vec();
        startup.extend_from_slice(&[0, 3, 0, 0, b'x', 0, 0, 0]);
        let mut stream = startup;
        stream.extend(message(b'Q', b"SELECT 1\0"));
        stream.extend(message(b'P', b"\0SELECT 1\0\0\0"));
        stream.extend(message(b'S', b""));
        let wire = Wire::new();
        let mut framing = Framing::new(Direction::Frontend);
        for chunk in stream.chunks(3) {
            framing.feed(chunk, &wire);
        }
        assert_eq!(wire.pending.get(), 2);
        assert!(!wire.settled());
    }
}
