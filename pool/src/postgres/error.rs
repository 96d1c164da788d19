//! [`Error`]: what creating, checking or querying a PostgreSQL connection can fail with.

use std::fmt;
use std::io;
use std::time::Duration;

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
    /// A query ran past [`PgManager::query_timeout`](super::PgManager::query_timeout);
    /// a cancel request was sent to the server.
    QueryTimeout(Duration),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "postgres connect error: {e}"),
            Error::Postgres(e) => write!(f, "postgres error: {e}"),
            Error::Closed => f.write_str("postgres connection is closed"),
            Error::StillInTransaction => f.write_str("postgres connection still in a transaction"),
            Error::QueryTimeout(limit) => write!(
                f,
                "postgres query timed out after {limit:?} (cancel request sent to the server)"
            ),
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
