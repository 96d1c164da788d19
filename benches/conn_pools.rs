//! keel-pool against its peers on tokio, side by side.
//!
//! * `pool_get_put_{1,10,100}_tasks`: N tasks share a pool of `MAX_CONNS` trivial
//!   in-memory connections; each task loops get → yield (holding the connection) →
//!   drop, and an iteration is one get. `keel_pool::Pool` on a Keel loop against
//!   deadpool's managed pool and bb8, both on a tokio `current_thread` runtime. The
//!   yield is what makes the tasks contend: on a single-threaded loop a task that never
//!   awaits while holding a connection never makes another task wait, so without it
//!   the 10- and 100-task runs would measure the 1-task path again. With it, every
//!   get beyond `MAX_CONNS` outstanding queues and is served by a returned connection.
//! * `pg_select1_{PG_CONNS}conns_{PG_TASKS}tasks`: `PG_TASKS` tasks run `SELECT 1`
//!   through a pool of at most `PG_CONNS` PostgreSQL connections (127.0.0.1:5432, user
//!   `postgres`, database `test`): keel-pool's `PgManager` on a Keel loop against
//!   tokio-postgres + deadpool-postgres on a tokio `current_thread` runtime. Both
//!   sides run a cached prepared statement; an iteration is one query.
//!
//! Every call of a routine builds its pool and opens its connections before the clock
//! starts, and asserts that every get returned a connection and every `SELECT 1`
//! returned 1.

mod common;

use std::cell::Cell;
use std::convert::Infallible;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use keel::pool::postgres::PgManager;
use keel::runtime;

/// Connections in the get/put pools.
const MAX_CONNS: usize = 8;
/// Contending tasks of the get/put benchmarks.
const TASKS: [usize; 3] = [1, 10, 100];
/// Connections and tasks of the `SELECT 1` benchmark.
const PG_CONNS: usize = 4;
const PG_TASKS: usize = 16;
const PG_GROUP: &str = "pg_select1_4conns_16tasks";

