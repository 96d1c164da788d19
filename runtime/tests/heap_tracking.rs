//! Heap accounting with the `Tracked` allocator installed: a loop's heap figure moves up
//! when a task on it allocates 10 MiB and back when it frees them; process totals follow.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use keel_runtime::heap::{self, Tracked};
use keel_runtime::{Handle, Runtime};

#[global_allocator]
static ALLOC: Tracked = Tracked::system();

const TEN_MIB: usize = 10 << 20;

std::thread_local! {
    /// Holds the block on the loop thread between the two tasks.
    static KEEP: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// The loop's published net bytes once the loop has parked (published) again.
fn loop_heap(handle: &Handle, rt: &Runtime, index: usize) -> i64 {
    let h = handle.clone();
    // A round trip through the loop makes it park, and so publish.
    rt.block_on(async move {
        h.spawn_on(index, keel_runtime::time::sleep(Duration::from_millis(1)))
            .await
            .unwrap()
    });
    handle.metrics().loops[index].heap_net_bytes
}

#[test]
fn a_loops_heap_figure_follows_its_allocations() {
    let rt = Runtime::builder().loops(2).pin(false).build().unwrap();
    let handle = rt.handle().clone();
    let before = loop_heap(&handle, &rt, 1);
    let process_before = heap::stats().used;

    // Allocate on loop 1 and keep it there (a !Send holder is fine: it never leaves).
    let h = handle.clone();
    rt.block_on(async move {
        h.spawn_local_on(1, || async {
            let block = vec![1u8; TEN_MIB];
            KEEP.with(|k| k.borrow_mut().push(block));
        })
        .await
        .unwrap()
    });
    let during = loop_heap(&handle, &rt, 1);
    assert!(
        during - before >= TEN_MIB as i64 - (64 << 10),
        "before {before}, during {during}"
    );
    assert!(heap::stats().tracked);
    assert!(heap::stats().used >= process_before + TEN_MIB as u64 - (1 << 20));
    assert!(heap::stats().peak >= heap::stats().used);

    let h = handle.clone();
    rt.block_on(async move {
        h.spawn_local_on(1, || async {
            KEEP.with(|k| k.borrow_mut().clear());
        })
        .await
        .unwrap()
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let after = loop_heap(&handle, &rt, 1);
        if during - after >= TEN_MIB as i64 - (1 << 20) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "heap did not come back down: during {during}, after {after}"
        );
    }

    // The loop's peak remembers the 10 MiB; its allocation and free counts moved.
    let m = handle.metrics();
    let loop1 = &m.loops[1];
    assert!(
        loop1.heap_peak_bytes >= during && loop1.heap_peak_bytes > loop1.heap_net_bytes,
        "{loop1:?}"
    );
    assert!(
        loop1.heap_allocations >= 1 && loop1.heap_frees >= 1,
        "{loop1:?}"
    );
    // The process-wide per-loop breakdown shows the same figures.
    let breakdown = heap::loop_stats();
    let entry = breakdown
        .iter()
        .find(|l| l.loop_index == 1)
        .expect("loop 1 is listed");
    assert_eq!(entry.peak, loop1.heap_peak_bytes);
    assert!(entry.allocations >= loop1.heap_allocations);
    assert!(keel_runtime::metrics().loops.len() == 2);
}
