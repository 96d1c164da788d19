//! Shared helpers for the real-server tests: PostgreSQL on 127.0.0.1:5432 (user
//! `postgres`, trust auth, database `test`) and Redis on 127.0.0.1:6379.

#![allow(dead_code, reason = "each test file uses a different subset")]

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use keel_pool::Manager;
use keel_pool::postgres::tokio_postgres;
use keel_pool::postgres::{PgConnection, PgManager};

/// A config for database `db` on the local server.
pub(crate) fn pg_config(db: &str) -> tokio_postgres::Config {
    pg_config_on(db, 5432)
}

/// A config for database `db` on `127.0.0.1:port`.
pub(crate) fn pg_config_on(db: &str, port: u16) -> tokio_postgres::Config {
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(port)
        .user("postgres")
        .dbname(db);
    config
}

/// A name no other test (or test run) uses, for `pg_stat_activity` filters.
pub(crate) fn app_name(test: &str) -> String {
    format!("keel-pool-{}-{test}", std::process::id())
}

/// A manager for database `test` tagged with `app`; creates the database if missing.
pub(crate) async fn pg_manager(app: &str) -> PgManager {
    ensure_test_db().await;
    PgManager::new(pg_config("test")).application_name(app)
}

/// An admin connection (outside any pool) to the `postgres` database.
pub(crate) async fn admin() -> PgConnection {
    PgManager::new(pg_config("postgres"))
        .application_name("keel-pool-test-admin")
        .create()
        .await
        .expect("PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth)")
}

async fn ensure_test_db() {
    let admin = admin().await;
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = 'test'", &[])
        .await
        .unwrap()
        .is_some();
    if !exists {
        // Two test binaries may race here; "already exists" is fine.
        let _ = admin
            .unchecked_client()
            .batch_execute("CREATE DATABASE test")
            .await;
    }
}

/// How many server backends carry `app`.
pub(crate) async fn backends(admin: &PgConnection, app: &str) -> i64 {
    admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .unwrap()
        .get(0)
}

/// Polls `backends` until it equals `want` (the server reaps backends asynchronously).
pub(crate) async fn wait_for_backends(admin: &PgConnection, app: &str, want: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = backends(admin, app).await;
        if n == want || Instant::now() > deadline {
            return n;
        }
        keel_runtime::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Wraps a manager and can pretend the server is down.
#[derive(Debug)]
pub(crate) struct Flaky<M> {
    pub(crate) inner: M,
    pub(crate) down: Rc<Cell<bool>>,
}

impl<M: Manager<Error = keel_pool::postgres::Error>> Manager for Flaky<M> {
    type Connection = M::Connection;
    type Error = M::Error;

    async fn create(&self) -> Result<M::Connection, M::Error> {
        if self.down.get() {
            return Err(keel_pool::postgres::Error::Io(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "pretend the server is down",
            )));
        }
        self.inner.create().await
    }

    async fn recycle(&self, conn: &mut M::Connection) -> Result<(), M::Error> {
        self.inner.recycle(conn).await
    }

    fn check(&self, conn: &mut M::Connection) -> keel_pool::CheckOutcome {
        self.inner.check(conn)
    }
}
