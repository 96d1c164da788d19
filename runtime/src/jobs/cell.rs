//! [`JobCell`]: one pool job in one allocation — its body, its result and the awaiting
//! task's waker — shared by the queue entry that runs it ([`QueuedJob`]) and the handle
//! that awaits it ([`JobResult`]). Both pools' jobs live in one. It replaced a boxed
//! closure plus a result channel: two allocations per job, and a lock on each side.
//!
//! # Who touches what
//!
//! * `body`: only the cell's one [`QueuedJob`], which is owned by one thread at a time
//!   (it moves between threads through the pools' queues). It takes the body out to run
//!   it; dropped unrun (shutdown drops queued jobs), it drops the body and completes the
//!   job with the pool's shut-down error.
//! * `output`: written at most once, by the queue entry (through [`Sender`]), *before*
//!   `COMPLETE` is set (`Release`); taken only by the handle, after it sees `COMPLETE`
//!   (`Acquire`). Nothing writes it after `COMPLETE`. What the handle never took is
//!   dropped with the cell, on whichever thread lets go of it last (`T: Send`).
//! * `waker`: an [`AtomicWaker`]. The handle registers, then re-checks `COMPLETE`; the
//!   sender sets `COMPLETE`, then wakes. No wake-up is lost either way.
//! * `DETACHED`: set when the handle is dropped; a body that sees it before it starts
//!   skips the job ([`Sender::is_closed`]), which is how a dropped handle cancels.
//!
//! Keel's wakers are `Send + Sync` and route a wake from a pool thread through the
//! owning loop's inject queue, so the awaiting task is polled again on its own loop.

use std::cell::UnsafeCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;

use super::JobError;

/// The result is in `output`.
const COMPLETE: u8 = 1;
/// The handle is gone.
const DETACHED: u8 = 2;

/// A job's result, the state bits and the awaiting task's waker.
struct Slot<T> {
    state: AtomicU8,
    waker: AtomicWaker,
    output: UnsafeCell<Option<Result<T, JobError>>>,
}

/// The allocation: the result slot and the body that fills it.
struct JobCell<T, B> {
    slot: Slot<T>,
    body: UnsafeCell<Option<B>>,
    /// The pool's name, for the shut-down error of a job dropped unrun.
    pool: &'static str,
}

// SAFETY: `body` is touched only by the cell's one `QueuedJob` (owned by one thread at a
// time) and `output` by one side at a time as the `COMPLETE` bit orders them (module
// docs); both hold `Send` values (`B: Send`, `T: Send`), which may therefore be dropped
// or taken on another thread. The state and the `AtomicWaker` are `Send + Sync`.
unsafe impl<T: Send, B: Send> Send for JobCell<T, B> {}
// SAFETY: as for `Send`: every `&self` access follows the rules in the module docs.
unsafe impl<T: Send, B: Send> Sync for JobCell<T, B> {}

/// The queue's view of a cell: run or abandon the body, whatever its result type.
trait RunCell<O>: Send + Sync {
    /// Takes the body out and runs it.
    ///
    /// # Safety
    ///
    /// Called only by the cell's one [`QueuedJob`].
    unsafe fn run(&self, report: &dyn Fn(O));

    /// Drops a body that never ran and completes the job as shut down; nothing when the
    /// body already ran.
    ///
    /// # Safety
    ///
    /// Called only by the cell's one [`QueuedJob`].
    unsafe fn abandon(&self);
}

/// The handle's view of a cell.
trait ResultCell<T>: Send + Sync {
    fn slot(&self) -> &Slot<T>;
}

