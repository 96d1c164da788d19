//! [`ClientError`]: every way an outbound call can fail, each naming its phase. A status
//! code, even 5xx, is not an error: it is a [`Response`](super::Response) like any other.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use keel_runtime::resilience::Transient;

/// Which timeout expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutPhase {
    /// Resolving the host and opening the TCP connection
    /// ([`ClientBuilder::connect_timeout`](super::ClientBuilder::connect_timeout)).
    Connect,
    /// Writing the request and reading the response, head and body
    /// ([`ClientBuilder::request_timeout`](super::ClientBuilder::request_timeout)).
    Request,
    /// The whole call, from `send` to the last body byte
    /// ([`ClientBuilder::total_timeout`](super::ClientBuilder::total_timeout)).
    Total,
    /// The circuit breaker's per-call timeout
    /// ([`ClientBuilder::circuit_breaker`](super::ClientBuilder::circuit_breaker)).
    Breaker,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connect",
            TimeoutPhase::Request => "request",
            TimeoutPhase::Total => "total",
            TimeoutPhase::Breaker => "circuit breaker call",
        })
    }
}

/// Why an outbound call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL cannot be used: malformed, or a scheme other than `http` and `https`.
    InvalidUrl(String),
    /// The request cannot be sent as built: a bad header name or value, a header the
    /// client owns (`Content-Length`, `Transfer-Encoding`), or a body that failed to
    /// serialize.
    InvalidRequest(String),
    /// The connection could not be opened: DNS failure, refused, unreachable, or closed
    /// during the TLS handshake.
    Connect(io::Error),
    /// The TLS handshake with `host` was refused: its certificate did not verify
    /// (unknown issuer, expired, issued for another name), the server refused the
    /// handshake, or the client's trust settings are unusable (`KEEL_CLIENT_CA`). The
    /// request was not sent; nothing falls back to plaintext.
    Tls {
        /// The host the URL named, verified against the certificate.
        host: String,
        /// Why, in rustls' words.
        reason: String,
    },
    /// A timeout expired; the phase says which.
    Timeout(TimeoutPhase),
    /// The server's response breaks HTTP/1.1 (malformed head, ambiguous framing, bad
    /// chunked coding) or ended early. The connection is closed.
    InvalidResponse(String),
    /// The response head is larger than
    /// [`ClientBuilder::max_head_size`](super::ClientBuilder::max_head_size) or has more
    /// fields than [`ClientBuilder::max_headers`](super::ClientBuilder::max_headers).
    HeadTooLarge,
    /// The response body is larger than
    /// [`ClientBuilder::max_body_size`](super::ClientBuilder::max_body_size) (this many
    /// bytes).
    BodyTooLarge(u64),
    /// More redirects than
    /// [`ClientBuilder::follow_redirects`](super::ClientBuilder::follow_redirects) allows
    /// (this many were followed).
    TooManyRedirects(usize),
    /// A read or write on an open connection failed.
    Io(io::Error),
    /// The response body is not the JSON (or UTF-8 text) asked for.
    Decode(String),
    /// The client's circuit breaker for this dependency (named) is open: the request
    /// was not sent ([`ClientBuilder::circuit_breaker`](super::ClientBuilder::circuit_breaker)).
    CircuitOpen(Arc<str>),
    /// The client's bulkhead for this dependency (named) had no free slot in time: the
    /// request was not sent ([`ClientBuilder::bulkhead`](super::ClientBuilder::bulkhead)).
    BulkheadFull(Arc<str>),
}

impl ClientError {
    /// Whether the call failed while connecting (an error or the connect timeout).
    pub fn is_connect(&self) -> bool {
        matches!(
            self,
            ClientError::Connect(_) | ClientError::Timeout(TimeoutPhase::Connect)
        )
    }

    /// Whether the TLS handshake was refused ([`ClientError::Tls`]): a certificate
    /// problem, not a network one, so not retried.
    pub fn is_tls(&self) -> bool {
        matches!(self, ClientError::Tls { .. })
    }

    /// Whether a resilience tool refused the call without sending it (an open circuit
    /// breaker or a full bulkhead): the moment for a fallback.
    pub fn is_rejected(&self) -> bool {
        matches!(
            self,
            ClientError::CircuitOpen(_) | ClientError::BulkheadFull(_)
        )
    }

    /// A short name of the variant, for span attributes and metrics labels.
    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            ClientError::InvalidUrl(_) => "invalid_url",
            ClientError::InvalidRequest(_) => "invalid_request",
            ClientError::Connect(_) => "connect",
            ClientError::Tls { .. } => "tls",
            ClientError::Timeout(_) => "timeout",
            ClientError::InvalidResponse(_) => "invalid_response",
            ClientError::HeadTooLarge => "head_too_large",
            ClientError::BodyTooLarge(_) => "body_too_large",
            ClientError::TooManyRedirects(_) => "too_many_redirects",
            ClientError::Io(_) => "io",
            ClientError::Decode(_) => "decode",
            ClientError::CircuitOpen(_) => "circuit_open",
            ClientError::BulkheadFull(_) => "bulkhead_full",
        }
    }

    /// The timeout that expired, if this is a timeout.
    pub fn timeout_phase(&self) -> Option<TimeoutPhase> {
        match self {
            ClientError::Timeout(phase) => Some(*phase),
            _ => None,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::InvalidUrl(reason) => write!(f, "invalid URL: {reason}"),
            ClientError::InvalidRequest(reason) => write!(f, "invalid request: {reason}"),
            ClientError::Connect(e) => write!(f, "connect failed: {e}"),
            ClientError::Tls { host, reason } => write!(f, "TLS with {host} failed: {reason}"),
            ClientError::Timeout(phase) => write!(f, "{phase} timeout expired"),
            ClientError::InvalidResponse(reason) => write!(f, "invalid response: {reason}"),
            ClientError::HeadTooLarge => f.write_str("response head over the limit"),
            ClientError::BodyTooLarge(limit) => {
                write!(f, "response body over the limit of {limit} bytes")
            }
            ClientError::TooManyRedirects(n) => write!(f, "too many redirects (followed {n})"),
            ClientError::Io(e) => write!(f, "connection error: {e}"),
            ClientError::Decode(reason) => write!(f, "cannot decode response body: {reason}"),
            ClientError::CircuitOpen(dependency) => {
                write!(f, "{dependency}: circuit breaker is open, request not sent")
            }
            ClientError::BulkheadFull(dependency) => {
                write!(f, "{dependency}: bulkhead full, request not sent")
            }
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Connect(e) | ClientError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Which failures may succeed when the same request is made again: failing to connect
/// (refused, unreachable, DNS) and the connect, request and breaker timeouts; a
/// connection reset, aborted or closed before the response; nothing else (a malformed
/// response, a body over the limit, a bad URL fail the same way again). An open
/// breaker or a full bulkhead is not retried either: retrying would only add load.
/// Status codes are not errors; the client's [retry](super::ClientBuilder::retry)
/// classifies them itself (429, 502, 503, 504 transient).
impl Transient for ClientError {
    fn is_transient(&self) -> bool {
        match self {
            ClientError::Connect(_) => true,
            ClientError::Timeout(phase) => *phase != TimeoutPhase::Total,
            ClientError::Io(e) => e.is_transient(),
            _ => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        None
    }
}
