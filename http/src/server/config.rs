//! [`ServerConfig`]: the server's limits, timeouts and modes, with documented defaults
//! (Node's equivalents in brackets) and [`from_env`](ServerConfig::from_env) for the
//! `KEEL_*` variables.

use std::sync::Arc;
use std::time::Duration;

use keel_runtime::env::{self, EnvError};

use super::h2::config::H2Config;
use super::tls::TlsConfig;
use crate::limits::Limits;
use crate::middleware::SecurityHeaders;
use crate::trusted_proxies::{ForwardedHeader, TrustedProxies};

/// Default time a client has to send a whole request head (Node's `headersTimeout`).
pub const DEFAULT_HEADERS_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time for a whole request, head to response (Node's `requestTimeout`).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Default idle time of a keep-alive connection between requests (Node's `keepAliveTimeout`).
pub const DEFAULT_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default cap on open connections per loop; more are closed at once on accept.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default time in-flight requests get to finish once shutdown starts.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Default pre-stop delay: how long the server keeps serving after shutdown starts.
pub const DEFAULT_SHUTDOWN_DELAY: Duration = Duration::ZERO;

/// Where the server runs: production hides internal error messages from clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Environment {
    /// Internal error messages never leave the process (`KEEL_ENV=production`).
    #[default]
    Production,
    /// Error responses include internal messages (`KEEL_ENV=development`).
    Development,
}

/// Server settings.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use keel_http::ServerConfig;
///
/// let config = ServerConfig::default()
///     .keepalive_timeout(Duration::from_secs(10))
///     .max_body_size(4 << 20);
/// assert_eq!(config.limits().max_body_size, 4 << 20);
/// ```
#[derive(Clone)]
pub struct ServerConfig {
    pub(crate) limits: Limits,
    pub(crate) headers_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) keepalive_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) shutdown_delay: Duration,
    pub(crate) environment: Environment,
    pub(crate) access_log: bool,
    pub(crate) server_header: Option<Arc<str>>,
    pub(crate) security_headers: Option<SecurityHeaders>,
    pub(crate) trusted_proxies: TrustedProxies,
    pub(crate) tls: Option<TlsConfig>,
    pub(crate) h2: H2Config,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("limits", &self.limits)
            .field("headers_timeout", &self.headers_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("keepalive_timeout", &self.keepalive_timeout)
            .field("max_connections", &self.max_connections)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("shutdown_delay", &self.shutdown_delay)
            .field("environment", &self.environment)
            .field("access_log", &self.access_log)
            .field("server_header", &self.server_header)
            .field("security_headers", &self.security_headers.is_some())
            .field("trusted_proxies", &self.trusted_proxies)
            .field("tls", &self.tls)
            .field("h2", &self.h2)
            .finish()
    }
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            limits: Limits::DEFAULT,
            headers_timeout: DEFAULT_HEADERS_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            keepalive_timeout: DEFAULT_KEEPALIVE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            shutdown_delay: DEFAULT_SHUTDOWN_DELAY,
            environment: Environment::Production,
            access_log: true,
            server_header: None,
            security_headers: Some(SecurityHeaders::default()),
            trusted_proxies: TrustedProxies::none(),
            tls: None,
            h2: H2Config::default(),
        }
    }
}

