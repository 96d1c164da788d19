//! The CPU worker pool through its public API: results and panics, the size as a hard
//! cap, `run_all` order, `QueueFull` at the bound (and waiting for room), dropped handles
//! and start deadlines, waking the awaiting task on its own loop, and shutdown.

mod util;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use keel_runtime::Runtime;
use keel_runtime::time::timeout;
use keel_runtime::workers::{self, Builder};
use keel_testkit::eventually;
use util::{Gate, WAIT, run_child};

/// Every wait in this file gives up after this long.
const LIMIT: Duration = util::WAIT;

#[test]
fn runs_on_a_worker_thread_and_returns() {
    let pool = Builder::new().threads(2).build().unwrap();
    keel_runtime::block_on(async {
        let name = pool
            .spawn(|| std::thread::current().name().map(str::to_owned))
            .unwrap();
        let name = timeout(LIMIT, name).await.unwrap().unwrap().unwrap();
        assert!(name.starts_with("keel-worker-"), "{name}");
    });
    assert!(pool.shutdown(LIMIT).is_clean());
}

#[test]
fn the_global_pool_works() {
    keel_runtime::block_on(async {
        let h = workers::spawn(|| 21 * 2).unwrap();
        assert_eq!(timeout(LIMIT, h).await.unwrap().unwrap(), 42);
    });
    let m = workers::metrics().unwrap();
    assert_eq!(m.threads, workers::default_threads());
    assert!(m.completed >= 1);
}

#[test]
fn size_is_a_hard_cap() {
    const N: usize = 3;
    let pool = Builder::new().threads(N).build().unwrap();
    let barrier = Arc::new(Barrier::new(N));
    let (now, max) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    keel_runtime::block_on(async {
        let jobs = (0..30).map(|i| {
            let (barrier, now, max) = (barrier.clone(), now.clone(), max.clone());
            move || {
                max.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                barrier.wait();
                now.fetch_sub(1, Ordering::SeqCst);
                i
            }
        });
        let out = timeout(LIMIT, pool.run_all(jobs)).await.unwrap().unwrap();
        assert_eq!(out, (0..30).collect::<Vec<_>>());
    });
    assert_eq!(max.load(Ordering::SeqCst), N);
}

#[test]
fn run_all_keeps_input_order() {
    let pool = Builder::new().threads(2).queue_capacity(8).build().unwrap();
    keel_runtime::block_on(async {
        // Uneven work, so jobs finish out of order.
        let jobs = (0..200u64).map(|i| {
            move || {
                let spins = (i * 7919) % 5000;
                (0..spins).fold(i, |acc, x| std::hint::black_box(acc ^ x))
                    ^ (0..spins).fold(0, |a, x| a ^ x)
            }
        });
        let out = timeout(LIMIT, pool.run_all(jobs)).await.unwrap().unwrap();
        assert_eq!(out, (0..200).collect::<Vec<_>>());
    });
    let m = pool.metrics();
    assert_eq!((m.submitted, m.completed, m.rejected), (200, 200, 0));
}

#[test]
fn run_all_reports_the_first_failure() {
    let pool = Builder::new().threads(2).build().unwrap();
    keel_runtime::block_on(async {
        let jobs = (0..5).map(|i| {
            move || {
                assert!(i != 3, "job three");
                i
            }
        });
        let err = timeout(LIMIT, pool.run_all(jobs))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(err.panic_message(), Some("job three"));
    });
}

