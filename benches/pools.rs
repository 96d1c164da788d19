//! Keel's two job pools against their peers.
//!
//! * `blocking_roundtrip`: one `blocking::spawn(..).await` at a time (submit, wake a pool
//!   thread, run, wake the loop) against tokio's `spawn_blocking` on a `current_thread`
//!   runtime.
//! * `tiny_jobs_1m`: one million trivial jobs submitted back to back, then every result
//!   awaited in order — Keel's `workers::spawn` against `rayon::spawn` + a oneshot and
//!   tokio's `spawn_blocking`.
//! * `fanout_hash_64x1MiB`: FNV-1a over 64 buffers of 1 MiB, one job each, results in
//!   order — Keel's `run_all` against rayon + oneshots and `spawn_blocking`.
//!
//! Keel's worker pool and rayon's pool both get one thread per CPU here (Keel's default
//! is one fewer, leaving a core to the loops), and Keel's queue bound is raised above
//! one million so the submit loop measures throughput rather than backpressure.

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group};
use keel::runtime;
use keel::runtime::workers::WorkerPool;

const ROUNDTRIP: &str = "blocking_roundtrip";
const TINY: &str = "tiny_jobs_1m";
const FANOUT: &str = "fanout_hash_64x1MiB";

/// Jobs per iteration of `tiny_jobs_1m`.
const TINY_JOBS: u64 = 1_000_000;
/// Buffers (and jobs) per iteration of the fan-out.
const BUFFERS: usize = 64;
const BUFFER_LEN: usize = 1 << 20;

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// FNV-1a, 64-bit.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

// ===== blocking round trip =====

fn keel_roundtrip(iters: u64) -> Duration {
    runtime::block_on(async move {
        let start = Instant::now();
        for i in 0..iters {
            let out = runtime::blocking::spawn(move || black_box(i))
                .expect("spawn")
                .await
                .expect("job");
            assert_eq!(out, i);
        }
        start.elapsed()
    })
}

fn tokio_roundtrip(rt: &tokio::runtime::Runtime, iters: u64) -> Duration {
    rt.block_on(async move {
        let start = Instant::now();
        for i in 0..iters {
            let out = tokio::task::spawn_blocking(move || black_box(i))
                .await
                .expect("job");
            assert_eq!(out, i);
        }
        start.elapsed()
    })
}

/// One `workers::spawn(..).await` at a time: the worker pool's round trip (once-mode only).
fn keel_worker_roundtrip(pool: &WorkerPool, iters: u64) -> Duration {
    runtime::block_on(async move {
        let start = Instant::now();
        for i in 0..iters {
            let out = pool.spawn(move || black_box(i)).expect("queue bound").await;
            assert_eq!(out.expect("job"), i);
        }
        start.elapsed()
    })
}

/// The same through `rayon::spawn` and a tokio oneshot.
fn rayon_roundtrip(pool: &rayon::ThreadPool, iters: u64) -> Duration {
    runtime::block_on(async move {
        let start = Instant::now();
        for i in 0..iters {
            let (tx, rx) = tokio::sync::oneshot::channel();
            pool.spawn(move || {
                let _ = tx.send(black_box(i));
            });
            assert_eq!(rx.await.expect("job"), i);
        }
        start.elapsed()
    })
}

// ===== one million tiny jobs =====

fn keel_tiny(pool: &WorkerPool, iters: u64) -> Duration {
    runtime::block_on(async move {
        let start = Instant::now();
        for _ in 0..iters {
            let handles: Vec<_> = (0..TINY_JOBS)
                .map(|i| pool.spawn(move || black_box(i)).expect("queue bound"))
                .collect();
            let mut sum = 0;
            for h in handles {
                sum += h.await.expect("job");
            }
            assert_eq!(sum, TINY_JOBS * (TINY_JOBS - 1) / 2);
        }
        start.elapsed()
    })
}