impl ServerConfig {
    /// Defaults overridden by `KEEL_HEADERS_TIMEOUT`, `KEEL_REQUEST_TIMEOUT`,
    /// `KEEL_KEEPALIVE_TIMEOUT` (durations: `30s`, `500ms`), `KEEL_MAX_HEADER_SIZE`,
    /// `KEEL_MAX_BODY` (sizes: `16KiB`, `1MiB`), `KEEL_MAX_CONNECTIONS`,
    /// `KEEL_SHUTDOWN_TIMEOUT`, `KEEL_SHUTDOWN_DELAY`, `KEEL_ENV` (`production` or
    /// `development`), `KEEL_ACCESS_LOG` (`on` or `off`), `KEEL_SERVER_HEADER` (the
    /// `Server` header's value, e.g. `keel`; `off` for none), `KEEL_SECURITY_HEADERS`
    /// (`on` or `off`), `KEEL_TRUSTED_PROXIES` (see
    /// [`TrustedProxies::parse`]) and `KEEL_FORWARDED_HEADER` (`x-forwarded-for` or
    /// `forwarded`), and `KEEL_TLS_CERT`, `KEEL_TLS_KEY` (PEM paths, both or neither) and
    /// `KEEL_TLS_HANDSHAKE_TIMEOUT` (see [`TlsConfig`]), and `KEEL_H2` and `KEEL_H2_*`
    /// (see [`H2Config::from_env`]).
    ///
    /// # Errors
    ///
    /// The first variable with a bad value, named in the error.
    pub fn from_env() -> Result<ServerConfig, EnvError> {
        let mut c = ServerConfig::default();
        if let Some(d) = env::var("KEEL_HEADERS_TIMEOUT", env::parse_duration)? {
            c.headers_timeout = nonzero("KEEL_HEADERS_TIMEOUT", d)?;
        }
        if let Some(d) = env::var("KEEL_REQUEST_TIMEOUT", env::parse_duration)? {
            c.request_timeout = nonzero("KEEL_REQUEST_TIMEOUT", d)?;
        }
        if let Some(d) = env::var("KEEL_KEEPALIVE_TIMEOUT", env::parse_duration)? {
            c.keepalive_timeout = d;
        }
        if let Some(d) = env::var("KEEL_SHUTDOWN_TIMEOUT", env::parse_duration)? {
            c.shutdown_timeout = d;
        }
        if let Some(d) = env::var("KEEL_SHUTDOWN_DELAY", env::parse_duration)? {
            c.shutdown_delay = d;
        }
        if let Some(n) = env::var("KEEL_MAX_HEADER_SIZE", env::parse_size)? {
            if !(1024..=1 << 20).contains(&n) {
                return Err(EnvError::new(
                    "KEEL_MAX_HEADER_SIZE",
                    &n.to_string(),
                    "a size from 1KiB to 1MiB",
                ));
            }
            c.limits.max_head_size = n as usize;
        }
        if let Some(n) = env::var("KEEL_MAX_BODY", env::parse_size)? {
            c.limits.max_body_size = n;
        }
        if let Some(n) = env::var("KEEL_MAX_CONNECTIONS", env::parse_number::<usize>)? {
            if n == 0 {
                return Err(EnvError::new("KEEL_MAX_CONNECTIONS", "0", "at least 1"));
            }
            c.max_connections = n;
        }
        if let Some(e) = env::var("KEEL_ENV", parse_environment)? {
            c.environment = e;
        }
        if let Some(on) = env::var("KEEL_ACCESS_LOG", env::parse_switch)? {
            c.access_log = on;
        }
        if let Some(on) = env::var("KEEL_SECURITY_HEADERS", env::parse_switch)? {
            c.security_headers = on.then(SecurityHeaders::default);
        }
        if let Some(name) = env::var("KEEL_SERVER_HEADER", parse_server_header)? {
            c.server_header = name;
        }
        if let Some(proxies) = env::var("KEEL_TRUSTED_PROXIES", TrustedProxies::parse_var)? {
            c.trusted_proxies = proxies;
        }
        if let Some(header) = env::var("KEEL_FORWARDED_HEADER", parse_forwarded_header)? {
            c.trusted_proxies = c.trusted_proxies.header(header);
        }
        c.tls = TlsConfig::from_env()?;
        c.h2 = H2Config::from_env()?;
        Ok(c)
    }

    /// The size limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Replaces all size limits.
    pub fn with_limits(mut self, limits: Limits) -> ServerConfig {
        self.limits = limits;
        self
    }

    /// The default body limit of every route (→ 413). # Default: 1 MiB.
    pub fn max_body_size(mut self, bytes: u64) -> ServerConfig {
        self.limits.max_body_size = bytes;
        self
    }

    /// Time to receive a whole request head (→ 408 and close). # Default: 60 s.
    pub fn headers_timeout(mut self, timeout: Duration) -> ServerConfig {
        self.headers_timeout = timeout;
        self
    }

    /// Time for a whole request, head to response (→ 408 and close). # Default: 300 s.
    ///
    /// It is also the write timeout: a peer that does not take one batch of output within
    /// it (answers to pipelined requests go out every 64 KiB; a streamed body chunk by
    /// chunk) is dropped without a further answer.
    pub fn request_timeout(mut self, timeout: Duration) -> ServerConfig {
        self.request_timeout = timeout;
        self
    }

