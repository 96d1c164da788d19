//! The `redis` feature: a small RESP2 client ([`Connection`]) on Keel's TcpStream and
//! its pool [`RedisManager`] (AUTH and SELECT on connect; PING to recycle).
//!
//! The parts: `resp` frames replies without I/O; `client` owns the socket and the
//! buffers; this file holds the manager and the error.
//!
//! Every command is bounded by a command timeout ([`RedisManager::command_timeout`],
//! [`DEFAULT_COMMAND_TIMEOUT`]): a server or a network that stops answering fails the
//! command with [`Error::Timeout`] instead of leaving it waiting for the kernel to give
//! up on the socket (minutes, or never for a command whose bytes were acknowledged).
//!
//! ```no_run
//! use keel_pool::Pool;
//! use keel_pool::redis::{RedisManager, Value};
//!
//! keel_runtime::block_on(async {
//!     let pool = Pool::builder(RedisManager::new("127.0.0.1:6379".parse().unwrap()).db(1))
//!         .max(4)
//!         .build();
//!     let mut conn = pool.get().await.unwrap();
//!     conn.cmd(&["SET", "k", "v"]).await.unwrap();
//!     let replies = conn.pipeline(&[&["GET", "k"][..], &["DEL", "k"][..]]).await.unwrap();
//!     assert_eq!(replies, vec![Value::Bulk(b"v".to_vec()), Value::Int(1)]);
//! });
//! ```

mod client;
mod resp;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

pub use self::client::{Connection, DEFAULT_COMMAND_TIMEOUT};
pub use self::resp::{MAX_DEPTH, MAX_LEN, ProtocolError, Value};
use crate::manager::{CheckOutcome, Manager};

/// What a Redis command can fail with.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The socket failed.
    Io(io::Error),
    /// The server sent something that is not RESP2.
    Protocol(ProtocolError),
    /// The server answered with an error reply.
    Server(String),
    /// An earlier command on this connection failed half-way; it cannot be used.
    Broken,
    /// A check reply was not what it should be (for example PING without PONG).
    Unexpected(Value),
    /// No complete reply within the command timeout; the connection is broken.
    Timeout(Duration),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "redis I/O error: {e}"),
            Error::Protocol(e) => e.fmt(f),
            Error::Server(message) => write!(f, "redis error reply: {message}"),
            Error::Broken => f.write_str("redis connection broken by an earlier failure"),
            Error::Unexpected(v) => write!(f, "unexpected redis reply: {v:?}"),
            Error::Timeout(after) => write!(f, "redis command timed out after {after:?}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Protocol(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Error {
        Error::Protocol(e)
    }
}

/// Opens and checks Redis connections for a [`Pool`](crate::Pool).
///
/// # Examples
///
/// ```
/// use keel_pool::redis::RedisManager;
/// let manager = RedisManager::new("127.0.0.1:6379".parse().unwrap())
///     .password("secret")
///     .db(2);
/// # let _ = manager;
/// ```
#[derive(Debug, Clone)]
pub struct RedisManager {
    addr: SocketAddr,
    username: Option<String>,
    password: Option<String>,
    db: Option<u32>,
    command_timeout: Option<Duration>,
}

impl RedisManager {
    /// Connects to `addr` (an address, so connecting never blocks on name resolution).
    pub fn new(addr: SocketAddr) -> RedisManager {
        RedisManager {
            addr,
            username: None,
            password: None,
            db: None,
            command_timeout: Some(DEFAULT_COMMAND_TIMEOUT),
        }
    }

    /// `AUTH password` after connecting.
    ///
    /// # Default
    ///
    /// No AUTH.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// `AUTH username password` (Redis 6 ACLs) instead of the password alone.
    ///
    /// # Default
    ///
    /// None (the `default` user).
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// `SELECT db` after connecting.
    ///
    /// # Default
    ///
    /// No SELECT (database 0).
    pub fn db(mut self, db: u32) -> Self {
        self.db = Some(db);
        self
    }

    /// How long one command (or pipeline) on each connection may take, from writing it
    /// to its last reply, AUTH and SELECT included; past it, the command fails with
    /// [`Error::Timeout`] and the pool closes the connection. `None` waits as long as
    /// the socket lives — give blocking commands (`BLPOP` with a timeout) a longer
    /// bound than theirs instead.
    ///
    /// # Default
    ///
    /// `Some(`[`DEFAULT_COMMAND_TIMEOUT`]`)` (3 s).
    pub fn command_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.command_timeout = timeout;
        self
    }
}

impl Manager for RedisManager {
    type Connection = Connection;
    type Error = Error;

    async fn create(&self) -> Result<Connection, Error> {
        let mut conn = Connection::connect(self.addr).await?;
        conn.set_command_timeout(self.command_timeout);
        match (&self.username, &self.password) {
            (Some(user), Some(pass)) => {
                conn.cmd(&["AUTH", user, pass]).await?;
            }
            (None, Some(pass)) => {
                conn.cmd(&["AUTH", pass]).await?;
            }
            _ => {}
        }
        if let Some(db) = self.db {
            conn.cmd(&["SELECT".to_owned(), db.to_string()]).await?;
        }
        Ok(conn)
    }

    async fn recycle(&self, conn: &mut Connection) -> Result<(), Error> {
        match conn.cmd(&["PING"]).await? {
            Value::Simple(s) if s == "PONG" => Ok(()),
            other => Err(Error::Unexpected(other)),
        }
    }

    fn check(&self, conn: &mut Connection) -> CheckOutcome {
        if conn.is_broken() {
            CheckOutcome::Broken
        } else {
            CheckOutcome::Ok
        }
    }
}
