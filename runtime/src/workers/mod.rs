//! The CPU worker pool — Keel's answer to Node's worker_threads and piscina: CPU-bound
//! closures run on dedicated threads, never on a loop thread, and the awaiting task is
//! woken on its own loop when the result is ready.
//!
//! * Size: [`Builder::threads`] (`KEEL_WORKER_THREADS`, default cores − 1, at least 1),
//!   all started when the pool is created. Not pinned unless asked
//!   ([`Builder::pin_cpus`], `KEEL_WORKER_CPUS`).
//! * Work stealing with crossbeam-deque: a global injector plus one deque per worker;
//!   jobs submitted from inside a job stay on that worker's deque (see `pool.rs`).
//! * A bounded queue: [`spawn`] fails at once with [`JobError::is_queue_full`];
//!   [`reserve`] waits for room; [`run_all`] always waits for room.
//! * Per job: dropping the [`WorkerHandle`] before the job starts skips it; a start
//!   deadline ([`spawn_with_deadline`], [`run_all_with_deadline`],
//!   [`Permit::spawn_with_deadline`]) fails it with [`JobError::is_timed_out`]; a panic
//!   comes back as [`JobError::is_panic`] and the worker lives on.
//! * [`metrics`](WorkerPool::metrics): threads, queue depth, job counts, queue-wait and
//!   run-time histograms.
//!
//! # The process-wide pool
//!
//! [`spawn`] and friends use one pool created at first use from the environment
//! ([`Builder::from_env`]). A bad variable is reported by every [`spawn`] as
//! [`JobError::is_config`] naming it; call [`init`] at startup to fail fast instead, or
//! [`Builder::install`] to set sizes in code.
//!
//! ```
//! use keel_runtime::workers;
//!
//! keel_runtime::block_on(async {
//!     let sum = workers::spawn(|| (1..=1000u64).sum::<u64>()).unwrap().await.unwrap();
//!     assert_eq!(sum, 500_500);
//! });
//! ```
//!
//! # Fan-out: `run_all`, and why there is no borrowing scope
//!
//! [`run_all`] (and [`run_all_with_deadline`]) is the fan-out form: it takes any number
//! of `'static` closures, queues them as room comes, and gives the results back in input
//! order; the first failure in input order wins and the jobs not yet started are
//! cancelled. Large inputs are shared by moving an `Arc` (an `Arc<[u8]>` and a range per
//! job), not by borrowing.
//!
//! A scope whose jobs *borrow* the caller's data is deliberately not offered:
//!
//! * An **async** scope (`scope(|s| async { s.spawn(|| &data[..]) }).await`) is unsound
//!   in safe Rust — the scoped-task trilemma: the future holding the borrow can be
//!   dropped half-way or `mem::forget`-ten while workers still read the data, and its
//!   `Drop` cannot wait for them without blocking the loop (nor runs at all when
//!   forgotten). Concurrency, parallelism and borrowing: an API can have only two.
//! * A **blocking** scope (like `std::thread::scope` or `rayon::scope`) is sound, but it
//!   parks the calling thread until every job ends: on a loop thread that stalls every
//!   task of the loop, and on a worker thread it deadlocks unless the waiting worker runs
//!   queued jobs itself. Code already off the loops can use `std::thread::scope` or rayon
//!   directly; on a loop, `run_all` with owned or `Arc`-shared inputs is the answer.
//!
//! # Shutdown and the runtime
//!
//! Like the [blocking pool](crate::blocking#shutdown-and-the-runtime), the process-wide
//! worker pool outlives any [`Runtime`](crate::Runtime): dropping a runtime does not shut
//! it down (tasks dropped with it drop their handles, so their queued jobs are skipped),
//! and the next runtime keeps using it. [`shutdown`] is the one explicit, final call, made
//! at the end of the process (the *Hooks* step of docs/design.md's shutdown sequence).
//!
//! # Parts
//!
//! `global.rs` holds the process-wide pool and the free functions on it;
//! `worker_pool.rs` the [`WorkerPool`] handle; `handle.rs` a job's [`WorkerHandle`];
//! `reserve.rs` [`Reserve`] and [`Permit`]; `fan_out.rs` [`run_all`](WorkerPool::run_all);
//! `builder.rs` the settings; `pool.rs` the threads, deques, sleep/wake protocol and
//! counters (its module doc has the rules); `metrics.rs` the snapshot. The queue's front
//! end (taking a slot or failing with `QueueFull`, waiting for room, start deadlines) is
//! the one the blocking pool uses too (`jobs/reserve.rs`, `jobs/deadline.rs`).

pub(crate) mod builder;
mod fan_out;
mod global;
mod handle;
mod metrics;
pub(crate) mod pool;
mod reserve;
mod worker_pool;

pub use self::builder::{
    Builder, DEFAULT_QUEUE_CAPACITY, DEFAULT_SPIN, MAX_QUEUE_CAPACITY, MAX_SPIN, MAX_THREADS,
    default_threads,
};
pub use self::global::{
    init, metrics, pool, reserve, run_all, run_all_with_deadline, shutdown, spawn,
    spawn_with_deadline,
};
pub use self::handle::WorkerHandle;
pub use self::metrics::WorkerMetrics;
pub use self::reserve::{Permit, Reserve};
pub use self::worker_pool::WorkerPool;
pub use crate::jobs::{ErrorKind, JobError, ShutdownReport};
