//! The blocking pool through its public API: the size is a hard cap, class caps hold,
//! `QueueFull` at the bound (and `reserve` waiting for room), dropped handles cancel
//! queued jobs, panics come back as errors, idle threads exit, shutdown keeps its
//! deadline, and a bad environment value is an error naming the variable.

mod util;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use keel_runtime::Runtime;
use keel_runtime::blocking::{self, Builder, Class};
use keel_runtime::time::timeout;
use keel_testkit::eventually;
use util::{Gate, WAIT, run_child};

/// Every wait in this file gives up after this long.
const LIMIT: Duration = util::WAIT;

/// Counts jobs inside a section and remembers the most seen at once.
#[derive(Clone, Default)]
struct Concurrency(Arc<(AtomicUsize, AtomicUsize)>);

impl Concurrency {
    fn enter(&self) {
        let now = self.0.0.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.1.fetch_max(now, Ordering::SeqCst);
    }
    fn leave(&self) {
        self.0.0.fetch_sub(1, Ordering::SeqCst);
    }
    fn max(&self) -> usize {
        self.0.1.load(Ordering::SeqCst)
    }
}

#[test]
fn size_is_a_hard_cap() {
    const N: usize = 4;
    let pool = Builder::new().threads(N).build().unwrap();
    let barrier = Arc::new(Barrier::new(N));
    let seen = Concurrency::default();
    keel_runtime::block_on(async {
        let handles: Vec<_> = (0..100)
            .map(|i| {
                let (barrier, seen) = (barrier.clone(), seen.clone());
                pool.spawn(move || {
                    seen.enter();
                    barrier.wait(); // passes only when N jobs run at once
                    seen.leave();
                    i
                })
                .unwrap()
            })
            .collect();
        let all = timeout(LIMIT, async {
            let mut sum = 0;
            for h in handles {
                sum += h.await.unwrap();
            }
            sum
        });
        assert_eq!(all.await.unwrap(), (0..100).sum::<i32>());
    });
    assert_eq!(seen.max(), N);
    let m = pool.metrics();
    assert!(m.threads <= N, "{m:?}");
    assert_eq!(m.max_threads, N);
    assert_eq!((m.submitted(), m.completed()), (100, 100));
    assert_eq!(m.queue_wait().count(), 100);
    assert_eq!(m.class(Class::User).run_time.count(), 100);
    assert!(pool.shutdown(LIMIT).is_clean());
}

#[test]
fn dns_cap_leaves_room_for_fs() {
    let pool = Builder::new()
        .threads(4)
        .class_cap(Class::Dns, 1)
        .build()
        .unwrap();
    let slow_dns = Gate::default();
    let dns = Concurrency::default();
    let fs_barrier = Arc::new(Barrier::new(3));
    keel_runtime::block_on(async {
        // Ten stuck lookups first: without the cap they would take every thread.
        let lookups: Vec<_> = (0..10)
            .map(|_| {
                let (gate, dns) = (slow_dns.clone(), dns.clone());
                pool.spawn_in(Class::Dns, move || {
                    dns.enter();
                    gate.wait();
                    dns.leave();
                })
                .unwrap()
            })
            .collect();
        // Three fs jobs that can only finish together: they need three free threads.
        let fs: Vec<_> = (0..3)
            .map(|_| {
                let barrier = fs_barrier.clone();
                pool.spawn_in(Class::Fs, move || {
                    barrier.wait();
                })
                .unwrap()
            })
            .collect();
        timeout(LIMIT, async {
            for h in fs {
                h.await.unwrap();
            }
        })
        .await
        .expect("fs starved by dns");
        let m = pool.metrics();
        assert_eq!(m.class(Class::Dns).running, 1, "{m:?}");
        assert_eq!(m.class(Class::Dns).queued, 9, "{m:?}");
        slow_dns.open();
        timeout(LIMIT, async {
            for h in lookups {
                h.await.unwrap();
            }
        })
        .await
        .unwrap();
    });
    assert_eq!(dns.max(), 1);
    assert_eq!(pool.metrics().class(Class::Dns).completed, 10);
}

