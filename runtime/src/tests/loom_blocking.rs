//! Models of the blocking pool's hand-off and shutdown protocol (`blocking/pool.rs`,
//! `blocking/shutdown.rs`): a submit racing with `shutdown`, and with an idle thread
//! deciding to exit.
//!
//! The real `Inner` runs here — its state lock, its `work` and `exited` condvars and its
//! threads come from the [`loom`](crate::loom) shim — with one thread at most, so every
//! model stays small. loom has no clock, so the keep-alive is either zero (an idle
//! thread's wait times out at once: the idle-exit path) or an hour (a wait lasts until a
//! notify: a lost notify hangs the model, which loom reports as a deadlock); see the
//! shim's `Condvar`. Not modelled: class caps with several classes (one job class), the
//! `released` path, panicking jobs, and a shutdown whose deadline passes.

use std::sync::Arc;
use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::{Condvar, Mutex};
use loom::thread;

use crate::blocking::builder::Config;
use crate::blocking::pool::{Inner, Job};
use crate::blocking::shutdown::shutdown;
use crate::blocking::{Class, JobError};
use crate::jobs::JobResult;

/// Long enough never to pass in a model: waits last until notified.
const LONG: Duration = Duration::from_secs(3600);

/// Any non-zero spin: under loom a spinning thread looks at `queued` once (no clock).
const SPIN: Duration = Duration::from_micros(1);

fn pool(keep_alive: Duration, spin: Duration) -> Arc<Inner> {
    Arc::new(Inner::new(Config {
        threads: 1,
        min_threads: 0,
        keep_alive,
        spin,
        queue_capacity: 4,
        caps: [1; Class::COUNT],
        thread_name: "loom-blocking".into(),
    }))
}

type Receiver = JobResult<()>;

/// Submits a job that counts its runs in `runs`.
fn submit(inner: &Arc<Inner>, runs: &Arc<AtomicUsize>) -> (Result<(), JobError>, Receiver) {
    let runs = runs.clone();
    let (job, rx) = Job::new(Class::User, move || {
        runs.fetch_add(1, Ordering::SeqCst);
    });
    (inner.submit(job, false), rx)
}

/// A job is submitted (its thread may be starting, running it, or idle), then a submit
/// from another thread races with `shutdown`. Every job submitted before shutdown runs
/// exactly once (shutdown waits for it) or is reported cancelled — never lost, never
/// run twice — and its handle resolves; a submit that loses the race fails with the
/// shutdown error. Every thread exits (a thread left waiting would hang the model), and
/// a submit after shutdown fails. Run with both keep-alives, so an idle thread may also
/// be on its way out when shutdown comes.
#[test]
fn submit_races_with_shutdown() {
    for keep_alive in [LONG, Duration::ZERO] {
        for spin in [Duration::ZERO, SPIN] {
            loom::model(move || submit_and_shutdown(keep_alive, spin));
        }
    }
}

/// One run of [`submit_races_with_shutdown`].
fn submit_and_shutdown(keep_alive: Duration, spin: Duration) {
    let inner = pool(keep_alive, spin);
    let runs = Arc::new(AtomicUsize::new(0));
    let (first, first_rx) = submit(&inner, &runs);
    first.unwrap();
    let submitter = {
        let inner = inner.clone();
        let runs = runs.clone();
        thread::spawn(move || submit(&inner, &runs))
    };

    let report = shutdown(&inner, LONG);

    let (submitted, rx) = submitter.join().unwrap();
    let accepted = match submitted {
        Ok(()) => 2,
        Err(e) => {
            assert!(e.is_shutdown(), "{e}");
            1
        }
    };
    let runs = runs.load(Ordering::SeqCst);
    assert_eq!(
        runs + report.cancelled(),
        accepted,
        "{accepted} jobs submitted before shutdown: {runs} runs, {} reported cancelled",
        report.cancelled()
    );
    assert!(first_rx.is_finished(), "a job's handle never resolves");
    assert!(rx.is_finished(), "a job's handle never resolves");
    assert_eq!(report.still_running(), 0);
    assert_eq!(inner.state.lock().threads, 0);
    assert_eq!(inner.slots.used(), 0, "a queue slot leaked");

    let (late, _rx) = submit(&inner, &Arc::new(AtomicUsize::new(0)));
    assert!(late.unwrap_err().is_shutdown());
}

/// Jobs done so far, and a condvar signalled at each.
#[derive(Default)]
struct Done {
    count: Mutex<usize>,
    cond: Condvar,
}

impl Done {
    fn job(self: &Arc<Self>) -> impl FnOnce() + Send + 'static {
        let done = self.clone();
        move || {
            *done.count.lock().unwrap() += 1;
            done.cond.notify_all();
        }
    }

    /// Returns once `n` jobs are done; a job left queued with no thread to run it hangs
    /// the model, which loom reports as a deadlock.
    fn wait_for(&self, n: usize) {
        let mut count = self.count.lock().unwrap();
        while *count < n {
            count = self.cond.wait(count).unwrap();
        }
    }
}

/// With a zero keep-alive the pool's one thread exits as soon as it finds no job. A
/// second submit races with that exit: it either hands the job to the thread before it
/// goes (a wake token) or, once the thread is counted out, starts a new one — the job is
/// never left queued with no thread coming for it. Then shutdown finds nothing left.
///
/// With a spin, the thread first watches the queue without the lock (rule 6 of
/// `blocking/pool.rs`), so the second submit may wake nobody; with the hour-long
/// keep-alive too, a job the spinner missed would wait for a wake that never comes.
#[test]
fn submit_races_with_idle_exit() {
    for (keep_alive, spin) in [
        (Duration::ZERO, Duration::ZERO),
        (Duration::ZERO, SPIN),
        (LONG, SPIN),
    ] {
        loom::model(move || submit_and_idle(keep_alive, spin));
    }
}

fn submit_and_idle(keep_alive: Duration, spin: Duration) {
    {
        let inner = pool(keep_alive, spin);
        let done = Arc::new(Done::default());
        let (job, _first) = Job::new(Class::User, done.job());
        inner.submit(job, false).unwrap();
        let submitter = {
            let inner = inner.clone();
            let done = done.clone();
            thread::spawn(move || {
                let (job, rx) = Job::new(Class::User, done.job());
                inner.submit(job, false).unwrap();
                rx
            })
        };

        done.wait_for(2);

        let _second = submitter.join().unwrap();
        let report = shutdown(&inner, LONG);
        assert!(report.is_clean(), "{report}");
        assert_eq!(inner.state.lock().threads, 0);
    }
}
