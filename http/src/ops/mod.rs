//! The operations endpoints, answered by the server itself before the application's
//! router: the health probes (`/health/live`, `/health/ready`, `/health/startup`) and
//! `/metrics`. [`Ops`] configures them all, in one place; `OpsMount` is one loop's
//! instance.
//!
//! # Where they are served
//!
//! * By default on the main listener: a request whose path is exactly one of the ops
//!   paths is answered by the ops router, without the application's middleware (so an
//!   auth layer cannot hide the probes); every other request goes to the application. The
//!   hot path pays one comparison per ops path, which fails at the length for nearly
//!   every request.
//! * With [`Ops::listen`] (or `KEEL_OPS_ADDR` through [`Config`](crate::Config)), on a
//!   separate address served by loop 0, and then *not* on the main listener.
//!
//! # Readiness
//!
//! `/health/ready` answers 200 only when all of these hold:
//!
//! 1. startup completed: every loop listens (and the ops listener, if any);
//! 2. with [`wait_for_ready`](Ops::wait_for_ready), the application called
//!    [`HealthHandle::ready`];
//! 3. shutdown has not started ([`ready_while_draining`](Ops::ready_while_draining) keeps
//!    it 200 during the drain, for platforms that prefer that);
//! 4. the process is not under memory pressure
//!    ([`keel_runtime::heap::under_pressure`]; see
//!    [`fail_on_memory_pressure`](Ops::fail_on_memory_pressure));
//! 5. every readiness check passes. Checks run only when 1–4 hold, all at once, each
//!    within [`check_timeout`](Ops::check_timeout); their round is cached for
//!    [`check_cache`](Ops::check_cache) and shared by every loop, so probes cannot
//!    overload a dependency.
//!
//! The JSON body names the phase, the reasons for a 503 and each check with its state.
//! `/health/live` never runs a check; `/health/startup` answers 503 until 1 holds.
//!
//! # `/metrics`
//!
//! The Prometheus endpoint ([`metrics`](crate::metrics)) is the other ops route, mounted
//! beside the probes: before the application's router and outside its middleware,
//! wherever the probes are — on the main listener by default, or only on the separate
//! ops address when one is set (`KEEL_OPS_ADDR`). [`Ops::metrics`] turns it off;
//! [`Ops::metrics_token`] (`KEEL_METRICS_TOKEN`) makes it want a bearer token.

mod checks;
mod health;

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use keel_runtime::env::{self, EnvError};
use keel_runtime::net::{DEFAULT_BACKLOG, TcpListener};

use self::checks::Checks;
pub use self::checks::{CheckResult, CheckState, DEFAULT_CHECK_CACHE, DEFAULT_CHECK_TIMEOUT};
pub(crate) use self::health::Health;
pub use self::health::HealthHandle;
use self::health::Policy;
use crate::lifecycle::ShutdownSignal;
use crate::metrics::{METRICS_PATH, serve_endpoint};
use crate::request::Request;
use crate::router::Router;

/// The liveness probe's path.
pub const LIVE_PATH: &str = "/health/live";
/// The readiness probe's path.
pub const READY_PATH: &str = "/health/ready";
/// The startup probe's path.
pub const STARTUP_PATH: &str = "/health/startup";

/// The ops endpoints' settings: readiness checks and policy, and where they are served.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use keel_http::{Ops, Server};
///
/// let ops = Ops::new()
///     .readiness_check("db", || async {
///         // e.g. `pool.health()`, or a `SELECT 1` through the pool
///         Ok(())
///     })
///     .check_timeout(Duration::from_millis(500))
///     .check_cache(Duration::from_secs(1));
/// let server = Server::bind("127.0.0.1:0")?.ops(ops);
/// # let _ = server;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Ops {
    checks: Checks,
    policy: Policy,
    listener: Option<std::net::TcpListener>,
    enabled: bool,
    metrics: bool,
    metrics_token: Option<Arc<str>>,
}

impl Default for Ops {
    fn default() -> Ops {
        Ops::new()
    }
}

