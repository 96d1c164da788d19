//! Shared helpers for keel-runtime's integration tests: a runtime wrapper that never hangs
//! a failing test, a deadline-bounded waiter for plain threads, a watchdog, a tiny oneshot
//! channel, a countdown latch, a gate for jobs to wait at, drop and wake probes, re-running
//! one ignored test in a child process, and the [`keel_test!`] macro that runs one body on
//! a 1-loop and on a 2-loop runtime. The helpers every crate's tests share (log capture,
//! `eventually`) are in `keel_testkit`.

// Each test file is its own crate and uses only some of these helpers.
#![allow(dead_code)]

use std::future::Future;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::panic::resume_unwind;
use std::pin::{Pin, pin};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use keel_runtime::{Handle, JoinHandle, Runtime};

/// How long any single wait in a test may take before the test fails. Generous: the CI
/// machine is a shared 2-core box.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// How long a whole test may run before the watchdog aborts the process.
pub(crate) const WATCHDOG: Duration = Duration::from_secs(120);

/// `bound` times `KEEL_TEST_WAIT_SCALE` (a whole number, default 1): CI's valgrind step
/// sets it, since a test there runs tens of times slower than natively.
pub(crate) fn scaled(bound: Duration) -> Duration {
    let scale = std::env::var("KEEL_TEST_WAIT_SCALE")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    bound * scale
}

// ===== TestRuntime =====

/// A runtime that is leaked instead of dropped when the test is failing, so a loop stuck in
/// a bug (which would make `Runtime::drop` wait forever for its thread) cannot hang the run.
pub(crate) struct TestRuntime {
    rt: ManuallyDrop<Runtime>,
}

impl TestRuntime {
    /// Gives the runtime back, for tests that check what dropping it does.
    pub(crate) fn into_inner(self) -> Runtime {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so `rt` is taken exactly once.
        unsafe { ManuallyDrop::take(&mut this.rt) }
    }
}

impl Deref for TestRuntime {
    type Target = Runtime;

    fn deref(&self) -> &Runtime {
        &self.rt
    }
}

impl Drop for TestRuntime {
    fn drop(&mut self) {
        if !thread::panicking() {
            // SAFETY: `drop` runs once and `rt` is not touched afterwards.
            unsafe { ManuallyDrop::drop(&mut self.rt) }
        }
    }
}

/// A runtime with `loops` loops, unpinned (the test machine is shared).
pub(crate) fn runtime(loops: usize) -> TestRuntime {
    runtime_with(Runtime::builder().loops(loops))
}

/// A runtime from `builder`, unpinned.
pub(crate) fn runtime_with(builder: keel_runtime::Builder) -> TestRuntime {
    TestRuntime {
        rt: ManuallyDrop::new(builder.pin(false).build().expect("build runtime")),
    }
}

// ===== waiting from plain threads =====

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this (non-loop) thread, parking between wakes; `None` if `limit`
/// passes first.
pub(crate) fn wait_for<F: Future>(limit: Duration, future: F) -> Option<F::Output> {
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    let deadline = Instant::now() + limit;
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return Some(out);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        thread::park_timeout(deadline - now);
    }
}

/// Like [`wait_for`] with [`WAIT`], panicking with `what` on timeout.
#[track_caller]
pub(crate) fn wait<F: Future>(what: &str, future: F) -> F::Output {
    let limit = scaled(WAIT);
    match wait_for(limit, future) {
        Some(out) => out,
        None => panic!("timed out after {limit:?} waiting for {what}"),
    }
}

/// Awaits `future` on a loop, failing the test if it takes longer than [`WAIT`].
#[track_caller]
pub(crate) fn within<F: Future>(what: &'static str, future: F) -> impl Future<Output = F::Output> {
    let location = std::panic::Location::caller();
    async move {
        let limit = scaled(WAIT);
        match keel_runtime::time::timeout(limit, future).await {
            Ok(out) => out,
            Err(_) => panic!("timed out after {limit:?} waiting for {what} ({location})"),
        }
    }
}

/// Waits (bounded) for a task joined from a plain thread and returns its output, resuming
/// its panic if it panicked.
#[track_caller]
pub(crate) fn join<T>(what: &str, handle: JoinHandle<T>) -> T {
    match wait(what, handle) {
        Ok(out) => out,
        Err(e) if e.is_panic() => resume_unwind(e.try_into_panic().expect("is a panic")),
        Err(e) => panic!("{what}: {e}"),
    }
}

