//! The blocking pool's machinery: the per-class queues, the threads (started lazily, up
//! to the size; exiting when idle past the keep-alive, down to the floor), the class
//! caps, and the counters behind [`BlockingMetrics`].
//!
//! # State and who touches it
//!
//! Everything that decides which thread runs what lives in one [`State`] behind one
//! mutex: the class queues, `running` per class, and the thread counts `threads`, `idle`,
//! `notified`, `starting` and `spinning`. A submit and a job hand-off each take the lock
//! once; the job itself runs with the lock released.
//!
//! 1. `threads` counts live threads, including ones spawned but not yet running
//!    (`starting`). It never exceeds the configured size: the hard cap.
//! 2. `idle` counts threads waiting on the `work` condvar. Only the thread that *wakes*
//!    one (see `kick`) moves it from `idle` to `notified`; the woken thread takes the
//!    `notified` token. A thread woken by a timeout finds no token and may exit.
//! 3. `kick` runs after every submit and every hand-off: it counts the queued jobs that
//!    could start now under the class caps, subtracts the threads already on their way
//!    (`notified + starting + spinning`), and wakes idle threads, then spawns new ones,
//!    for the rest.
//! 4. `pick` takes the oldest job (by submit sequence) among classes below their cap,
//!    and counts it in `running`. A job of a class at its cap waits while others pass.
//! 5. A queue slot (`QueueSlots`) is given back when `pick` takes the job, so the bound
//!    counts waiting jobs only.
//! 6. A thread that finds no job, when no other thread is `spinning`, raises `spinning`,
//!    releases the lock and watches the lock-free `queued` count (kept equal to the
//!    queues' length under the lock) for up to the configured spin. `kick` counts it
//!    among the threads on their way, so a submit while it spins wakes nobody. It then
//!    retakes the lock, lowers `spinning` and tries `pick` once more before it waits
//!    idle, so a job submitted while it spun is never left for a wake that did not come.
//!
//! Shutdown (in `shutdown.rs`) sets `shutdown`, takes every queued job out, and waits on
//! the `exited` condvar, which threads signal when they finish a job or exit.
//!
//! The lock, the condvars and the threads come from the [`loom`](crate::loom) shim: the
//! loom model `src/tests/loom_blocking.rs` checks submit, hand-off, idle exit and
//! shutdown against each other.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::builder::Config;
use super::metrics::{BlockingMetrics, ClassMetrics};
use super::{Class, JobError};
use crate::histogram::Histogram;
use crate::jobs::cell::{self, Sender};
use crate::jobs::{Bounded, JobResult, QueueSlots, QueuedJob, RanOutcome, run_and_send, take_slot};
// From the shim so `src/tests/loom_blocking.rs` can model-check the hand-off and
// shutdown protocol (the counters in `ClassStats` stay plain atomics: nothing waits on
// them).
use crate::loom::sync::atomic::AtomicUsize as QueuedCount;
use crate::loom::sync::{Condvar, Mutex, MutexGuard};
use crate::loom::thread;

/// The name in errors and reports.
pub(crate) const POOL: &str = "blocking";

/// How a job ended, as counted in the metrics.
pub(crate) enum Outcome {
    Completed,
    Panicked,
    /// Its handle was dropped before it started: it never ran.
    Skipped,
}

impl RanOutcome for Outcome {
    const COMPLETED: Outcome = Outcome::Completed;
    const PANICKED: Outcome = Outcome::Panicked;
}

/// A queued job.
pub(crate) struct Job {
    seq: u64,
    class: Class,
    enqueued: Instant,
    /// Runs the job; calls its argument with the outcome *before* the result is sent, so
    /// whoever awaits the result sees the job counted.
    run: QueuedJob<Outcome>,
}

impl Job {
    /// Wraps `f` so that it sends its result (or its panic) to the returned handle, and
    /// is skipped when the handle is gone before it starts.
    pub(crate) fn new<F, T>(class: Class, f: F) -> (Job, JobResult<T>)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let context = crate::task_context::current();
        let (run, result) = cell::job(POOL, move |tx: Sender<'_, T>, report: &dyn Fn(Outcome)| {
            if tx.is_closed() {
                return report(Outcome::Skipped);
            }
            run_and_send(POOL, context, f, tx, report);
        });
        let job = Job {
            seq: 0,
            class,
            enqueued: Instant::now(),
            run,
        };
        (job, result)
    }
}

/// Per-class counters, updated without the state lock.
#[derive(Default)]
struct ClassStats {
    submitted: AtomicU64,
    completed: AtomicU64,
    rejected: AtomicU64,
    panicked: AtomicU64,
    cancelled: AtomicU64,
    queue_wait: Histogram,
    run_time: Histogram,
}

pub(crate) struct State {
    queues: [VecDeque<Job>; Class::COUNT],
    next_seq: u64,
    pub(crate) running: [usize; Class::COUNT],
    pub(crate) threads: usize,
    idle: usize,
    notified: usize,
    starting: usize,
    /// Threads between "found no job" and "waiting idle", watching `queued` (rule 6): 0 or 1.
    spinning: usize,
    pub(crate) shutdown: bool,
    /// Every user handle is gone: idle threads exit at once instead of after keep-alive.
    released: bool,
}

