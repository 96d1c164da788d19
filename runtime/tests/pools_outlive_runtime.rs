//! The process-wide blocking and worker pools outlive any one [`Runtime`]: dropping a
//! runtime while its tasks await pool jobs (or wait for room) leaves both pools working
//! for the next runtime, and the explicit `shutdown` calls are what stops them.

mod util;

use std::time::Duration;

use keel_runtime::time::timeout;
use keel_runtime::{Runtime, blocking, workers};
use keel_testkit::eventually;
use util::{Gate, WAIT};

/// Every wait in this file gives up after this long.
const LIMIT: Duration = util::WAIT;

// One test: the global pools are shared by the whole binary, and the end of it shuts
// them down.
#[test]
fn dropping_a_runtime_leaves_the_global_pools_working_until_shut_down() {
    let gate = Gate::default();
    let rt = Runtime::builder().loops(2).pin(false).build().unwrap();
    let g = gate.clone();
    rt.block_on(async move {
        let handle = keel_runtime::Handle::current();
        for index in 0..2 {
            let g = g.clone();
            // Tasks left waiting on a running blocking job, a running worker job, queued
            // jobs behind them, and a file read, when the runtime goes.
            drop(handle.spawn_on(index, async move {
                let (gb, gw) = (g.clone(), g.clone());
                let b = blocking::spawn(move || gb.wait()).unwrap();
                let w = workers::spawn(move || gw.wait()).unwrap();
                let queued = blocking::spawn(|| 1).unwrap();
                let read = keel_runtime::fs::read("/proc/self/status");
                let _ = (b.await, w.await, queued.await, read.await);
                unreachable!("the gate opens only after the runtime is gone");
            }));
        }
        while blocking::metrics().is_none_or(|m| m.busy < 2)
            || workers::metrics().is_none_or(|m| m.busy < 1)
        {
            keel_runtime::time::sleep(Duration::from_millis(2)).await;
        }
    });
    drop(rt);
    gate.open();

    // The jobs of the dropped tasks finish (or are skipped) and the pools drain.
    eventually(WAIT, || {
        blocking::metrics().is_some_and(|m| m.busy == 0 && m.queue_depth == 0)
    })
    .expect("timed out waiting for the blocking pool to go idle");
    eventually(WAIT, || {
        workers::metrics().is_some_and(|m| m.busy == 0 && m.queue_depth == 0)
    })
    .expect("timed out waiting for the worker pool to go idle");

    // A new runtime (and plain block_on) still use both pools.
    let rt = Runtime::builder().loops(1).pin(false).build().unwrap();
    let (b, w, text) = rt.block_on(async {
        timeout(LIMIT, async {
            let b = blocking::spawn(|| 20).unwrap().await.unwrap();
            let w = workers::spawn(|| 22).unwrap().await.unwrap();
            let text = keel_runtime::fs::read_to_string("/proc/self/status")
                .await
                .unwrap();
            (b, w, text)
        })
        .await
        .unwrap()
    });
    assert_eq!(b + w, 42);
    assert!(text.contains("Name:"));
    drop(rt);

    // The explicit, process-wide shutdown is final.
    assert!(blocking::shutdown(LIMIT).unwrap().is_clean());
    assert!(workers::shutdown(LIMIT).unwrap().is_clean());
    assert!(blocking::spawn(|| ()).unwrap_err().is_shutdown());
    assert!(workers::spawn(|| ()).unwrap_err().is_shutdown());
    let err = keel_runtime::block_on(keel_runtime::fs::read("/proc/self/status")).unwrap_err();
    assert!(err.to_string().contains("shut down"), "{err}");
}
