//! Where a task's output and future go: each output is dropped exactly once whether the
//! join handle awaits it, is dropped before the task finishes, or after; a finished task
//! releases everything its future captured; a `!Send` output stays on its loop.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use keel_runtime::task::yield_now;
use keel_runtime::{current_loop, spawn_local};
use util::{drop_probe, keel_test, oneshot, within};

/// Counts its drops in a shared counter.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

keel_test! {
    async fn awaited_output_is_dropped_once_by_its_receiver(handle) {
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let output = handle.spawn_on(handle.loops() - 1, async move { Counted(d) });
        let output = within("the task", output).await.unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 0, "the output reached the joiner intact");
        drop(output);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }
}

keel_test! {
    async fn output_of_a_task_detached_before_it_finished_is_dropped_once_on_its_loop(handle) {
        let target = handle.loops() - 1;
        let (probe, watch) = drop_probe();
        let (go_tx, go_rx) = oneshot::<()>();
        let join = handle.spawn_on(target, async move {
            go_rx.await.expect("go");
            probe
        });
        // The handle is gone before the task can finish.
        drop(join);
        go_tx.send(());
        within("the output to be dropped", async {
            while !watch.is_dropped() {
                yield_now().await;
            }
        })
        .await;
        assert_eq!(watch.dropped_on(), Some(Some(target)), "dropped by the completing loop");
    }
}

keel_test! {
    async fn output_of_a_finished_task_is_dropped_once_with_its_handle(handle) {
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let join = handle.spawn_on(handle.loops() - 1, async move { Counted(d) });
        within("the task to finish", async {
            while !join.is_finished() {
                yield_now().await;
            }
        })
        .await;
        assert_eq!(drops.load(Ordering::SeqCst), 0, "held for the handle");
        drop(join);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }
}

keel_test! {
    async fn a_finished_task_releases_what_its_future_captured(handle) {
        let captured = Arc::new(());
        let c = captured.clone();
        let join = handle.spawn_on(handle.loops() - 1, async move {
            yield_now().await;
            drop(c);
            1u8
        });
        assert_eq!(within("the task", join).await.unwrap(), 1);
        assert_eq!(Arc::strong_count(&captured), 1);

        // Same for a task that is aborted while pending, and for one never awaited.
        let c = captured.clone();
        let join = handle.spawn_on(handle.loops() - 1, async move {
            let _c = c;
            std::future::pending::<()>().await
        });
        join.abort();
        assert!(within("the aborted task", join).await.unwrap_err().is_cancelled());
        assert_eq!(Arc::strong_count(&captured), 1);

        let c = captured.clone();
        drop(handle.spawn_on(handle.loops() - 1, async move { drop(c) }));
        within("the detached task to release its capture", async {
            while Arc::strong_count(&captured) != 1 {
                yield_now().await;
            }
        })
        .await;
    }
}

keel_test! {
    async fn a_non_send_output_is_received_on_its_loop(handle) {
        let here = current_loop();
        let out = spawn_local(async { Rc::new(Cell::new(current_loop())) }).await.unwrap();
        assert_eq!(out.get(), here);
    }
}

keel_test! {
    async fn panic_output_is_an_error_and_the_handle_can_be_dropped_unpolled(handle) {
        let join = handle.spawn_on(handle.loops() - 1, async { panic!("boom") });
        let err = within("the panicking task", join).await.unwrap_err();
        assert_eq!(err.panic_message(), Some("boom"));

        let detached = handle.spawn_on(handle.loops() - 1, async { panic!("unheard") });
        drop(detached);
        // The loop lives on.
        let ok = handle.spawn_on(handle.loops() - 1, async { 3u8 });
        assert_eq!(within("a task after the panics", ok).await.unwrap(), 3);
    }
}