impl Ops {
    /// The health probes on the main listener, no checks, ready once every loop listens,
    /// 503 while shutting down and under memory pressure.
    pub fn new() -> Ops {
        Ops {
            checks: Checks::new(),
            policy: Policy {
                wait_for_ready: false,
                ready_while_draining: false,
                fail_on_memory_pressure: true,
            },
            listener: None,
            enabled: true,
            metrics: true,
            metrics_token: None,
        }
    }

    /// [`Ops::new`] with `KEEL_OPS_ADDR` (a separate address, bound now: `0.0.0.0:9090`
    /// or `9090`) and `KEEL_METRICS_TOKEN` (the bearer token `/metrics` requires) read
    /// from the environment.
    ///
    /// # Errors
    ///
    /// A bad value (`InvalidInput`, naming the variable), or an address that cannot be
    /// bound.
    pub fn from_env() -> io::Result<Ops> {
        let invalid = |e: EnvError| io::Error::new(io::ErrorKind::InvalidInput, e);
        let addr = env::var("KEEL_OPS_ADDR", env::parse_addr).map_err(invalid)?;
        let token = env::var("KEEL_METRICS_TOKEN", parse_token).map_err(invalid)?;
        let mut ops = Ops::new();
        ops.metrics_token = token;
        match addr {
            Some(addr) => ops.listen(addr),
            None => Ok(ops),
        }
    }

    /// No ops endpoints at all: every path goes to the application.
    pub fn disabled() -> Ops {
        Ops {
            enabled: false,
            ..Ops::new()
        }
    }