/// Fills `class` (capped at 2 in a pool of 4) with ten stuck jobs, then checks that
/// never more than 2 of them run, and that `other` jobs still get the free threads.
fn class_cap_holds(class: Class, other: Class) {
    let pool = Builder::new()
        .threads(4)
        .class_cap(class, 2)
        .build()
        .unwrap();
    assert_eq!(pool.class_cap(class), 2);
    let gate = Gate::default();
    let seen = Concurrency::default();
    let others = Arc::new(Barrier::new(2));
    keel_runtime::block_on(async {
        let capped: Vec<_> = (0..10)
            .map(|_| {
                let (gate, seen) = (gate.clone(), seen.clone());
                pool.spawn_in(class, move || {
                    seen.enter();
                    gate.wait();
                    seen.leave();
                })
                .unwrap()
            })
            .collect();
        eventually(WAIT, || pool.metrics().class(class).running == 2)
            .expect("timed out waiting for the capped class to fill its cap");
        // Two jobs of another class that can only finish together: they need both of
        // the threads the cap leaves free.
        let free: Vec<_> = (0..2)
            .map(|_| {
                let barrier = others.clone();
                pool.spawn_in(other, move || {
                    barrier.wait();
                })
                .unwrap()
            })
            .collect();
        timeout(LIMIT, async {
            for h in free {
                h.await.unwrap();
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{other} starved by {class}"));
        let m = pool.metrics();
        assert_eq!(m.class(class).running, 2, "{m:?}");
        assert_eq!(m.class(class).queued, 8, "{m:?}");
        gate.open();
        timeout(LIMIT, async {
            for h in capped {
                h.await.unwrap();
            }
        })
        .await
        .unwrap();
    });
    assert_eq!(seen.max(), 2, "the {class} cap was exceeded");
    assert_eq!(pool.metrics().class(class).completed, 10);
    assert!(pool.shutdown(LIMIT).is_clean());
}

#[test]
fn fs_cap_holds() {
    class_cap_holds(Class::Fs, Class::User);
}

#[test]
fn user_cap_holds() {
    class_cap_holds(Class::User, Class::Fs);
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
            keel_runtime::spawn_local(
                async move { waiter_pool.reserve(Class::User).await.map(drop) },
            );
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
fn queue_full_at_the_bound_then_clears() {
    let pool = Builder::new().threads(1).queue_capacity(3).build().unwrap();
    let gate = Gate::default();
    keel_runtime::block_on(async {
        let g = gate.clone();
        let blocker = pool.spawn(move || g.wait()).unwrap();
        eventually(WAIT, || pool.metrics().busy == 1)
            .expect("timed out waiting for the blocker to start");
        let queued: Vec<_> = (0..3).map(|i| pool.spawn(move || i).unwrap()).collect();
        let err = pool.spawn(|| 99).unwrap_err();
        assert!(err.is_queue_full(), "{err}");
        assert!(err.to_string().contains("queue is full"), "{err}");
        let m = pool.metrics();
        assert_eq!((m.queue_depth, m.rejected()), (3, 1));

        // A waiter for room is served once the queue moves.
        let waiter_pool = pool.clone();
        let waiter = keel_runtime::spawn_local(async move {
            let permit = waiter_pool.reserve(Class::User).await.unwrap();
            permit.spawn(|| "made it").await.unwrap()
        });
        keel_runtime::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        assert_eq!(pool.metrics().waiting_for_room, 1);

        gate.open();
        timeout(LIMIT, async {
            blocker.await.unwrap();
            for (i, h) in queued.into_iter().enumerate() {
                assert_eq!(h.await.unwrap(), i);
            }
            assert_eq!(waiter.await.unwrap(), "made it");
        })
        .await
        .unwrap();
        // Room again.
        assert_eq!(pool.spawn(|| 5).unwrap().await.unwrap(), 5);
    });
}

#[test]
fn dropped_handle_cancels_a_queued_job() {
    let pool = Builder::new().threads(1).build().unwrap();
    let gate = Gate::default();
    let ran = Arc::new(AtomicBool::new(false));
    keel_runtime::block_on(async {
        let g = gate.clone();
        let blocker = pool.spawn(move || g.wait()).unwrap();
        let r = ran.clone();
        drop(pool.spawn(move || r.store(true, Ordering::SeqCst)).unwrap());
        gate.open();
        // FIFO: once this one ran, the dropped one has been reached.
        let after = pool.spawn(|| ()).unwrap();
        timeout(LIMIT, async {
            blocker.await.unwrap();
            after.await.unwrap();
        })
        .await
        .unwrap();
    });
    assert!(
        !ran.load(Ordering::SeqCst),
        "a job whose handle was dropped ran"
    );
    let m = pool.metrics();
    assert_eq!((m.cancelled(), m.completed()), (1, 2));
}

#[test]
fn panics_are_errors_and_the_pool_lives_on() {
    let pool = Builder::new().threads(1).build().unwrap();
    keel_runtime::block_on(async {
        let err = pool.spawn(|| panic!("boom")).unwrap().await.unwrap_err();
        assert!(err.is_panic());
        assert_eq!(err.panic_message(), Some("boom"));
        assert!(err.to_string().contains("boom"));
        let name = pool
            .spawn(|| std::thread::current().name().map(str::to_owned))
            .unwrap()
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("keel-blocking-"));
    });
    let m = pool.metrics();
    assert_eq!((m.panicked(), m.completed(), m.threads), (1, 1, 1));
}

#[test]
fn idle_threads_exit_after_keep_alive() {
    let pool = Builder::new()
        .threads(3)
        .min_threads(1)
        .keep_alive(Duration::from_millis(30))
        .build()
        .unwrap();
    let gate = Gate::default();
    keel_runtime::block_on(async {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let g = gate.clone();
                pool.spawn(move || g.wait()).unwrap()
            })
            .collect();
        // The jobs hold their threads until the gate opens, so no keep-alive can run
        // out before this check, however slow the machine.
        eventually(WAIT, || pool.metrics().busy == 3)
            .expect("timed out waiting for three busy threads");
        assert_eq!(pool.metrics().threads, 3);
        gate.open();
        for h in handles {
            timeout(LIMIT, h).await.unwrap().unwrap();
        }
    });
    eventually(WAIT, || pool.metrics().threads == 1)
        .expect("timed out waiting for idle threads to shrink to the floor");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(pool.metrics().threads, 1, "shrank below the floor");
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
    assert!(
        took >= Duration::from_millis(100) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert_eq!(
        (report.cancelled(), report.still_running()),
        (5, 1),
        "{report}"
    );
    assert!(!report.is_clean());
    assert!(pool.spawn(|| ()).unwrap_err().is_shutdown());

    gate.open();
    keel_runtime::block_on(async {
        for h in queued {
            assert!(timeout(LIMIT, h).await.unwrap().unwrap_err().is_shutdown());
        }
        timeout(LIMIT, stuck).await.unwrap().unwrap();
    });
    eventually(WAIT, || pool.metrics().threads == 0)
        .expect("timed out waiting for the last thread to exit");
    assert_eq!(pool.metrics().cancelled(), 5);
}

#[test]
fn shutdown_waits_for_running_jobs() {
    let pool = Builder::new().threads(2).build().unwrap();
    let started = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let (s, d) = (started.clone(), done.clone());
    let _job = pool
        .spawn(move || {
            s.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(30));
            d.store(true, Ordering::SeqCst);
        })
        .unwrap();
    // A flag that stays set, not `busy == 1`, which a slow poller could miss.
    eventually(WAIT, || started.load(Ordering::SeqCst))
        .expect("timed out waiting for the job to start");
    let report = pool.shutdown(LIMIT);
    assert!(report.is_clean(), "{report}");
    assert!(done.load(Ordering::SeqCst));
}

#[test]
fn bad_settings_name_the_knob() {
    let err = Builder::new().threads(0).build().unwrap_err();
    assert!(err.to_string().contains("blocking threads"), "{err}");
    let err = Builder::new()
        .threads(4)
        .min_threads(5)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("min_threads"), "{err}");
}