fn pg_config() -> tokio_postgres::Config {
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(5432)
        .user("postgres")
        .dbname("test")
        .application_name("keel-bench-conn-pools");
    config
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// How many of `total` gets task `i` of `tasks` makes (the remainder spread over the
/// first tasks), so that the tasks make exactly `total` in all.
fn share(total: u64, tasks: usize, i: usize) -> u64 {
    let tasks = tasks as u64;
    total / tasks + u64::from((i as u64) < total % tasks)
}

// ===== trivial managers =====

/// keel-pool's: connections are numbers.
struct KeelNumbers {
    next: Cell<u64>,
}

impl keel::pool::Manager for KeelNumbers {
    type Connection = u64;
    type Error = Infallible;

    async fn create(&self) -> Result<u64, Infallible> {
        self.next.set(self.next.get() + 1);
        Ok(self.next.get())
    }

    async fn recycle(&self, _conn: &mut u64) -> Result<(), Infallible> {
        Ok(())
    }
}

/// deadpool's.
struct DeadpoolNumbers {
    next: AtomicU64,
}

impl deadpool::managed::Manager for DeadpoolNumbers {
    type Type = u64;
    type Error = Infallible;

    async fn create(&self) -> Result<u64, Infallible> {
        Ok(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }

    async fn recycle(
        &self,
        _conn: &mut u64,
        _metrics: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<Infallible> {
        Ok(())
    }
}

/// bb8's.
struct Bb8Numbers {
    next: AtomicU64,
}

impl bb8::ManageConnection for Bb8Numbers {
    type Connection = u64;
    type Error = Infallible;

    async fn connect(&self) -> Result<u64, Infallible> {
        Ok(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }

    async fn is_valid(&self, _conn: &mut u64) -> Result<(), Infallible> {
        Ok(())
    }

    fn has_broken(&self, _conn: &mut u64) -> bool {
        false
    }
}

// ===== get/put =====

fn keel_get_put(tasks: usize, iters: u64) -> Duration {
    runtime::block_on(async move {
        let pool = keel::pool::Pool::builder(KeelNumbers { next: Cell::new(0) })
            .max(MAX_CONNS)
            .build();
        // Open every connection before the clock starts.
        let warm: Vec<_> = futures_all(
            (0..MAX_CONNS)
                .map(|_| runtime::spawn_local(pool.get()))
                .collect(),
        )
        .await;
        assert!(warm.iter().all(|r| r.is_ok()), "warm-up get failed");
        drop(warm);
        assert_eq!(pool.status().size, MAX_CONNS);

        let got = Rc::new(Cell::new(0u64));
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|i| {
                let pool = pool.clone();
                let got = got.clone();
                runtime::spawn_local(async move {
                    for _ in 0..share(iters, tasks, i) {
                        let conn = pool.get().await.expect("keel-pool get");
                        assert!(*conn >= 1);
                        got.set(got.get() + 1);
                        runtime::task::yield_now().await;
                        drop(conn);
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.expect("keel task");
        }
        let elapsed = start.elapsed();
        assert_eq!(got.get(), iters);
        assert_eq!(pool.status().size, MAX_CONNS);
        elapsed
    })
}

/// Awaits Keel join handles in order.
async fn futures_all<T: 'static>(handles: Vec<runtime::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("keel task"));
    }
    out
}

fn deadpool_get_put(rt: &tokio::runtime::Runtime, tasks: usize, iters: u64) -> Duration {
    rt.block_on(async move {
        let pool = deadpool::managed::Pool::builder(DeadpoolNumbers {
            next: AtomicU64::new(0),
        })
        .max_size(MAX_CONNS)
        .build()
        .expect("deadpool");
        let warm: Vec<_> = (0..MAX_CONNS)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    // Held across a yield so that each warm-up task opens its own.
                    let conn: deadpool::managed::Object<DeadpoolNumbers> =
                        pool.get().await.expect("deadpool warm-up get");
                    tokio::task::yield_now().await;
                    drop(conn);
                })
            })
            .collect();
        for h in warm {
            h.await.expect("deadpool warm-up");
        }
        assert_eq!(pool.status().size, MAX_CONNS);

        let got = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|i| {
                let pool = pool.clone();
                let got = got.clone();
                tokio::spawn(async move {
                    for _ in 0..share(iters, tasks, i) {
                        let conn = pool.get().await.expect("deadpool get");
                        assert!(*conn >= 1);
                        got.fetch_add(1, Ordering::Relaxed);
                        tokio::task::yield_now().await;
                        drop(conn);
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.expect("deadpool task");
        }
        let elapsed = start.elapsed();
        assert_eq!(got.load(Ordering::Relaxed), iters);
        elapsed
    })
}

fn bb8_get_put(rt: &tokio::runtime::Runtime, tasks: usize, iters: u64) -> Duration {
    rt.block_on(async move {
        let pool = bb8::Pool::builder()
            .max_size(MAX_CONNS as u32)
            .min_idle(Some(MAX_CONNS as u32))
            .build(Bb8Numbers {
                next: AtomicU64::new(0),
            })
            .await
            .expect("bb8");
        // `build` opened `min_idle` connections.
        assert_eq!(pool.state().connections, MAX_CONNS as u32);

        let got = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|i| {
                let pool = pool.clone();
                let got = got.clone();
                tokio::spawn(async move {
                    for _ in 0..share(iters, tasks, i) {
                        let conn = pool.get().await.expect("bb8 get");
                        assert!(*conn >= 1);
                        got.fetch_add(1, Ordering::Relaxed);
                        tokio::task::yield_now().await;
                        drop(conn);
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.expect("bb8 task");
        }
        let elapsed = start.elapsed();
        assert_eq!(got.load(Ordering::Relaxed), iters);
        elapsed
    })
}

// ===== SELECT 1 =====

fn keel_select1(iters: u64) -> Duration {
    runtime::block_on(async move {
        let pool = keel::pool::Pool::builder(PgManager::new(pg_config()))
            .max(PG_CONNS)
            .build();
        // Open every connection and prepare the statement on each before the clock.
        let warm: Vec<_> = (0..PG_CONNS)
            .map(|_| {
                let pool = pool.clone();
                runtime::spawn_local(async move {
                    let conn = pool.get().await.expect("keel-pool postgres get");
                    let row = conn.query_one("SELECT 1", &[]).await.expect("SELECT 1");
                    assert_eq!(row.get::<_, i32>(0), 1);
                    runtime::task::yield_now().await;
                })
            })
            .collect();
        futures_all(warm).await;
        assert_eq!(pool.status().size, PG_CONNS);

        let start = Instant::now();
        let handles: Vec<_> = (0..PG_TASKS)
            .map(|i| {
                let pool = pool.clone();
                runtime::spawn_local(async move {
                    let n = share(iters, PG_TASKS, i);
                    for _ in 0..n {
                        let conn = pool.get().await.expect("keel-pool postgres get");
                        let row = conn.query_one("SELECT 1", &[]).await.expect("SELECT 1");
                        assert_eq!(row.get::<_, i32>(0), 1);
                    }
                    n
                })
            })
            .collect();
        let done: u64 = futures_all(handles).await.into_iter().sum();
        let elapsed = start.elapsed();
        assert_eq!(done, iters);
        pool.close();
        elapsed
    })
}

fn deadpool_select1(rt: &tokio::runtime::Runtime, iters: u64) -> Duration {
    rt.block_on(async move {
        let manager = deadpool_postgres::Manager::from_config(
            pg_config(),
            tokio_postgres::NoTls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(PG_CONNS)
            .build()
            .expect("deadpool-postgres");
        let warm: Vec<_> = (0..PG_CONNS)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let client = pool.get().await.expect("deadpool-postgres get");
                    let stmt = client.prepare_cached("SELECT 1").await.expect("prepare");
                    let row = client.query_one(&stmt, &[]).await.expect("SELECT 1");
                    assert_eq!(row.get::<_, i32>(0), 1);
                    tokio::task::yield_now().await;
                })
            })
            .collect();
        for h in warm {
            h.await.expect("deadpool-postgres warm-up");
        }
        assert_eq!(pool.status().size, PG_CONNS);

        let start = Instant::now();
        let handles: Vec<_> = (0..PG_TASKS)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let n = share(iters, PG_TASKS, i);
                    for _ in 0..n {
                        let client = pool.get().await.expect("deadpool-postgres get");
                        let stmt = client.prepare_cached("SELECT 1").await.expect("prepare");
                        let row = client.query_one(&stmt, &[]).await.expect("SELECT 1");
                        assert_eq!(row.get::<_, i32>(0), 1);
                    }
                    n
                })
            })
            .collect();
        let mut done = 0;
        for h in handles {
            done += h.await.expect("deadpool-postgres task");
        }
        let elapsed = start.elapsed();
        assert_eq!(done, iters);
        pool.close();
        elapsed
    })
}

