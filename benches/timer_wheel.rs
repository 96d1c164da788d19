//! Timer insert + cancel: create a `sleep(1 s)`, poll it once so it registers in the
//! loop's timer wheel, drop it (which removes it) — on Keel and on tokio's
//! `current_thread` runtime. After the batch, Keel's published timer count must be back
//! to zero and a short sleep must still fire on both runtimes.

mod common;

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use keel::runtime;

const GROUP: &str = "timer_insert_cancel";

/// Far enough out that no timer fires while the bench runs.
const FAR: Duration = Duration::from_secs(1);

/// Polls `future` once, asserting it is still pending (it registered and did not fire).
async fn poll_once_pending<F: Future>(future: F) {
    let mut future = pin!(future);
    poll_fn(|cx| {
        assert!(
            future.as_mut().poll(cx).is_pending(),
            "a 1 s sleep fired early"
        );
        Poll::Ready(())
    })
    .await;
}

fn keel_timers(iters: u64) -> Duration {
    runtime::block_on(async move {
        let start = Instant::now();
        for _ in 0..iters {
            poll_once_pending(runtime::time::sleep(FAR)).await;
        }
        let elapsed = start.elapsed();
        // One more turn so the loop publishes its figures: every timer must be removed.
        runtime::task::yield_now().await;
        let metrics = runtime::Handle::current().metrics();
        assert_eq!(metrics.loops[0].timers, 0, "timers leaked: {metrics:?}");
        runtime::time::sleep(Duration::from_millis(1)).await;
        elapsed
    })
}

fn tokio_timers(rt: &tokio::runtime::Runtime, iters: u64) -> Duration {
    // `unconstrained`: tokio's `Sleep` takes a coop budget unit per poll and, once the
    // budget of 128 is spent, returns `Pending` without registering; that would time
    // nothing. (Keel's `Sleep` is not budgeted.)
    rt.block_on(tokio::task::unconstrained(async move {
        let start = Instant::now();
        for _ in 0..iters {
            poll_once_pending(tokio::time::sleep(FAR)).await;
        }
        let elapsed = start.elapsed();
        tokio::time::sleep(Duration::from_millis(1)).await;
        elapsed
    }))
}

fn bench_timers(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut group = c.benchmark_group(GROUP);
    common::configure(&mut group);
    group.throughput(Throughput::Elements(1));
    group.bench_function("keel", |b| {
        b.iter_custom(|iters| common::record(GROUP, "keel", iters, keel_timers(iters)))
    });
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| common::record(GROUP, "tokio", iters, tokio_timers(&rt, iters)))
    });
    group.finish();
}

criterion_group!(benches, bench_timers);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    common::print_ratio(GROUP, "tokio");
}