#[test]
fn queue_full_at_the_bound_then_clears() {
    let pool = Builder::new().threads(1).queue_capacity(2).build().unwrap();
    let gate = Gate::default();
    keel_runtime::block_on(async {
        let g = gate.clone();
        let blocker = pool.spawn(move || g.wait()).unwrap();
        eventually(WAIT, || pool.metrics().busy == 1)
            .expect("timed out waiting for the blocker to start");
        let a = pool.spawn(|| 1).unwrap();
        let b = pool.spawn(|| 2).unwrap();
        let err = pool.spawn(|| 3).unwrap_err();
        assert!(err.is_queue_full(), "{err}");
        assert_eq!(pool.metrics().rejected, 1);

        let waiter_pool = pool.clone();
        let waiter = keel_runtime::spawn_local(async move {
            waiter_pool
                .reserve()
                .await
                .unwrap()
                .spawn(|| 4)
                .await
                .unwrap()
        });
        keel_runtime::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        gate.open();
        timeout(LIMIT, async {
            blocker.await.unwrap();
            assert_eq!(a.await.unwrap() + b.await.unwrap(), 3);
            assert_eq!(waiter.await.unwrap(), 4);
        })
        .await
        .unwrap();
        assert_eq!(pool.spawn(|| 5).unwrap().await.unwrap(), 5);
    });
}

#[test]
fn dropped_handle_skips_the_job() {
    let pool = Builder::new().threads(1).build().unwrap();
    let gate = Gate::default();
    let ran = Arc::new(AtomicBool::new(false));
    keel_runtime::block_on(async {
        let g = gate.clone();
        let blocker = pool.spawn(move || g.wait()).unwrap();
        let r = ran.clone();
        drop(pool.spawn(move || r.store(true, Ordering::SeqCst)).unwrap());
        gate.open();
        let after = pool.spawn(|| ()).unwrap();
        timeout(LIMIT, async {
            blocker.await.unwrap();
            after.await.unwrap();
        })
        .await
        .unwrap();
    });
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!(pool.metrics().cancelled, 1);
}

#[test]
fn a_job_past_its_start_deadline_times_out() {
    let pool = Builder::new().threads(1).build().unwrap();
    let gate = Gate::default();
    let ran = Arc::new(AtomicBool::new(false));
    keel_runtime::block_on(async {
        let g = gate.clone();
        let blocker = pool.spawn(move || g.wait()).unwrap();
        // The one worker is busy with the blocker before the late job is queued.
        let started = Instant::now();
        while pool.metrics().busy == 0 {
            assert!(started.elapsed() < LIMIT, "the blocker never started");
            keel_runtime::time::sleep(Duration::from_millis(1)).await;
        }
        let r = ran.clone();
        let deadline = Instant::now() + Duration::from_millis(20);
        let late = pool
            .spawn_with_deadline(deadline, move || r.store(true, Ordering::SeqCst))
            .unwrap();
        // Reported at the deadline, while the worker is still busy.
        let err = timeout(LIMIT, late).await.unwrap().unwrap_err();
        assert!(err.is_timed_out(), "{err}");
        assert!(Instant::now() >= deadline);
        assert_eq!(pool.metrics().busy, 1);
        gate.open();
        let after = pool.spawn(|| ()).unwrap();
        timeout(LIMIT, async {
            blocker.await.unwrap();
            after.await.unwrap();
        })
        .await
        .unwrap();
    });
    assert!(!ran.load(Ordering::SeqCst), "a timed-out job ran");
    assert_eq!(pool.metrics().timed_out, 1);
}

#[test]
fn panics_are_errors_and_the_worker_lives_on() {
    let pool = Builder::new().threads(1).build().unwrap();
    keel_runtime::block_on(async {
        let err = pool
            .spawn(|| panic!("bad input"))
            .unwrap()
            .await
            .unwrap_err();
        assert!(err.is_panic());
        assert_eq!(err.panic_message(), Some("bad input"));
        assert_eq!(pool.spawn(|| 7).unwrap().await.unwrap(), 7);
    });
    let m = pool.metrics();
    assert_eq!((m.panicked, m.completed, m.threads), (1, 1, 1));
    // The first job (the panic) is the timed one of its 16, and counts for 16.
    assert_eq!(m.run_time.count(), 16);
}

