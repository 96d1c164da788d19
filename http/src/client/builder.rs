//! [`ClientBuilder`]: the client's timeouts, size limits and connection-reuse settings,
//! gathered into the [`Config`] a [`Client`](super::Client) runs with.

use std::path::Path;
use std::time::Duration;

use keel_runtime::env::EnvError;
use keel_runtime::resilience::{Bulkhead, CircuitBreaker, Retry};
use rustls::pki_types::CertificateDer;

/// Default [`ClientBuilder::connect_timeout`]: 10 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`ClientBuilder::request_timeout`]: 30 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`ClientBuilder::max_head_size`]: 64 KiB.
pub const DEFAULT_MAX_RESPONSE_HEAD: usize = 64 * 1024;
/// Default [`ClientBuilder::max_headers`]: 100.
pub const DEFAULT_MAX_RESPONSE_HEADERS: usize = 100;
/// Default [`ClientBuilder::max_body_size`]: 10 MiB.
pub const DEFAULT_MAX_RESPONSE_BODY: u64 = 10 * 1024 * 1024;
/// Default [`ClientBuilder::max_idle_per_host`]: 8.
pub const DEFAULT_MAX_IDLE_PER_HOST: usize = 8;
/// Default [`ClientBuilder::idle_timeout`]: 30 s.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// What a client runs with.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) total_timeout: Option<Duration>,
    pub(crate) max_head_size: usize,
    pub(crate) max_headers: usize,
    pub(crate) max_body_size: u64,
    pub(crate) max_idle_per_host: usize,
    pub(crate) idle_timeout: Duration,
    pub(crate) user_agent: Option<String>,
    pub(crate) max_redirects: usize,
    /// The resilience tools every request goes through; `None` when none is set.
    pub(crate) resilience: Option<Resilience>,
    /// CA certificates trusted for `https://` besides the bundled roots and
    /// `KEEL_CLIENT_CA`.
    pub(crate) extra_ca: Vec<CertificateDer<'static>>,
}

/// The resilience tools a client's requests go through (see [`super::resilient`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Resilience {
    pub(crate) retry: Option<Retry>,
    pub(crate) breaker: Option<CircuitBreaker>,
    pub(crate) bulkhead: Option<Bulkhead>,
}

/// Builds a [`Client`](super::Client). Start from
/// [`Client::builder`](super::Client::builder).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use keel_http::client::Client;
///
/// let client = Client::builder()
///     .connect_timeout(Duration::from_secs(2))
///     .request_timeout(Duration::from_secs(5))
///     .total_timeout(Duration::from_secs(8))
///     .max_body_size(1024 * 1024)
///     .max_idle_per_host(4)
///     .build();
/// # drop(client);
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    /// Read by [`ClientBuilder::build`], which lives with the client in `mod.rs`.
    pub(super) config: Config,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder::new()
    }
}

impl ClientBuilder {
    /// A builder with the defaults (the `DEFAULT_*` constants; no total timeout).
    pub fn new() -> ClientBuilder {
        ClientBuilder {
            config: Config {
                connect_timeout: DEFAULT_CONNECT_TIMEOUT,
                request_timeout: DEFAULT_REQUEST_TIMEOUT,
                total_timeout: None,
                max_head_size: DEFAULT_MAX_RESPONSE_HEAD,
                max_headers: DEFAULT_MAX_RESPONSE_HEADERS,
                max_body_size: DEFAULT_MAX_RESPONSE_BODY,
                max_idle_per_host: DEFAULT_MAX_IDLE_PER_HOST,
                idle_timeout: DEFAULT_IDLE_TIMEOUT,
                user_agent: Some(concat!("keel/", env!("CARGO_PKG_VERSION")).to_owned()),
                max_redirects: 0,
                resilience: None,
                extra_ca: Vec::new(),
            },
        }
    }