/// Joins a std thread, failing after [`WAIT`] instead of blocking forever.
#[track_caller]
pub(crate) fn join_thread<T: Send + 'static>(what: &str, handle: thread::JoinHandle<T>) -> T {
    let deadline = Instant::now() + WAIT;
    while !handle.is_finished() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for thread {what}"
        );
        thread::park_timeout(Duration::from_millis(5));
    }
    match handle.join() {
        Ok(out) => out,
        Err(payload) => resume_unwind(payload),
    }
}

// ===== watchdog =====

/// Aborts the whole test process if dropped later than `limit` after creation: the last
/// line of defence against a hang that no in-test timeout can see (a loop spinning
/// forever, a `Drop` that never returns).
pub(crate) struct Watchdog {
    _cancel: mpsc::Sender<()>,
}

/// Starts a [`Watchdog`] for the test `name`.
pub(crate) fn watchdog(name: &'static str, limit: Duration) -> Watchdog {
    let limit = scaled(limit);
    let (tx, rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            eprintln!("watchdog: test `{name}` still running after {limit:?}; aborting");
            std::process::abort();
        }
    });
    Watchdog { _cancel: tx }
}

// ===== keel_test! =====

/// Runs `body(handle)` as a loop-local task on loop 0 of a fresh `loops`-loop runtime,
/// under a watchdog and a [`WAIT`] bound, and resumes its panic in the test thread.
pub(crate) fn run_test<M, F>(name: &'static str, loops: usize, body: M)
where
    M: FnOnce(Handle) -> F + Send + 'static,
    F: Future<Output = ()> + 'static,
{
    let _watchdog = watchdog(name, WATCHDOG);
    let rt = runtime(loops);
    let handle = rt.handle().clone();
    let task = rt
        .handle()
        .spawn_local_on(0, move || within("the test body", body(handle)));
    join(name, task);
    drop(rt);
}

/// Defines a test that runs once on a 1-loop runtime and once on a 2-loop runtime (tokio's
/// `rt_test!`): `keel_test! { async fn name(handle) { ... } }` becomes `name::one_loop` and
/// `name::two_loops`. The body runs as a task on loop 0 and may hold `!Send` values.
#[allow(unused_macros)] // not every test file uses it
macro_rules! keel_test {
    ($(#[$meta:meta])* async fn $name:ident($handle:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn one_loop() {
                $crate::util::run_test(concat!(stringify!($name), "::one_loop"), 1, |$handle| {
                    async move { let _ = &$handle; $body }
                });
            }

            #[test]
            fn two_loops() {
                $crate::util::run_test(concat!(stringify!($name), "::two_loops"), 2, |$handle| {
                    async move { let _ = &$handle; $body }
                });
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use keel_test;

// ===== oneshot =====

struct OneshotState<T> {
    value: Option<T>,
    waker: Option<Waker>,
    sender_gone: bool,
}

/// The sending half of [`oneshot`]; `Send` when `T` is, usable from any thread.
pub(crate) struct Sender<T> {
    inner: Arc<Mutex<OneshotState<T>>>,
}

/// The receiving half of [`oneshot`]: a future of `Some(value)`, or `None` when the sender
/// was dropped without sending.
pub(crate) struct Receiver<T> {
    inner: Arc<Mutex<OneshotState<T>>>,
}

/// A one-value channel built from a mutex and a stored waker, nothing else.
pub(crate) fn oneshot<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Mutex::new(OneshotState {
        value: None,
        waker: None,
        sender_gone: false,
    }));
    (
        Sender {
            inner: inner.clone(),
        },
        Receiver { inner },
    )
}

impl<T> Sender<T> {
    /// Stores `value` and wakes the receiver (outside the lock).
    pub(crate) fn send(self, value: T) {
        let waker = {
            let mut state = self.inner.lock().unwrap();
            state.value = Some(value);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.inner.lock().unwrap();
            state.sender_gone = true;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = self.inner.lock().unwrap();
        if let Some(value) = state.value.take() {
            return Poll::Ready(Some(value));
        }
        if state.sender_gone {
            return Poll::Ready(None);
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

// ===== latch =====

/// A countdown latch: `count_down` from any thread, `wait` (bounded) on a plain thread.
#[derive(Clone)]
pub(crate) struct Latch {
    inner: Arc<(Mutex<usize>, Condvar)>,
}

impl Latch {
    pub(crate) fn new(count: usize) -> Latch {
        Latch {
            inner: Arc::new((Mutex::new(count), Condvar::new())),
        }
    }

    pub(crate) fn count_down(&self) {
        let (count, cv) = &*self.inner;
        let mut count = count.lock().unwrap();
        *count = count.checked_sub(1).expect("latch counted down too often");
        if *count == 0 {
            cv.notify_all();
        }
    }

    /// Blocks until the count reaches zero; panics after [`WAIT`].
    #[track_caller]
    pub(crate) fn wait(&self, what: &str) {
        let (count, cv) = &*self.inner;
        let guard = count.lock().unwrap();
        let (guard, result) = cv.wait_timeout_while(guard, WAIT, |c| *c > 0).unwrap();
        assert!(
            !result.timed_out(),
            "timed out waiting for {what} ({} left)",
            *guard
        );
    }
}

/// Wraps `future` so that `latch` is counted down the first time it returns `Pending`: by
/// then it has stored its waker, so a wake from now on must go through the waker.
pub(crate) fn on_first_pending<F: Future>(
    latch: Latch,
    future: F,
) -> impl Future<Output = F::Output> {
    let mut latch = Some(latch);
    let mut future = Box::pin(future);
    std::future::poll_fn(move |cx| match future.as_mut().poll(cx) {
        Poll::Ready(out) => Poll::Ready(out),
        Poll::Pending => {
            if let Some(latch) = latch.take() {
                latch.count_down();
            }
            Poll::Pending
        }
    })
}

// ===== gate =====

/// A door jobs wait at until the test opens it (each wait bounded by [`WAIT`]).
#[derive(Clone, Default)]
pub(crate) struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    /// Blocks until the gate is open; panics after [`WAIT`].
    pub(crate) fn wait(&self) {
        let (open, cv) = &*self.0;
        let guard = open.lock().unwrap();
        let (guard, _) = cv.wait_timeout_while(guard, WAIT, |open| !*open).unwrap();
        assert!(*guard, "gate never opened");
    }

    /// Opens the gate for every waiter, now and later.
    pub(crate) fn open(&self) {
        *self.0.0.lock().unwrap() = true;
        self.0.1.notify_all();
    }
}

// ===== child processes =====

/// Re-runs this test binary on exactly the ignored test `test`, alone, with `vars` set,
/// and returns what it did.
pub(crate) fn run_ignored(test: &str, vars: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().unwrap();
    Command::new(exe)
        .args([
            test,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .envs(vars.iter().copied())
        .output()
        .unwrap()
}

/// Runs the ignored test `test` in a child process with `vars` set (see [`run_ignored`]),
/// and checks that the child ran exactly that one test and it passed (a renamed child
/// would otherwise run nothing and "pass").
pub(crate) fn run_child(test: &str, vars: &[(&str, &str)]) {
    let out = run_ignored(test, vars);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child {test} failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("running 1 test") && stdout.contains("test result: ok. 1 passed;"),
        "child {test} did not run exactly one passing test:\n{stdout}\n{stderr}"
    );
}

// ===== probes =====

/// Records that it was dropped, and on which Keel loop (`None`: not on a loop).
pub(crate) struct DropProbe {
    seen: Arc<Mutex<Option<Option<usize>>>>,
}

/// What a [`DropProbe`] recorded.
#[derive(Clone)]
pub(crate) struct DropWatch {
    seen: Arc<Mutex<Option<Option<usize>>>>,
}

/// A probe to move into a future, and the watch to check it with.
pub(crate) fn drop_probe() -> (DropProbe, DropWatch) {
    let seen = Arc::new(Mutex::new(None));
    (DropProbe { seen: seen.clone() }, DropWatch { seen })
}

impl Drop for DropProbe {
    fn drop(&mut self) {
        *self.seen.lock().unwrap() = Some(keel_runtime::current_loop());
    }
}

impl DropWatch {
    pub(crate) fn is_dropped(&self) -> bool {
        self.seen.lock().unwrap().is_some()
    }

    /// The loop the probe was dropped on: `Some(None)` means off any loop.
    pub(crate) fn dropped_on(&self) -> Option<Option<usize>> {
        *self.seen.lock().unwrap()
    }
}

/// A waker that counts its wakes.
pub(crate) struct CountingWaker {
    wakes: AtomicUsize,
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

/// A waker and the counter of its wakes.
pub(crate) fn counting_waker() -> (Waker, Arc<CountingWaker>) {
    let counter = Arc::new(CountingWaker {
        wakes: AtomicUsize::new(0),
    });
    (Waker::from(counter.clone()), counter)
}

impl CountingWaker {
    pub(crate) fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

/// A flag shared between tasks and threads.
#[derive(Clone, Default)]
pub(crate) struct Flag(Arc<AtomicBool>);

impl Flag {
    pub(crate) fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
