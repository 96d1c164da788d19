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
//! Since the socket is Keel's, the manager applies the config's socket settings
//! itself: `connect_timeout` bounds the TCP connect, and `keepalives`,
//! `keepalives_idle`, `keepalives_interval` and `keepalives_retries` set TCP
//! keepalive on it ([`PgManager::keepalive`]).
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
//! # Queries
//!
//! [`PgConnection`] offers parameterized queries only (`query`, `query_one`,
//! `query_opt`, `execute`, `transaction`), each prepared once per connection through a
//! bounded statement cache ([`PgManager::statement_cache`]) and bounded by
//! [`PgManager::query_timeout`], which cancels the query on the server when it
//! expires. Raw SQL text goes through the explicitly named
//! [`PgConnection::unchecked_client`] (see `connection`'s docs for why).
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

use std::cell::RefCell;
use std::io;
use std::time::Duration;

use keel_runtime::net::TcpStream;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Config, NoTls};

use crate::manager::{CheckOutcome, Manager};

mod cache;
mod connection;
mod error;
mod wire;

pub use connection::{Param, PgConnection, PgTransaction};
pub use error::Error;

use cache::StatementCache;
use connection::Extras;
use wire::{Direction, Framing, Sniff, Wire};

/// The client crate, re-exported so its `Config`, `Row` and types match this module's.
pub use tokio_postgres;

/// [`PgManager::statement_cache`]'s default.
pub const DEFAULT_STATEMENT_CACHE: usize = 128;

/// How long sending a cancel request may take when the config sets no connect timeout.
const DEFAULT_CANCEL_TIMEOUT: Duration = Duration::from_secs(2);

/// Opens PostgreSQL connections over Keel's TcpStream for a [`Pool`](crate::Pool).
///
/// The first TCP host and port of the config are used; TLS is not supported yet (the
/// config's `sslmode` is forced to `disable`). Host names are resolved off the loop
/// (keel-runtime's `lookup_host`).
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
    query_timeout: Option<Duration>,
    statement_cache: usize,
}

impl PgManager {
    /// A manager connecting with `config` (TLS off).
    pub fn new(mut config: Config) -> PgManager {
        config.ssl_mode(SslMode::Disable);
        PgManager {
            config,
            query_timeout: None,
            statement_cache: DEFAULT_STATEMENT_CACHE,
        }
    }

    /// Bounds every query made through a [`PgConnection`]'s methods: past it, the
    /// connection sends the server a cancel request (over a new socket, as the
    /// protocol wants) and the call fails with [`Error::QueryTimeout`]. The connection
    /// stays usable: later requests queue behind the cancelled one, and if it is
    /// returned with the cancelled query still running, the pool rolls it back (or
    /// closes it) before the next checkout. Unlike `statement_timeout` (enforced by
    /// the server), this also covers a server or network that stopped answering.
    ///
    /// # Default
    ///
    /// None.
    pub fn query_timeout(mut self, timeout: Duration) -> Self {
        self.query_timeout = Some(timeout);
        self
    }

    /// How many prepared statements each connection caches, by SQL text (least
    /// recently used evicted first, and closed on the server); 0 disables the cache
    /// (every query is prepared, run and closed).
    ///
    /// # Default
    ///
    /// [`DEFAULT_STATEMENT_CACHE`] (128).
    pub fn statement_cache(mut self, capacity: usize) -> Self {
        self.statement_cache = capacity;
        self
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

    /// TCP keepalive on every connection's socket: probes after `idle` without
    /// traffic, or none with `None`. Sets the config's `keepalives` and
    /// `keepalives_idle`; its `keepalives_interval` and `keepalives_retries` are
    /// honoured too.
    ///
    /// # Default
    ///
    /// The config's: tokio-postgres defaults to keepalive on with a 2-hour idle time.
    pub fn keepalive(mut self, idle: Option<Duration>) -> Self {
        match idle {
            Some(idle) => {
                self.config.keepalives(true).keepalives_idle(idle);
            }
            None => {
                self.config.keepalives(false);
            }
        }
        self
    }

    /// The tokio-postgres config in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Opens the socket to the first TCP host of the config (the name resolved off
    /// the loop).
    async fn connect_socket(&self) -> io::Result<TcpStream> {
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
        let stream = TcpStream::connect((host, port)).await?;
        self.apply_keepalive(&stream)?;
        Ok(stream)
    }

    /// Sets TCP keepalive on `stream` as the config says (tokio-postgres would do it
    /// in its own connect, which `connect_raw` bypasses).
    fn apply_keepalive(&self, stream: &TcpStream) -> io::Result<()> {
        if !self.config.get_keepalives() {
            return stream.set_keepalive(None);
        }
        stream.set_keepalive(Some(self.config.get_keepalives_idle()))?;
        let interval = self.config.get_keepalives_interval();
        let retries = self.config.get_keepalives_retries();
        if interval.is_some() || retries.is_some() {
            stream.set_keepalive_probes(interval, retries)?;
        }
        Ok(())
    }
}

impl Manager for PgManager {
    type Connection = PgConnection;
    type Error = Error;

