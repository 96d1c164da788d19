//! The worker pool's machinery: fixed threads sharing work through crossbeam-deque (a
//! global injector plus one deque per worker), the sleep/wake protocol, the deadline
//! check at start, and the counters behind [`WorkerMetrics`].
//!
//! # Where a job goes
//!
//! A job submitted from one of this pool's own threads (a job that spawns jobs) is
//! pushed onto that thread's deque, so it stays local and warm in cache; any other
//! submit goes to the global injector. A worker looks for work in this order: its own
//! deque, a batch from the injector, then the other workers' deques (stealing).
//!
//! # Sleeping and waking
//!
//! A worker that finds nothing spins briefly (`Backoff`). Then, when no other worker is
//! `spinning` and the configured spin is not zero, it raises `spinning` and keeps
//! looking for up to the spin (a job submitted meanwhile starts without a wake-up); it
//! lowers `spinning`, issues a `SeqCst` fence and, when work is left anywhere and someone
//! sleeps, wakes one — submits skip their wake while a worker spins, so the jobs they
//! queued are passed on here. Then, or when it did not spin:
//!
//! 1. raises `sleeping` and issues a `SeqCst` fence;
//! 2. looks for work once more, and runs it if found (lowering `sleeping`);
//! 3. otherwise waits on the condvar until it finds a wake token (or shutdown), takes
//!    one, and lowers `sleeping`.
//!
//! A submitter pushes the job, issues a `SeqCst` fence, and reads `spinning`, then
//! `sleeping`; if nobody spins and anyone sleeps it adds a token (at most one per
//! sleeper) and notifies one. The fences order "push, then read `sleeping`" against
//! "raise `sleeping`, then look": either the worker finds the job in step 2 or the
//! submitter sees it sleeping and wakes it; and "push, then read `spinning`" against
//! "lower `spinning`, then look for work left": a submit that saw a spinner has its job
//! found by it or passed on by it. A busy pool pays one fence and two loads per submit,
//! and no lock.
//!
//! A batch steal (from the injector or a peer) moves jobs out of sight for a moment: a
//! worker that looks then may see nothing and go to sleep. So a thread whose steal left
//! jobs in its own deque does what a submitter does — fence, read `sleeping`, wake one
//! (`share_batch`) — or those jobs could wait behind a job that blocks.
//!
//! # Start of a job
//!
//! The queue slot is given back as soon as a worker takes the job. Then the job is
//! skipped when its handle is gone; fails with `TimedOut` when it carries a deadline that
//! has passed (or its handle already gave up on it, see `jobs/deadline.rs`); and otherwise
//! runs under `catch_unwind`, so a panic becomes the handle's error and the thread lives
//! on.
//!
//! # Shutdown
//!
//! `shutdown` sets the flag (`SeqCst`, then a fence), closes the queue slots, wakes every
//! worker, and drains the injector *and every worker's deque* through the stealers, so
//! jobs queued locally behind a long-running job are counted in the report too. A
//! submitter pushes, fences, then re-reads the flag and drains again if it is set: either
//! the shutdown drain or the submitter's own sees a job that raced the flag, so no
//! handle is left waiting forever. Workers see the flag at their next look for work and
//! exit after their current job; `shutdown` waits for them up to its deadline.
//!
//! The deques, atomics, locks, threads and thread-local come from the
//! [`loom`](crate::loom) shim: the loom model `src/tests/loom_workers.rs` checks submit
//! against shutdown, and the batch-steal wake (`share_batch`).

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use crossbeam_utils::CachePadded;

use super::builder::Config;
use super::metrics::WorkerMetrics;
use crate::histogram::{Histogram, HistogramSnapshot};
use crate::jobs::cell::{self, Sender};
use crate::jobs::{
    JobDeadline, JobError, JobResult, Late, QueueSlots, QueuedJob, RanOutcome, ShutdownReport,
    run_and_send, take_slot,
};
// From the shim so `src/tests/loom_workers.rs` can model-check the sleep/wake and
// shutdown protocol. The `std` atomics above (a job's start deadline, the counters) are
// outside the model.
use crate::loom::Backoff;
use crate::loom::deque::{Injector, Steal, Stealer, Worker};
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
use crate::loom::sync::{Condvar, Mutex};
use crate::loom::thread;

/// The name in errors and reports.
pub(crate) const POOL: &str = "workers";

enum Outcome {
    Completed,
    Panicked,
    Skipped,
    TimedOut,
}