#[test]
fn jobs_can_spawn_jobs() {
    let pool = Builder::new().threads(2).build().unwrap();
    keel_runtime::block_on(async {
        let inner_pool = pool.clone();
        let children = pool
            .spawn(move || {
                (0..10)
                    .map(|i| inner_pool.spawn(move || i * 10).unwrap())
                    .collect::<Vec<_>>()
            })
            .unwrap();
        let children = timeout(LIMIT, children).await.unwrap().unwrap();
        let mut sum = 0;
        for child in children {
            sum += timeout(LIMIT, child).await.unwrap().unwrap();
        }
        assert_eq!(sum, 450);
    });
}

#[test]
fn the_awaiting_task_is_woken_on_its_own_loop() {
    let pool = Builder::new().threads(1).build().unwrap();
    let rt = Runtime::builder().loops(2).pin(false).build().unwrap();
    let loops = rt.block_on(async move {
        let handle = keel_runtime::Handle::current();
        let task = handle.spawn_on(1, async move {
            let before = keel_runtime::current_loop();
            let job = pool
                .spawn(|| std::thread::sleep(Duration::from_millis(5)))
                .unwrap();
            job.await.unwrap();
            (before, keel_runtime::current_loop())
        });
        timeout(LIMIT, task).await.unwrap().unwrap()
    });
    assert_eq!(loops, (Some(1), Some(1)));
}

#[test]
fn shutdown_with_jobs_queued_keeps_its_deadline() {
    let pool = Builder::new().threads(1).build().unwrap();
    let gate = Gate::default();
    let g = gate.clone();
    let stuck = pool.spawn(move || g.wait()).unwrap();
    eventually(WAIT, || pool.metrics().busy == 1)
        .expect("timed out waiting for the stuck job to start");
    let queued: Vec<_> = (0..5).map(|i| pool.spawn(move || i).unwrap()).collect();
    let start = Instant::now();
    let report = pool.shutdown(Duration::from_millis(100));
    let took = start.elapsed();
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(
        (report.cancelled(), report.still_running()),
        (5, 1),
        "{report}"
    );
    assert!(pool.spawn(|| ()).unwrap_err().is_shutdown());
    gate.open();
    keel_runtime::block_on(async {
        for h in queued {
            assert!(timeout(LIMIT, h).await.unwrap().unwrap_err().is_shutdown());
        }
        timeout(LIMIT, stuck).await.unwrap().unwrap();
    });
    eventually(WAIT, || pool.metrics().threads == 0)
        .expect("timed out waiting for the worker to exit");
}

#[test]
fn a_task_waiting_in_reserve_gets_an_error_at_shutdown() {
    let pool = Builder::new().threads(1).queue_capacity(1).build().unwrap();
    let gate = Gate::default();
    keel_runtime::block_on(async {
        let g = gate.clone();
        let blocker = pool.spawn(move || g.wait()).unwrap();
        eventually(WAIT, || pool.metrics().busy == 1)
            .expect("timed out waiting for the blocker to start");
        let queued = pool.spawn(|| ()).unwrap();
        let waiter_pool = pool.clone();
        let waiter =
            keel_runtime::spawn_local(async move { waiter_pool.reserve().await.map(drop) });
        while pool.metrics().waiting_for_room == 0 {
            keel_runtime::time::sleep(Duration::from_millis(2)).await;
        }
        let stopper = pool.clone();
        let (report, err) = timeout(LIMIT, async {
            // Shutdown blocks until its deadline; run it off the loop.
            let report = std::thread::spawn(move || stopper.shutdown(Duration::from_millis(50)));
            let err = waiter.await.unwrap().unwrap_err();
            (report, err)
        })
        .await
        .unwrap();
        assert!(err.is_shutdown(), "{err}");
        gate.open();
        let report = report.join().unwrap();
        assert_eq!(report.cancelled(), 1, "{report}");
        assert!(
            timeout(LIMIT, queued)
                .await
                .unwrap()
                .unwrap_err()
                .is_shutdown()
        );
        timeout(LIMIT, blocker).await.unwrap().unwrap();
    });
    assert_eq!(pool.metrics().waiting_for_room, 0);
}

