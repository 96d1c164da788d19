//! OpenTelemetry trace export over OTLP/HTTP with JSON encoding: [`init_from_env`]
//! reads the standard `OTEL_*` variables ([`OtlpConfig`]) and, when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, turns Keel's tracing on
//! ([`keel_runtime::trace`]) with an [`OtlpExporter`] on the `keel-trace` thread.
//!
//! What is then traced, with no code in the application:
//!
//! * every request the server answers — a server span named `GET /items/:id` (method
//!   and route), with `http.request.method`, `url.path`, `http.route`,
//!   `http.response.status_code`; a valid W3C `traceparent` on the request makes it
//!   the parent, an invalid one is ignored and a new trace starts;
//! * every request the [client](crate::client) sends — a client span, child of the
//!   request being served, whose context goes out as `traceparent` (and `tracestate`);
//! * every `keel_pool` acquire inside a traced request — a `pool.acquire` span.
//!
//! Spans are exported in batches from a bounded queue: a full queue drops (and counts)
//! spans rather than slow a request; a collector that is down costs failed exports on
//! the `keel-trace` thread, never on a loop. With tracing off, the instrumented places
//! cost one atomic load each.
//!
//! ```no_run
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Keep the guard for the life of the process: dropping it exports what is
//!     // queued and stops the thread.
//!     let _tracing = keel_http::otlp::init_from_env()?;
//!     // ... build the runtime and serve ...
//!     Ok(())
//! }
//! ```

mod config;
mod exporter;
mod json;

use std::fmt;
use std::time::Duration;

pub use self::config::{DEFAULT_EXPORT_TIMEOUT, OtlpConfig};
pub use self::exporter::OtlpExporter;
use keel_runtime::trace;

use keel_runtime::env::EnvError;

/// How long dropping a [`TracingGuard`] waits for the last export.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Keeps tracing on; dropping it (or [`shutdown`](TracingGuard::shutdown)) exports
/// what is queued, waiting up to [`SHUTDOWN_TIMEOUT`], and stops the `keel-trace`
/// thread.
#[derive(Debug)]
#[must_use = "dropping the guard turns tracing off"]
pub struct TracingGuard {
    done: bool,
}

impl TracingGuard {
    /// Exports what is queued and stops tracing, waiting up to `timeout`; `false` when
    /// the last export did not finish in time.
    pub fn shutdown(mut self, timeout: Duration) -> bool {
        self.done = true;
        trace::shutdown(timeout)
    }
}

impl Drop for TracingGuard {
    fn drop(&mut self) {
        if !self.done {
            trace::shutdown(SHUTDOWN_TIMEOUT);
        }
    }
}

/// Turns tracing on with `config`.
///
/// # Errors
///
/// Tracing was already turned on in this process, or its thread cannot start.
pub fn init(config: OtlpConfig) -> Result<TracingGuard, trace::InstallError> {
    let url = config.traces_url();
    let exporter = OtlpExporter::new(
        config.url,
        config.headers,
        config.resource,
        config.timeout,
        config.tls,
    );
    trace::install(config.sampler, config.batch, exporter)?;
    tracing::info!(endpoint = %url, "exporting traces over OTLP/HTTP JSON");
    Ok(TracingGuard { done: false })
}

/// Reads the `OTEL_*` variables and turns tracing on when an endpoint is set;
/// `Ok(None)` when tracing stays off.
///
/// # Errors
///
/// A variable with a bad value (named), or [`init`]'s errors.
pub fn init_from_env() -> Result<Option<TracingGuard>, InitError> {
    match OtlpConfig::from_env().map_err(InitError::Config)? {
        Some(config) => Ok(Some(init(config).map_err(InitError::Install)?)),
        None => Ok(None),
    }
}

/// Why [`init_from_env`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum InitError {
    /// An `OTEL_*` variable has a bad value.
    Config(EnvError),
    /// Tracing could not be turned on.
    Install(trace::InstallError),
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::Config(e) => e.fmt(f),
            InitError::Install(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InitError::Config(e) => Some(e),
            InitError::Install(e) => Some(e),
        }
    }
}
