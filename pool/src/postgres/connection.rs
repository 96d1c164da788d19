//! [`PgConnection`] and [`PgTransaction`]: the narrow, parameterized-only query API of a
//! pooled PostgreSQL connection, with its prepared-statement cache and its query
//! timeout (which sends the server a cancel request on expiry).
//!
//! # Why no raw SQL strings
//!
//! Every query method takes SQL text *and* a parameter list, and sends them with the
//! extended protocol (`Parse`/`Bind`/`Execute`): values travel as parameters, never
//! spliced into the text, and the server rejects more than one statement per text. The
//! simple-query methods of tokio-postgres (`simple_query`, `batch_execute`) run
//! several `;`-separated statements from one string, which is what turns a string
//! built with `format!` into an injection. They stay reachable through
//! [`PgConnection::unchecked_client`], whose name marks the call site for review (for
//! migrations and administrative scripts).

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use keel_runtime::net::TcpStream;
use keel_runtime::time::timeout;
use tokio_postgres::types::ToSql;
use tokio_postgres::{CancelToken, Client, GenericClient, NoTls, Row, Statement, Transaction};

use super::cache::StatementCache;
use super::error::Error;
use super::wire::Wire;

/// A query parameter, as tokio-postgres takes it.
pub type Param<'a> = &'a (dyn ToSql + Sync);

/// A pooled PostgreSQL connection.
///
/// Queries are parameterized only (see the module docs of `keel_pool::postgres`):
/// [`query`](PgConnection::query), [`query_one`](PgConnection::query_one),
/// [`query_opt`](PgConnection::query_opt) and [`execute`](PgConnection::execute) take
/// SQL text and its parameters, and prepare the text once per connection (the
/// statement cache, [`PgManager::statement_cache`](super::PgManager::statement_cache)).
/// Each call is bounded by the manager's
/// [`query_timeout`](super::PgManager::query_timeout), if set.
pub struct PgConnection {
    pub(super) client: Client,
    pub(super) wire: Rc<Wire>,
    pub(super) extras: Extras,
}

/// What a connection keeps beside the client: its cache and how to cancel.
pub(super) struct Extras {
    pub(super) cache: RefCell<StatementCache>,
    pub(super) cancel: CancelToken,
    /// The server address the connection uses (cancel requests go there).
    pub(super) addr: SocketAddr,
    pub(super) query_timeout: Option<Duration>,
    /// How long sending a cancel request may take.
    pub(super) cancel_timeout: Duration,
}

impl Extras {
    /// The cached statement for `sql`, prepared on a miss.
    async fn prepare_cached<C: GenericClient>(
        &self,
        client: &C,
        sql: &str,
    ) -> Result<Statement, Error> {
        if let Some(statement) = self.cache.borrow_mut().get(sql) {
            return Ok(statement);
        }
        let statement = client.prepare(sql).await?;
        self.cache.borrow_mut().insert(sql, statement.clone());
        Ok(statement)
    }

    /// Runs `work` under the query timeout; on expiry, asks the server to cancel what
    /// the connection is running and fails with [`Error::QueryTimeout`].
    async fn bounded<T>(&self, work: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        let Some(limit) = self.query_timeout else {
            return work.await;
        };
        match timeout(limit, work).await {
            Ok(result) => result,
            Err(_) => {
                self.cancel().await;
                Err(Error::QueryTimeout(limit))
            }
        }
    }

    /// Sends a cancel request over a new socket (the protocol's way), bounded by the
    /// cancel timeout. A failure is logged: the timed-out query then runs on, and the
    /// connection is rolled back or closed before its next checkout.
    async fn cancel(&self) {
        let send = async {
            let stream = TcpStream::connect(self.addr).await.map_err(Error::Io)?;
            self.cancel.cancel_query_raw(stream, NoTls).await?;
            Ok::<(), Error>(())
        };
        match timeout(self.cancel_timeout, send).await {
            Ok(Ok(())) => tracing::debug!("keel-pool: postgres query timed out; cancel sent"),
            Ok(Err(e)) => tracing::warn!(error = %e, "keel-pool: postgres cancel request failed"),
            Err(_) => tracing::warn!("keel-pool: postgres cancel request timed out"),
        }
    }

