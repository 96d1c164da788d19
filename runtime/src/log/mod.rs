//! Keel's logger: a `tracing` layer writing one JSON object per line (or a readable
//! format for development), through the `keel-log` thread so that a loop never blocks
//! on standard output.
//!
//! # A line
//!
//! ```text
//! {"time":"2026-01-31T12:00:00.123Z","level":"info","msg":"listening","pid":41,
//!  "hostname":"web-1","loop":0,"target":"keel_http::server","request_id":"0190…",
//!  "tenant":"acme","addr":"0.0.0.0:8080"}
//! ```
//!
//! (one line in reality): the time in ISO 8601 UTC, the level, the message, the process
//! id and host name, the loop index when logged on a loop thread, the event's target,
//! the request id (with `trace_id` and `span_id` when the request is
//! [traced](crate::trace)) and declared fields of the current [request
//! context](crate::task_context), then the event's own fields. An event field named like
//! one of Keel's keys is written as `field.<name>`.
//!
//! # Settings
//!
//! | variable | values | default |
//! |---|---|---|
//! | `LOG_FORMAT` | `json`, `pretty` | `json` |
//! | `LOG_LEVEL` | `trace` … `error`, `off`, or `EnvFilter` directives (`info,keel_http=debug`) | `info` |
//! | `LOG_REDACT` | comma-separated field names redacted besides `authorization`, `cookie`, `set-cookie` | `password,token,secret` |
//!
//! A bad value stops [`init_from_env`] with an error naming the variable.
//!
//! # Redaction
//!
//! The value of a field whose name is a secret name — in any case, or as the last part
//! of a longer name (`headers.authorization`, `db_password`) — is written as
//! `[REDACTED]`, and so is a secret nested in a formatted value or the message
//! (`User { password: "x" }`, `{"token": "x"}`, `token=x`).
//!
//! # Never blocking
//!
//! The line is built on the logging thread and handed to the `keel-log` thread through
//! a bounded buffer ([`Config::buffer`], in lines). On an event loop it goes into the
//! loop's batch, which the loop hands over in one piece when it parks (always before
//! it blocks; under load once per 16 KiB of lines or 10 ms): no allocation, system call
//! or thread wake-up per line, and one write per batch or fewer. A warning or an error
//! goes out at once with the lines before it. On any other thread a line is handed over
//! alone. When the buffer is full the line is dropped and counted in [`dropped_lines`].
//! The [`LogGuard`] that [`init`] returns flushes everything queued when dropped: keep it
//! for the life of `main`.
//!
//! # Examples
//!
//! ```no_run
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let _log = keel_runtime::log::init_from_env()?;
//!     tracing::info!(port = 8080, "listening");
//!     Ok(())
//! }
//! ```

pub(crate) mod batch;
mod config;
mod direct;
mod json;
mod layer;
mod line;
mod redact;
mod sink;

use std::fmt;
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;

pub use config::{Config, DEFAULT_BUFFER, Format};
pub use direct::{Fields, write_line};
pub use layer::KeelLayer;
pub use redact::{ALWAYS as ALWAYS_REDACTED, DEFAULT_EXTRA as DEFAULT_REDACTED, REDACTED};
pub use sink::dropped_lines;

use crate::env::EnvError;
use redact::Redactor;
use sink::Sink;

/// How long [`LogGuard`]'s drop waits for the queued lines to be written.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the logger could not start.
#[derive(Debug)]
pub enum LogError {
    /// A bad `LOG_*` variable.
    Env(EnvError),
    /// Another global `tracing` subscriber is already set.
    AlreadySet,
    /// The `keel-log` thread could not be started.
    Spawn(std::io::Error),
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::Env(e) => write!(f, "logging: {e}"),
            LogError::AlreadySet => {
                f.write_str("logging: a global tracing subscriber is already set")
            }
            LogError::Spawn(e) => write!(f, "logging: cannot start the keel-log thread: {e}"),
        }
    }
}

impl std::error::Error for LogError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LogError::Env(e) => Some(e),
            LogError::AlreadySet => None,
            LogError::Spawn(e) => Some(e),
        }
    }
}

impl From<EnvError> for LogError {
    fn from(e: EnvError) -> LogError {
        LogError::Env(e)
    }
}

/// Flushes the logger when dropped (waiting up to 5 s for the queued lines): keep it
/// alive until the end of `main`.
#[must_use = "dropping the guard flushes now; keep it for the life of the program"]
#[derive(Debug)]
pub struct LogGuard {
    sink: Sink,
}

impl LogGuard {
    /// Writes out every line queued so far, waiting at most `timeout`; whether it
    /// finished in time.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.sink.flush(timeout)
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.sink.flush(FLUSH_TIMEOUT);
    }
}

/// Starts the `keel-log` thread for `config` and returns the layer and its filter, for a
/// subscriber of your own (`tracing_subscriber::registry().with(filter).with(layer)`,
/// plus your layers), and the guard.
///
/// # Errors
///
/// The thread could not be started.
pub fn layer(mut config: Config) -> Result<(KeelLayer, EnvFilter, LogGuard), LogError> {
    let writer = config
        .writer
        .take()
        .unwrap_or_else(|| Box::new(std::io::stdout()));
    let (sink, _thread) = Sink::start(writer, config.buffer).map_err(LogError::Spawn)?;
    let layer = KeelLayer::new(config.format, Redactor::new(&config.redact), sink.clone());
    Ok((layer, config.env_filter(), LogGuard { sink }))
}

/// Installs Keel's logger as the process's global `tracing` subscriber.
///
/// # Errors
///
/// A global subscriber is already set, or the thread could not be started.
pub fn init(config: Config) -> Result<LogGuard, LogError> {
    let (layer, filter, guard) = layer(config)?;
    let subscriber = tracing_subscriber::registry().with(filter).with(layer);
    tracing::subscriber::set_global_default(subscriber).map_err(|_| LogError::AlreadySet)?;
    Ok(guard)
}

/// [`init`] with [`Config::from_env`].
///
/// # Errors
///
/// A bad `LOG_*` variable (naming it), or as for [`init`].
pub fn init_from_env() -> Result<LogGuard, LogError> {
    init(Config::from_env()?)
}