fn bench_conn_pools(c: &mut Criterion) {
    let rt = tokio_rt();

    for tasks in TASKS {
        let name = format!("pool_get_put_{tasks}_tasks");
        let mut group = c.benchmark_group(&name);
        common::configure(&mut group);
        group.throughput(Throughput::Elements(1));
        group.bench_function("keel", |b| {
            b.iter_custom(|iters| common::record(&name, "keel", iters, keel_get_put(tasks, iters)))
        });
        group.bench_function("deadpool", |b| {
            b.iter_custom(|iters| {
                common::record(
                    &name,
                    "deadpool",
                    iters,
                    deadpool_get_put(&rt, tasks, iters),
                )
            })
        });
        group.bench_function("bb8", |b| {
            b.iter_custom(|iters| {
                common::record(&name, "bb8", iters, bb8_get_put(&rt, tasks, iters))
            })
        });
        group.finish();
    }

    let mut group = c.benchmark_group(PG_GROUP);
    common::configure(&mut group);
    group.throughput(Throughput::Elements(1));
    group.bench_function("keel", |b| {
        b.iter_custom(|iters| common::record(PG_GROUP, "keel", iters, keel_select1(iters)))
    });
    group.bench_function("deadpool", |b| {
        b.iter_custom(|iters| {
            common::record(PG_GROUP, "deadpool", iters, deadpool_select1(&rt, iters))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_conn_pools);

fn main() {
    let mut routines: Vec<common::Routine<'_>> = Vec::new();
    for tasks in TASKS {
        let name = format!("pool_get_put_{tasks}_tasks");
        routines.push((
            format!("{name}/keel"),
            Box::new(move |n| _ = keel_get_put(tasks, n)),
        ));
        routines.push((
            format!("{name}/deadpool"),
            Box::new(move |n| _ = deadpool_get_put(&tokio_rt(), tasks, n)),
        ));
        routines.push((
            format!("{name}/bb8"),
            Box::new(move |n| _ = bb8_get_put(&tokio_rt(), tasks, n)),
        ));
    }
    routines.push((
        format!("{PG_GROUP}/keel"),
        Box::new(|n| _ = keel_select1(n)),
    ));
    routines.push((
        format!("{PG_GROUP}/deadpool"),
        Box::new(|n| _ = deadpool_select1(&tokio_rt(), n)),
    ));
    if common::run_once(&routines) {
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    for tasks in TASKS {
        let name = format!("pool_get_put_{tasks}_tasks");
        common::print_ratio(&name, "deadpool");
        common::print_ratio(&name, "bb8");
    }
    common::print_ratio(PG_GROUP, "deadpool");
}
