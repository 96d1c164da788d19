//! One pool per loop ([`PerLoop`]) and the `Send + Sync` health handles that let a
//! readiness check on another thread see what the loops' `!Send` pools see
//! ([`Pool::health_handle`], [`PoolHealthSet`]). In-memory managers, no server.

use std::future::Future;
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keel_pool::{Manager, PerLoop, Pool, PoolHealth, PoolHealthSet};

/// Connections are numbers; refuses to connect while `down` is set.
#[derive(Default, Clone)]
struct Switch {
    down: Arc<AtomicBool>,
    made: Arc<AtomicU32>,
}

impl Manager for Switch {
    type Connection = u32;
    type Error = io::Error;

    async fn create(&self) -> Result<u32, io::Error> {
        if self.down.load(Ordering::SeqCst) {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "connection refused (test)",
            ));
        }
        Ok(self.made.fetch_add(1, Ordering::SeqCst) + 1)
    }

    async fn recycle(&self, _conn: &mut u32) -> Result<(), io::Error> {
        Ok(())
    }
}

fn pool_of(manager: Switch) -> Pool<Switch> {
    Pool::builder(manager)
        .max(2)
        .fail_fast(true)
        .acquire_timeout(Duration::from_secs(5))
        .backoff(Duration::from_millis(1), Duration::from_millis(2))
        .build()
}

/// The shape `keel_http::ops::Ops::readiness_check` requires of a check.
fn assert_readiness_shape<F, Fut>(_: &F)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + 'static,
{
}

fn assert_send_sync<T: Send + Sync + 'static>(_: &T) {}

#[test]
fn per_loop_builds_one_pool_per_loop_and_reuses_it() {
    let built = Arc::new(AtomicU32::new(0));
    let pools = PerLoop::new({
        let built = built.clone();
        move || {
            built.fetch_add(1, Ordering::SeqCst);
            pool_of(Switch::default())
        }
    });
    assert_send_sync(&pools);
    let seen = Arc::new(Mutex::new(Vec::new()));

    let rt = keel_runtime::Runtime::builder().loops(2).build().unwrap();
    rt.run({
        let pools = pools.clone();
        let seen = seen.clone();
        move |_ctx| {
            let pools = pools.clone();
            let seen = seen.clone();
            async move {
                let a = pools.pool();
                let b = pools.pool();
                // The same pool on one loop: a connection taken through one is in
                // use in the other.
                let conn = a.get().await.unwrap();
                assert_eq!(b.status().in_use, 1);
                assert_eq!(pools.with(|p| p.status().in_use), 1);
                drop(conn);
                assert_eq!(b.status().idle, 1);
                seen.lock()
                    .unwrap()
                    .push(keel_runtime::current_loop().unwrap());
            }
        }
    })
    .unwrap();
    drop(rt);

    let mut seen = seen.lock().unwrap().clone();
    seen.sort_unstable();
    assert_eq!(seen, [0, 1]);
    assert_eq!(built.load(Ordering::SeqCst), 2, "one pool per loop");
    // The loops (and their pools) are gone: nothing left in the health set.
    assert!(pools.health().pools().is_empty());
}

#[test]
fn build_replaces_the_loops_pool() {
    let pools = PerLoop::new(|| pool_of(Switch::default()));
    keel_runtime::block_on(async {
        let first = pools.pool();
        let _held = first.get().await.unwrap();
        let second = pools.build();
        assert_eq!(second.status().size, 0, "a fresh pool");
        assert_eq!(
            pools.pool().status().size,
            0,
            "the fresh one is the loop's now"
        );
        assert_eq!(first.status().in_use, 1, "the old one lives while held");
        // Both alive (the test holds the first): both in the set.
        assert_eq!(pools.health().pools().len(), 2);
        drop(_held);
        drop(first);
        assert_eq!(pools.health().pools().len(), 1);
    });
}

#[test]
fn health_handle_follows_the_backend_from_another_thread() {
    let manager = Switch::default();
    let down = manager.down.clone();
    keel_runtime::block_on(async {
        let pool = pool_of(manager);
        let handle: PoolHealth = pool.health_handle();
        assert_send_sync(&handle);
        let reader = handle.clone();
        let read = move || {
            std::thread::spawn({
                let reader = reader.clone();
                move || (reader.is_healthy(), reader.check())
            })
            .join()
            .unwrap()
        };

        assert_eq!(read(), (true, Ok(())));

        down.store(true, Ordering::SeqCst);
        assert!(pool.get().await.is_err());
        let (healthy, check) = read();
        assert!(!healthy);
        let reason = check.unwrap_err();
        assert!(reason.contains("connection refused (test)"), "{reason}");
        assert!(reason.contains("1 failed connects"), "{reason}");
        assert_eq!(handle.snapshot(), pool.health());

        down.store(false, Ordering::SeqCst);
        let conn = pool.get().await.unwrap();
        assert_eq!(read(), (true, Ok(())));
        let snapshot = handle.snapshot();
        assert!(snapshot.healthy && snapshot.last_success.is_some());
        drop(conn);

        pool.close();
        let (healthy, check) = read();
        assert!(!healthy);
        assert_eq!(check, Err("pool closed".to_owned()));
    });
}

#[test]
fn health_set_names_the_failing_pool_and_forgets_dropped_ones() {
    let set = PoolHealthSet::new();
    let check = set.readiness();
    assert_readiness_shape(&check);
    assert_send_sync(&set);

    keel_runtime::block_on(async {
        let good = pool_of(Switch::default());
        let bad_manager = Switch::default();
        bad_manager.down.store(true, Ordering::SeqCst);
        let bad = pool_of(bad_manager);
        set.add(&good.health_handle());
        set.add(&bad.health_handle());
        assert_eq!(check().await, Ok(()), "no create failed yet");

        assert!(good.get().await.is_ok());
        assert!(bad.get().await.is_err());
        let reason = check().await.unwrap_err();
        assert!(
            reason.starts_with("pool 1: backend down"),
            "names the failing pool: {reason}"
        );
        assert!(!reason.contains("pool 0"), "{reason}");
        assert!(set.check().unwrap_err().starts_with("pool 1: backend down"));

        // A pool that is gone no longer counts.
        drop(bad);
        assert_eq!(set.pools().len(), 1);
        assert_eq!(check().await, Ok(()));
        // `Rc` so the closure above stays on this thread; the set itself is Send.
        let _local = Rc::new(good);
    });
}