    /// Idle time allowed between requests on a keep-alive connection. # Default: 5 s.
    pub fn keepalive_timeout(mut self, timeout: Duration) -> ServerConfig {
        self.keepalive_timeout = timeout;
        self
    }

    /// Open connections per loop; more are closed as soon as they are accepted.
    /// # Default: 10 000.
    pub fn max_connections(mut self, n: usize) -> ServerConfig {
        self.max_connections = n.max(1);
        self
    }

    /// The drain deadline: time in-flight requests get once the listeners close (after
    /// the pre-stop delay). Past it, what is still running is logged and abandoned, and
    /// the shutdown reports failure. # Default: 30 s.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> ServerConfig {
        self.shutdown_timeout = timeout;
        self
    }

    /// The pre-stop delay: once shutdown starts, readiness answers 503 at once but the
    /// server keeps serving (and accepting) this long, so load balancers stop sending
    /// traffic before the listeners close. # Default: 0 s.
    pub fn shutdown_delay(mut self, delay: Duration) -> ServerConfig {
        self.shutdown_delay = delay;
        self
    }

    /// The drain deadline ([`shutdown_timeout`](ServerConfig::shutdown_timeout)).
    pub fn get_shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }

    /// The pre-stop delay ([`shutdown_delay`](ServerConfig::shutdown_delay)).
    pub fn get_shutdown_delay(&self) -> Duration {
        self.shutdown_delay
    }

    /// Whether each answered request writes one access log line through `tracing`
    /// (target `keel_http::access`, level info): method, route pattern (or the path when
    /// no route matched), status, duration in ms, body bytes, remote address, and the
    /// request id. # Default: on (env `KEEL_ACCESS_LOG`).
    pub fn access_log(mut self, on: bool) -> ServerConfig {
        self.access_log = on;
        self
    }

    /// The proxies whose `X-Forwarded-For` (or `Forwarded`) names the client; see
    /// [`TrustedProxies`]. # Default: none, the client is the peer (env
    /// `KEEL_TRUSTED_PROXIES`, `KEEL_FORWARDED_HEADER`).
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> ServerConfig {
        self.trusted_proxies = proxies;
        self
    }

    /// The trusted proxies.
    pub fn get_trusted_proxies(&self) -> &TrustedProxies {
        &self.trusted_proxies
    }

    /// The `Server` header every response carries (unless the handler set its own), e.g.
    /// `keel`; `None` sends none. # Default: none — like hyper, Node and Fastify, and as
    /// OWASP advises, a server does not name its software to every client; benchmark
    /// entries (TechEmpower) turn it on (env `KEEL_SERVER_HEADER`).
    ///
    /// # Panics
    ///
    /// When `name` is not a valid header value (visible ASCII and spaces): a
    /// misconfigured server must not start.
    #[track_caller]
    pub fn server_header(mut self, name: Option<&str>) -> ServerConfig {
        if let Some(name) = name {
            assert!(
                valid_server_header(name),
                "invalid Server header value {name:?}: visible ASCII and spaces, not empty"
            );
        }
        self.server_header = name.map(Arc::from);
        self
    }

    /// The security headers every response carries — app routes, errors Keel renders
    /// (404, 405, 4xx from the parser, 413, 5xx) and the ops endpoints — unless the
    /// handler set a header of the same name; `None` sends none. With
    /// [`Environment::Development`], `Strict-Transport-Security` is left out (a browser
    /// would remember it for `localhost`).
    ///
    /// # Default
    ///
    /// `Some(SecurityHeaders::default())`: Helmet's defaults (see
    /// [`SecurityHeaders`]); env `KEEL_SECURITY_HEADERS=off` turns them off. Written from
    /// a block encoded once, so they cost a copy per response.
    pub fn security_headers(mut self, headers: Option<SecurityHeaders>) -> ServerConfig {
        self.security_headers = headers;
        self
    }

    /// The security headers for responses in this configuration's environment.
    pub(crate) fn effective_security_headers(&self) -> Option<SecurityHeaders> {
        let headers = self.security_headers.as_ref()?;
        Some(match self.environment {
            Environment::Production => headers.clone(),
            Environment::Development => headers.without("strict-transport-security"),
        })
    }

    /// Serves HTTPS instead of plain HTTP on the main listener: TLS 1.2 and 1.3, ALPN
    /// `h2` (unless [`H2Config::enabled`] is off) and `http/1.1`, each handshake within [`TlsConfig::handshake_timeout`]; a plaintext
    /// HTTP request to it is answered 400 and closed. The separate ops listener
    /// ([`Ops::listen`](crate::Ops::listen), `KEEL_OPS_ADDR`) stays plaintext.
    /// # Default: none, plain HTTP (env `KEEL_TLS_CERT` and `KEEL_TLS_KEY`).
    pub fn tls(mut self, tls: Option<TlsConfig>) -> ServerConfig {
        self.tls = tls;
        self
    }

    /// The HTTP/2 settings: h2c with prior knowledge on a plaintext listener, ALPN `h2`
    /// on a TLS one, its limits and its idle timeout (see [`H2Config`] and
    /// `docs/http2.md`). # Default: [`H2Config::default`], on (env `KEEL_H2`,
    /// `KEEL_H2_*`).
    pub fn h2(mut self, h2: H2Config) -> ServerConfig {
        self.h2 = h2;
        self
    }

    /// The HTTP/2 settings.
    pub fn get_h2(&self) -> &H2Config {
        &self.h2
    }

    /// The TLS settings, when the server speaks HTTPS.
    pub fn get_tls(&self) -> Option<&TlsConfig> {
        self.tls.as_ref()
    }

    /// Production or development. # Default: production.
    pub fn environment(mut self, environment: Environment) -> ServerConfig {
        self.environment = environment;
        self
    }
}