    async fn query<C: GenericClient>(
        &self,
        client: &C,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<Row>, Error> {
        self.bounded(async {
            let statement = self.prepare_cached(client, sql).await?;
            Ok(client.query(&statement, params).await?)
        })
        .await
    }

    async fn query_opt<C: GenericClient>(
        &self,
        client: &C,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Option<Row>, Error> {
        self.bounded(async {
            let statement = self.prepare_cached(client, sql).await?;
            Ok(client.query_opt(&statement, params).await?)
        })
        .await
    }

    async fn query_one<C: GenericClient>(
        &self,
        client: &C,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Row, Error> {
        self.bounded(async {
            let statement = self.prepare_cached(client, sql).await?;
            Ok(client.query_one(&statement, params).await?)
        })
        .await
    }

    async fn execute<C: GenericClient>(
        &self,
        client: &C,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<u64, Error> {
        self.bounded(async {
            let statement = self.prepare_cached(client, sql).await?;
            Ok(client.execute(&statement, params).await?)
        })
        .await
    }
}

impl PgConnection {
    /// Runs `sql` with `params` and returns its rows.
    ///
    /// # Errors
    ///
    /// [`Error::Postgres`] from the server (a syntax error, a wrong parameter count or
    /// type, a constraint, ...), [`Error::QueryTimeout`] past the query timeout.
    pub async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, Error> {
        self.extras.query(&self.client, sql, params).await
    }

    /// Runs `sql` with `params` and returns its one row.
    ///
    /// # Errors
    ///
    /// As [`query`](PgConnection::query), and [`Error::Postgres`] when the query
    /// returns no row or more than one.
    pub async fn query_one(&self, sql: &str, params: &[Param<'_>]) -> Result<Row, Error> {
        self.extras.query_one(&self.client, sql, params).await
    }

    /// Runs `sql` with `params` and returns its row, if any.
    ///
    /// # Errors
    ///
    /// As [`query`](PgConnection::query), and [`Error::Postgres`] when the query
    /// returns more than one row.
    pub async fn query_opt(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>, Error> {
        self.extras.query_opt(&self.client, sql, params).await
    }

    /// Runs `sql` with `params` and returns how many rows it changed.
    ///
    /// # Errors
    ///
    /// As [`query`](PgConnection::query).
    pub async fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, Error> {
        self.extras.execute(&self.client, sql, params).await
    }

    /// The prepared statement for `sql` from this connection's cache, preparing it on
    /// a miss (for its parameter and column types, or to warm the cache).
    ///
    /// # Errors
    ///
    /// As [`query`](PgConnection::query).
    pub async fn prepare_cached(&self, sql: &str) -> Result<Statement, Error> {
        self.extras
            .bounded(self.extras.prepare_cached(&self.client, sql))
            .await
    }

    /// Starts a transaction. Dropping the [`PgTransaction`] without
    /// [`commit`](PgTransaction::commit) rolls it back; a connection returned to the
    /// pool inside a transaction is rolled back before its next checkout.
    ///
    /// # Errors
    ///
    /// As [`query`](PgConnection::query).
    pub async fn transaction(&mut self) -> Result<PgTransaction<'_>, Error> {
        let extras = &self.extras;
        let tx = extras
            .bounded(async { Ok(self.client.transaction().await?) })
            .await?;
        Ok(PgTransaction { tx, extras })
    }

    /// The tokio-postgres client itself, with everything it offers, including the
    /// simple-query methods (`batch_execute`, `simple_query`) that run raw,
    /// `;`-separated SQL text without parameters. The escape hatch for migrations and
    /// administration: never pass it text built from input. Calls through it bypass
    /// the statement cache and the query timeout.
    pub fn unchecked_client(&self) -> &Client {
        &self.client
    }

    /// Whether the connection is closed (the server went away or it failed).
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

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

    /// How many prepared statements the cache holds.
    pub fn cached_statements(&self) -> usize {
        self.extras.cache.borrow().len()
    }

    /// The statement cache's (hits, misses) since the connection opened.
    pub fn statement_cache_stats(&self) -> (u64, u64) {
        self.extras.cache.borrow().stats()
    }

    /// Empties the statement cache (closing the statements on the server), for
    /// example after a schema change made cached plans invalid.
    pub fn clear_statement_cache(&self) {
        self.extras.cache.borrow_mut().clear();
    }
}

impl fmt::Debug for PgConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConnection")
            .field("closed", &self.client.is_closed())
            .field("status", &(self.wire.status.get() as char))
            .field("pending", &self.wire.pending.get())
            .field("cached_statements", &self.cached_statements())
            .finish()
    }
}

/// A transaction on a [`PgConnection`], with the same parameterized-only methods, the
/// same statement cache and the same query timeout. Dropped without
/// [`commit`](PgTransaction::commit), it rolls back.
pub struct PgTransaction<'a> {
    tx: Transaction<'a>,
    extras: &'a Extras,
}

impl PgTransaction<'_> {
    /// As [`PgConnection::query`], inside the transaction.
    ///
    /// # Errors
    ///
    /// As [`PgConnection::query`].
    pub async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, Error> {
        self.extras.query(&self.tx, sql, params).await
    }

    /// As [`PgConnection::query_one`], inside the transaction.
    ///
    /// # Errors
    ///
    /// As [`PgConnection::query_one`].
    pub async fn query_one(&self, sql: &str, params: &[Param<'_>]) -> Result<Row, Error> {
        self.extras.query_one(&self.tx, sql, params).await
    }

    /// As [`PgConnection::query_opt`], inside the transaction.
    ///
    /// # Errors
    ///
    /// As [`PgConnection::query_opt`].
    pub async fn query_opt(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>, Error> {
        self.extras.query_opt(&self.tx, sql, params).await
    }

    /// As [`PgConnection::execute`], inside the transaction.
    ///
    /// # Errors
    ///
    /// As [`PgConnection::execute`].
    pub async fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, Error> {
        self.extras.execute(&self.tx, sql, params).await
    }

    /// Commits.
    ///
    /// # Errors
    ///
    /// As [`PgConnection::query`] (a failed transaction commits as a rollback and
    /// reports no error, as in PostgreSQL).
    pub async fn commit(self) -> Result<(), Error> {
        let extras = self.extras;
        extras.bounded(async { Ok(self.tx.commit().await?) }).await
    }

    /// Rolls back.
    ///
    /// # Errors
    ///
    /// As [`PgConnection::query`].
    pub async fn rollback(self) -> Result<(), Error> {
        let extras = self.extras;
        extras
            .bounded(async { Ok(self.tx.rollback().await?) })
            .await
    }
}

impl fmt::Debug for PgTransaction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTransaction").finish_non_exhaustive()
    }
}