impl<T, B, O> RunCell<O> for JobCell<T, B>
where
    T: Send,
    B: FnOnce(Sender<'_, T>, &dyn Fn(O)) + Send,
{
    unsafe fn run(&self, report: &dyn Fn(O)) {
        // SAFETY: per the contract only this cell's queue entry touches `body`.
        let body = unsafe { (*self.body.get()).take() };
        if let Some(body) = body {
            body(Sender { slot: &self.slot }, report);
        }
    }

    unsafe fn abandon(&self) {
        // SAFETY: per the contract only this cell's queue entry touches `body`.
        let body = unsafe { (*self.body.get()).take() };
        if let Some(body) = body {
            drop(body);
            Sender { slot: &self.slot }.send(Err(JobError::shut_down(self.pool)));
        }
    }
}

impl<T: Send, B: Send> ResultCell<T> for JobCell<T, B> {
    fn slot(&self) -> &Slot<T> {
        &self.slot
    }
}

/// Creates a job from `body`: the entry that goes into a pool's queue, and the future of
/// its result. `body` gets a [`Sender`] for the result and the pool's outcome callback.
pub(crate) fn job<T, B, O>(pool: &'static str, body: B) -> (QueuedJob<O>, JobResult<T>)
where
    T: Send + 'static,
    B: FnOnce(Sender<'_, T>, &dyn Fn(O)) + Send + 'static,
    O: 'static,
{
    let cell = Arc::new(JobCell {
        slot: Slot {
            state: AtomicU8::new(0),
            waker: AtomicWaker::new(),
            output: UnsafeCell::new(None),
        },
        body: UnsafeCell::new(Some(body)),
        pool,
    });
    let result = JobResult {
        cell: cell.clone(),
        pool,
    };
    (QueuedJob { cell }, result)
}

/// A job as it waits in a pool's queue: runs once, or, dropped unrun, completes its
/// handle with the pool's shut-down error.
pub(crate) struct QueuedJob<O> {
    cell: Arc<dyn RunCell<O>>,
}

impl<O> QueuedJob<O> {
    /// Runs the body; `report` is the pool's outcome callback, which the body calls
    /// before it sends the result.
    pub(crate) fn run(self, report: &dyn Fn(O)) {
        // SAFETY: `self` is the cell's one queue entry; dropping it next only abandons a
        // body that did not run (none, now).
        unsafe { self.cell.run(report) };
    }
}

impl<O> Drop for QueuedJob<O> {
    fn drop(&mut self) {
        // SAFETY: `self` is the cell's one queue entry.
        unsafe { self.cell.abandon() };
    }
}

/// A body's way to its handle: whether the handle still wants the result, and the send.
pub(crate) struct Sender<'a, T> {
    slot: &'a Slot<T>,
}

impl<T> Sender<'_, T> {
    /// Whether the handle was dropped (nobody wants the result any more).
    pub(crate) fn is_closed(&self) -> bool {
        self.slot.state.load(Ordering::Acquire) & DETACHED != 0
    }

    /// Stores the result and wakes the handle's task.
    pub(crate) fn send(self, value: Result<T, JobError>) {
        // SAFETY: only the queue entry writes `output`, and a `Sender` (made only by the
        // queue entry, consumed here) sends at most once, before `COMPLETE` is set; the
        // handle reads `output` only after it sees `COMPLETE`.
        unsafe { *self.slot.output.get() = Some(value) };
        self.slot.state.fetch_or(COMPLETE, Ordering::AcqRel);
        self.slot.waker.wake();
    }
}

/// The awaiting side of one job: a future of `Result<T, JobError>`. Dropping it before
/// the job starts cancels the job.
pub(crate) struct JobResult<T> {
    cell: Arc<dyn ResultCell<T>>,
    pool: &'static str,
}

impl<T> JobResult<T> {
    /// Whether polling would be ready.
    pub(crate) fn is_finished(&self) -> bool {
        self.cell.slot().state.load(Ordering::Acquire) & COMPLETE != 0
    }
}

impl<T> Future for JobResult<T> {
    type Output = Result<T, JobError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let slot = self.cell.slot();
        if slot.state.load(Ordering::Acquire) & COMPLETE == 0 {
            slot.waker.register(cx.waker());
            if slot.state.load(Ordering::Acquire) & COMPLETE == 0 {
                return Poll::Pending;
            }
        }
        // SAFETY: `COMPLETE` was seen with `Acquire`, so the sender's write is visible and
        // nothing writes `output` again; this handle (not `Clone`) is its only reader.
        let output = unsafe { (*slot.output.get()).take() };
        // Polled again after it returned the result: the pool's own error, not a panic.
        Poll::Ready(output.unwrap_or_else(|| Err(JobError::shut_down(self.pool))))
    }
}

impl<T> Drop for JobResult<T> {
    fn drop(&mut self) {
        self.cell.slot().state.fetch_or(DETACHED, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::task::{Wake, Waker};

    use super::*;

    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    fn poll<T>(result: &mut JobResult<T>, flag: &Arc<Flag>) -> Poll<Result<T, JobError>> {
        let waker = Waker::from(flag.clone());
        Pin::new(result).poll(&mut Context::from_waker(&waker))
    }

    fn ready<T>(poll: Poll<Result<T, JobError>>) -> Result<T, JobError> {
        match poll {
            Poll::Ready(result) => result,
            Poll::Pending => panic!("the result is not there"),
        }
    }

    fn doubler(n: u32) -> (QueuedJob<()>, JobResult<u32>) {
        job("test", move |tx: Sender<'_, u32>, report: &dyn Fn(())| {
            if !tx.is_closed() {
                report(());
                tx.send(Ok(n * 2));
            }
        })
    }

    #[test]
    fn a_result_sent_after_a_pending_poll_wakes_the_task() {
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let (queued, mut result) = doubler(21);
        assert!(poll(&mut result, &flag).is_pending());
        assert!(!result.is_finished());
        std::thread::spawn(move || queued.run(&|()| {}))
            .join()
            .unwrap();
        assert!(flag.0.load(Ordering::SeqCst));
        assert!(result.is_finished());
        assert_eq!(ready(poll(&mut result, &flag)).unwrap(), 42);
    }

    #[test]
    fn a_job_dropped_unrun_reports_shutdown() {
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let (queued, mut result) = doubler(1);
        assert!(poll(&mut result, &flag).is_pending());
        drop(queued);
        assert!(flag.0.load(Ordering::SeqCst));
        let err = ready(poll(&mut result, &flag)).unwrap_err();
        assert!(err.is_shutdown(), "{err}");
    }

    #[test]
    fn a_dropped_handle_closes_the_sender_and_the_body_skips() {
        let (queued, result) = doubler(1);
        drop(result);
        let reported = AtomicBool::new(false);
        queued.run(&|()| reported.store(true, Ordering::SeqCst));
        assert!(
            !reported.load(Ordering::SeqCst),
            "the body ran for a dropped handle"
        );
    }

    #[test]
    fn an_unread_result_is_dropped_with_the_cell() {
        let value = Arc::new(());
        let (queued, result) = {
            let value = value.clone();
            job("test", move |tx: Sender<'_, Arc<()>>, _: &dyn Fn(())| {
                tx.send(Ok(value))
            })
        };
        queued.run(&|()| {});
        assert_eq!(Arc::strong_count(&value), 2);
        drop(result);
        assert_eq!(Arc::strong_count(&value), 1);
    }
}
