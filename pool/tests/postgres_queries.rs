//! The query API of a pooled PostgreSQL connection against the real server: the query
//! timeout with its server-side cancel, the prepared-statement cache, transactions.

mod util;

use std::time::{Duration, Instant};

use keel_pool::Pool;
use keel_pool::postgres::Error;
use util::{admin, app_name, pg_manager};

/// Queries of `app`'s backends that are still running `pg_sleep`.
async fn sleeping(app: &str) -> i64 {
    admin()
        .await
        .query_one(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE application_name = $1 AND state = 'active' AND query LIKE '%pg_sleep%'",
            &[&app],
        )
        .await
        .unwrap()
        .get(0)
}

#[test]
fn query_timeout_cancels_on_the_server_and_keeps_the_connection() {
    keel_runtime::block_on(async {
        let app = app_name("query-timeout");
        let manager = pg_manager(&app)
            .await
            .query_timeout(Duration::from_millis(300));
        let pool = Pool::builder(manager).max(1).build();
        let conn = pool.get().await.unwrap();

        let start = Instant::now();
        let err = conn
            .query_one("SELECT pg_sleep($1)", &[&10.0f64])
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::QueryTimeout(limit) if limit == Duration::from_millis(300)),
            "{err:?}"
        );
        assert!(err.to_string().contains("timed out"), "{err}");
        // Cancelled, not run to its end: the next query (queued behind the cancelled
        // one) answers long before the 10 s sleep would have finished.
        let row = conn
            .query_one("SELECT $1::int + 1", &[&1i32])
            .await
            .unwrap();
        assert_eq!(row.get::<_, i32>(0), 2);
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(sleeping(&app).await, 0);
        assert!(conn.is_settled());
        drop(conn);

        // Returned to the pool and handed out again: the same connection, usable.
        let conn = pool.get().await.unwrap();
        let row = conn
            .query_one("SELECT 'still here'::text", &[])
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), "still here");
        assert_eq!(pool.metrics().creates, 1);
    });
}

#[test]
fn a_connection_returned_right_after_a_timeout_is_recycled() {
    keel_runtime::block_on(async {
        let app = app_name("query-timeout-return");
        let manager = pg_manager(&app)
            .await
            .query_timeout(Duration::from_millis(300));
        let pool = Pool::builder(manager).max(1).build();
        {
            let conn = pool.get().await.unwrap();
            let err = conn.query("SELECT pg_sleep(10)", &[]).await.unwrap_err();
            assert!(matches!(err, Error::QueryTimeout(_)), "{err:?}");
        }
        // The cancelled query's reply may still be on its way: the pool settles the
        // connection (or replaces it) before lending it again.
        let conn = pool.get().await.unwrap();
        assert!(conn.is_settled());
        let row = conn.query_one("SELECT 7::int", &[]).await.unwrap();
        assert_eq!(row.get::<_, i32>(0), 7);
        drop(conn);
        assert_eq!(sleeping(&app).await, 0);
    });
}

#[test]
fn statements_are_prepared_once_per_connection_and_the_cache_is_bounded() {
    keel_runtime::block_on(async {
        let app = app_name("statement-cache");
        let manager = pg_manager(&app).await.statement_cache(3);
        let pool = Pool::builder(manager).max(1).build();
        let conn = pool.get().await.unwrap();

        for i in 0..5i32 {
            let row = conn.query_one("SELECT $1::int * 2", &[&i]).await.unwrap();
            assert_eq!(row.get::<_, i32>(0), i * 2);
        }
        assert_eq!(conn.cached_statements(), 1);
        assert_eq!(conn.statement_cache_stats(), (4, 1));

        let count = "SELECT count(*) FROM pg_prepared_statements";
        // The server holds exactly the cached statements.
        let on_server: i64 = conn.query_one(count, &[]).await.unwrap().get(0);
        assert_eq!(on_server, 2);

        // Two more distinct texts: the cache holds 3, the least recently used is
        // evicted and closed on the server.
        conn.execute("SELECT 1", &[]).await.unwrap();
        conn.execute("SELECT 2", &[]).await.unwrap();
        assert_eq!(conn.cached_statements(), 3);
        let on_server: i64 = conn.query_one(count, &[]).await.unwrap().get(0);
        assert_eq!(on_server, 3);
        assert_eq!(conn.cached_statements(), 3);

        conn.clear_statement_cache();
        assert_eq!(conn.cached_statements(), 0);
        let statement = conn.prepare_cached(count).await.unwrap();
        assert_eq!(statement.columns()[0].name(), "count");
        drop(statement);
        let on_server: i64 = conn.query_one(count, &[]).await.unwrap().get(0);
        assert_eq!(on_server, 1);
    });
}

#[test]
fn a_disabled_cache_leaves_nothing_prepared() {
    keel_runtime::block_on(async {
        let app = app_name("statement-cache-off");
        let pool = Pool::new(pg_manager(&app).await.statement_cache(0));
        let conn = pool.get().await.unwrap();
        conn.execute("SELECT 1", &[]).await.unwrap();
        let on_server: i64 = conn
            .query_one("SELECT count(*) FROM pg_prepared_statements", &[])
            .await
            .unwrap()
            .get(0);
        // Only the statement running this very query.
        assert_eq!(on_server, 1);
        assert_eq!(conn.cached_statements(), 0);
    });
}

#[test]
fn transactions_commit_and_roll_back_with_parameters() {
    keel_runtime::block_on(async {
        let app = app_name("transaction");
        let pool = Pool::builder(pg_manager(&app).await).max(1).build();
        let mut conn = pool.get().await.unwrap();
        conn.execute("CREATE TEMP TABLE items (name text)", &[])
            .await
            .unwrap();

        let tx = conn.transaction().await.unwrap();
        let n = tx
            .execute(
                "INSERT INTO items VALUES ($1), ($2)",
                &[&"a", &"b'); DROP TABLE items; --"],
            )
            .await
            .unwrap();
        assert_eq!(n, 2);
        tx.commit().await.unwrap();

        let tx = conn.transaction().await.unwrap();
        tx.execute("DELETE FROM items", &[]).await.unwrap();
        assert_eq!(
            tx.query_one("SELECT count(*) FROM items", &[])
                .await
                .unwrap()
                .get::<_, i64>(0),
            0
        );
        tx.rollback().await.unwrap();

        let names: Vec<String> = conn
            .query("SELECT name FROM items ORDER BY name", &[])
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert_eq!(names, ["a", "b'); DROP TABLE items; --"]);
        // Two statements in one text are refused: the API runs one parameterized
        // statement at a time.
        assert!(conn.execute("SELECT 1; SELECT 2", &[]).await.is_err());
    });
}
