//! [`Config`]: every deployment variable Keel reads (the table below), read and
//! validated once at startup, so a bad value stops the process with a message naming the
//! variable, the value and what was expected (an [`EnvError`], Keel's one "bad setting"
//! error); and [`Config::var`], the same typed reading for an application's own
//! variables, with the same parsers.
//!
//! | variable | default | read into |
//! |---|---|---|
//! | `HOST`, `PORT` | `0.0.0.0`, `3000` | [`Config::addr`] |
//! | `KEEL_LOOPS` (else `WEB_CONCURRENCY`) | the container's CPU quota, else cores | [`Config::runtime`] |
//! | `KEEL_HEAP_LIMIT` (`1536MiB`) | 75% of the cgroup memory limit, else none | [`Config::heap_limit`] |
//! | `KEEL_BLOCKING_THREADS` (and `KEEL_BLOCKING_*`) | 16 | [`Config::blocking`] |
//! | `KEEL_WORKER_THREADS` (and `KEEL_WORKER_*`) | cores − 1, at least 1 | [`Config::workers`] |
//! | `KEEL_HEADERS_TIMEOUT`, `KEEL_REQUEST_TIMEOUT`, `KEEL_KEEPALIVE_TIMEOUT` | 60s, 300s, 5s | [`Config::server`] |
//! | `KEEL_MAX_HEADER_SIZE`, `KEEL_MAX_BODY`, `KEEL_MAX_CONNECTIONS` | 16KiB, 1MiB, 10000 per loop | [`Config::server`] |
//! | `KEEL_SHUTDOWN_TIMEOUT`, `KEEL_SHUTDOWN_DELAY` | 30s, 0s | [`Config::server`] |
//! | `KEEL_ENV` | `production` | [`Config::environment`] |
//! | `KEEL_ACCESS_LOG`, `KEEL_SECURITY_HEADERS`, `KEEL_SERVER_HEADER` | on, on, none | [`Config::server`] |
//! | `KEEL_TLS_CERT`, `KEEL_TLS_KEY` (PEM paths, both or neither), `KEEL_TLS_HANDSHAKE_TIMEOUT` | plain HTTP, 10s | [`Config::server`] ([`TlsConfig`](crate::TlsConfig)) |
//! | `KEEL_H2`, `KEEL_H2_MAX_CONCURRENT_STREAMS`, `KEEL_H2_MAX_HEADER_LIST_SIZE`, `KEEL_H2_INITIAL_STREAM_WINDOW`, `KEEL_H2_INITIAL_CONNECTION_WINDOW`, `KEEL_H2_MAX_FRAME_SIZE`, `KEEL_H2_IDLE_TIMEOUT` | on, 100, 16KiB, 256KiB, 1MiB, 16KiB, 60s | [`Config::server`] ([`H2Config`](crate::H2Config)) |
//! | `KEEL_CLIENT_CA` (PEM path) | the bundled Mozilla roots only | extra CAs every [`Client`](crate::client::Client) and the OTLP exporter trust for `https://` (checked here) |
//! | `KEEL_OPS_ADDR` (`0.0.0.0:9090` or `9090`) | the main listener | [`Config::ops_addr`] |
//! | `KEEL_METRICS_TOKEN` | none | [`Config::metrics_token`] |
//! | `KEEL_TRUSTED_PROXIES`, `KEEL_FORWARDED_HEADER` | none, `x-forwarded-for` | [`Config::server`] ([`TrustedProxies`](crate::TrustedProxies)) |
//! | `KEEL_COOKIE_KEY` (base64 of at least 32 random bytes) | none | [`Config::cookie_key`] (signed and private cookie jars) |
//!
//! `LOG_LEVEL`, `LOG_FORMAT` and `LOG_REDACT` belong to the logging layer (`keel::log`), which
//! reads them itself; [`Config::VARIABLES`] lists them with the rest.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use keel_runtime::env;
pub use keel_runtime::env::{
    EnvError, parse_addr, parse_duration, parse_number, parse_port, parse_size, parse_switch,
};