fn nonzero(name: &str, d: Duration) -> Result<Duration, EnvError> {
    if d.is_zero() {
        Err(EnvError::new(name, "0", "a duration above zero"))
    } else {
        Ok(d)
    }
}

/// `KEEL_SERVER_HEADER`: a name for the `Server` header, or `off`.
fn parse_server_header(name: &str, value: &str) -> Result<Option<Arc<str>>, EnvError> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    if !valid_server_header(value) {
        return Err(EnvError::new(
            name,
            value,
            "a product name of visible ASCII characters (e.g. keel), or off",
        ));
    }
    Ok(Some(Arc::from(value)))
}

fn valid_server_header(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        && !value.starts_with(' ')
        && !value.ends_with(' ')
}

fn parse_forwarded_header(name: &str, value: &str) -> Result<ForwardedHeader, EnvError> {
    match value.to_ascii_lowercase().as_str() {
        "x-forwarded-for" => Ok(ForwardedHeader::XForwardedFor),
        "forwarded" => Ok(ForwardedHeader::Forwarded),
        _ => Err(EnvError::new(name, value, "x-forwarded-for or forwarded")),
    }
}

fn parse_environment(name: &str, value: &str) -> Result<Environment, EnvError> {
    match value.to_ascii_lowercase().as_str() {
        "production" | "prod" => Ok(Environment::Production),
        "development" | "dev" => Ok(Environment::Development),
        _ => Err(EnvError::new(name, value, "production or development")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_header() {
        assert_eq!(ServerConfig::default().server_header, None);
        let c = ServerConfig::default().server_header(Some("keel"));
        assert_eq!(c.server_header.as_deref(), Some("keel"));
        assert_eq!(
            parse_server_header("KEEL_SERVER_HEADER", "keel/0.1")
                .unwrap()
                .as_deref(),
            Some("keel/0.1")
        );
        assert_eq!(
            parse_server_header("KEEL_SERVER_HEADER", "OFF").unwrap(),
            None
        );
        let err = parse_server_header("KEEL_SERVER_HEADER", "bad\u{7f}").unwrap_err();
        assert!(err.to_string().contains("KEEL_SERVER_HEADER"), "{err}");
    }

    #[test]
    #[should_panic(expected = "invalid Server header")]
    fn a_bad_server_header_stops_startup() {
        let _ = ServerConfig::default().server_header(Some("two\r\nlines"));
    }
}