impl State {
    pub(crate) fn busy(&self) -> usize {
        self.running.iter().sum()
    }
}

/// The pool: shared by its handles, its threads and its permits.
pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) state: Mutex<State>,
    /// Idle threads wait here for a job.
    work: Condvar,
    /// Signalled when a thread finishes a job during shutdown, or exits.
    pub(crate) exited: Condvar,
    pub(crate) slots: QueueSlots,
    /// The queues' total length, written under the state lock and read without it by a
    /// spinning thread (rule 6).
    queued: QueuedCount,
    stats: [ClassStats; Class::COUNT],
    thread_ids: AtomicUsize,
}

impl Inner {
    pub(crate) fn new(config: Config) -> Inner {
        Inner {
            slots: QueueSlots::new(config.queue_capacity),
            state: Mutex::new(State {
                queues: Default::default(),
                next_seq: 0,
                running: [0; Class::COUNT],
                threads: 0,
                idle: 0,
                notified: 0,
                starting: 0,
                spinning: 0,
                shutdown: false,
                released: false,
            }),
            work: Condvar::new(),
            exited: Condvar::new(),
            queued: QueuedCount::new(0),
            stats: Default::default(),
            thread_ids: AtomicUsize::new(0),
            config,
        }
    }

    /// Submits `job`, taking a queue slot first unless the caller holds one.
    pub(crate) fn submit(self: &Arc<Self>, mut job: Job, have_slot: bool) -> Result<(), JobError> {
        let class = job.class;
        if !have_slot && let Err(full) = take_slot(&self.slots, POOL) {
            self.stats[class.index()]
                .rejected
                .fetch_add(1, Ordering::Relaxed);
            return Err(full);
        }
        let mut state = self.state.lock();
        if state.shutdown {
            drop(state);
            self.slots.release();
            drop(job);
            return Err(JobError::shut_down(POOL));
        }
        job.seq = state.next_seq;
        state.next_seq += 1;
        state.queues[class.index()].push_back(job);
        self.queued.fetch_add(1, Ordering::Release);
        self.stats[class.index()]
            .submitted
            .fetch_add(1, Ordering::Relaxed);
        let spawn = self.kick(&mut state);
        drop(state);
        self.spawn_threads(spawn);
        Ok(())
    }

    /// Wakes or plans threads for the jobs that could start now (rule 3); returns how
    /// many threads to spawn once the lock is released.
    fn kick(&self, state: &mut State) -> usize {
        let startable: usize = Class::ALL
            .iter()
            .map(|c| {
                let i = c.index();
                state.queues[i]
                    .len()
                    .min(self.config.caps[i].saturating_sub(state.running[i]))
            })
            .sum();
        let mut want = startable.saturating_sub(state.notified + state.starting + state.spinning);
        let mut spawn = 0;
        while want > 0 {
            if state.idle > 0 {
                state.idle -= 1;
                state.notified += 1;
                self.work.notify_one();
            } else if state.threads < self.config.threads {
                state.threads += 1;
                state.starting += 1;
                spawn += 1;
            } else {
                break;
            }
            want -= 1;
        }
        spawn
    }

    fn spawn_threads(self: &Arc<Self>, n: usize) {
        for _ in 0..n {
            let id = self.thread_ids.fetch_add(1, Ordering::Relaxed);
            let inner = self.clone();
            let spawned = thread::Builder::new()
                .name(format!("{}-{id}", self.config.thread_name))
                .spawn(move || inner.run_thread());
            if let Err(e) = spawned {
                tracing::error!(error = %e, "blocking pool: could not start a thread");
                let mut state = self.state.lock();
                state.threads -= 1;
                state.starting -= 1;
            }
        }
    }

    /// Takes every queued job out (for shutdown).
    pub(crate) fn drain(&self, state: &mut State) -> Vec<Job> {
        self.queued.store(0, Ordering::Relaxed);
        state.queues.iter_mut().flat_map(|q| q.drain(..)).collect()
    }

    /// Takes the oldest job among classes below their cap (rule 4).
    fn pick(&self, state: &mut State) -> Option<Job> {
        let class = Class::ALL
            .into_iter()
            .filter(|c| state.running[c.index()] < self.config.caps[c.index()])
            .filter_map(|c| state.queues[c.index()].front().map(|job| (job.seq, c)))
            .min()?
            .1;
        state.running[class.index()] += 1;
        self.queued.fetch_sub(1, Ordering::Relaxed);
        state.queues[class.index()].pop_front()
    }