pub use crate::extract::parse_cookie_key;
use keel_runtime::{BuildError, blocking, workers};

use crate::ops::Ops;
use crate::server::{Environment, Server, ServerConfig};

/// The default `HOST`.
pub const DEFAULT_HOST: &str = "0.0.0.0";
/// The default `PORT`.
pub const DEFAULT_PORT: u16 = 3000;

/// The validated deployment settings.
///
/// # Examples
///
/// ```no_run
/// use keel_http::{Config, Router};
///
/// let config = Config::from_env()?; // stops here on a bad variable, naming it
/// let runtime = config.runtime().build()?;
/// let report = config.server_bind()?.serve(&runtime, || {
///     Router::new().get("/", || async { "hi" })
/// })?;
/// if !report.is_clean() {
///     std::process::exit(1);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Config {
    host: String,
    port: u16,
    runtime: keel_runtime::Builder,
    heap_limit: Option<u64>,
    blocking: blocking::Builder,
    workers: workers::Builder,
    server: ServerConfig,
    environment: Environment,
    ops_addr: Option<SocketAddr>,
    metrics_token: Option<std::sync::Arc<str>>,
    cookie_key: Option<crate::CookieKey>,
}

impl Config {
    /// The name of every environment variable Keel itself reads: the ones
    /// [`from_env`](Config::from_env) validates, and the logger's (`LOG_*`, read by
    /// `keel::log::init_from_env`). Deployment files can be checked against it (the
    /// repository's `tests/deploy_files.rs` does, and checks the list against the source).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(keel_http::Config::VARIABLES.contains(&"KEEL_SHUTDOWN_TIMEOUT"));
    /// assert!(!keel_http::Config::VARIABLES.contains(&"KEEL_SHUTDOWN_TIMEOUTS"));
    /// ```
    pub const VARIABLES: &'static [&'static str] = &[
        "HOST",
        "PORT",
        "KEEL_LOOPS",
        "WEB_CONCURRENCY",
        "KEEL_LOOP_FAILURE",
        "KEEL_POLL_TIMING",
        "KEEL_PIN",
        "KEEL_TOKIO_THREADS",
        "KEEL_HEAP_LIMIT",
        "KEEL_BLOCKING_THREADS",
        "KEEL_BLOCKING_MIN_THREADS",
        "KEEL_BLOCKING_KEEP_ALIVE",
        "KEEL_BLOCKING_SPIN",
        "KEEL_BLOCKING_QUEUE",
        "KEEL_BLOCKING_FS_THREADS",
        "KEEL_BLOCKING_DNS_THREADS",
        "KEEL_BLOCKING_USER_THREADS",
        "KEEL_WORKER_THREADS",
        "KEEL_WORKER_QUEUE",
        "KEEL_WORKER_SPIN",
        "KEEL_WORKER_CPUS",
        "KEEL_HEADERS_TIMEOUT",
        "KEEL_REQUEST_TIMEOUT",
        "KEEL_KEEPALIVE_TIMEOUT",
        "KEEL_MAX_HEADER_SIZE",
        "KEEL_MAX_BODY",
        "KEEL_MAX_CONNECTIONS",
        "KEEL_TRUSTED_PROXIES",
        "KEEL_FORWARDED_HEADER",
        "KEEL_ENV",
        "KEEL_ACCESS_LOG",
        "KEEL_SERVER_HEADER",
        "KEEL_SECURITY_HEADERS",
        "KEEL_SHUTDOWN_TIMEOUT",
        "KEEL_SHUTDOWN_DELAY",
        "KEEL_TLS_CERT",
        "KEEL_TLS_KEY",
        "KEEL_TLS_HANDSHAKE_TIMEOUT",
        "KEEL_TLS_RELOAD_INTERVAL",
        "KEEL_TLS_CLIENT_CA",
        "KEEL_H2",
        "KEEL_H2_MAX_CONCURRENT_STREAMS",
        "KEEL_H2_MAX_HEADER_LIST_SIZE",
        "KEEL_H2_INITIAL_STREAM_WINDOW",
        "KEEL_H2_INITIAL_CONNECTION_WINDOW",
        "KEEL_H2_MAX_FRAME_SIZE",
        "KEEL_H2_IDLE_TIMEOUT",
        "KEEL_CLIENT_CA",
        "KEEL_OPS_ADDR",
        "KEEL_METRICS_TOKEN",
        "KEEL_COOKIE_KEY",
        "LOG_FORMAT",
        "LOG_LEVEL",
        "LOG_REDACT",
    ];

    /// Reads and validates every variable in the table above.
    ///
    /// # Errors
    ///
    /// The first variable with a bad value, named in the error with its value and what
    /// was expected.
    pub fn from_env() -> Result<Config, EnvError> {
        let host = Config::var("HOST", |_, v| Ok(v.to_owned()))?
            .unwrap_or_else(|| DEFAULT_HOST.to_owned());
        let port = Config::var("PORT", parse_port)?.unwrap_or(DEFAULT_PORT);
        let heap_limit = Config::var("KEEL_HEAP_LIMIT", |name, v| match parse_size(name, v)? {
            0 => Err(EnvError::new(name, v, "a size above zero, such as 1536MiB")),
            n => Ok(n),
        })?;
        let runtime = keel_runtime::Builder::from_env().map_err(bad_setting)?;
        let blocking = blocking::Builder::from_env().map_err(bad_setting)?;
        let workers = workers::Builder::from_env().map_err(bad_setting)?;
        let server = ServerConfig::from_env()?;
        let ops_addr = Config::var("KEEL_OPS_ADDR", parse_addr)?;
        let metrics_token = Config::var("KEEL_METRICS_TOKEN", crate::ops::parse_token)?;
        let cookie_key = Config::var(crate::extract::COOKIE_KEY_VAR, parse_cookie_key)?;
        // Read here to stop startup on a bad file; clients read it themselves (once).
        Config::var(crate::client::tls::CLIENT_CA_VAR, |name, path| {
            crate::client::tls::read_ca_file(name, std::path::Path::new(path))
        })?;
        Ok(Config {
            host,
            port,
            runtime,
            heap_limit,
            blocking,
            workers,
            environment: server.environment,
            server,
            ops_addr,
            metrics_token,
            cookie_key,
        })
    }

    /// Reads an application's own variable with `parse` (one of this module's parsers,
    /// or any function of the name and the trimmed value); `Ok(None)` when it is unset or
    /// empty.
    ///
    /// # Errors
    ///
    /// The parser's error, naming the variable.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use keel_http::Config;
    /// use keel_http::config::{EnvError, parse_duration, parse_number};
    ///
    /// // Typed, defaulted, and failing with the variable's name.
    /// let cache_ttl = Config::var("APP_CACHE_TTL", parse_duration)?.unwrap_or(Duration::from_secs(60));
    /// let page_size: u32 = Config::var("APP_PAGE_SIZE", parse_number)?.unwrap_or(50);
    /// // A custom type: anything returning an `EnvError` that names the variable.
    /// let region = Config::var("APP_REGION", |name, value| match value {
    ///     "eu" | "us" => Ok(value.to_owned()),
    ///     _ => Err(EnvError::new(name, value, "eu or us")),
    /// })?;
    /// assert_eq!((cache_ttl, page_size, region), (Duration::from_secs(60), 50, None));
    ///
    /// // What a bad value looks like:
    /// let err = parse_duration("APP_CACHE_TTL", "a while").unwrap_err();
    /// assert_eq!(err.name(), "APP_CACHE_TTL");
    /// assert!(err.to_string().contains("\"a while\""));
    /// # Ok::<(), EnvError>(())
    /// ```
    pub fn var<T>(
        name: &str,
        parse: impl FnOnce(&str, &str) -> Result<T, EnvError>,
    ) -> Result<Option<T>, EnvError> {
        env::var(name, parse)
    }

    /// `HOST:PORT`, for [`Server::bind`].
    pub fn addr(&self) -> (&str, u16) {
        (&self.host, self.port)
    }

    /// A runtime builder from `KEEL_LOOPS`/`WEB_CONCURRENCY` (the heap limit is already
    /// resolved from `KEEL_HEAP_LIMIT`).
    pub fn runtime(&self) -> keel_runtime::Builder {
        self.runtime.clone()
    }

    /// `KEEL_HEAP_LIMIT` in bytes, when set (else the limit comes from the container).
    pub fn heap_limit(&self) -> Option<u64> {
        self.heap_limit
    }

    /// The blocking pool's validated settings (`KEEL_BLOCKING_*`; the process-wide pool
    /// reads the same variables when it starts).
    pub fn blocking(&self) -> &blocking::Builder {
        &self.blocking
    }

    /// The CPU worker pool's validated settings (`KEEL_WORKER_*`; the process-wide pool
    /// reads the same variables when it starts).
    pub fn workers(&self) -> &workers::Builder {
        &self.workers
    }

    /// The HTTP server's limits, timeouts and shutdown settings.
    pub fn server(&self) -> &ServerConfig {
        &self.server
    }

    /// Production or development (`KEEL_ENV`).
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The separate ops address (`KEEL_OPS_ADDR`), if set.
    pub fn ops_addr(&self) -> Option<SocketAddr> {
        self.ops_addr
    }

    /// The bearer token `/metrics` requires (`KEEL_METRICS_TOKEN`), if set.
    pub fn metrics_token(&self) -> Option<&str> {
        self.metrics_token.as_deref()
    }

    /// The key of the signed and private cookie jars (`KEEL_COOKIE_KEY`), if set: give it
    /// to the router with [`Router::with_state`](crate::Router::with_state).
    pub fn cookie_key(&self) -> Option<&crate::CookieKey> {
        self.cookie_key.as_ref()
    }

    /// The ops endpoints (probes and `/metrics`, guarded by `KEEL_METRICS_TOKEN` when
    /// set): on `KEEL_OPS_ADDR` (bound now) when set, else on the main listener. Add
    /// readiness checks to it before handing it to the server.
    ///
    /// # Errors
    ///
    /// When `KEEL_OPS_ADDR` cannot be bound.
    pub fn ops(&self) -> io::Result<Ops> {
        let ops = Ops::new().metrics_token(self.metrics_token.as_deref().unwrap_or(""));
        match self.ops_addr {
            Some(addr) => ops.listen(addr),
            None => Ok(ops),
        }
    }

    /// A server bound to `HOST:PORT` with [`server`](Config::server)'s settings and
    /// [`ops`](Config::ops)'s endpoints.
    ///
    /// # Errors
    ///
    /// When an address cannot be bound.
    pub fn server_bind(&self) -> io::Result<Server> {
        Ok(Server::bind(self.addr())?
            .config(self.server.clone())
            .ops(self.ops()?))
    }
}

/// A runtime builder's `from_env` error as the bad setting it is: those builders read
/// variables and nothing else. Anything else (none today) keeps its message, under the
/// name `<runtime>`.
fn bad_setting(e: BuildError) -> EnvError {
    e.into_invalid_setting().unwrap_or_else(|e| {
        EnvError::new(
            "<runtime>",
            &e.to_string(),
            "settings the runtime can start with",
        )
    })
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("runtime", &self.runtime)
            .field("heap_limit", &self.heap_limit)
            .field("blocking", &self.blocking)
            .field("workers", &self.workers)
            .field("server", &self.server)
            .field("ops_addr", &self.ops_addr)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("cookie_key", &self.cookie_key)
            .finish()
    }
}
