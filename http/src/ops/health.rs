//! The three health probes' answers — `/health/live`, `/health/ready`,
//! `/health/startup` — from the server's lifecycle flags, the memory-pressure flag and the
//! readiness checks; and [`HealthHandle`], through which the application says it is ready.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value, json};

use super::checks::{CheckResult, Checks};
use crate::lifecycle::ShutdownSignal;
use crate::response::Response;
use crate::status::StatusCode;

/// Tells the health probes about the application, from any thread.
///
/// With [`Ops::wait_for_ready`](super::Ops::wait_for_ready), `/health/ready` answers 503
/// until [`ready`](HealthHandle::ready) is called (warm caches first, say); without it,
/// the server is ready as soon as every loop listens.
///
/// # Examples
///
/// ```
/// use keel_http::{Phase, Server};
///
/// let server = Server::bind("127.0.0.1:0").unwrap();
/// let health = server.health_handle();
/// assert!(!health.is_started());
/// assert_eq!(health.phase(), Phase::Starting);
/// health.ready(); // e.g. from a task that warmed a cache
/// ```
#[derive(Debug, Clone)]
pub struct HealthHandle {
    pub(crate) signal: Arc<ShutdownSignal>,
}

impl HealthHandle {
    /// Declares the application ready (only matters with `wait_for_ready`).
    pub fn ready(&self) {
        self.signal.set_app_ready(true);
    }

    /// Declares the application not ready (again): readiness answers 503 until
    /// [`ready`](HealthHandle::ready) (only matters with `wait_for_ready`).
    pub fn not_ready(&self) {
        self.signal.set_app_ready(false);
    }

    /// Whether startup completed: every loop (and the ops listener, if any) listens.
    pub fn is_started(&self) -> bool {
        self.signal.is_started()
    }

    /// Where the server is in its lifecycle.
    pub fn phase(&self) -> crate::Phase {
        self.signal.phase()
    }
}

/// Readiness policy (from [`Ops`](super::Ops)).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    pub(crate) wait_for_ready: bool,
    pub(crate) ready_while_draining: bool,
    pub(crate) fail_on_memory_pressure: bool,
}

/// Everything the probes read, shared by every loop.
#[derive(Debug)]
pub(crate) struct Health {
    pub(crate) signal: Arc<ShutdownSignal>,
    pub(crate) checks: Checks,
    pub(crate) policy: Policy,
    pid: u32,
    born: Instant,
}

impl Health {
    pub(crate) fn new(signal: Arc<ShutdownSignal>, checks: Checks, policy: Policy) -> Health {
        Health {
            signal,
            checks,
            policy,
            pid: std::process::id(),
            born: Instant::now(),
        }
    }

    /// `/health/live`: 200 while the process can answer at all. Never runs a check.
    pub(crate) fn live(&self) -> Response {
        let body = json!({
            "status": "alive",
            "pid": self.pid,
            "uptimeSeconds": self.born.elapsed().as_secs_f64(),
            "phase": self.signal.phase().as_str(),
        });
        reply(StatusCode::OK, &body)
    }

    /// `/health/startup`: 503 until every listener accepts, then 200 for good.
    pub(crate) fn startup(&self) -> Response {
        let started = self.signal.is_started();
        let body = json!({
            "status": if started { "started" } else { "starting" },
            "phase": self.signal.phase().as_str(),
        });
        reply(status(started), &body)
    }

    /// `/health/ready`: 200 when started, declared ready (if asked), not shutting down
    /// (unless the policy keeps it 200), not under memory pressure (unless the policy
    /// ignores it) and every check passes. Checks run only when nothing else fails.
    pub(crate) async fn ready(&self) -> Response {
        let pressure = keel_runtime::heap::under_pressure();
        let mut reasons = self.blockers(pressure);
        let results = if reasons.is_empty() && !self.checks.is_empty() {
            Some(self.checks.results().await)
        } else {
            None
        };
        let mut checks = Map::new();
        if let Some(results) = &results {
            for r in results.iter() {
                if !r.state.is_up() {
                    reasons.push(format!("check {} is {}", r.name, r.state.as_str()));
                }
                checks.insert(r.name.to_string(), check_json(r));
            }
        } else {
            for name in self.checks.names() {
                checks.insert(name.to_string(), json!({ "state": "skipped" }));
            }
        }
        let ready = reasons.is_empty();
        let body = json!({
            "status": if ready { "ready" } else { "unavailable" },
            "phase": self.signal.phase().as_str(),
            "memoryPressure": pressure,
            "reasons": reasons,
            "checks": checks,
        });
        reply(status(ready), &body)
    }

    /// What keeps the server from being ready, apart from the checks.
    fn blockers(&self, pressure: bool) -> Vec<String> {
        let s = &self.signal;
        let p = self.policy;
        let mut reasons = Vec::new();
        if !s.is_started() {
            reasons.push("starting".to_owned());
        }
        if p.wait_for_ready && !s.is_app_ready() {
            reasons.push("the application has not declared itself ready".to_owned());
        }
        if s.is_fired() && !p.ready_while_draining {
            reasons.push("shutting down".to_owned());
        }
        if pressure && p.fail_on_memory_pressure {
            reasons.push("memory pressure".to_owned());
        }
        reasons
    }
}

fn check_json(r: &CheckResult) -> Value {
    let mut v = json!({
        "state": r.state.as_str(),
        "tookMs": r.took.as_secs_f64() * 1000.0,
    });
    if let Some(reason) = r.state.reason() {
        v["reason"] = Value::from(reason);
    }
    v
}

fn status(ok: bool) -> StatusCode {
    if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

fn reply(status: StatusCode, body: &Value) -> Response {
    Response::json(body)
        .with_status(status)
        .with_header("cache-control", "no-store")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(policy: Policy) -> Health {
        Health::new(Arc::default(), Checks::new(), policy)
    }

    const DEFAULT: Policy = Policy {
        wait_for_ready: false,
        ready_while_draining: false,
        fail_on_memory_pressure: true,
    };

    #[test]
    fn blockers_follow_the_policy() {
        let h = health(DEFAULT);
        assert_eq!(h.blockers(false), ["starting"]);
        h.signal.mark_started();
        assert!(h.blockers(false).is_empty());
        assert_eq!(h.blockers(true), ["memory pressure"]);
        h.signal.fire();
        assert_eq!(h.blockers(false), ["shutting down"]);

        let h = health(Policy {
            wait_for_ready: true,
            ready_while_draining: true,
            fail_on_memory_pressure: false,
        });
        h.signal.mark_started();
        assert_eq!(
            h.blockers(true).len(),
            1,
            "waits for ready(), ignores pressure"
        );
        h.signal.set_app_ready(true);
        h.signal.fire();
        assert!(h.blockers(true).is_empty(), "stays ready while draining");
    }
}
