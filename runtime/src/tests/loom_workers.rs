//! Models of the worker pool's sleep/wake and shutdown protocol (`workers/pool.rs`): a
//! submit racing with `shutdown`, and a batch steal whose jobs a sleeping worker must
//! be woken for (`share_batch`).
//!
//! The real `Inner` runs here — `submit`, the workers' `find_job`/`sleep` loop,
//! `share_batch`, `drain_queues` and `shutdown` — with its atomics, fences, lock,
//! condvars, threads and thread-local deque from the [`loom`](crate::loom) shim.
//! crossbeam-deque itself cannot run under loom here (its epoch-based memory reclamation
//! would need crossbeam's own loom build and blow up the state space), so the shim models
//! it: the injector and the workers' deques are loom-locked FIFOs whose `is_empty` reads
//! a length without the lock (it may be stale), and a batch steal takes the real share
//! and moves it in two steps, so the batch is in transit — in neither deque — for a
//! moment, as in the real one. Each model runs with the spin off and on; under loom the
//! spin is one more look while `spinning` is raised (no clock), so the submits that skip
//! their wake meanwhile, and the spinner's hand-on of their jobs, are in the model. Not
//! modelled: `Steal::Retry`, the `Backoff` spin before it (a worker that finds nothing
//! goes straight on), jobs submitted from a worker (to its own deque), start deadlines,
//! and the `released` path.

use std::sync::Arc;
use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::{Condvar, Mutex};
use loom::thread;

use crate::jobs::JobResult;
use crate::workers::JobError;
use crate::workers::builder::Config;
use crate::workers::pool::{Inner, Job};

type Receiver = JobResult<()>;

/// Long enough never to pass in a model: shutdown waits for every worker.
const LONG: Duration = Duration::from_secs(3600);

/// Any non-zero spin: under loom a spinning worker looks once more.
const SPIN: Duration = Duration::from_micros(1);

fn pool(threads: usize, spin: Duration) -> Arc<Inner> {
    Inner::start(Config {
        threads,
        queue_capacity: 4,
        spin,
        cpus: None,
        thread_name: "loom-workers".into(),
    })
}

/// How the model's jobs ended: run, or dropped without running.
#[derive(Default)]
struct Ends {
    runs: AtomicUsize,
    drops: AtomicUsize,
}

/// Carried by a job: counts the job's end in [`Ends`] exactly once, as a run or, when
/// the job is dropped unrun (shutdown's drain, a failed submit), as a drop.
struct Ticket {
    ends: Arc<Ends>,
    ran: bool,
}

impl Ticket {
    /// The job's body: it ran.
    fn run(mut self) {
        self.ran = true;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let end = if self.ran {
            &self.ends.runs
        } else {
            &self.ends.drops
        };
        end.fetch_add(1, Ordering::SeqCst);
    }
}

/// Submits a job that carries a [`Ticket`].
fn submit(inner: &Inner, ends: &Arc<Ends>) -> (Result<(), JobError>, Receiver) {
    let ticket = Ticket {
        ends: ends.clone(),
        ran: false,
    };
    let (job, rx) = Job::new(move || ticket.run(), None);
    (inner.submit(job, false), rx)
}

/// Two workers; a job is submitted (a worker may be running it, holding it in its deque,
/// or asleep), then a submit from another thread races with `shutdown`. Each job runs once, or is dropped
/// from the queues (by shutdown's drain, the submitter's own drain after it sees the
/// flag, or the worker's exit) — never left in a queue of a pool that is gone, never run
/// twice — and its handle resolves; or the racing submit fails with the shutdown error.
/// The workers always exit (one left asleep would hang the model), and a submit after
/// shutdown fails.
#[test]
fn submit_races_with_shutdown() {
    for spin in [Duration::ZERO, SPIN] {
        loom::model(move || submit_and_shutdown(spin));
    }
}

