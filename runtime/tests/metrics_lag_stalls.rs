//! Introspection through the public API: a task that blocks its loop shows up in that
//! loop's lag and stall counts (with its name) while other loops stay unaffected, the
//! watchdog reports a stuck loop while it is still stuck, and utilization adds up.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use keel_runtime::task::Builder as TaskBuilder;
use keel_runtime::{Handle, Runtime};

fn runtime(watchdog: Option<Duration>) -> Runtime {
    Runtime::builder()
        .loops(2)
        .pin(false)
        .watchdog_threshold(watchdog)
        .build()
        .unwrap()
}

/// Waits (bounded) until `check` holds for the runtime's metrics.
fn wait_for(
    handle: &Handle,
    what: &str,
    check: impl Fn(&keel_runtime::metrics::RuntimeMetrics) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if check(&handle.metrics()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {:#?}",
            handle.metrics()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn blocking_task_shows_in_its_loops_lag_and_stalls() {
    let rt = runtime(None);
    let handle = rt.handle().clone();
    // Keep loop 0 ticking so it records lag samples of its own.
    // 200 turns, so p99 leaves out the two worst samples of a loaded test machine.
    let ticker = handle.spawn_on(0, async {
        for _ in 0..200 {
            keel_runtime::time::sleep(Duration::from_millis(2)).await;
        }
    });
    let blocker = TaskBuilder::new()
        .name("blocker")
        .spawn_on(&handle, 1, async {
            std::thread::sleep(Duration::from_millis(200));
        });
    rt.block_on(async move {
        blocker.await.unwrap();
        ticker.await.unwrap();
    });
    // No nudging: a loop about to block publishes its histograms, so the idle loop 1
    // shows its 200 ms turn without turning again.
    wait_for(&handle, "loop 1's stall and lag sample", |m| {
        m.loops[1].stalls >= 1 && m.loops[1].lag.max() >= Duration::from_millis(150)
    });

    let m = handle.metrics();
    let blocked = &m.loops[1];
    assert!(
        blocked.lag.percentile(99.0) >= Duration::from_millis(150),
        "{:?}",
        blocked.lag
    );
    assert!(
        blocked.poll_time.max() >= Duration::from_millis(200),
        "{:?}",
        blocked.poll_time
    );
    assert!(
        blocked
            .stalls_by_task
            .iter()
            .any(|(name, n)| name == "blocker" && *n >= 1),
        "{:?}",
        blocked.stalls_by_task
    );
    let other = &m.loops[0];
    assert!(other.lag.count() > 0);
    assert!(
        other.lag.percentile(50.0) < Duration::from_millis(100),
        "loop 0 was not blocked, yet its median lag is {:?}",
        other.lag.percentile(50.0)
    );
    assert!(
        other.lag.p99() < Duration::from_millis(100),
        "loop 0 was not blocked, yet its p99 lag is {:?}",
        other.lag
    );
    assert!(other.timer_lag.count() > 0, "loop 0's timers fired");
    assert_eq!(other.stalls, 0, "{:?}", other.stalls_by_task);
    // Busy + idle cover the loop's life; the blocked loop was busy at least 200 ms.
    assert!(blocked.busy >= Duration::from_millis(200));
    let u = blocked.utilization();
    assert!((0.0..=1.0).contains(&u) && u > 0.0, "{u}");
}

#[test]
fn watchdog_reports_a_stuck_loop_before_it_recovers() {
    let rt = runtime(Some(Duration::from_millis(300)));
    let handle = rt.handle().clone();
    let done = Arc::new(AtomicBool::new(false));
    let finished = done.clone();
    let stuck = TaskBuilder::new()
        .name("stuck-in-sync-io")
        .spawn_on(&handle, 1, async move {
            std::thread::sleep(Duration::from_secs(2));
            finished.store(true, Ordering::SeqCst);
        });
    wait_for(&handle, "the watchdog report", |m| {
        m.loops[1].watchdog_reports >= 1
    });
    assert!(
        !done.load(Ordering::SeqCst),
        "the report came only after the block ended"
    );
    let report = handle.metrics().loops[1]
        .last_stuck
        .clone()
        .expect("a report");
    assert_eq!(report.task, "stuck-in-sync-io");
    assert!(
        report.spawned_at.contains("metrics_lag_stalls.rs"),
        "{}",
        report.spawned_at
    );
    assert!(report.running_for >= Duration::from_millis(300));
    assert_eq!(handle.metrics().loops[0].watchdog_reports, 0);
    rt.block_on(async move { stuck.await.unwrap() });
    // One stuck poll is reported once, however long it lasted.
    assert_eq!(handle.metrics().loops[1].watchdog_reports, 1);
}

#[test]
fn a_timer_due_while_its_loop_is_blocked_fires_late() {
    let rt = runtime(None);
    let handle = rt.handle().clone();
    let task = handle.spawn_on(1, async move {
        let sleep = keel_runtime::time::sleep(Duration::from_millis(20));
        let mut sleep = std::pin::pin!(sleep);
        // Poll once so the timer is registered with loop 1 ...
        std::future::poll_fn(|cx| {
            assert!(sleep.as_mut().poll(cx).is_pending());
            std::task::Poll::Ready(())
        })
        .await;
        // ... queue a task that blocks the loop well past the deadline, and let the
        // wheel fire the timer once the loop is free again.
        let blocker = keel_runtime::spawn_local(async {
            std::thread::sleep(Duration::from_millis(250));
        });
        sleep.await;
        blocker.await.unwrap();
    });
    rt.block_on(async move { task.await.unwrap() });
    // Due at 20 ms, fired after the 250 ms block: at least ~230 ms late.
    wait_for(&handle, "loop 1's timer lateness", |m| {
        m.loops[1].timer_lag.max() >= Duration::from_millis(200)
    });
    let m = handle.metrics();
    assert!(m.loops[1].timer_lag.p999() >= Duration::from_millis(200));
    assert!(
        m.loops[0].timer_lag.max() < Duration::from_millis(200),
        "loop 0 was never blocked: {:?}",
        m.loops[0].timer_lag
    );
}

#[test]
fn poll_timing_off_records_no_lag_stalls_or_poll_times() {
    let rt = Runtime::builder()
        .loops(1)
        .pin(false)
        .instrument_polls(false)
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    let blocker = TaskBuilder::new()
        .name("untimed")
        .spawn_on(&handle, 0, async {
            keel_runtime::time::sleep(Duration::from_millis(5)).await;
            std::thread::sleep(Duration::from_millis(80));
        });
    rt.block_on(async move { blocker.await.unwrap() });
    wait_for(&handle, "the loop to publish its polls", |m| {
        m.loops[0].polls >= 2 && m.loops[0].busy >= Duration::from_millis(80)
    });
    let m = &handle.metrics().loops[0];
    assert_eq!(m.stalls, 0);
    assert_eq!(m.lag.count(), 0);
    assert_eq!(m.timer_lag.count(), 0);
    assert_eq!(m.poll_time.count(), 0);
    // Utilization is still measured.
    assert!(m.utilization() > 0.0);
}

#[test]
fn the_free_function_reads_the_current_runtime_and_the_pools() {
    let rt = runtime(None);
    rt.block_on(async {
        keel_runtime::blocking::spawn(|| 1).unwrap().await.unwrap();
        keel_runtime::workers::spawn(|| 2).unwrap().await.unwrap();
        let m = keel_runtime::metrics();
        assert_eq!(m.loops.len(), 2);
        let blocking = m.blocking.expect("the blocking pool was used");
        assert!(blocking.completed() >= 1);
        let workers = m.workers.expect("the worker pool was used");
        assert!(workers.completed >= 1);
    });
}
