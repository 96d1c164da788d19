//! [`Connection`]: a Redis connection on Keel's [`TcpStream`] — one command, or a
//! pipeline of many in one write.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use keel_runtime::net::TcpStream;

use super::Error;
use super::resp::{self, Value};

/// Read buffer growth step.
const READ_CHUNK: usize = 16 * 1024;

/// The default bound of one command or pipeline ([`Connection::set_command_timeout`],
/// [`RedisManager::command_timeout`](super::RedisManager::command_timeout)): 3 s, like
/// go-redis's read timeout.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(3);

/// A connection to a Redis server (RESP2).
///
/// A command cancelled half-way (its future dropped) or timed out leaves replies in
/// flight; the connection then reports itself broken
/// ([`is_broken`](Connection::is_broken)) and the pool closes it instead of lending it
/// again. Each command is bounded by the command timeout
/// ([`DEFAULT_COMMAND_TIMEOUT`] unless [set](Connection::set_command_timeout)).
///
/// # Examples
///
/// ```no_run
/// use keel_pool::redis::{Connection, Value};
///
/// keel_runtime::block_on(async {
///     let mut conn = Connection::connect("127.0.0.1:6379".parse().unwrap()).await.unwrap();
///     conn.cmd(&["SET", "greeting", "hello"]).await.unwrap();
///     let v = conn.cmd(&["GET", "greeting"]).await.unwrap();
///     assert_eq!(v, Value::Bulk(b"hello".to_vec()));
/// });
/// ```
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    read: Vec<u8>,
    write: Vec<u8>,
    /// Set while a command is in flight, and left set when it fails or is cancelled.
    broken: bool,
    /// The bound of one command or pipeline; `None`: none.
    command_timeout: Option<Duration>,
}

impl Connection {
    /// Connects (with `TCP_NODELAY`), without authenticating.
    ///
    /// # Errors
    ///
    /// The connect error.
    pub async fn connect(addr: SocketAddr) -> Result<Connection, Error> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            read: Vec::with_capacity(READ_CHUNK),
            write: Vec::new(),
            broken: false,
            command_timeout: Some(DEFAULT_COMMAND_TIMEOUT),
        })
    }

    /// Bounds each later command or pipeline, from writing it to its last reply;
    /// `None` waits as long as the socket lives. A command past it fails with
    /// [`Error::Timeout`] and leaves the connection broken.
    pub fn set_command_timeout(&mut self, timeout: Option<Duration>) {
        self.command_timeout = timeout;
    }

    /// Sends one command and reads its reply.
    ///
    /// # Errors
    ///
    /// [`Error::Server`] for an error reply; I/O and protocol errors (which also mark
    /// the connection broken).
    pub async fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Value, Error> {
        let mut replies = self.send(std::slice::from_ref(&args)).await?;
        match replies.pop() {
            Some(Value::Error(message)) => Err(Error::Server(message)),
            Some(value) => Ok(value),
            None => Err(Error::Protocol(resp::ProtocolError("missing reply"))),
        }
    }

    /// Sends several commands in one write and reads all their replies, in order.
    /// Error replies stay in the list as [`Value::Error`].
    ///
    /// # Errors
    ///
    /// I/O and protocol errors (which also mark the connection broken).
    pub async fn pipeline<A: AsRef<[u8]>, C: AsRef<[A]>>(
        &mut self,
        cmds: &[C],
    ) -> Result<Vec<Value>, Error> {
        self.send(cmds).await
    }

    /// Whether a command failed or was cancelled half-way: the replies are out of step.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    async fn send<A: AsRef<[u8]>, C: AsRef<[A]>>(
        &mut self,
        cmds: &[C],
    ) -> Result<Vec<Value>, Error> {
        if self.broken {
            return Err(Error::Broken);
        }
        match self.command_timeout {
            Some(limit) => keel_runtime::time::timeout(limit, self.exchange(cmds))
                .await
                .map_err(|_| Error::Timeout(limit))?,
            None => self.exchange(cmds).await,
        }
    }

    /// Writes `cmds` and reads their replies; `broken` stays set unless it completes.
    async fn exchange<A: AsRef<[u8]>, C: AsRef<[A]>>(
        &mut self,
        cmds: &[C],
    ) -> Result<Vec<Value>, Error> {
        self.broken = true;
        self.write.clear();
        for cmd in cmds {
            resp::encode(&mut self.write, cmd.as_ref());
        }
        self.stream.write_all(&self.write).await?;
        let mut replies = Vec::with_capacity(cmds.len());
        while replies.len() < cmds.len() {
            match resp::parse(&self.read)? {
                Some((value, used)) => {
                    self.read.drain(..used);
                    replies.push(value);
                }
                None => self.fill().await?,
            }
        }
        self.broken = false;
        Ok(replies)
    }

    async fn fill(&mut self) -> Result<(), Error> {
        let len = self.read.len();
        self.read.resize(len + READ_CHUNK, 0);
        let n = self.stream.read(&mut self.read[len..]).await;
        self.read.truncate(len + *n.as_ref().unwrap_or(&0));
        match n? {
            0 => Err(Error::Io(io::ErrorKind::UnexpectedEof.into())),
            _ => Ok(()),
        }
    }
}