fn submit_and_shutdown(spin: Duration) {
    {
        let inner = pool(2, spin);
        let ends = Arc::new(Ends::default());
        let (first, first_rx) = submit(&inner, &ends);
        first.unwrap();
        let submitter = {
            let inner = inner.clone();
            let ends = ends.clone();
            thread::spawn(move || submit(&inner, &ends))
        };

        let report = inner.shutdown(LONG);

        let (submitted, rx) = submitter.join().unwrap();
        let runs = ends.runs.load(Ordering::SeqCst);
        let drops = ends.drops.load(Ordering::SeqCst);
        assert_eq!(
            runs + drops,
            2,
            "{runs} runs and {drops} drops for two jobs: one is still queued in a pool \
             that shut down, or ended twice"
        );
        if let Err(e) = submitted {
            assert!(e.is_shutdown(), "{e}");
            assert!(drops >= 1, "a job whose submit failed ran");
        }
        assert!(first_rx.is_finished(), "a job's handle never resolves");
        assert!(rx.is_finished(), "a job's handle never resolves");
        assert_eq!(report.still_running(), 0);
        assert_eq!(inner.slots.used(), 0, "a queue slot leaked");

        let (job, _rx) = Job::new(|| (), None);
        assert!(inner.submit(job, false).unwrap_err().is_shutdown());
    }
}

/// Jobs done so far, and a condvar signalled at each.
#[derive(Default)]
struct Done {
    count: Mutex<usize>,
    cond: Condvar,
}

impl Done {
    fn finish(&self) {
        *self.count.lock().unwrap() += 1;
        self.cond.notify_all();
    }

    /// Returns once `n` jobs are done. If that never happens loom reports a deadlock.
    fn wait_for(&self, n: usize) {
        let mut count = self.count.lock().unwrap();
        while *count < n {
            count = self.cond.wait(count).unwrap();
        }
    }
}

/// Two workers, three jobs; the first blocks until the other two have run. A worker's
/// batch steal from the injector takes the blocker and the next job (the real share of
/// three is two) and puts that job in its own deque, where it waits behind the blocker.
/// A second worker that looked while the batch was in transit saw nothing and went to
/// sleep; only `share_batch`'s wake gets it up to steal that job. Without it the
/// blocker waits forever, which loom reports as a deadlock. With the spin on, the
/// submits may also skip their wake while a worker spins, and only that worker's
/// hand-on gets the other one up.
#[test]
fn batch_steal_wakes_a_sleeper() {
    for spin in [Duration::ZERO, SPIN] {
        loom::model(move || batch_steal(spin));
    }
}

fn batch_steal(spin: Duration) {
    {
        let inner = pool(2, spin);
        let done = Arc::new(Done::default());
        let mut handles = Vec::new();
        let blocker = {
            let done = done.clone();
            move || {
                done.wait_for(2);
                done.finish();
            }
        };
        let (job, rx) = Job::new(blocker, None);
        inner.submit(job, false).unwrap();
        handles.push(rx);
        for _ in 0..2 {
            let done = done.clone();
            let (job, rx) = Job::new(move || done.finish(), None);
            inner.submit(job, false).unwrap();
            handles.push(rx);
        }

        done.wait_for(3);

        let report = inner.shutdown(LONG);
        assert!(report.is_clean(), "{report}");
    }
}

/// Two workers with the spin on, two jobs; the first blocks until the second has run.
/// Both submits may come while one worker spins (so neither wakes anybody) and the other
/// sleeps; the spinner takes the first job alone (a batch of one leaves its deque empty,
/// so `share_batch` wakes nobody either). Only the spinner's hand-on, when it stops
/// spinning and sees work left, gets the sleeper up for the second job; without it the
/// blocker waits forever, which loom reports as a deadlock.
#[test]
fn a_spinning_worker_hands_on_the_wakes_it_skipped() {
    loom::model(|| {
        let inner = pool(2, SPIN);
        let done = Arc::new(Done::default());
        let blocker = {
            let done = done.clone();
            move || {
                done.wait_for(1);
                done.finish();
            }
        };
        let (job, _first) = Job::new(blocker, None);
        inner.submit(job, false).unwrap();
        let (job, _second) = Job::new(
            {
                let done = done.clone();
                move || done.finish()
            },
            None,
        );
        inner.submit(job, false).unwrap();

        done.wait_for(2);

        let report = inner.shutdown(LONG);
        assert!(report.is_clean(), "{report}");
    });
}
