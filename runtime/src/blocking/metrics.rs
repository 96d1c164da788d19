//! [`BlockingMetrics`] and [`ClassMetrics`]: snapshots of the blocking pool's threads,
//! queue, job counts and timings, in total and per [`Class`].

use super::Class;
use crate::histogram::HistogramSnapshot;

/// A snapshot of a blocking pool, from [`BlockingPool::metrics`](super::BlockingPool::metrics).
///
/// Job counts: every submitted job ends as exactly one of completed, panicked or
/// cancelled (its handle was dropped before it started, or shutdown dropped it); rejected
/// jobs (`QueueFull`) were never submitted.
///
/// # Examples
///
/// ```
/// use keel_runtime::blocking::{self, Class};
///
/// let pool = blocking::Builder::new().threads(2).build().unwrap();
/// keel_runtime::block_on(async {
///     pool.spawn(|| 1 + 1).unwrap().await.unwrap();
/// });
/// let m = pool.metrics();
/// assert_eq!(m.submitted(), 1);
/// assert_eq!(m.class(Class::User).completed, 1);
/// assert_eq!(m.run_time().count(), 1);
/// # pool.shutdown(std::time::Duration::from_secs(1));
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct BlockingMetrics {
    /// The configured size: the most threads the pool may run.
    pub max_threads: usize,
    /// Threads alive now (busy or idle).
    pub threads: usize,
    /// Threads running a job.
    pub busy: usize,
    /// Threads alive without a job.
    pub idle: usize,
    /// Jobs waiting in the queue.
    pub queue_depth: usize,
    /// The queue's bound.
    pub queue_capacity: usize,
    /// Tasks waiting in `reserve` for room in the queue.
    pub waiting_for_room: usize,
    /// Per class, in [`Class::ALL`] order.
    pub classes: Vec<ClassMetrics>,
}

/// The figures of one [`Class`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ClassMetrics {
    /// The class.
    pub class: Class,
    /// Its cap on concurrent threads.
    pub cap: usize,
    /// Its jobs running now.
    pub running: usize,
    /// Its jobs waiting in the queue.
    pub queued: usize,
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
    /// Time from submit to start, for jobs that ran.
    pub queue_wait: HistogramSnapshot,
    /// Time from start to finish, for jobs that ran.
    pub run_time: HistogramSnapshot,
}

impl BlockingMetrics {
    /// The figures of `class`.
    pub fn class(&self, class: Class) -> &ClassMetrics {
        &self.classes[class.index()]
    }

    /// Jobs accepted, all classes.
    pub fn submitted(&self) -> u64 {
        self.classes.iter().map(|c| c.submitted).sum()
    }

    /// Jobs completed, all classes.
    pub fn completed(&self) -> u64 {
        self.classes.iter().map(|c| c.completed).sum()
    }

    /// Jobs refused with `QueueFull`, all classes.
    pub fn rejected(&self) -> u64 {
        self.classes.iter().map(|c| c.rejected).sum()
    }

    /// Jobs that panicked, all classes.
    pub fn panicked(&self) -> u64 {
        self.classes.iter().map(|c| c.panicked).sum()
    }

    /// Jobs that never ran, all classes.
    pub fn cancelled(&self) -> u64 {
        self.classes.iter().map(|c| c.cancelled).sum()
    }

    /// Queue-wait times, all classes merged.
    pub fn queue_wait(&self) -> HistogramSnapshot {
        let mut all = HistogramSnapshot::default();
        self.classes.iter().for_each(|c| all.merge(&c.queue_wait));
        all
    }

    /// Run times, all classes merged.
    pub fn run_time(&self) -> HistogramSnapshot {
        let mut all = HistogramSnapshot::default();
        self.classes.iter().for_each(|c| all.merge(&c.run_time));
        all
    }
}
