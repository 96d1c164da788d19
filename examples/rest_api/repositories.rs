//! The data access layer: every SQL statement of the example, over the loop's
//! PostgreSQL [`Pool`]. Parameterized queries only (values never spliced into SQL), one
//! connection per call, returned to the pool when the call ends.

use keel::pool::Pool;
use keel::pool::postgres::PgManager;
use keel::pool::postgres::tokio_postgres::Row;
use serde::Serialize;

use super::errors::DbError;

/// The table the example owns; its name keeps it apart from other users of the database.
pub(crate) const TABLE: &str = "keel_example_users";

/// The schema, created at startup if missing.
pub(crate) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS keel_example_users (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL CONSTRAINT keel_example_users_email_key UNIQUE
)";

/// A stored user.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct User {
    /// The database id.
    pub(crate) id: i64,
    /// The display name.
    pub(crate) name: String,
    /// The email, lower-cased, unique.
    pub(crate) email: String,
}

impl User {
    fn from_row(row: &Row) -> User {
        User {
            id: row.get(0),
            name: row.get(1),
            email: row.get(2),
        }
    }
}

/// The users table, through one loop's pool.
#[derive(Clone)]
pub(crate) struct UserRepository {
    pool: Pool<PgManager>,
}

impl UserRepository {
    /// A repository over `pool`.
    pub(crate) fn new(pool: Pool<PgManager>) -> UserRepository {
        UserRepository { pool }
    }

    /// Inserts a user and returns it with its id.
    pub(crate) async fn insert(&self, name: &str, email: &str) -> Result<User, DbError> {
        let conn = self.pool.get().await?;
        let row = conn
            .query_one(
                "INSERT INTO keel_example_users (name, email) VALUES ($1, $2) RETURNING id, name, email",
                &[&name, &email],
            )
            .await?;
        Ok(User::from_row(&row))
    }

    /// The user with `id`, if any.
    pub(crate) async fn find(&self, id: i64) -> Result<Option<User>, DbError> {
        let conn = self.pool.get().await?;
        let row = conn
            .query_opt(
                "SELECT id, name, email FROM keel_example_users WHERE id = $1",
                &[&id],
            )
            .await?;
        Ok(row.as_ref().map(User::from_row))
    }

    /// The user with `email` (already lower-cased), if any.
    pub(crate) async fn find_by_email(&self, email: &str) -> Result<Option<User>, DbError> {
        let conn = self.pool.get().await?;
        let row = conn
            .query_opt(
                "SELECT id, name, email FROM keel_example_users WHERE email = $1",
                &[&email],
            )
            .await?;
        Ok(row.as_ref().map(User::from_row))
    }

    /// Up to `limit` users with an id above `after`, by id.
    pub(crate) async fn list(&self, after: i64, limit: i64) -> Result<Vec<User>, DbError> {
        let conn = self.pool.get().await?;
        let rows = conn
            .query(
                "SELECT id, name, email FROM keel_example_users WHERE id > $1 ORDER BY id LIMIT $2",
                &[&after, &limit],
            )
            .await?;
        Ok(rows.iter().map(User::from_row).collect())
    }

    /// Sets the fields given (`None` keeps the stored value); the updated user, if any.
    pub(crate) async fn update(
        &self,
        id: i64,
        name: Option<&str>,
        email: Option<&str>,
    ) -> Result<Option<User>, DbError> {
        let conn = self.pool.get().await?;
        let row = conn
            .query_opt(
                "UPDATE keel_example_users SET name = COALESCE($2, name), email = COALESCE($3, email) \
                 WHERE id = $1 RETURNING id, name, email",
                &[&id, &name, &email],
            )
            .await?;
        Ok(row.as_ref().map(User::from_row))
    }

    /// Deletes the user with `id`; whether there was one.
    pub(crate) async fn delete(&self, id: i64) -> Result<bool, DbError> {
        let conn = self.pool.get().await?;
        let n = conn
            .execute("DELETE FROM keel_example_users WHERE id = $1", &[&id])
            .await?;
        Ok(n == 1)
    }
}

/// Creates the schema (once per process, at startup). Two processes starting at once
/// can race inside `CREATE TABLE IF NOT EXISTS` (the loser gets a unique violation on
/// the catalog), so a failure is retried once.
pub(crate) async fn migrate(pool: &Pool<PgManager>) -> Result<(), DbError> {
    let conn = pool.get().await?;
    match conn.execute(SCHEMA, &[]).await {
        Ok(_) => Ok(()),
        Err(_) => {
            conn.execute(SCHEMA, &[]).await?;
            Ok(())
        }
    }
}