    async fn create(&self) -> Result<PgConnection, Error> {
        let stream = match self.config.get_connect_timeout() {
            Some(limit) => keel_runtime::time::timeout(*limit, self.connect_socket())
                .await
                .map_err(|_| Error::Io(io::ErrorKind::TimedOut.into()))?,
            None => self.connect_socket().await,
        }
        .map_err(Error::Io)?;
        stream.set_nodelay(true).map_err(Error::Io)?;
        let addr = stream.peer_addr().map_err(Error::Io)?;
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
        let extras = Extras {
            cache: RefCell::new(StatementCache::new(self.statement_cache)),
            cancel: client.cancel_token(),
            addr,
            query_timeout: self.query_timeout,
            cancel_timeout: self
                .config
                .get_connect_timeout()
                .copied()
                .unwrap_or(DEFAULT_CANCEL_TIMEOUT),
        };
        Ok(PgConnection {
            client,
            wire,
            extras,
        })
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

    fn check(&self, conn: &mut PgConnection) -> CheckOutcome {
        if conn.client.is_closed() {
            CheckOutcome::Broken
        } else if !conn.wire.settled() {
            CheckOutcome::NeedsRecycle
        } else {
            CheckOutcome::Ok
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use keel_runtime::net::TcpListener;

    use super::*;

    /// A manager aimed at `listener` (no PostgreSQL needed: only the socket is made).
    fn manager_for(listener: &TcpListener, config: impl FnOnce(&mut Config)) -> PgManager {
        let mut cfg = Config::new();
        cfg.host("127.0.0.1")
            .port(listener.local_addr().unwrap().port());
        config(&mut cfg);
        PgManager::new(cfg)
    }

    #[test]
    fn the_socket_gets_the_configs_keepalive() {
        keel_runtime::block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let manager = manager_for(&listener, |c| {
                c.keepalives_idle(Duration::from_secs(41))
                    .keepalives_interval(Duration::from_secs(6))
                    .keepalives_retries(5);
            });
            let stream = manager.connect_socket().await.unwrap();
            assert_eq!(stream.keepalive().unwrap(), Some(Duration::from_secs(41)));
            assert_eq!(
                stream.keepalive_probes().unwrap(),
                (Duration::from_secs(6), 5)
            );
        });
    }

    #[test]
    fn keepalive_defaults_to_tokio_postgres_and_can_be_turned_off() {
        keel_runtime::block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let stream = manager_for(&listener, |_| {})
                .connect_socket()
                .await
                .unwrap();
            assert_eq!(
                stream.keepalive().unwrap(),
                Some(Config::new().get_keepalives_idle())
            );

            let manager = manager_for(&listener, |_| {}).keepalive(None);
            let stream = manager.connect_socket().await.unwrap();
            assert_eq!(stream.keepalive().unwrap(), None);

            let manager = manager_for(&listener, |_| {}).keepalive(Some(Duration::from_secs(9)));
            let stream = manager.connect_socket().await.unwrap();
            assert_eq!(stream.keepalive().unwrap(), Some(Duration::from_secs(9)));
        });
    }
}