impl RanOutcome for Outcome {
    const COMPLETED: Outcome = Outcome::Completed;
    const PANICKED: Outcome = Outcome::Panicked;
}

/// One job in this many (by submit order) is timed for the queue-wait and run-time
/// histograms, and counted this many times there: the poll-time histogram's rule.
pub(crate) const JOB_TIME_SAMPLE: u64 = 16;

/// A queued job.
pub(crate) struct Job {
    /// When it was queued, for the one job in [`JOB_TIME_SAMPLE`] that is timed.
    enqueued: Option<Instant>,
    /// Runs the job; calls its argument with the outcome *before* the result is sent, so
    /// whoever awaits the result sees the job counted.
    run: QueuedJob<Outcome>,
}

impl Job {
    /// Wraps `f`: skipped when the receiver is gone, `TimedOut` past `deadline`, panics
    /// caught and sent as errors.
    pub(crate) fn new<F, T>(f: F, deadline: Option<Arc<JobDeadline>>) -> (Job, JobResult<T>)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let context = crate::task_context::current();
        let (run, result) = cell::job(POOL, move |tx: Sender<'_, T>, report: &dyn Fn(Outcome)| {
            if deadline.as_ref().is_some_and(|deadline| deadline.expired()) {
                // The handle already reported the timeout.
                return report(Outcome::TimedOut);
            }
            if tx.is_closed() {
                return report(Outcome::Skipped);
            }
            if let Some(deadline) = deadline {
                match deadline.claim_start() {
                    Ok(()) => {}
                    // The handle already reported the timeout.
                    Err(Late::Reported) => return report(Outcome::TimedOut),
                    Err(Late::Unreported) => {
                        report(Outcome::TimedOut);
                        tx.send(Err(JobError::timed_out(POOL)));
                        return;
                    }
                }
            }
            run_and_send(POOL, context, f, tx, report);
        });
        let job = Job {
            enqueued: None,
            run,
        };
        (job, result)
    }
}