#[test]
fn bad_env_value_is_an_error_naming_the_variable() {
    run_child("child_bad_env", &[("KEEL_BLOCKING_THREADS", "lots")]);
}

#[test]
#[ignore = "run by bad_env_value_is_an_error_naming_the_variable in a child process"]
fn child_bad_env() {
    let err = blocking::init().unwrap_err();
    assert!(err.is_config());
    assert_eq!(err.setting(), Some("KEEL_BLOCKING_THREADS"));
    assert!(err.to_string().contains("KEEL_BLOCKING_THREADS"), "{err}");
    assert!(err.to_string().contains("\"lots\""), "{err}");
    let err = blocking::spawn(|| ()).unwrap_err();
    assert_eq!(err.setting(), Some("KEEL_BLOCKING_THREADS"));
    assert!(blocking::metrics().is_none());
}

#[test]
fn out_of_range_env_value_is_an_error_naming_the_variable() {
    run_child("child_zero_threads", &[("KEEL_BLOCKING_THREADS", "0")]);
}

#[test]
#[ignore = "run by out_of_range_env_value_is_an_error_naming_the_variable in a child process"]
fn child_zero_threads() {
    let err = blocking::init().unwrap_err();
    assert_eq!(err.setting(), Some("KEEL_BLOCKING_THREADS"), "{err}");
    assert!(err.to_string().contains("KEEL_BLOCKING_THREADS"), "{err}");
}

#[test]
fn env_sizes_the_global_pool() {
    run_child(
        "child_env_sizes",
        &[
            ("KEEL_BLOCKING_THREADS", "6"),
            ("KEEL_BLOCKING_QUEUE", "50"),
            ("KEEL_BLOCKING_KEEP_ALIVE", "2s"),
            ("KEEL_BLOCKING_SPIN", "20us"),
        ],
    );
}

#[test]
#[ignore = "run by env_sizes_the_global_pool in a child process"]
fn child_env_sizes() {
    let pool = blocking::pool().unwrap();
    assert_eq!(pool.max_threads(), 6);
    assert_eq!(pool.class_cap(Class::Dns), 3);
    assert_eq!(pool.spin(), Duration::from_micros(20));
    let m = pool.metrics();
    assert_eq!(m.queue_capacity, 50);
    // Programmatic sizes come too late once the pool runs.
    assert!(Builder::new().threads(2).install().is_err());
}
