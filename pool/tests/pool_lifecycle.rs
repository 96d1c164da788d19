//! Pool behaviour with an in-memory manager (no server): backend health for readiness
//! and the last connect error for queued acquires, `close_within`, and an acquire
//! cancelled while it recycles.

use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use keel_pool::{Manager, Pool};
use keel_runtime::time::{sleep, timeout};

/// Hands out numbered connections; can refuse to connect or hang in recycle.
#[derive(Default, Clone)]
struct Mock {
    down: Rc<Cell<bool>>,
    recycle_hangs: Rc<Cell<bool>>,
    detached: Rc<Cell<u32>>,
    made: Rc<Cell<u32>>,
}

impl Manager for Mock {
    type Connection = u32;
    type Error = io::Error;

    async fn create(&self) -> Result<u32, io::Error> {
        sleep(Duration::from_millis(2)).await;
        if self.down.get() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "backend refused the connection",
            ));
        }
        self.made.set(self.made.get() + 1);
        Ok(self.made.get())
    }

    async fn recycle(&self, _conn: &mut u32) -> Result<(), io::Error> {
        if self.recycle_hangs.get() {
            sleep(Duration::from_secs(3600)).await;
        }
        Ok(())
    }

    fn detach(&self, _conn: &mut u32) {
        self.detached.set(self.detached.get() + 1);
    }
}

#[test]
fn health_reports_a_failing_backend_and_queued_acquires_get_its_error() {
    keel_runtime::block_on(async {
        let mock = Mock::default();
        let pool = Pool::builder(mock.clone())
            .max(1)
            .acquire_timeout(Duration::from_millis(300))
            .backoff(Duration::from_millis(5), Duration::from_millis(20))
            .build();
        assert!(pool.health().healthy);
        drop(pool.get().await.unwrap());
        let up = pool.health();
        assert!(up.healthy && up.last_success.is_some() && up.down_since.is_none());

        mock.down.set(true);
        // The idle connection is fine; make the pool need a new one.
        keel_pool::Pooled::detach(pool.get().await.unwrap());
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let pool = pool.clone();
                keel_runtime::spawn_local(async move { pool.get().await.map(|_| ()) })
            })
            .collect();
        keel_runtime::task::yield_now().await;
        assert_eq!(pool.status().waiting, 2, "one creates, two queue behind it");
        for task in tasks {
            let err = task.await.unwrap().unwrap_err();
            assert!(err.is_timeout(), "{err}");
            let cause = err.backend().expect("the last connect error");
            assert_eq!(cause.kind(), io::ErrorKind::ConnectionRefused, "{err}");
            assert!(err.to_string().contains("backend refused"), "{err}");
        }
        let down = pool.health();
        assert!(!down.healthy);
        assert!(down.down_since.is_some());
        assert!(down.consecutive_failures >= 1);
        assert_eq!(
            down.last_error.as_deref(),
            Some("backend refused the connection")
        );
        assert!(!pool.status().healthy);

        mock.down.set(false);
        drop(pool.get().await.unwrap());
        let back = pool.health();
        assert!(back.healthy && back.down_since.is_none());
        assert_eq!(back.consecutive_failures, 0);
        assert!(pool.status().healthy);
    });
}

/// Refuses the first connect, then hangs on every later one.
#[derive(Default, Clone)]
struct RefusesThenHangs {
    tries: Rc<Cell<u32>>,
}

impl Manager for RefusesThenHangs {
    type Connection = u32;
    type Error = io::Error;

    async fn create(&self) -> Result<u32, io::Error> {
        self.tries.set(self.tries.get() + 1);
        if self.tries.get() == 1 {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "backend refused the connection",
            ));
        }
        sleep(Duration::from_secs(3600)).await;
        Ok(0)
    }

    async fn recycle(&self, _conn: &mut u32) -> Result<(), io::Error> {
        Ok(())
    }
}

/// The acquire's own deadline cuts the second connect short: the backend's refusal, not
/// that cut, stays the health's last error and the timeout's cause.
#[test]
fn an_acquire_deadline_cutting_a_connect_short_keeps_the_backends_last_error() {
    keel_runtime::block_on(async {
        let manager = RefusesThenHangs::default();
        let pool = Pool::builder(manager.clone())
            .max(1)
            .acquire_timeout(Duration::from_millis(100))
            .backoff(Duration::from_millis(1), Duration::from_millis(2))
            .build();
        let err = pool.get().await.map(|_| ()).unwrap_err();
        assert!(err.is_timeout(), "{err}");
        assert_eq!(manager.tries.get(), 2, "one refusal, then one cut short");
        let cause = err.backend().expect("the refusal");
        assert_eq!(cause.kind(), io::ErrorKind::ConnectionRefused, "{err}");
        let health = pool.health();
        assert!(!health.healthy);
        assert_eq!(
            health.last_error.as_deref(),
            Some("backend refused the connection")
        );
    });
}

#[test]
fn close_within_waits_for_returns_and_reports_what_is_left() {
    keel_runtime::block_on(async {
        let pool = Pool::builder(Mock::default()).max(3).build();
        let a = pool.get().await.unwrap();
        let b = pool.get().await.unwrap();
        drop(pool.get().await.unwrap()); // one idle: closes at once

        let returner = keel_runtime::spawn_local(async move {
            sleep(Duration::from_millis(20)).await;
            drop(a);
            sleep(Duration::from_millis(20)).await;
            drop(b);
        });
        let report = pool.close_within(Duration::from_secs(30)).await;
        assert!(report.drained(), "{report:?}");
        assert_eq!(report.in_use, 0);
        assert!(report.waited < Duration::from_secs(30));
        returner.await.unwrap();
        assert_eq!(pool.metrics().closed.pool_closed, 3);

        // A connection never returned: the deadline ends the wait and it is reported.
        let pool = Pool::builder(Mock::default()).max(2).build();
        let held = pool.get().await.unwrap();
        let report = pool.close_within(Duration::from_millis(50)).await;
        assert_eq!((report.left, report.in_use), (1, 1));
        assert!(!report.drained());
        assert!(pool.get().await.unwrap_err().is_closed());
        drop(held);
        assert_eq!(pool.status().size, 0);
    });
}

#[test]
fn an_acquire_cancelled_during_recycle_closes_the_connection_properly() {
    keel_runtime::block_on(async {
        let mock = Mock::default();
        let pool = Pool::builder(mock.clone())
            .max(1)
            .validation_window(Duration::ZERO)
            .build();
        drop(pool.get().await.unwrap());
        sleep(Duration::from_millis(2)).await; // idle past the (zero) window
        mock.recycle_hangs.set(true);
        assert!(
            timeout(Duration::from_millis(50), pool.get())
                .await
                .is_err(),
            "the recycle should hang until cancelled"
        );
        let m = pool.metrics();
        assert_eq!(m.closed.recycle_cancelled, 1);
        assert_eq!(mock.detached.get(), 1);
        let s = pool.status();
        assert_eq!((s.size, s.idle, s.in_use, s.waiting), (0, 0, 0, 0));

        mock.recycle_hangs.set(false);
        assert_eq!(*pool.get().await.unwrap(), 2);
    });
}
