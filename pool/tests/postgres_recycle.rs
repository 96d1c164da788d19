//! Connections going away against the real PostgreSQL server: terminated backends,
//! idle and lifetime reaping, `min` kept warm, leak warnings.

mod util;

use std::time::Duration;

use keel_pool::Pool;
use util::{admin, app_name, backends, pg_manager, wait_for_backends};

#[test]
fn terminated_backends_cost_at_most_one_error_each() {
    keel_runtime::block_on(async {
        let app = app_name("terminate");
        let pool = Pool::builder(pg_manager(&app).await).max(4).build();
        // Warm four connections.
        let conns: Vec<_> = futures_join(&pool, 4).await;
        drop(conns);
        let admin = admin().await;
        assert_eq!(backends(&admin, &app).await, 4);

        let killed: i64 = admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                &[&app],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(killed, 4);

        let mut errors = 0;
        for i in 0..12 {
            let conn = pool.get().await.unwrap();
            match conn.query_one("SELECT $1::int", &[&i]).await {
                Ok(row) => assert_eq!(row.get::<_, i32>(0), i),
                Err(_) => errors += 1,
            }
        }
        assert!(errors <= 4, "{errors} errors for 4 dead connections");
        // From now on, everything works.
        for i in 0..8 {
            let conn = pool.get().await.unwrap();
            assert_eq!(
                conn.query_one("SELECT $1::int", &[&i])
                    .await
                    .unwrap()
                    .get::<_, i32>(0),
                i
            );
        }
        assert!(pool.status().size <= 4);
        assert!(pool.metrics().closed.broken + pool.metrics().closed.recycle_failed >= 1);
    });
}

#[test]
fn terminated_idle_connections_are_replaced_without_errors() {
    keel_runtime::block_on(async {
        let app = app_name("terminate-idle");
        let pool = Pool::builder(pg_manager(&app).await)
            .max(3)
            .reap_interval(Duration::from_millis(20))
            .build();
        drop(futures_join(&pool, 3).await);
        let admin = admin().await;
        admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                &[&app],
            )
            .await
            .unwrap();
        // The connection tasks see the server hang up; the reaper closes all three.
        keel_runtime::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(pool.metrics().closed.broken, 3);
        assert_eq!(pool.status().size, 0);
        for _ in 0..6 {
            let conn = pool.get().await.unwrap();
            conn.query_one("SELECT 1", &[]).await.unwrap();
        }
        assert_eq!(pool.metrics().creates, 4);
    });
}

#[test]
fn idle_connections_are_reaped_down_to_min() {
    keel_runtime::block_on(async {
        let app = app_name("idle-reap");
        let pool = Pool::builder(pg_manager(&app).await)
            .max(4)
            .min(1)
            .idle_timeout(Some(Duration::from_millis(150)))
            .reap_interval(Duration::from_millis(25))
            .build();
        drop(futures_join(&pool, 4).await);
        assert_eq!(pool.status().idle, 4);
        keel_runtime::time::sleep(Duration::from_millis(400)).await;
        let s = pool.status();
        assert_eq!((s.size, s.idle), (1, 1), "{s:?}");
        assert_eq!(pool.metrics().closed.idle_timeout, 3);
        let admin = admin().await;
        assert_eq!(wait_for_backends(&admin, &app, 1).await, 1);
    });
}

#[test]
fn min_connections_are_kept_warm() {
    keel_runtime::block_on(async {
        let app = app_name("min-warm");
        let pool = Pool::builder(pg_manager(&app).await)
            .max(5)
            .min(3)
            .reap_interval(Duration::from_millis(20))
            .build();
        drop(pool.get().await.unwrap()); // starts the background task
        // The refill connects in the background: wait for it (generously: a loaded
        // machine may take a while to open two connections), then check it stops at min.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while pool.status().idle < 3 && std::time::Instant::now() < deadline {
            keel_runtime::time::sleep(Duration::from_millis(20)).await;
        }
        keel_runtime::time::sleep(Duration::from_millis(100)).await;
        // `min` counts idle connections: when the refill runs while the first, lent
        // connection is still on its way back, it opens a third idle one beside it, and
        // the returning one makes four. It never goes past that, and never below min.
        let s = pool.status();
        assert!((3..=4).contains(&s.idle) && s.size == s.idle, "{s:?}");
        let admin = admin().await;
        let size = s.size as i64;
        assert_eq!(wait_for_backends(&admin, &app, size).await, size);
    });
}

#[test]
fn connections_are_closed_past_their_lifetime() {
    keel_runtime::block_on(async {
        let app = app_name("lifetime");
        let pool = Pool::builder(pg_manager(&app).await)
            .max(2)
            .idle_timeout(None)
            .max_lifetime(Some(Duration::from_millis(150)))
            .lifetime_jitter(0.2)
            .reap_interval(Duration::from_millis(25))
            .build();
        // One idle (reaped by the background task), one held past its lifetime.
        let held = pool.get().await.unwrap();
        drop(pool.get().await.unwrap());
        keel_runtime::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(pool.status().idle, 0);
        drop(held); // expired: closed on return
        let s = pool.status();
        assert_eq!((s.size, s.idle), (0, 0));
        assert_eq!(pool.metrics().closed.max_lifetime, 2);
        let admin = admin().await;
        assert_eq!(wait_for_backends(&admin, &app, 0).await, 0);
    });
}

#[test]
fn long_held_connections_are_reported_as_leaks() {
    keel_runtime::block_on(async {
        let pool = Pool::builder(pg_manager(&app_name("leak")).await)
            .leak_threshold(Some(Duration::from_millis(50)))
            .reap_interval(Duration::from_millis(20))
            .build();
        let held = pool.get().await.unwrap();
        keel_runtime::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(pool.metrics().leaks, 1, "warned once");
        drop(held);
        let quick = pool.get().await.unwrap();
        drop(quick);
        keel_runtime::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(pool.metrics().leaks, 1);
    });
}

/// Holds `n` connections at once (so `n` distinct ones are opened).
async fn futures_join<M: keel_pool::Manager>(
    pool: &Pool<M>,
    n: usize,
) -> Vec<keel_pool::Pooled<M>> {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(pool.get().await.unwrap());
    }
    held
}
