//! The runtime's life: `Runtime::run` starts one instance per loop (distinct indexes, on
//! named loop threads, concurrently), `Handle::shutdown` makes `run` return and cancels
//! pending tasks, work handed over after shutdown is cancelled rather than lost, and
//! dropping a `Runtime` joins its threads.

mod util;

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::thread;

use keel_runtime::{Builder, Handle, current_loop};
use util::{Flag, Latch, drop_probe, join, join_thread, oneshot};

#[test]
fn run_starts_one_instance_per_loop_with_distinct_indexes() {
    let _watchdog = util::watchdog("run_one_instance_per_loop", util::WATCHDOG);
    let rt = util::runtime_with(Builder::new().loops(2).thread_name("test-loop"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    rt.run(move |ctx| {
        let s = s.clone();
        async move {
            assert_eq!(ctx.loops(), 2);
            assert_eq!(ctx.handle().loops(), 2);
            let name = thread::current().name().map(str::to_owned);
            s.lock().unwrap().push((ctx.index(), current_loop(), name));
        }
    })
    .unwrap();
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            (0, Some(0), Some("test-loop-0".to_owned())),
            (1, Some(1), Some("test-loop-1".to_owned())),
        ]
    );
}

#[test]
fn run_instances_run_concurrently() {
    let _watchdog = util::watchdog("run_instances_concurrently", util::WATCHDOG);
    let rt = util::runtime(2);
    // Each instance waits for the other's message: only possible if both run at once.
    let (to_1, from_0) = oneshot::<usize>();
    let (to_0, from_1) = oneshot::<usize>();
    let channels = Arc::new(Mutex::new(vec![Some((to_1, from_1)), Some((to_0, from_0))]));
    rt.run(move |ctx| {
        let (tx, rx) = channels.lock().unwrap()[ctx.index()].take().unwrap();
        async move {
            tx.send(ctx.index());
            let other = util::within("the other instance", rx).await;
            assert_eq!(other, Some(1 - ctx.index()));
        }
    })
    .unwrap();
}

#[test]
fn shutdown_makes_run_return_and_cancels_pending_tasks() {
    let _watchdog = util::watchdog("shutdown_makes_run_return", util::WATCHDOG);
    let rt = Arc::new(util::runtime(2));
    let handle = rt.handle().clone();

    // Pending tasks on both loops, each holding a probe.
    let mut pending = Vec::new();
    for index in 0..2 {
        let (probe, watch) = drop_probe();
        let join_handle = handle.spawn_on(index, async move {
            let _probe = probe;
            std::future::pending::<()>().await
        });
        pending.push((index, join_handle, watch));
    }

    // `run` instances that never finish on their own.
    let started = Latch::new(2);
    let (done_tx, done_rx) = mpsc::channel();
    let runner = {
        let rt = rt.clone();
        let started = started.clone();
        thread::spawn(move || {
            let result = rt.run(move |_ctx| {
                started.count_down();
                std::future::pending::<()>()
            });
            let _ = done_tx.send(result.is_ok());
        })
    };
    started.wait("both run instances to start");
    assert!(!handle.is_shutdown());
    handle.shutdown();
    assert!(handle.is_shutdown());
    assert_eq!(
        done_rx.recv_timeout(util::WAIT),
        Ok(true),
        "run did not return Ok after shutdown"
    );
    join_thread("the runner", runner);
    for (index, join_handle, watch) in pending {
        let err = util::wait("a task cancelled by shutdown", join_handle).unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        assert_eq!(watch.dropped_on(), Some(Some(index)), "dropped on its loop");
    }
}

/// A shutdown that arrives while the loop is busy in a task (not asleep) must still stop
/// the loop once it goes idle: nothing else will ever wake it.
#[test]
fn shutdown_while_a_task_runs_still_stops_the_loop() {
    let _watchdog = util::watchdog("shutdown_while_busy", util::WATCHDOG);
    let rt = util::runtime(1);
    let handle = rt.handle().clone();
    let inside = Arc::new(Barrier::new(2));
    let resume = Arc::new(Barrier::new(2));
    let (i, r) = (inside.clone(), resume.clone());
    let _busy = handle.spawn_on(0, async move {
        i.wait();
        r.wait(); // shutdown is called meanwhile
    });
    inside.wait();
    handle.shutdown();
    resume.wait();
    let rt = rt.into_inner();
    let dropper = thread::spawn(move || drop(rt));
    join_thread("dropping the runtime after shutdown", dropper);
}