    /// How long resolving the host and opening the TCP connection may take. A reused
    /// connection skips this phase.
    ///
    /// # Default
    ///
    /// [`DEFAULT_CONNECT_TIMEOUT`] (10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// How long the exchange on the connection may take: from writing the request to the
    /// last byte of the response body. The body is read when the caller asks for it, so
    /// this is a deadline, not an idle timeout.
    ///
    /// # Default
    ///
    /// [`DEFAULT_REQUEST_TIMEOUT`] (30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = timeout;
        self
    }

    /// A deadline for the whole call, connect included, from `send` to the last body byte.
    ///
    /// # Default
    ///
    /// None: the connect and request timeouts bound the call.
    pub fn total_timeout(mut self, timeout: Duration) -> Self {
        self.config.total_timeout = Some(timeout);
        self
    }

    /// The largest response head (status line and header fields) accepted, in bytes;
    /// a larger one fails with [`ClientError::HeadTooLarge`](super::ClientError::HeadTooLarge).
    ///
    /// # Default
    ///
    /// [`DEFAULT_MAX_RESPONSE_HEAD`] (64 KiB).
    pub fn max_head_size(mut self, bytes: usize) -> Self {
        self.config.max_head_size = bytes;
        self
    }

    /// The most header fields accepted in a response head.
    ///
    /// # Default
    ///
    /// [`DEFAULT_MAX_RESPONSE_HEADERS`] (100).
    pub fn max_headers(mut self, count: usize) -> Self {
        self.config.max_headers = count;
        self
    }

    /// The largest response body accepted, in bytes; reading a larger one fails with
    /// [`ClientError::BodyTooLarge`](super::ClientError::BodyTooLarge).
    ///
    /// # Default
    ///
    /// [`DEFAULT_MAX_RESPONSE_BODY`] (10 MiB).
    pub fn max_body_size(mut self, bytes: u64) -> Self {
        self.config.max_body_size = bytes;
        self
    }

    /// The most idle keep-alive connections kept per host and port; 0 turns reuse off.
    /// Connections in use are not capped.
    ///
    /// # Default
    ///
    /// [`DEFAULT_MAX_IDLE_PER_HOST`] (8).
    pub fn max_idle_per_host(mut self, count: usize) -> Self {
        self.config.max_idle_per_host = count;
        self
    }

    /// Idle connections older than this are closed instead of reused. Keep it below the
    /// servers' keep-alive timeout.
    ///
    /// # Default
    ///
    /// [`DEFAULT_IDLE_TIMEOUT`] (30 s).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// The `User-Agent` sent with each request unless the request sets its own; `None`
    /// sends none.
    ///
    /// # Default
    ///
    /// `keel/<version>`.
    pub fn user_agent(mut self, agent: Option<&str>) -> Self {
        self.config.user_agent = agent.map(str::to_owned);
        self
    }

    /// Follow up to `max` redirects (`301`, `302`, `303`, `307`, `308` with a `Location`)
    /// per call; one more fails with
    /// [`ClientError::TooManyRedirects`](super::ClientError::TooManyRedirects). 0 returns
    /// redirects as they are. `303`, and `301`/`302` after a `POST`, are followed with a
    /// bodiless `GET`; `307`/`308` repeat the method and body. `Authorization` and
    /// `Cookie` are dropped when the redirect leaves the host. The total timeout covers
    /// every hop; the request timeout applies to each.
    ///
    /// # Default
    ///
    /// 0: redirects are not followed.
    pub fn follow_redirects(mut self, max: usize) -> Self {
        self.config.max_redirects = max;
        self
    }

    /// Retries requests that failed in a transient way, per `policy` (attempts, backoff
    /// with jitter, its retry budget): connect failures and timeouts, a connection reset
    /// before the response, and the statuses 429, 502, 503 and 504 — waiting exactly
    /// the `Retry-After` the server sent, when it sent one. A 4xx (other than 429) or
    /// any other error is returned at once. A method that is not idempotent (`POST`,
    /// `PATCH`) is retried only when the request surely was not processed: the
    /// connection failed, or the answer was 429 or 503.
    ///
    /// When the retries run out, the last outcome is returned: the last error, or the
    /// last response (a 503 stays a 503 response, not an error).
    ///
    /// Give the client one dependency's policy: a client with resilience tools is a
    /// client for that dependency. See the [module docs](super#resilience).
    ///
    /// # Default
    ///
    /// None: each request is sent once (a stale pooled connection aside).
    pub fn retry(mut self, policy: Retry) -> Self {
        self.config.resilience.get_or_insert_default().retry = Some(policy);
        self
    }

    /// Sends every request through `breaker`: when it is open, requests fail at once
    /// with [`ClientError::CircuitOpen`](super::ClientError::CircuitOpen) (check
    /// [`is_rejected`](super::ClientError::is_rejected) to serve a fallback). It counts
    /// as failures the transient errors above and every 5xx and 429 response; other
    /// responses, 4xx included, show the dependency answering. Its per-call timeout
    /// covers sending the request and reading the response head, and expires as
    /// [`TimeoutPhase::Breaker`](super::TimeoutPhase::Breaker). Each retry attempt is
    /// one breaker call; a retry never runs against an open breaker.
    ///
    /// # Default
    ///
    /// None.
    pub fn circuit_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.config.resilience.get_or_insert_default().breaker = Some(breaker);
        self
    }

    /// Caps the requests in flight through this client's dependency with `bulkhead`
    /// (from sending to the response head); a request with no slot in time fails with
    /// [`ClientError::BulkheadFull`](super::ClientError::BulkheadFull), unsent.
    ///
    /// # Default
    ///
    /// None.
    pub fn bulkhead(mut self, bulkhead: Bulkhead) -> Self {
        self.config.resilience.get_or_insert_default().bulkhead = Some(bulkhead);
        self
    }

    /// Trusts the CA certificates in the PEM file at `path` for `https://`, besides the
    /// bundled Mozilla roots (`webpki-roots`) and the file `KEEL_CLIENT_CA` names — a
    /// private CA, a service mesh's or a test's. The file is read now.
    ///
    /// # Errors
    ///
    /// An [`EnvError`] named `client ca` with the path: a file that cannot be read, holds
    /// no certificate, or one that cannot be a trust anchor.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use keel_http::client::Client;
    ///
    /// let client = Client::builder().add_ca_file("/etc/ssl/internal-ca.pem")?.build();
    /// # drop(client);
    /// # Ok::<(), keel_http::config::EnvError>(())
    /// ```
    pub fn add_ca_file(mut self, path: impl AsRef<Path>) -> Result<ClientBuilder, EnvError> {
        let certs = super::tls::read_ca_file("client ca", path.as_ref())?;
        self.config.extra_ca.extend(certs);
        Ok(self)
    }
}