fn rayon_tiny(pool: &rayon::ThreadPool, iters: u64) -> Duration {
    runtime::block_on(async move {
        let start = Instant::now();
        for _ in 0..iters {
            let receivers: Vec<_> = (0..TINY_JOBS)
                .map(|i| {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    pool.spawn(move || {
                        let _ = tx.send(black_box(i));
                    });
                    rx
                })
                .collect();
            let mut sum = 0;
            for rx in receivers {
                sum += rx.await.expect("job");
            }
            assert_eq!(sum, TINY_JOBS * (TINY_JOBS - 1) / 2);
        }
        start.elapsed()
    })
}

fn tokio_tiny(rt: &tokio::runtime::Runtime, iters: u64) -> Duration {
    rt.block_on(async move {
        let start = Instant::now();
        for _ in 0..iters {
            let handles: Vec<_> = (0..TINY_JOBS)
                .map(|i| tokio::task::spawn_blocking(move || black_box(i)))
                .collect();
            let mut sum = 0;
            for h in handles {
                sum += h.await.expect("job");
            }
            assert_eq!(sum, TINY_JOBS * (TINY_JOBS - 1) / 2);
        }
        start.elapsed()
    })
}

// ===== fan-out hashing =====

fn buffers() -> Arc<Vec<Vec<u8>>> {
    Arc::new(
        (0..BUFFERS)
            .map(|i| (0..BUFFER_LEN).map(|j| (i * 31 + j * 7) as u8).collect())
            .collect(),
    )
}

fn keel_fanout(pool: &WorkerPool, bufs: &Arc<Vec<Vec<u8>>>, want: &[u64], iters: u64) -> Duration {
    runtime::block_on(async move {
        let start = Instant::now();
        for _ in 0..iters {
            let jobs = (0..BUFFERS).map(|i| {
                let bufs = bufs.clone();
                move || fnv1a(&bufs[i])
            });
            let hashes = pool.run_all(jobs).await.expect("fan-out");
            assert_eq!(hashes, want);
        }
        start.elapsed()
    })
}

fn rayon_fanout(
    pool: &rayon::ThreadPool,
    bufs: &Arc<Vec<Vec<u8>>>,
    want: &[u64],
    iters: u64,
) -> Duration {
    runtime::block_on(async move {
        let start = Instant::now();
        for _ in 0..iters {
            let receivers: Vec<_> = (0..BUFFERS)
                .map(|i| {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    let bufs = bufs.clone();
                    pool.spawn(move || {
                        let _ = tx.send(fnv1a(&bufs[i]));
                    });
                    rx
                })
                .collect();
            let mut hashes = Vec::with_capacity(BUFFERS);
            for rx in receivers {
                hashes.push(rx.await.expect("job"));
            }
            assert_eq!(hashes, want);
        }
        start.elapsed()
    })
}

fn tokio_fanout(
    rt: &tokio::runtime::Runtime,
    bufs: &Arc<Vec<Vec<u8>>>,
    want: &[u64],
    iters: u64,
) -> Duration {
    rt.block_on(async move {
        let start = Instant::now();
        for _ in 0..iters {
            let handles: Vec<_> = (0..BUFFERS)
                .map(|i| {
                    let bufs = bufs.clone();
                    tokio::task::spawn_blocking(move || fnv1a(&bufs[i]))
                })
                .collect();
            let mut hashes = Vec::with_capacity(BUFFERS);
            for h in handles {
                hashes.push(h.await.expect("job"));
            }
            assert_eq!(hashes, want);
        }
        start.elapsed()
    })
}

