//! Spawn + join of empty tasks: Keel's `spawn_local` inside `block_on`, against tokio's
//! `current_thread` runtime (`tokio::spawn`, and `LocalSet::spawn_local`, the `!Send`
//! equivalent). One iteration spawns a batch of `BATCH` tasks, then awaits every join
//! handle and checks the sum of their outputs.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use keel::runtime;

/// Tasks spawned (and joined) per iteration.
const BATCH: u64 = 1000;

/// The sum of the outputs of one batch (task `i` returns `i`).
const BATCH_SUM: u64 = BATCH * (BATCH - 1) / 2;

const GROUP: &str = "spawn_join";

fn keel_batches(iters: u64) -> Duration {
    runtime::block_on(async move {
        let mut handles = Vec::with_capacity(BATCH as usize);
        let start = Instant::now();
        for _ in 0..iters {
            for i in 0..BATCH {
                handles.push(runtime::spawn_local(async move { black_box(i) }));
            }
            let mut sum = 0;
            for handle in handles.drain(..) {
                sum += handle.await.expect("task failed");
            }
            assert_eq!(sum, BATCH_SUM);
        }
        let elapsed = start.elapsed();
        // One more turn so the loop publishes its figures: every task must be gone.
        runtime::task::yield_now().await;
        let metrics = runtime::Handle::current().metrics();
        assert_eq!(metrics.tasks_alive(), 0, "tasks leaked: {metrics:?}");
        elapsed
    })
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn tokio_batches(rt: &tokio::runtime::Runtime, iters: u64) -> Duration {
    rt.block_on(async move {
        let mut handles = Vec::with_capacity(BATCH as usize);
        let start = Instant::now();
        for _ in 0..iters {
            for i in 0..BATCH {
                handles.push(tokio::spawn(async move { black_box(i) }));
            }
            let mut sum = 0;
            for handle in handles.drain(..) {
                sum += handle.await.expect("task failed");
            }
            assert_eq!(sum, BATCH_SUM);
        }
        start.elapsed()
    })
}

fn tokio_local_batches(rt: &tokio::runtime::Runtime, iters: u64) -> Duration {
    let local = tokio::task::LocalSet::new();
    local.block_on(rt, async move {
        let mut handles = Vec::with_capacity(BATCH as usize);
        let start = Instant::now();
        for _ in 0..iters {
            for i in 0..BATCH {
                handles.push(tokio::task::spawn_local(async move { black_box(i) }));
            }
            let mut sum = 0;
            for handle in handles.drain(..) {
                sum += handle.await.expect("task failed");
            }
            assert_eq!(sum, BATCH_SUM);
        }
        start.elapsed()
    })
}

fn bench_spawn(c: &mut Criterion) {
    let rt = tokio_rt();
    let mut group = c.benchmark_group(GROUP);
    common::configure(&mut group);
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("keel", |b| {
        b.iter_custom(|iters| common::record(GROUP, "keel", iters, keel_batches(iters)))
    });
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| common::record(GROUP, "tokio", iters, tokio_batches(&rt, iters)))
    });
    group.bench_function("tokio_local", |b| {
        b.iter_custom(|iters| {
            common::record(GROUP, "tokio_local", iters, tokio_local_batches(&rt, iters))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_spawn);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    common::print_ratio(GROUP, "tokio");
    common::print_ratio(GROUP, "tokio_local");
}