    /// A pool thread's life: run jobs while there are any, wait idle up to the
    /// keep-alive, exit when idle too long above the floor, or at shutdown.
    fn run_thread(self: Arc<Self>) {
        let mut state = self.state.lock();
        state.starting -= 1;
        // Whether this thread already spun since its last job: it spins once per dry spell.
        let mut spun = false;
        loop {
            if let Some(job) = self.pick(&mut state) {
                let spawn = self.kick(&mut state);
                drop(state);
                self.spawn_threads(spawn);
                self.slots.release();
                let class = job.class;
                self.run_job(job);
                state = self.state.lock();
                state.running[class.index()] -= 1;
                if state.shutdown {
                    self.exited.notify_all();
                }
                spun = false;
                continue;
            }
            if state.shutdown {
                break;
            }
            if !spun && state.spinning == 0 && !state.released && !self.config.spin.is_zero() {
                // Rule 6: look without the lock for a while, then `pick` again.
                spun = true;
                state.spinning += 1;
                drop(state);
                self.spin_for_work(self.config.spin);
                state = self.state.lock();
                state.spinning -= 1;
                continue;
            }
            if !self.wait_for_work(&mut state) {
                break;
            }
            spun = false;
        }
        state.threads -= 1;
        self.exited.notify_all();
    }

    /// Watches `queued` until a job appears or `spin` passes (rule 6); the caller holds no
    /// lock and retakes it to `pick`.
    #[cfg(not(all(test, loom)))]
    fn spin_for_work(&self, spin: Duration) {
        let until = Instant::now() + spin;
        let mut round = 0u32;
        while self.queued.load(Ordering::Acquire) == 0 {
            // Check the clock every 64 rounds; yield now and then so a spinning thread
            // never keeps a core from a thread that has work.
            round = round.wrapping_add(1);
            if round.is_multiple_of(64) {
                if Instant::now() >= until {
                    return;
                }
                thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }

    /// Under loom there is no clock: one look, then the caller retakes the lock.
    #[cfg(all(test, loom))]
    fn spin_for_work(&self, _spin: Duration) {
        if self.queued.load(Ordering::Acquire) == 0 {
            thread::yield_now();
        }
    }

    /// Waits idle for a `notified` token. `false` when the thread should exit instead.
    fn wait_for_work(&self, state: &mut MutexGuard<'_, State>) -> bool {
        state.idle += 1;
        let mut deadline = Instant::now() + self.config.keep_alive;
        loop {
            let timed_out = self.work.wait_until(state, deadline).timed_out();
            if state.notified > 0 {
                state.notified -= 1;
                return true;
            }
            if state.shutdown {
                state.idle -= 1;
                return false;
            }
            if (timed_out || state.released) && state.threads > self.config.min_threads {
                state.idle -= 1;
                return false;
            }
            if timed_out {
                deadline = Instant::now() + self.config.keep_alive;
            }
        }
    }

    fn run_job(&self, job: Job) {
        let stats = &self.stats[job.class.index()];
        let started = Instant::now();
        let enqueued = job.enqueued;
        job.run.run(&|outcome| {
            let counter = match outcome {
                Outcome::Skipped => {
                    stats.cancelled.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Outcome::Completed => &stats.completed,
                Outcome::Panicked => &stats.panicked,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            stats
                .queue_wait
                .record(started.saturating_duration_since(enqueued));
            stats.run_time.record(started.elapsed());
        });
    }

    /// Counts queued jobs that shutdown dropped.
    pub(crate) fn count_cancelled(&self, class: Class) {
        self.stats[class.index()]
            .cancelled
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The last user handle is gone: let idle threads go now.
    pub(crate) fn release(&self) {
        self.state.lock().released = true;
        self.work.notify_all();
    }

    /// Wakes every idle thread (shutdown).
    pub(crate) fn wake_all(&self) {
        self.work.notify_all();
    }

    pub(crate) fn metrics(&self) -> BlockingMetrics {
        let state = self.state.lock();
        let classes = Class::ALL
            .into_iter()
            .map(|class| {
                let i = class.index();
                let s = &self.stats[i];
                ClassMetrics {
                    class,
                    cap: self.config.caps[i],
                    running: state.running[i],
                    queued: state.queues[i].len(),
                    submitted: s.submitted.load(Ordering::Relaxed),
                    completed: s.completed.load(Ordering::Relaxed),
                    rejected: s.rejected.load(Ordering::Relaxed),
                    panicked: s.panicked.load(Ordering::Relaxed),
                    cancelled: s.cancelled.load(Ordering::Relaxed),
                    queue_wait: s.queue_wait.snapshot(),
                    run_time: s.run_time.snapshot(),
                }
            })
            .collect();
        BlockingMetrics {
            max_threads: self.config.threads,
            threads: state.threads,
            busy: state.busy(),
            idle: state.threads.saturating_sub(state.busy()),
            queue_depth: state.queues.iter().map(VecDeque::len).sum(),
            queue_capacity: self.config.queue_capacity,
            waiting_for_room: self.slots.waiting(),
            classes,
        }
    }
}

impl Bounded for Inner {
    const POOL: &'static str = POOL;

    fn slots(&self) -> &QueueSlots {
        &self.slots
    }
}

impl Job {
    pub(crate) fn class(&self) -> Class {
        self.class
    }
}
