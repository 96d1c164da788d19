//! Queued acquires time out through the pool's one expiry task (no timer per waiter),
//! also after the loop that ran an earlier expiry task has dropped it.

use std::cell::Cell;
use std::convert::Infallible;
use std::time::{Duration, Instant};

use keel_pool::{AcquirePhase, Manager, Pool};
use keel_runtime::time::{sleep, timeout};

/// Connections are numbers: this file is about the waiter queue, not a backend.
#[derive(Default)]
struct Numbers(Cell<u64>);

impl Manager for Numbers {
    type Connection = u64;
    type Error = Infallible;

    async fn create(&self) -> Result<u64, Infallible> {
        self.0.set(self.0.get() + 1);
        Ok(self.0.get())
    }

    async fn recycle(&self, _conn: &mut u64) -> Result<(), Infallible> {
        Ok(())
    }
}

#[test]
fn waiters_time_out_in_order_and_served_ones_do_not() {
    keel_runtime::block_on(async {
        let pool = Pool::builder(Numbers::default())
            .max(1)
            .acquire_timeout(Duration::from_millis(150))
            .build();
        let held = pool.get().await.unwrap();
        let started = Instant::now();
        let first = keel_runtime::spawn_local({
            let pool = pool.clone();
            async move { pool.get().await.map(|c| *c) }
        });
        sleep(Duration::from_millis(60)).await;
        let second = keel_runtime::spawn_local({
            let pool = pool.clone();
            async move { pool.get().await.map(|c| *c) }
        });
        sleep(Duration::from_millis(10)).await;
        assert_eq!(pool.status().waiting, 2);
        let err = first.await.unwrap().unwrap_err();
        assert_eq!(err.timeout_phase(), Some(AcquirePhase::Wait));
        assert!(started.elapsed() >= Duration::from_millis(150));
        // The second waiter's deadline has not passed: a returned connection reaches it.
        assert_eq!(pool.status().waiting, 1);
        drop(held);
        assert_eq!(second.await.unwrap().unwrap(), 1);
        assert_eq!(pool.metrics().timeouts_wait, 1);
    });
}

#[test]
fn a_pool_outliving_its_loop_still_times_waiters_out() {
    let pool = Pool::builder(Numbers::default())
        .max(1)
        .acquire_timeout(Duration::from_millis(100))
        .build();
    let held = keel_runtime::block_on(async {
        let held = pool.get().await.unwrap();
        // Still queued when this `block_on` ends and drops every task, the expiry task
        // with it.
        drop(keel_runtime::spawn_local({
            let pool = pool.clone();
            async move { pool.get().await.map(|c| *c) }
        }));
        sleep(Duration::from_millis(10)).await;
        assert_eq!(pool.status().waiting, 1);
        held
    });
    assert_eq!(
        pool.status().waiting,
        0,
        "the dropped acquire left the queue"
    );
    keel_runtime::block_on(async {
        let err = timeout(Duration::from_secs(10), pool.get())
            .await
            .expect("the pool times the acquire out, not the test")
            .unwrap_err();
        assert_eq!(err.timeout_phase(), Some(AcquirePhase::Wait));
    });
    drop(held);
}
