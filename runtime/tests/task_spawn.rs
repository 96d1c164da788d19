//! Spawning and joining: output through the join handle, abort (pending and finished),
//! detaching by dropping the handle, 100k tasks, names, and joins across loops.

mod util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use keel_runtime::task::{self, yield_now};
use keel_runtime::{current_loop, spawn, spawn_local};
use util::{Flag, drop_probe, keel_test, oneshot, within};

keel_test! {
    async fn spawn_local_returns_output(handle) {
        let shared = Rc::new(Cell::new(1)); // !Send state is fine in a local task
        let s = shared.clone();
        let out = spawn_local(async move {
            s.set(s.get() + 1);
            current_loop()
        })
        .await
        .unwrap();
        assert_eq!(out, Some(0));
        assert_eq!(shared.get(), 2);
    }
}

keel_test! {
    async fn spawn_places_send_tasks_round_robin(handle) {
        let loops = handle.loops();
        let mut seen = vec![0; loops];
        let joins: Vec<_> = (0..4 * loops).map(|_| spawn(async { current_loop().unwrap() })).collect();
        for join in joins {
            seen[within("a spawned task", join).await.unwrap()] += 1;
        }
        assert_eq!(seen, vec![4; loops], "every loop got its share");
    }
}

keel_test! {
    async fn abort_pending_task_cancels_and_drops_it_on_its_loop(handle) {
        let target = handle.loops() - 1;
        let (probe, watch) = drop_probe();
        let join = handle.spawn_on(target, async move {
            let _probe = probe;
            std::future::pending::<u32>().await
        });
        join.abort();
        let err = within("the aborted task", join).await.unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        assert!(!err.is_panic());
        assert_eq!(watch.dropped_on(), Some(Some(target)), "future dropped on its own loop");
    }
}

keel_test! {
    async fn abort_after_finish_does_nothing(handle) {
        let join = handle.spawn_on(handle.loops() - 1, async { 7u32 });
        within("the task to finish", async {
            while !join.is_finished() {
                yield_now().await;
            }
        })
        .await;
        join.abort();
        join.abort();
        assert_eq!(join.await.unwrap(), 7, "a finished task keeps its output");
    }
}

keel_test! {
    async fn abort_before_first_poll_never_polls(handle) {
        let polled = Rc::new(Cell::new(false));
        let p = polled.clone();
        let join = spawn_local(async move { p.set(true) });
        join.abort();
        assert!(join.await.unwrap_err().is_cancelled());
        assert!(!polled.get(), "an aborted task must not start");
    }
}

keel_test! {
    async fn dropping_join_handle_detaches(handle) {
        let (go_tx, go_rx) = oneshot::<()>();
        let (done_tx, done_rx) = oneshot::<u32>();
        let join = handle.spawn_on(handle.loops() - 1, async move {
            go_rx.await.expect("go");
            done_tx.send(5);
        });
        drop(join);
        // The task can only finish after the handle is gone.
        go_tx.send(());
        assert_eq!(within("the detached task", done_rx).await, Some(5));
    }
}

keel_test! {
    async fn hundred_thousand_local_tasks(handle) {
        const N: usize = 100_000;
        let ran = Rc::new(Cell::new(0usize));
        let joins: Vec<_> = (0..N)
            .map(|i| {
                let ran = ran.clone();
                spawn_local(async move {
                    ran.set(ran.get() + 1);
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for join in joins {
            sum += join.await.unwrap();
        }
        assert_eq!(ran.get(), N);
        assert_eq!(sum, N * (N - 1) / 2);
    }
}

keel_test! {
    async fn hundred_thousand_send_tasks_across_loops(handle) {
        const N: usize = 100_000;
        let ran = Arc::new(AtomicUsize::new(0));
        let joins: Vec<_> = (0..N)
            .map(|i| {
                let ran = ran.clone();
                handle.spawn(async move {
                    ran.fetch_add(1, Ordering::Relaxed);
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for join in joins {
            sum += within("a task of the 100k", join).await.unwrap();
        }
        assert_eq!(ran.load(Ordering::Relaxed), N);
        assert_eq!(sum, N * (N - 1) / 2);
    }
}

keel_test! {
    async fn named_task_keeps_its_name(handle) {
        let join = task::Builder::new().name("refresh").spawn_local(async { 1 });
        assert_eq!(join.name(), Some("refresh"));
        let remote = task::Builder::new().name("far").spawn_on(&handle, handle.loops() - 1, async { 2 });
        assert_eq!(remote.name(), Some("far"));
        assert_eq!(join.await.unwrap() + within("named remote", remote).await.unwrap(), 3);
    }
}

keel_test! {
    async fn tasks_run_in_spawn_order_on_one_loop(handle) {
        let order = Rc::new(RefCell::new(Vec::new()));
        let joins: Vec<_> = (0..10)
            .map(|i| {
                let order = order.clone();
                spawn_local(async move { order.borrow_mut().push(i) })
            })
            .collect();
        for join in joins {
            join.await.unwrap();
        }
        assert_eq!(*order.borrow(), (0..10).collect::<Vec<_>>());
    }
}

keel_test! {
    async fn task_spawned_inside_task_runs(handle) {
        let flag = Flag::default();
        let f = flag.clone();
        let outer = spawn_local(async move {
            spawn_local(async move { f.set() }).await.unwrap();
        });
        outer.await.unwrap();
        assert!(flag.is_set());
    }
}

/// `block_on`'s root future awaiting a task it spawned: the task completes during the
/// loop's tick and wakes the root from the loop itself; that wake must keep the tick
/// from parking (a regression: it used to block in `epoll_wait` forever).
#[test]
fn block_on_root_joins_local_task() {
    let _watchdog = util::watchdog("block_on_root_joins_local_task", util::WATCHDOG);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let out = keel_runtime::block_on(async {
            let a = spawn_local(async { 40 }).await.unwrap();
            let b = task::Builder::new()
                .name("b")
                .spawn_local(async { 2 })
                .await
                .unwrap();
            a + b
        });
        let _ = tx.send(out);
    });
    assert_eq!(
        rx.recv_timeout(util::WAIT),
        Ok(42),
        "block_on hung or failed"
    );
}
