//! [`WorkerMetrics`]: a snapshot of the worker pool's threads, queue, job counts and
//! timings (per-worker histograms merged).

use crate::histogram::HistogramSnapshot;

/// A snapshot of a worker pool, from [`WorkerPool::metrics`](super::WorkerPool::metrics).
///
/// Every submitted job ends as exactly one of completed, panicked, cancelled (handle
/// dropped before it started, or dropped by shutdown) or timed out; rejected jobs
/// (`QueueFull`) were never submitted.
///
/// # Examples
///
/// ```
/// let pool = keel_runtime::workers::Builder::new().threads(1).build().unwrap();
/// keel_runtime::block_on(async {
///     for i in 0..32 {
///         assert_eq!(pool.spawn(move || i * 2).unwrap().await.unwrap(), i * 2);
///     }
/// });
/// let m = pool.metrics();
/// assert_eq!((m.submitted, m.completed), (32, 32));
/// // Jobs 0 and 16 were timed, each standing for 16.
/// assert_eq!(m.run_time.count(), 32);
/// # pool.shutdown(std::time::Duration::from_secs(1));
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// The configured size.
    pub max_threads: usize,
    /// Worker threads alive.
    pub threads: usize,
    /// Workers running a job.
    pub busy: usize,
    /// Workers without a job.
    pub idle: usize,
    /// Jobs waiting in the queues (plus room held by unused permits).
    pub queue_depth: usize,
    /// The queue's bound.
    pub queue_capacity: usize,
    /// Tasks waiting in `reserve` for room in the queue.
    pub waiting_for_room: usize,
    /// Jobs accepted into the queue.
    pub submitted: u64,
    /// Jobs that ran to completion.
    pub completed: u64,
    /// Jobs refused because the queue was full.
    pub rejected: u64,
    /// Jobs that panicked.
    pub panicked: u64,
    /// Jobs that never ran: handle dropped before they started, or dropped by shutdown.
    pub cancelled: u64,
    /// Jobs that had not started by their deadline.
    pub timed_out: u64,
    /// Time from submit to start, for jobs that ran, estimated cheaply: one job in 16
    /// (by submit order) is timed and counted 16 times, as the loops' poll-time
    /// histogram is. Timing every job would cost as much as a tiny job's hand-off. The
    /// exact counts are [`completed`](Self::completed) and [`panicked`](Self::panicked).
    pub queue_wait: HistogramSnapshot,
    /// Time from start to finish, for jobs that ran, sampled as `queue_wait` is.
    pub run_time: HistogramSnapshot,
}