fn bench_pools(c: &mut Criterion) {
    let rt = tokio_rt();
    let keel_workers = runtime::workers::Builder::new()
        .threads(cpus())
        .queue_capacity(TINY_JOBS as usize + 1)
        .build()
        .expect("worker pool");
    let rayon_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cpus())
        .build()
        .expect("rayon pool");

    let mut group = c.benchmark_group(ROUNDTRIP);
    common::configure(&mut group);
    group.throughput(Throughput::Elements(1));
    group.bench_function("keel", |b| {
        b.iter_custom(|iters| common::record(ROUNDTRIP, "keel", iters, keel_roundtrip(iters)))
    });
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            common::record(ROUNDTRIP, "tokio", iters, tokio_roundtrip(&rt, iters))
        })
    });
    group.finish();

    let mut group = c.benchmark_group(TINY);
    common::configure(&mut group);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(TINY_JOBS));
    group.bench_function("keel", |b| {
        b.iter_custom(|iters| common::record(TINY, "keel", iters, keel_tiny(&keel_workers, iters)))
    });
    group.bench_function("rayon", |b| {
        b.iter_custom(|iters| common::record(TINY, "rayon", iters, rayon_tiny(&rayon_pool, iters)))
    });
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| common::record(TINY, "tokio", iters, tokio_tiny(&rt, iters)))
    });
    group.finish();

    let bufs = buffers();
    let want: Vec<u64> = bufs.iter().map(|b| fnv1a(b)).collect();
    let mut group = c.benchmark_group(FANOUT);
    common::configure(&mut group);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Bytes((BUFFERS * BUFFER_LEN) as u64));
    group.bench_function("keel", |b| {
        b.iter_custom(|iters| {
            common::record(
                FANOUT,
                "keel",
                iters,
                keel_fanout(&keel_workers, &bufs, &want, iters),
            )
        })
    });
    group.bench_function("rayon", |b| {
        b.iter_custom(|iters| {
            common::record(
                FANOUT,
                "rayon",
                iters,
                rayon_fanout(&rayon_pool, &bufs, &want, iters),
            )
        })
    });
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            common::record(
                FANOUT,
                "tokio",
                iters,
                tokio_fanout(&rt, &bufs, &want, iters),
            )
        })
    });
    group.finish();

    let m = keel_workers.metrics();
    println!(
        "keel workers: {} jobs completed, queue wait p50 {:?} p99 {:?}, run time p50 {:?}",
        m.completed,
        m.queue_wait.percentile(50.0),
        m.queue_wait.percentile(99.0),
        m.run_time.percentile(50.0),
    );
    keel_workers.shutdown(Duration::from_secs(5));
}

criterion_group!(benches, bench_pools);

fn main() {
    let keel_workers = || {
        runtime::workers::Builder::from_env()
            .expect("KEEL_WORKER_* settings")
            .threads(cpus())
            .queue_capacity(TINY_JOBS as usize + 1)
            .build()
            .expect("worker pool")
    };
    let rayon_pool = || {
        rayon::ThreadPoolBuilder::new()
            .num_threads(cpus())
            .build()
            .expect("rayon pool")
    };
    let routines: Vec<common::Routine<'_>> = vec![
        (
            format!("{ROUNDTRIP}/keel"),
            Box::new(|n| _ = keel_roundtrip(n)),
        ),
        (
            format!("{ROUNDTRIP}/tokio"),
            Box::new(|n| _ = tokio_roundtrip(&tokio_rt(), n)),
        ),
        (
            format!("{TINY}/keel"),
            Box::new(|n| _ = keel_tiny(&keel_workers(), n)),
        ),
        (
            format!("{TINY}/rayon"),
            Box::new(|n| _ = rayon_tiny(&rayon_pool(), n)),
        ),
    ];
    let bufs = buffers();
    let want: Vec<u64> = bufs.iter().map(|b| fnv1a(b)).collect();
    let mut routines = routines;
    routines.push((
        "worker_roundtrip/keel".to_owned(),
        Box::new(|n| _ = keel_worker_roundtrip(&keel_workers(), n)),
    ));
    routines.push((
        "worker_roundtrip/rayon".to_owned(),
        Box::new(|n| _ = rayon_roundtrip(&rayon_pool(), n)),
    ));
    routines.push((
        format!("{FANOUT}/keel"),
        Box::new(|n| _ = keel_fanout(&keel_workers(), &bufs, &want, n)),
    ));
    routines.push((
        format!("{FANOUT}/rayon"),
        Box::new(|n| _ = rayon_fanout(&rayon_pool(), &bufs, &want, n)),
    ));
    if common::run_once(&routines) {
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    common::print_ratio(ROUNDTRIP, "tokio");
    common::print_ratio(TINY, "rayon");
    common::print_ratio(TINY, "tokio");
    common::print_ratio(FANOUT, "rayon");
    common::print_ratio(FANOUT, "tokio");
}
