//! [`ServeReport`]: how a server's shutdown went — clean, or past its drain deadline
//! (with the requests it abandoned and the bridged tasks it cancelled) or with a failed hook — so the process can exit 0 or 1.

use std::process::ExitCode;
use std::time::Duration;

use keel_runtime::tokio::BridgedTask;

use super::hooks::{HookOutcome, HookReport};
use super::in_flight::InFlightRequest;

/// How the shutdown ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every request finished within the drain deadline and every hook within its budget.
    Clean,
    /// Connections were still open at the drain deadline and were closed, or work
    /// spawned on the tokio bridge was still running then and was cancelled.
    DeadlineExceeded,
    /// The drain was clean but a shutdown hook panicked or ran past its budget.
    HookFailed,
}

/// What [`Server::serve`](crate::Server::serve) returns once it stopped.
///
/// # Examples
///
/// ```no_run
/// # fn main() -> std::process::ExitCode {
/// # let runtime = keel_runtime::Runtime::new().unwrap();
/// let report = keel_http::Server::bind("0.0.0.0:3000")
///     .unwrap()
///     .serve(&runtime, keel_http::Router::new)
///     .unwrap();
/// report.exit_code() // 0 when clean, 1 otherwise
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeReport {
    pub(crate) open_at_deadline: usize,
    pub(crate) abandoned: Vec<InFlightRequest>,
    pub(crate) bridged: Vec<BridgedTask>,
    pub(crate) hooks: Vec<HookReport>,
    pub(crate) took: Option<Duration>,
}

impl ServeReport {
    /// How the shutdown ended.
    pub fn outcome(&self) -> Outcome {
        if self.open_at_deadline > 0 || !self.bridged.is_empty() {
            Outcome::DeadlineExceeded
        } else if self.hooks.iter().any(|h| h.outcome != HookOutcome::Done) {
            Outcome::HookFailed
        } else {
            Outcome::Clean
        }
    }

    /// Whether the shutdown was clean.
    pub fn is_clean(&self) -> bool {
        self.outcome() == Outcome::Clean
    }

    /// The process exit code the outcome calls for: success when clean, failure (1)
    /// otherwise.
    pub fn exit_code(&self) -> ExitCode {
        if self.is_clean() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }

    /// Connections still open at the drain deadline, on all loops.
    pub fn open_at_deadline(&self) -> usize {
        self.open_at_deadline
    }

    /// The requests still running at the drain deadline, oldest first per loop.
    pub fn abandoned(&self) -> &[InFlightRequest] {
        &self.abandoned
    }

    /// The tasks spawned on the tokio bridge (`keel_runtime::tokio::spawn`) still running
    /// at the drain deadline, oldest first; they are cancelled with the runtime.
    pub fn bridged_stragglers(&self) -> &[BridgedTask] {
        &self.bridged
    }

    /// The shutdown hooks in the order they ran (reverse registration order).
    pub fn hooks(&self) -> &[HookReport] {
        &self.hooks
    }

    /// From the start of the shutdown to the end of the hooks; `None` when `serve`
    /// ended without a shutdown (the runtime was shut down under it).
    pub fn took(&self) -> Option<Duration> {
        self.took
    }
}