    /// Serves the ops endpoints on their own address (bound now, so its port is known)
    /// instead of the main listener. Port 0 picks a free port.
    ///
    /// # Errors
    ///
    /// When no address `addr` resolves to can be bound.
    pub fn listen(mut self, addr: impl ToSocketAddrs) -> io::Result<Ops> {
        let mut last = None;
        for addr in addr.to_socket_addrs()? {
            match TcpListener::bind_std(addr, DEFAULT_BACKLOG) {
                Ok(listener) => {
                    self.listener = Some(listener);
                    return Ok(self);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last
            .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind")))
    }

    /// The separate ops address, if [`listen`](Ops::listen) bound one.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Adds a readiness check: `check` makes a future that resolves to `Ok(())` when the
    /// dependency is usable, or `Err(reason)`. The future runs on the loop answering the
    /// probe (it need not be `Send`), concurrently with the other checks, within the
    /// check timeout; a panic counts as a failure.
    pub fn readiness_check<F, Fut>(mut self, name: &str, check: F) -> Ops
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + 'static,
    {
        self.checks.add(name, check);
        self
    }

    /// How long one check may run before it counts as failed.
    /// # Default: [`DEFAULT_CHECK_TIMEOUT`] (2 s).
    pub fn check_timeout(mut self, timeout: Duration) -> Ops {
        self.checks.set_timeout(timeout);
        self
    }

    /// How long a round of check results is reused before the checks run again.
    /// # Default: [`DEFAULT_CHECK_CACHE`] (1 s).
    pub fn check_cache(mut self, cache_for: Duration) -> Ops {
        self.checks.set_cache_for(cache_for);
        self
    }

    /// Whether readiness waits for [`HealthHandle::ready`] besides startup.
    /// # Default: off (ready once every loop listens).
    pub fn wait_for_ready(mut self, on: bool) -> Ops {
        self.policy.wait_for_ready = on;
        self
    }

    /// Whether readiness stays 200 while shutting down (during the pre-stop delay and the
    /// drain). # Default: off (503 at once, so load balancers stop sending traffic).
    pub fn ready_while_draining(mut self, on: bool) -> Ops {
        self.policy.ready_while_draining = on;
        self
    }

    /// Whether memory pressure (heap over 90% of its limit) makes readiness 503.
    /// # Default: on.
    pub fn fail_on_memory_pressure(mut self, on: bool) -> Ops {
        self.policy.fail_on_memory_pressure = on;
        self
    }

    /// Whether `/metrics` is served. # Default: on.
    pub fn metrics(mut self, on: bool) -> Ops {
        self.metrics = on;
        self
    }

    /// The bearer token `/metrics` requires (`Authorization: Bearer <token>`, else 401);
    /// an empty token means none. # Default: none (`KEEL_METRICS_TOKEN` with
    /// [`from_env`](Ops::from_env)).
    pub fn metrics_token(mut self, token: impl Into<String>) -> Ops {
        let token = token.into();
        self.metrics_token = (!token.is_empty()).then(|| Arc::from(token));
        self
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Splits into what every loop's mount shares and the separate listener, if any.
    pub(crate) fn into_parts(
        self,
        signal: Arc<ShutdownSignal>,
    ) -> (OpsSurface, Option<std::net::TcpListener>) {
        let health = Health::new(signal, self.checks, self.policy);
        let surface = OpsSurface {
            health: Arc::new(health),
            metrics: self.metrics.then_some(self.metrics_token),
        };
        (surface, self.listener)
    }
}

/// The bearer token of `KEEL_METRICS_TOKEN`: visible ASCII, not empty.
///
/// # Errors
///
/// Anything else, naming `name` (never echoing the value: it is a secret).
pub(crate) fn parse_token(name: &str, value: &str) -> Result<Arc<str>, EnvError> {
    let value = value.trim();
    if value.is_empty() || value.bytes().any(|b| !b.is_ascii_graphic()) {
        return Err(EnvError::new(
            name,
            "<hidden>",
            "a non-empty token of visible ASCII characters",
        ));
    }
    Ok(Arc::from(value))
}

/// What every loop's ops endpoints share: the probes' state, and `/metrics` with its
/// token (`None`: not served).
#[derive(Clone)]
pub(crate) struct OpsSurface {
    health: Arc<Health>,
    metrics: Option<Option<Arc<str>>>,
}

impl fmt::Debug for Ops {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ops")
            .field("checks", &self.checks)
            .field("policy", &self.policy)
            .field("addr", &self.local_addr())
            .field("enabled", &self.enabled)
            .field("metrics", &self.metrics)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

/// One loop's ops endpoints: their router and their paths.
pub(crate) struct OpsMount {
    pub(crate) router: Router,
    paths: &'static [&'static str],
}

impl OpsMount {
    /// The ops router of one loop: the probes, and `/metrics` unless it is off.
    pub(crate) fn new(surface: &OpsSurface) -> OpsMount {
        let live = surface.health.clone();
        let ready = surface.health.clone();
        let startup = surface.health.clone();
        let router = Router::new()
            .get(LIVE_PATH, move || std::future::ready(live.live()))
            .get(READY_PATH, move || {
                let health = ready.clone();
                async move { health.ready().await }
            })
            .get(STARTUP_PATH, move || std::future::ready(startup.startup()));
        match &surface.metrics {
            Some(token) => {
                let token = token.clone();
                let router = router.get(METRICS_PATH, move |req: Request| {
                    serve_endpoint(req, token.clone())
                });
                OpsMount {
                    router,
                    paths: &[LIVE_PATH, READY_PATH, STARTUP_PATH, METRICS_PATH],
                }
            }
            None => OpsMount {
                router,
                paths: &[LIVE_PATH, READY_PATH, STARTUP_PATH],
            },
        }
    }

    /// Whether `path` (without its query) is an ops path.
    #[inline]
    pub(crate) fn matches(&self, path: &str) -> bool {
        self.paths.contains(&path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_token() {
        assert_eq!(
            &*parse_token("KEEL_METRICS_TOKEN", "abc-123").unwrap(),
            "abc-123"
        );
        let err = parse_token("KEEL_METRICS_TOKEN", "has space").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("KEEL_METRICS_TOKEN"), "{message}");
        assert!(
            !message.contains("has space"),
            "the secret leaked: {message}"
        );
        let ops = Ops::new().metrics_token("t");
        assert_eq!(ops.metrics_token.as_deref(), Some("t"));
        assert!(Ops::new().metrics_token("").metrics_token.is_none());
        assert!(Ops::new().metrics && !Ops::new().metrics(false).metrics);
    }
}
