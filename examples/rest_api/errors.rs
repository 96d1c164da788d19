//! The storage errors of the example and how they become HTTP errors: the repository
//! speaks [`DbError`] (unique violation, unavailable, anything else), the service turns
//! the ones it understands into specific [`AppError`]s (a duplicate email is a 409), and
//! the `From` below is the default for the rest (503 while the database is unreachable,
//! 500 otherwise, its text logged and never shown in production).

use std::fmt;

use keel::http::{AppError, StatusCode};
use keel::pool::postgres::{self, tokio_postgres::error::SqlState};

/// What the repository can fail with.
#[derive(Debug)]
pub(crate) enum DbError {
    /// A unique constraint refused the write (SQLSTATE 23505), naming the constraint.
    UniqueViolation(String),
    /// No connection could be had: the pool timed out or the server is down.
    Unavailable(String),
    /// Any other database error.
    Other(String),
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::UniqueViolation(c) => write!(f, "unique constraint {c} violated"),
            DbError::Unavailable(e) => write!(f, "database unavailable: {e}"),
            DbError::Other(e) => write!(f, "database error: {e}"),
        }
    }
}

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> DbError {
        match &e {
            postgres::Error::Postgres(pg) if pg.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                let constraint = pg
                    .as_db_error()
                    .and_then(|db| db.constraint())
                    .unwrap_or("unknown");
                DbError::UniqueViolation(constraint.to_owned())
            }
            postgres::Error::Io(_) | postgres::Error::Closed => DbError::Unavailable(e.to_string()),
            _ => DbError::Other(e.to_string()),
        }
    }
}

impl From<keel::pool::Error<postgres::Error>> for DbError {
    fn from(e: keel::pool::Error<postgres::Error>) -> DbError {
        match e {
            keel::pool::Error::Backend(inner) => DbError::from(inner),
            other => DbError::Unavailable(other.to_string()),
        }
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> AppError {
        match e {
            DbError::Unavailable(_) => AppError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            ),
            DbError::UniqueViolation(_) => AppError::conflict(e.to_string()),
            DbError::Other(_) => AppError::internal(e.to_string()),
        }
    }
}