#[test]
fn bad_env_value_is_an_error_naming_the_variable() {
    run_child("child_bad_env", &[("KEEL_WORKER_THREADS", "many")]);
}

#[test]
#[ignore = "run by bad_env_value_is_an_error_naming_the_variable in a child process"]
fn child_bad_env() {
    let err = workers::init().unwrap_err();
    assert!(err.is_config(), "{err}");
    assert_eq!(err.setting(), Some("KEEL_WORKER_THREADS"));
    assert!(err.to_string().contains("KEEL_WORKER_THREADS"), "{err}");
    assert!(err.to_string().contains("\"many\""), "{err}");
    // Every use reports it, and no pool was started.
    let err = workers::spawn(|| ()).unwrap_err();
    assert_eq!(err.setting(), Some("KEEL_WORKER_THREADS"));
    assert!(workers::metrics().is_none());
}

#[test]
fn out_of_range_env_value_is_an_error_naming_the_variable() {
    run_child("child_zero_threads", &[("KEEL_WORKER_THREADS", "0")]);
}

#[test]
#[ignore = "run by out_of_range_env_value_is_an_error_naming_the_variable in a child process"]
fn child_zero_threads() {
    let err = workers::init().unwrap_err();
    assert_eq!(err.setting(), Some("KEEL_WORKER_THREADS"), "{err}");
    assert!(err.to_string().contains("KEEL_WORKER_THREADS"), "{err}");
}

#[test]
fn env_sizes_the_global_pool() {
    run_child(
        "child_env_sizes",
        &[
            ("KEEL_WORKER_THREADS", "3"),
            ("KEEL_WORKER_QUEUE", "40"),
            ("KEEL_WORKER_SPIN", "50us"),
        ],
    );
}

#[test]
#[ignore = "run by env_sizes_the_global_pool in a child process"]
fn child_env_sizes() {
    let pool = workers::pool().unwrap();
    assert_eq!(pool.threads(), 3);
    assert_eq!(pool.metrics().queue_capacity, 40);
    assert_eq!(pool.spin(), Duration::from_micros(50));
    assert!(Builder::new().threads(2).install().is_err());
}

/// With the spin on, jobs sent one at a time (each finding a worker spinning or asleep)
/// and a burst (whose wakes the spinner skips and must pass on) all run, and a spin
/// past the limit is refused by name.
#[test]
fn a_spinning_pool_runs_lone_jobs_and_bursts() {
    let pool = Builder::new()
        .threads(2)
        .spin(Duration::from_micros(200))
        .build()
        .unwrap();
    keel_runtime::block_on(async {
        for i in 0..200u64 {
            assert_eq!(pool.spawn(move || i * 2).unwrap().await.unwrap(), i * 2);
            if i % 50 == 0 {
                // Long enough for the spin to end and both workers to sleep.
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        // Both workers busy at once: the burst's wakes reached the second one.
        let barrier = Arc::new(Barrier::new(2));
        let burst: Vec<_> = (0..2)
            .map(|_| {
                let barrier = barrier.clone();
                pool.spawn(move || barrier.wait()).unwrap()
            })
            .collect();
        for job in burst {
            timeout(Duration::from_secs(20), job)
                .await
                .expect("both jobs of the burst ran at once")
                .unwrap();
        }
    });
    assert!(pool.shutdown(Duration::from_secs(5)).is_clean());
    let err = Builder::new()
        .spin(Duration::from_secs(1))
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), Some("KEEL_WORKER_SPIN"));
}

