//! Shutdown hooks (`on_shutdown`): named async closures run after the drain, in reverse
//! registration order (the last resource opened is the first closed), one at a time on
//! loop 0, each within its own time budget; a panic or an overrun is reported, and the
//! next hook still runs.

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use keel_runtime::future::CatchPanic;
use keel_runtime::time::timeout;

use crate::handler::BoxFuture;

/// Default time budget of one shutdown hook.
pub const DEFAULT_HOOK_BUDGET: Duration = Duration::from_secs(5);

/// A registered hook.
pub(crate) struct Hook {
    name: String,
    budget: Duration,
    run: Box<dyn FnOnce() -> BoxFuture<()> + Send>,
}

impl Hook {
    pub(crate) fn new<F, Fut>(name: &str, budget: Duration, run: F) -> Hook
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        Hook {
            name: name.to_owned(),
            budget,
            run: Box::new(move || Box::pin(run())),
        }
    }
}

impl fmt::Debug for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hook")
            .field("name", &self.name)
            .field("budget", &self.budget)
            .finish()
    }
}

/// How a hook ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookOutcome {
    /// It finished within its budget.
    Done,
    /// It was still running when its budget ran out (and was dropped).
    TimedOut,
    /// It panicked, with the message.
    Panicked(String),
}

/// One hook's run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookReport {
    /// The name it was registered under.
    pub name: String,
    /// How it ended.
    pub outcome: HookOutcome,
    /// How long it ran.
    pub took: Duration,
}

/// Runs `hooks` last-registered first, each within its budget.
pub(crate) async fn run(hooks: Vec<Hook>) -> Vec<HookReport> {
    let mut reports = Vec::with_capacity(hooks.len());
    for hook in hooks.into_iter().rev() {
        let started = Instant::now();
        let run = hook.run;
        let outcome = match timeout(hook.budget, CatchPanic::new(async move { run().await })).await
        {
            Ok(Ok(())) => HookOutcome::Done,
            Ok(Err(message)) => {
                tracing::error!(hook = %hook.name, panic = %message, "shutdown hook panicked");
                HookOutcome::Panicked(message)
            }
            Err(_) => {
                tracing::error!(hook = %hook.name, budget = ?hook.budget, "shutdown hook ran past its budget");
                HookOutcome::TimedOut
            }
        };
        reports.push(HookReport {
            name: hook.name,
            outcome,
            took: started.elapsed(),
        });
    }
    reports
}
