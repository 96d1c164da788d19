//! Readiness checks: named async probes of dependencies (a pool's ping, a cache's
//! `PING`), run concurrently, each bounded by a timeout and guarded against panics, with
//! the combined result cached for a short time so that frequent probes, from several
//! loops at once, cannot overload a dependency.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use keel_runtime::future::CatchPanic;
use keel_runtime::time::timeout;
use parking_lot::Mutex;

use crate::handler::BoxFuture;

/// Default time one readiness check may take before it counts as failed.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// Default time a round of readiness check results is reused.
pub const DEFAULT_CHECK_CACHE: Duration = Duration::from_secs(1);

/// A check: makes a future (on the loop answering the probe) that says whether the
/// dependency is usable, with the reason when not.
type CheckFn = Arc<dyn Fn() -> BoxFuture<Result<(), String>> + Send + Sync>;

/// The state of one readiness check in its last run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckState {
    /// The dependency answered.
    Up,
    /// The check failed, with its reason.
    Down(String),
    /// The check did not finish within the check timeout.
    TimedOut,
    /// The check panicked, with the panic message.
    Panicked(String),
}

impl CheckState {
    /// Whether the check passed.
    pub fn is_up(&self) -> bool {
        matches!(self, CheckState::Up)
    }

    /// The state's name in the JSON body: `up`, `down`, `timeout` or `panicked`.
    pub fn as_str(&self) -> &'static str {
        match self {
            CheckState::Up => "up",
            CheckState::Down(_) => "down",
            CheckState::TimedOut => "timeout",
            CheckState::Panicked(_) => "panicked",
        }
    }

    /// The failure's reason, if any.
    pub fn reason(&self) -> Option<&str> {
        match self {
            CheckState::Down(r) | CheckState::Panicked(r) => Some(r),
            CheckState::TimedOut | CheckState::Up => None,
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// The name it was registered under.
    pub name: Arc<str>,
    /// What it found.
    pub state: CheckState,
    /// How long it ran.
    pub took: Duration,
}

/// The registered checks, their settings and the cache of their last round.
pub(crate) struct Checks {
    checks: Vec<(Arc<str>, CheckFn)>,
    timeout: Duration,
    cache_for: Duration,
    cached: Mutex<Option<(Instant, Arc<[CheckResult]>)>>,
    /// A round is running somewhere (another loop): reuse the last round meanwhile.
    running: AtomicBool,
}

impl Checks {
    pub(crate) fn new() -> Checks {
        Checks {
            checks: Vec::new(),
            timeout: DEFAULT_CHECK_TIMEOUT,
            cache_for: DEFAULT_CHECK_CACHE,
            cached: Mutex::new(None),
            running: AtomicBool::new(false),
        }
    }

    pub(crate) fn add<F, Fut>(&mut self, name: &str, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + 'static,
    {
        let run: CheckFn = Arc::new(move || Box::pin(check()));
        self.checks.push((name.into(), run));
    }

    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    pub(crate) fn set_cache_for(&mut self, cache_for: Duration) {
        self.cache_for = cache_for;
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.checks.iter().map(|(name, _)| &**name)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    /// The results of the last round if younger than the cache time, else of a new round.
    pub(crate) async fn results(&self) -> Arc<[CheckResult]> {
        if let Some(fresh) = self.cached_within(self.cache_for) {
            return fresh;
        }
        let ours = !self.running.swap(true, Ordering::AcqRel);
        if !ours {
            // Another loop is running a round: answer from the last one if there is any.
            if let Some(last) = self.cached_within(Duration::MAX) {
                return last;
            }
        }
        let _running = ours.then_some(ClearOnDrop(&self.running));
        let results: Arc<[CheckResult]> = self.run_round().await.into();
        *self.cached.lock() = Some((Instant::now(), results.clone()));
        results
    }

    fn cached_within(&self, age: Duration) -> Option<Arc<[CheckResult]>> {
        let cached = self.cached.lock();
        let (at, results) = cached.as_ref()?;
        (at.elapsed() < age).then(|| results.clone())
    }

    /// Runs every check at once and waits for all of them (each bounded by the timeout).
    async fn run_round(&self) -> Vec<CheckResult> {
        let limit = self.timeout;
        let mut pending: Vec<Pin<Box<dyn Future<Output = CheckResult>>>> = self
            .checks
            .iter()
            .map(|(name, run)| {
                let name = name.clone();
                let run = run.clone();
                let fut: Pin<Box<dyn Future<Output = CheckResult>>> = Box::pin(async move {
                    let started = Instant::now();
                    // The check's own call runs inside `CatchPanic` too.
                    let state =
                        match timeout(limit, CatchPanic::new(async move { run().await })).await {
                            Ok(Ok(Ok(()))) => CheckState::Up,
                            Ok(Ok(Err(reason))) => CheckState::Down(reason),
                            Ok(Err(panic)) => CheckState::Panicked(panic),
                            Err(_) => CheckState::TimedOut,
                        };
                    CheckResult {
                        name,
                        state,
                        took: started.elapsed(),
                    }
                });
                fut
            })
            .collect();
        let mut done: Vec<Option<CheckResult>> = vec![None; pending.len()];
        std::future::poll_fn(|cx| {
            let mut all = true;
            for (fut, slot) in pending.iter_mut().zip(done.iter_mut()) {
                if slot.is_none() {
                    match fut.as_mut().poll(cx) {
                        Poll::Ready(result) => *slot = Some(result),
                        Poll::Pending => all = false,
                    }
                }
            }
            if all { Poll::Ready(()) } else { Poll::Pending }
        })
        .await;
        done.into_iter().flatten().collect()
    }
}

impl fmt::Debug for Checks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checks")
            .field(
                "checks",
                &self.checks.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .field("cache_for", &self.cache_for)
            .finish()
    }
}

struct ClearOnDrop<'a>(&'a AtomicBool);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}