#[test]
fn dropping_the_runtime_drops_tasks_and_joins_threads() {
    let _watchdog = util::watchdog("drop_joins_threads", util::WATCHDOG);
    thread_local! {
        static ON_EXIT: RefCell<Option<SetOnDrop>> = const { RefCell::new(None) };
    }
    struct SetOnDrop(Flag);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.set();
        }
    }

    let rt = util::runtime(2);
    let mut exited = Vec::new();
    let mut watches = Vec::new();
    for index in 0..2 {
        let flag = Flag::default();
        exited.push(flag.clone());
        // A thread-local whose destructor runs when the loop thread exits.
        join(
            "installing the exit probe",
            rt.handle().spawn_on(index, async move {
                ON_EXIT.with(|slot| *slot.borrow_mut() = Some(SetOnDrop(flag)));
            }),
        );
        let (probe, watch) = drop_probe();
        let _detached = rt.handle().spawn_on(index, async move {
            let _probe = probe;
            std::future::pending::<()>().await
        });
        watches.push(watch);
    }
    let rt = rt.into_inner();
    let dropper = thread::spawn(move || drop(rt));
    join_thread("dropping the runtime", dropper);
    for (index, (flag, watch)) in exited.iter().zip(&watches).enumerate() {
        assert!(
            flag.is_set(),
            "loop thread {index} still running after drop"
        );
        assert_eq!(watch.dropped_on(), Some(Some(index)));
    }
}

#[test]
fn block_on_after_shutdown_panics_instead_of_hanging() {
    let _watchdog = util::watchdog("block_on_after_shutdown", util::WATCHDOG);
    let rt = Arc::new(util::runtime(1));
    rt.handle().shutdown();
    let (tx, rx) = mpsc::channel();
    let r = rt.clone();
    thread::spawn(move || {
        let result = catch_unwind(AssertUnwindSafe(|| r.block_on(async { 1 })));
        let _ = tx.send(result.is_err());
    });
    assert_eq!(
        rx.recv_timeout(util::WAIT),
        Ok(true),
        "block_on after shutdown must panic (documented), not hang"
    );
}

#[test]
fn spawns_after_shutdown_report_cancellation() {
    let _watchdog = util::watchdog("spawn_after_shutdown", util::WATCHDOG);
    let rt = util::runtime(2);
    let handle: Handle = rt.handle().clone();
    handle.shutdown();
    let rt = rt.into_inner();
    join_thread("dropping the runtime", thread::spawn(move || drop(rt)));

    let (probe, watch) = drop_probe();
    let sent = handle.spawn_on(0, async move {
        let _probe = probe;
        1
    });
    let made = Arc::new(AtomicUsize::new(0));
    let m = made.clone();
    let local = handle.spawn_local_on(1, move || {
        m.fetch_add(1, Ordering::SeqCst);
        async { 2 }
    });
    let round_robin = handle.spawn(async { 3 });
    assert!(
        util::wait("spawn_on after shutdown", sent)
            .unwrap_err()
            .is_cancelled()
    );
    assert!(
        watch.is_dropped(),
        "the future is dropped, not kept forever"
    );
    assert!(
        util::wait("spawn_local_on after shutdown", local)
            .unwrap_err()
            .is_cancelled()
    );
    assert_eq!(
        made.load(Ordering::SeqCst),
        0,
        "never built on a stopped loop"
    );
    assert!(
        util::wait("spawn after shutdown", round_robin)
            .unwrap_err()
            .is_cancelled()
    );
}

#[test]
fn runtime_run_from_a_loop_thread_panics() {
    let _watchdog = util::watchdog("run_from_loop_panics", util::WATCHDOG);
    let rt = Arc::new(util::runtime(1));
    let r = rt.clone();
    let err = util::join(
        "a task calling Runtime::run",
        rt.handle().spawn_on(0, async move {
            catch_unwind(AssertUnwindSafe(|| r.run(|_| async {}))).is_err()
        }),
    );
    assert!(err, "Runtime::run on a loop thread must panic");
}