/// A queue [`Inner::drain_queues`] empties.
enum Either<'a> {
    Injector(&'a Injector<Job>),
    Stealer(&'a Stealer<Job>),
}

/// One worker's counters: written only by that worker, read by snapshots.
#[derive(Default)]
struct WorkerStats {
    completed: AtomicU64,
    panicked: AtomicU64,
    cancelled: AtomicU64,
    timed_out: AtomicU64,
    queue_wait: Histogram,
    run_time: Histogram,
}

crate::loom::thread_local! {
    /// The calling thread's own deque, when it is a worker: `(pool id, deque)`.
    static LOCAL: RefCell<Option<(usize, Worker<Job>)>> = const { RefCell::new(None) };
}

/// The pool, shared by its handles and threads.
pub(crate) struct Inner {
    pub(crate) config: Config,
    injector: Injector<Job>,
    stealers: Vec<Stealer<Job>>,
    pub(crate) slots: QueueSlots,
    sleeping: CachePadded<AtomicUsize>,
    /// 1 while a worker spins looking for work (at most one does).
    spinning: CachePadded<AtomicUsize>,
    tokens: Mutex<usize>,
    wake: Condvar,
    submitted: CachePadded<AtomicU64>,
    rejected: AtomicU64,
    busy: CachePadded<AtomicUsize>,
    stats: Vec<CachePadded<WorkerStats>>,
    shutdown: AtomicBool,
    /// Every user handle is gone: workers exit once they find no work.
    released: AtomicBool,
    alive: Mutex<usize>,
    exited: Condvar,
    /// Queued jobs dropped by shutdown (from the injector or a worker's deque).
    dropped: AtomicUsize,
}

impl Inner {
    /// Creates the pool and starts its threads.
    pub(crate) fn start(config: Config) -> Arc<Inner> {
        let deques: Vec<Worker<Job>> = (0..config.threads).map(|_| Worker::new_fifo()).collect();
        let inner = Arc::new(Inner {
            injector: Injector::new(),
            stealers: deques.iter().map(Worker::stealer).collect(),
            slots: QueueSlots::new(config.queue_capacity),
            sleeping: CachePadded::new(AtomicUsize::new(0)),
            spinning: CachePadded::new(AtomicUsize::new(0)),
            tokens: Mutex::new(0),
            wake: Condvar::new(),
            submitted: CachePadded::new(AtomicU64::new(0)),
            rejected: AtomicU64::new(0),
            busy: CachePadded::new(AtomicUsize::new(0)),
            stats: (0..config.threads)
                .map(|_| CachePadded::default())
                .collect(),
            shutdown: AtomicBool::new(false),
            released: AtomicBool::new(false),
            alive: Mutex::new(0),
            exited: Condvar::new(),
            dropped: AtomicUsize::new(0),
            config,
        });
        for (index, deque) in deques.into_iter().enumerate() {
            let worker = inner.clone();
            *inner.alive.lock() += 1;
            let spawned = thread::Builder::new()
                .name(format!("{}-{index}", inner.config.thread_name))
                .spawn(move || worker.run_thread(index, deque));
            if let Err(e) = spawned {
                *inner.alive.lock() -= 1;
                tracing::error!(error = %e, index, "worker pool: could not start a thread");
            }
        }
        inner
    }

    fn id(&self) -> usize {
        self as *const Inner as usize
    }

    /// Queues `job`, taking a queue slot first unless the caller holds one.
    pub(crate) fn submit(&self, mut job: Job, have_slot: bool) -> Result<(), JobError> {
        if self.shutdown.load(Ordering::Acquire) {
            if have_slot {
                self.slots.release();
            }
            return Err(JobError::shut_down(POOL));
        }
        if !have_slot && let Err(full) = take_slot(&self.slots, POOL) {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(full);
        }
        let number = self.submitted.fetch_add(1, Ordering::Relaxed);
        if number.is_multiple_of(JOB_TIME_SAMPLE) {
            job.enqueued = Some(Instant::now());
        }
        let id = self.id();
        let job = LOCAL.with(|local| match &*local.borrow() {
            Some((pool, deque)) if *pool == id => {
                deque.push(job);
                None
            }
            _ => Some(job),
        });
        if let Some(job) = job {
            self.injector.push(job);
        }
        fence(Ordering::SeqCst);
        if self.shutdown.load(Ordering::SeqCst) {
            // Shutdown began between the check above and the push, and its drain may
            // have missed this job: drop it here so its handle resolves (the fence pairs
            // with the one in `shutdown`: one of the two drains sees the job).
            self.drain_queues();
            return Ok(());
        }
        // A spinning worker finds the job, or passes it on when it stops (see the module
        // docs): no wake from here while one spins.
        if self.spinning.load(Ordering::SeqCst) == 0 && self.sleeping.load(Ordering::SeqCst) > 0 {
            self.wake_one();
        }
        Ok(())
    }

    fn wake_one(&self) {
        let mut tokens = self.tokens.lock();
        if *tokens < self.sleeping.load(Ordering::SeqCst) {
            *tokens += 1;
            self.wake.notify_one();
        }
    }

    /// Wakes every sleeping worker (shutdown, release).
    pub(crate) fn wake_all(&self) {
        let _tokens = self.tokens.lock();
        self.wake.notify_all();
    }

    fn find_job(&self, index: usize, local: &Worker<Job>) -> Option<Job> {
        if let Some(job) = local.pop() {
            return Some(job);
        }
        loop {
            let mut retry = false;
            match self.injector.steal_batch_and_pop(local) {
                Steal::Success(job) => return Some(self.share_batch(local, job)),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            for (i, stealer) in self.stealers.iter().enumerate() {
                if i == index {
                    continue;
                }
                match stealer.steal_batch_and_pop(local) {
                    Steal::Success(job) => return Some(self.share_batch(local, job)),
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return None;
            }
        }
    }

    /// After a batch steal: the jobs that came along now sit in this thread's deque, where
    /// a worker that looked for work while they were in transit (gone from their source,
    /// not yet in `local`) did not see them and may have gone to sleep. Same fence
    /// pattern as a submit: either that worker's second look (step 2) finds them, or this
    /// thread sees it sleeping and wakes it — without this, jobs could wait in the deque
    /// of a worker that is itself blocked (found by `size_is_a_hard_cap`, rarely).
    fn share_batch(&self, local: &Worker<Job>, job: Job) -> Job {
        if !local.is_empty() {
            fence(Ordering::SeqCst);
            if self.sleeping.load(Ordering::SeqCst) > 0 {
                self.wake_one();
            }
        }
        job
    }

    /// Looks for a job with the thread's own deque, which lives in `LOCAL`.
    fn find(&self, index: usize) -> Option<Job> {
        LOCAL.with(|local| {
            let local = local.borrow();
            let (_, deque) = local.as_ref().expect("worker deque installed");
            self.find_job(index, deque)
        })
    }

    fn run_thread(self: Arc<Self>, index: usize, deque: Worker<Job>) {
        if let Some(cpus) = &self.config.cpus {
            let id = cpus[index % cpus.len()];
            if !core_affinity::set_for_current(core_affinity::CoreId { id }) {
                tracing::warn!(index, cpu = id, "worker pool: could not pin thread");
            }
        }
        LOCAL.with(|local| *local.borrow_mut() = Some((self.id(), deque)));
        let backoff = Backoff::new();
        // Whether this thread already spun since its last job: once per dry spell.
        let mut spun = false;
        loop {
            if self.shutdown.load(Ordering::Acquire) {
                break;
            }
            if let Some(job) = self.find(index) {
                backoff.reset();
                spun = false;
                self.run_job(index, job);
                continue;
            }
            if !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            if !spun
                && !self.config.spin.is_zero()
                && self
                    .spinning
                    .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                spun = true;
                let job = self.spin_for_work(index);
                self.spinning.store(0, Ordering::SeqCst);
                fence(Ordering::SeqCst);
                // Submits skipped their wake while this thread spun: pass their jobs on.
                if self.has_work() && self.sleeping.load(Ordering::SeqCst) > 0 {
                    self.wake_one();
                }
                if let Some(job) = job {
                    backoff.reset();
                    spun = false;
                    self.run_job(index, job);
                }
                continue;
            }
            if !self.sleep(index) {
                break;
            }
            backoff.reset();
            spun = false;
        }
        // Shutdown (or release): drop what is left in this thread's deque.
        let left = LOCAL.with(|local| local.borrow_mut().take());
        if let Some((_, deque)) = left {
            while let Some(job) = deque.pop() {
                self.slots.release();
                self.dropped.fetch_add(1, Ordering::Relaxed);
                drop(job);
            }
        }
        let mut alive = self.alive.lock();
        *alive -= 1;
        self.exited.notify_all();
    }

    /// Looks for a job until one turns up, the spin passes, or the pool stops or is
    /// released; the caller has raised `spinning`.
    #[cfg(not(all(test, loom)))]
    fn spin_for_work(&self, index: usize) -> Option<Job> {
        let until = Instant::now() + self.config.spin;
        let mut round = 0u32;
        loop {
            if let Some(job) = self.find(index) {
                return Some(job);
            }
            if self.shutdown.load(Ordering::Acquire) || self.released.load(Ordering::Acquire) {
                return None;
            }
            // The clock every 16 looks; a yield now and then, so a spinning worker never
            // keeps a core from a thread that has work.
            round = round.wrapping_add(1);
            if round.is_multiple_of(16) {
                if Instant::now() >= until {
                    return None;
                }
                thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }

    /// Under loom there is no clock: one more look.
    #[cfg(all(test, loom))]
    fn spin_for_work(&self, index: usize) -> Option<Job> {
        self.find(index)
    }

    /// Steps 1–3 of the sleep protocol. `false` when the thread should exit.
    fn sleep(&self, index: usize) -> bool {
        self.sleeping.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if let Some(job) = self.find(index) {
            self.sleeping.fetch_sub(1, Ordering::SeqCst);
            self.run_job(index, job);
            return true;
        }
        let mut tokens = self.tokens.lock();
        loop {
            if self.shutdown.load(Ordering::Acquire) || self.released.load(Ordering::Acquire) {
                self.sleeping.fetch_sub(1, Ordering::SeqCst);
                return !self.shutdown.load(Ordering::Acquire) && self.has_work();
            }
            if *tokens > 0 {
                *tokens -= 1;
                self.sleeping.fetch_sub(1, Ordering::SeqCst);
                return true;
            }
            self.wake.wait(&mut tokens);
        }
    }

    fn has_work(&self) -> bool {
        !self.injector.is_empty() || self.stealers.iter().any(|s| !s.is_empty())
    }

    fn run_job(&self, index: usize, job: Job) {
        self.slots.release();
        let stats = &self.stats[index];
        self.busy.fetch_add(1, Ordering::Relaxed);
        // Only a sampled job reads the clock (three reads cost as much as a tiny job's
        // hand-off); it stands for `JOB_TIME_SAMPLE` jobs in both histograms.
        let timed = job.enqueued.map(|enqueued| (enqueued, Instant::now()));
        job.run.run(&|outcome| {
            self.busy.fetch_sub(1, Ordering::Relaxed);
            let counter = match outcome {
                Outcome::Skipped => &stats.cancelled,
                Outcome::TimedOut => &stats.timed_out,
                Outcome::Completed => &stats.completed,
                Outcome::Panicked => &stats.panicked,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            if let Some((enqueued, started)) = timed
                && matches!(outcome, Outcome::Completed | Outcome::Panicked)
            {
                stats
                    .queue_wait
                    .record_n(started.saturating_duration_since(enqueued), JOB_TIME_SAMPLE);
                stats.run_time.record_n(started.elapsed(), JOB_TIME_SAMPLE);
            }
        });
    }

    /// Takes every queued job out of the injector and every worker's deque and drops it
    /// (its handle reports shutdown), counting it in `dropped`.
    fn drain_queues(&self) {
        let queues = std::iter::once(Either::Injector(&self.injector))
            .chain(self.stealers.iter().map(Either::Stealer));
        for queue in queues {
            loop {
                let stolen = match queue {
                    Either::Injector(injector) => injector.steal(),
                    Either::Stealer(stealer) => stealer.steal(),
                };
                match stolen {
                    Steal::Success(job) => {
                        self.slots.release();
                        self.dropped.fetch_add(1, Ordering::Relaxed);
                        drop(job);
                    }
                    Steal::Retry => continue,
                    Steal::Empty => break,
                }
            }
        }
    }

    /// The last user handle is gone: workers exit once the queues are empty.
    pub(crate) fn release(&self) {
        self.released.store(true, Ordering::Release);
        self.wake_all();
    }

    /// Stops taking jobs, drops queued ones, waits up to `timeout` for running ones.
    pub(crate) fn shutdown(&self, timeout: std::time::Duration) -> ShutdownReport {
        let start = Instant::now();
        self.shutdown.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.slots.close();
        self.wake_all();
        // Every queue, the workers' own deques included: a busy worker would drop what
        // its jobs queued locally only once its job ends, maybe after the deadline, and
        // the report would miss them.
        self.drain_queues();
        let deadline = start + timeout;
        let mut alive = self.alive.lock();
        while *alive > 0 {
            if self.exited.wait_until(&mut alive, deadline).timed_out() {
                break;
            }
        }
        drop(alive);
        let report = ShutdownReport::new(
            POOL,
            self.dropped.load(Ordering::Relaxed),
            self.busy.load(Ordering::Relaxed),
            start.elapsed(),
        );
        if !report.is_clean() {
            tracing::warn!(%report, "worker pool shutdown left work behind");
        }
        report
    }

    pub(crate) fn metrics(&self) -> WorkerMetrics {
        let sum = |f: fn(&WorkerStats) -> &AtomicU64| -> u64 {
            self.stats
                .iter()
                .map(|s| f(s).load(Ordering::Relaxed))
                .sum()
        };
        let merged = |f: fn(&WorkerStats) -> &Histogram| {
            let mut all = HistogramSnapshot::default();
            self.stats.iter().for_each(|s| all.merge(&f(s).snapshot()));
            all
        };
        let threads = *self.alive.lock();
        let busy = self.busy.load(Ordering::Relaxed);
        WorkerMetrics {
            max_threads: self.config.threads,
            threads,
            busy,
            idle: threads.saturating_sub(busy),
            queue_depth: self.slots.used(),
            queue_capacity: self.slots.limit(),
            waiting_for_room: self.slots.waiting(),
            submitted: self.submitted.load(Ordering::Relaxed),
            completed: sum(|s| &s.completed),
            rejected: self.rejected.load(Ordering::Relaxed),
            panicked: sum(|s| &s.panicked),
            cancelled: sum(|s| &s.cancelled) + self.dropped.load(Ordering::Relaxed) as u64,
            timed_out: sum(|s| &s.timed_out),
            queue_wait: merged(|s| &s.queue_wait),
            run_time: merged(|s| &s.run_time),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::workers::Builder;

    #[test]
    fn jobs_spawned_by_jobs_stay_local() {
        let pool = Builder::new().threads(1).build().unwrap();
        let inner = pool.inner().clone();
        let child_pool = pool.clone();
        let injector_empty_after_nested_submit = crate::block_on(async move {
            pool.spawn(move || {
                let child = child_pool.spawn(|| 1).unwrap();
                let local = inner.injector.is_empty();
                (local, child)
            })
            .unwrap()
            .await
            .unwrap()
        });
        let (local, child) = injector_empty_after_nested_submit;
        assert!(local, "a nested job went to the global injector");
        assert_eq!(crate::block_on(child).unwrap(), 1);
    }
}
