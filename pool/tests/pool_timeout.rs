//! Acquire timeouts and cancelled acquires (real PostgreSQL behind the pool): errors name
//! their phase, connect failures are retried and reported, and dropped `get()` futures
//! leave every count right.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use keel_pool::postgres::PgManager;
use keel_pool::{AcquirePhase, Pool};
use keel_runtime::time::timeout;
use util::{Flaky, app_name, pg_config_on, pg_manager};

#[test]
fn waiting_past_the_acquire_timeout_names_the_wait_phase() {
    keel_runtime::block_on(async {
        let pool = Pool::builder(pg_manager(&app_name("wait-timeout")).await)
            .max(1)
            .acquire_timeout(Duration::from_millis(100))
            .build();
        let _held = pool.get().await.unwrap();
        let start = std::time::Instant::now();
        let err = pool.get().await.unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert!(start.elapsed() < Duration::from_secs(2));
        assert_eq!(err.timeout_phase(), Some(AcquirePhase::Wait));
        let text = err.to_string();
        assert!(
            text.contains("timed out") && text.contains("waiting"),
            "{text}"
        );
        assert_eq!(pool.metrics().timeouts_wait, 1);
        assert_eq!(pool.status().waiting, 0);
    });
}

#[test]
fn failing_connects_time_out_with_the_last_connect_error() {
    keel_runtime::block_on(async {
        let config = pg_config_on("test", 1); // nothing listens there
        let pool = Pool::builder(PgManager::new(config))
            .acquire_timeout(Duration::from_millis(400))
            .backoff(Duration::from_millis(10), Duration::from_millis(100))
            .build();
        let err = pool.get().await.unwrap_err();
        assert_eq!(err.timeout_phase(), Some(AcquirePhase::Create));
        let last = err.backend().expect("the last connect error");
        assert!(
            matches!(last, keel_pool::postgres::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused),
            "{last:?}"
        );
        assert!(err.to_string().contains("last connect error"), "{err}");
        let m = pool.metrics();
        assert!(m.create_errors >= 3, "retried with backoff: {m:?}");
        assert_eq!(m.timeouts_create, 1);
        assert_eq!(pool.status().size, 0);
    });
}

#[test]
fn fail_fast_returns_the_backend_error() {
    keel_runtime::block_on(async {
        let config = pg_config_on("test", 1);
        let pool = Pool::builder(PgManager::new(config))
            .fail_fast(true)
            .build();
        let err = pool.get().await.unwrap_err();
        assert!(err.is_backend(), "{err:?}");
        assert_eq!(pool.status().size, 0);
    });
}

#[test]
fn the_pool_recovers_when_the_server_returns() {
    keel_runtime::block_on(async {
        let down = Rc::new(Cell::new(true));
        let manager = Flaky {
            inner: pg_manager(&app_name("recover")).await,
            down: down.clone(),
        };
        let pool = Pool::builder(manager)
            .max(2)
            .acquire_timeout(Duration::from_millis(200))
            .backoff(Duration::from_millis(5), Duration::from_millis(50))
            .build();
        let err = pool.get().await.unwrap_err();
        assert_eq!(err.timeout_phase(), Some(AcquirePhase::Create));
        assert!(err.backend().is_some());

        // The server comes back while an acquire is retrying.
        let pending = keel_runtime::spawn_local({
            let pool = pool.clone();
            async move {
                let conn = pool.get().await.unwrap();
                conn.query_one("SELECT 1", &[])
                    .await
                    .unwrap()
                    .get::<_, i32>(0)
            }
        });
        keel_runtime::time::sleep(Duration::from_millis(60)).await;
        down.set(false);
        assert_eq!(pending.await.unwrap(), 1);
        assert!(pool.metrics().create_errors >= 2);
    });
}

#[test]
fn cancelled_acquires_leave_counts_right() {
    keel_runtime::block_on(async {
        let pool = Pool::builder(pg_manager(&app_name("cancel")).await)
            .max(2)
            .build();
        let a = pool.get().await.unwrap();
        let b = pool.get().await.unwrap();

        // Fifty acquires dropped while queued.
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let pool = pool.clone();
                keel_runtime::spawn_local(async move {
                    timeout(Duration::from_millis(20), pool.get())
                        .await
                        .is_err()
                })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap(), "the acquire should have been cut off");
        }
        let s = pool.status();
        assert_eq!((s.size, s.in_use, s.idle, s.waiting), (2, 2, 0, 0));

        // A waiter dropped after it was handed a connection passes it on.
        let first = keel_runtime::spawn_local({
            let pool = pool.clone();
            async move { pool.get().await.map(|_| ()) }
        });
        let second = keel_runtime::spawn_local({
            let pool = pool.clone();
            async move {
                let conn = pool.get().await.unwrap();
                conn.query_one("SELECT 2", &[])
                    .await
                    .unwrap()
                    .get::<_, i32>(0)
            }
        });
        keel_runtime::task::yield_now().await;
        assert_eq!(pool.status().waiting, 2);
        drop(a); // handed to `first`...
        first.abort(); // ...which is cancelled before it runs
        assert_eq!(second.await.unwrap(), 2);
        let s = pool.status();
        assert_eq!((s.size, s.in_use, s.idle, s.waiting), (2, 1, 1, 0));

        // An acquire cancelled while it creates gives its slot back: a listener that
        // never answers the startup message keeps the create pending.
        drop(b);
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let stuck = Pool::builder(PgManager::new(pg_config_on("test", port)))
            .max(1)
            .build();
        assert!(
            timeout(Duration::from_millis(30), stuck.get())
                .await
                .is_err()
        );
        let s = stuck.status();
        assert_eq!((s.size, s.in_use, s.waiting), (0, 0, 0));
        assert_eq!(stuck.metrics().creates, 0);
    });
}
