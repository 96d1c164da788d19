//! Acquire and release against the real PostgreSQL server: the `max` bound seen from
//! the server's side, FIFO hand-off under load, and the transaction-status recycle.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use keel_pool::Pool;
use keel_pool::postgres::tokio_postgres;
use util::{admin, app_name, backends, pg_manager, wait_for_backends};

#[test]
fn two_hundred_tasks_never_exceed_five_connections() {
    keel_runtime::block_on(async {
        let app = app_name("two-hundred");
        let pool = Pool::builder(pg_manager(&app).await)
            .max(5)
            .acquire_timeout(Duration::from_secs(30))
            .build();
        let admin = admin().await;
        let busiest = Rc::new(Cell::new(0usize));
        let done = Rc::new(Cell::new(false));

        let monitor = keel_runtime::spawn_local({
            let (done, app) = (done.clone(), app.clone());
            async move {
                let mut most = 0;
                while !done.get() {
                    most = most.max(backends(&admin, &app).await);
                    keel_runtime::time::sleep(Duration::from_millis(5)).await;
                }
                (most, admin)
            }
        });
        let tasks: Vec<_> = (0..200)
            .map(|i: i32| {
                let (pool, busiest) = (pool.clone(), busiest.clone());
                keel_runtime::spawn_local(async move {
                    let conn = pool.get().await.unwrap();
                    let status = pool.status();
                    busiest.set(busiest.get().max(status.size).max(status.in_use));
                    let row = conn
                        .query_one("SELECT $1::int + 1, pg_sleep(0.002)::text", &[&i])
                        .await
                        .unwrap();
                    assert_eq!(row.get::<_, i32>(0), i + 1);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        done.set(true);
        let (most_on_server, admin) = monitor.await.unwrap();

        assert!(most_on_server <= 5, "server saw {most_on_server} backends");
        assert!(busiest.get() <= 5, "pool reported {}", busiest.get());
        let status = pool.status();
        assert_eq!((status.in_use, status.waiting), (0, 0));
        assert!(status.size <= 5 && status.size >= 1);
        let m = pool.metrics();
        assert!(m.creates <= 5, "{m:?}");
        assert_eq!(m.acquire_wait.count, 200);
        assert_eq!(m.usage.count, 200);
        assert!(backends(&admin, &app).await <= 5);
        pool.close();
        assert_eq!(wait_for_backends(&admin, &app, 0).await, 0);
    });
}

#[test]
fn waiters_are_served_in_arrival_order() {
    keel_runtime::block_on(async {
        let app = app_name("fifo");
        let pool = Pool::builder(pg_manager(&app).await).max(1).build();
        let held = pool.get().await.unwrap();
        let order = Rc::new(std::cell::RefCell::new(Vec::new()));
        let tasks: Vec<_> = (0..5)
            .map(|i| {
                let (pool, order) = (pool.clone(), order.clone());
                keel_runtime::spawn_local(async move {
                    let conn = pool.get().await.unwrap();
                    order.borrow_mut().push(i);
                    conn.unchecked_client()
                        .batch_execute("SELECT 1")
                        .await
                        .unwrap();
                })
            })
            .collect();
        keel_runtime::task::yield_now().await;
        assert_eq!(pool.status().waiting, 5);
        drop(held);
        // A late arrival must not barge ahead of the queue.
        let late = pool.get().await.unwrap();
        assert_eq!(*order.borrow(), vec![0, 1, 2, 3, 4]);
        drop(late);
        for task in tasks {
            task.await.unwrap();
        }
    });
}

#[test]
fn a_failed_transaction_is_rolled_back_not_discarded() {
    keel_runtime::block_on(async {
        let app = app_name("rollback");
        let pool = Pool::builder(pg_manager(&app).await).max(1).build();
        {
            let conn = pool.get().await.unwrap();
            assert!(
                conn.unchecked_client()
                    .batch_execute("BEGIN; SELECT 1/0")
                    .await
                    .is_err()
            );
            assert!(!conn.is_settled());
        }
        {
            let conn = pool.get().await.unwrap();
            assert_eq!(conn.transaction_status(), b'I');
            let row = conn.query_one("SELECT 41 + 1", &[]).await.unwrap();
            assert_eq!(row.get::<_, i32>(0), 42);
            // An open (not failed) transaction is rolled back too.
            conn.unchecked_client()
                .batch_execute("BEGIN; CREATE TEMP TABLE t (x int)")
                .await
                .unwrap();
            assert_eq!(conn.transaction_status(), b'T');
        }
        let conn = pool.get().await.unwrap();
        assert_eq!(conn.transaction_status(), b'I');
        let exists: bool = conn
            .query_one("SELECT to_regclass('pg_temp.t') IS NOT NULL", &[])
            .await
            .unwrap()
            .get(0);
        assert!(!exists, "the transaction's table survived");
        assert_eq!(pool.metrics().creates, 1);
    });
}

#[test]
fn statement_timeout_and_application_name_apply() {
    keel_runtime::block_on(async {
        let app = app_name("settings");
        let manager = pg_manager(&app)
            .await
            .statement_timeout(Duration::from_millis(50));
        let pool = Pool::new(manager);
        let conn = pool.get().await.unwrap();
        let row = conn
            .query_one(
                "SELECT current_setting('application_name'), current_setting('statement_timeout')",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), app);
        assert_eq!(row.get::<_, String>(1), "50ms");
        let err = conn
            .unchecked_client()
            .batch_execute("SELECT pg_sleep(1)")
            .await
            .unwrap_err();
        let code = err.code().expect("a server error");
        assert_eq!(
            code,
            &tokio_postgres::error::SqlState::QUERY_CANCELED,
            "{err:?}"
        );
    });
}