#[test]
fn run_all_with_a_deadline_times_out_when_nothing_starts() {
    let pool = Builder::new().threads(1).queue_capacity(1).build().unwrap();
    let gate = Gate::default();
    let ran = Arc::new(AtomicUsize::new(0));
    keel_runtime::block_on(async {
        let g = gate.clone();
        let blocker = pool.spawn(move || g.wait()).unwrap();
        eventually(WAIT, || pool.metrics().busy == 1)
            .expect("timed out waiting for the blocker to start");
        // Three jobs through a queue of one: the second cannot even be queued before
        // the deadline, so the whole call fails then, while the worker is still busy.
        let deadline = Instant::now() + Duration::from_millis(30);
        let jobs = (0..3).map(|_| {
            let ran = ran.clone();
            move || ran.fetch_add(1, Ordering::SeqCst)
        });
        let err = timeout(LIMIT, pool.run_all_with_deadline(deadline, jobs))
            .await
            .unwrap()
            .unwrap_err();
        assert!(err.is_timed_out(), "{err}");
        assert!(Instant::now() >= deadline);
        assert_eq!(pool.metrics().busy, 1);
        gate.open();
        timeout(LIMIT, blocker).await.unwrap().unwrap();
        // In time, the same call succeeds.
        let deadline = Instant::now() + LIMIT;
        let out = timeout(
            LIMIT,
            pool.run_all_with_deadline(deadline, (0..5).map(|i| move || i)),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(out, (0..5).collect::<Vec<_>>());
    });
    assert_eq!(
        ran.load(Ordering::SeqCst),
        0,
        "a job started past its deadline"
    );
    // The first job was queued and dropped with the failed call: skipped or timed out.
    let m = pool.metrics();
    assert_eq!(m.cancelled + m.timed_out, 1, "{m:?}");
}

#[test]
fn a_permit_job_past_its_start_deadline_times_out() {
    let pool = Builder::new().threads(1).build().unwrap();
    let gate = Gate::default();
    let ran = Arc::new(AtomicBool::new(false));
    keel_runtime::block_on(async {
        let g = gate.clone();
        let blocker = pool.spawn(move || g.wait()).unwrap();
        let permit = timeout(LIMIT, pool.reserve()).await.unwrap().unwrap();
        let r = ran.clone();
        let deadline = Instant::now() + Duration::from_millis(20);
        let late = permit.spawn_with_deadline(deadline, move || r.store(true, Ordering::SeqCst));
        let err = timeout(LIMIT, late).await.unwrap().unwrap_err();
        assert!(err.is_timed_out(), "{err}");
        gate.open();
        timeout(LIMIT, blocker).await.unwrap().unwrap();
        // Let the worker reach the expired job, then check it did not run.
        let after = pool.spawn(|| ()).unwrap();
        timeout(LIMIT, after).await.unwrap().unwrap();
    });
    assert!(!ran.load(Ordering::SeqCst), "a timed-out job ran");
    assert_eq!(pool.metrics().timed_out, 1);
}

#[test]
fn shutdown_counts_jobs_queued_in_a_busy_workers_deque() {
    let pool = Builder::new().threads(1).build().unwrap();
    let gate = Gate::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let (g, inner) = (gate.clone(), pool.clone());
    // A job that queues three children on its own worker's deque, then stays busy.
    let parent = pool
        .spawn(move || {
            let children: Vec<_> = (0..3).map(|i| inner.spawn(move || i).unwrap()).collect();
            tx.send(children).unwrap();
            g.wait();
        })
        .unwrap();
    let children = rx.recv_timeout(LIMIT).unwrap();
    let report = pool.shutdown(Duration::from_millis(50));
    assert_eq!(
        (report.cancelled(), report.still_running()),
        (3, 1),
        "{report}"
    );
    gate.open();
    keel_runtime::block_on(async {
        for child in children {
            assert!(
                timeout(LIMIT, child)
                    .await
                    .unwrap()
                    .unwrap_err()
                    .is_shutdown()
            );
        }
        timeout(LIMIT, parent).await.unwrap().unwrap();
    });
    eventually(WAIT, || pool.metrics().threads == 0)
        .expect("timed out waiting for the worker to exit");
    assert_eq!(pool.metrics().cancelled, 3);
}
