//! [`ClientError`]: every way an outbound call can fail, each naming its phase. A status
//! code, even 5xx, is not an error: it is a [`Response`](super::Response) like any other.

use std::fmt;
use std::io;

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
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connect",
            TimeoutPhase::Request => "request",
            TimeoutPhase::Total => "total",
        })
    }
}

/// Why an outbound call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL cannot be used: malformed, or a scheme other than `http` (TLS is not
    /// supported yet).
    InvalidUrl(String),
    /// The request cannot be sent as built: a bad header name or value, a header the
    /// client owns (`Content-Length`, `Transfer-Encoding`), or a body that failed to
    /// serialize.
    InvalidRequest(String),
    /// The connection could not be opened: DNS failure, refused, unreachable.
    Connect(io::Error),
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
}

impl ClientError {
    /// Whether the call failed while connecting (an error or the connect timeout).
    pub fn is_connect(&self) -> bool {
        matches!(
            self,
            ClientError::Connect(_) | ClientError::Timeout(TimeoutPhase::Connect)
        )
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
            ClientError::Timeout(phase) => write!(f, "{phase} timeout expired"),
            ClientError::InvalidResponse(reason) => write!(f, "invalid response: {reason}"),
            ClientError::HeadTooLarge => f.write_str("response head over the limit"),
            ClientError::BodyTooLarge(limit) => {
                write!(f, "response body over the limit of {limit} bytes")
            }
            ClientError::TooManyRedirects(n) => write!(f, "too many redirects (followed {n})"),
            ClientError::Io(e) => write!(f, "connection error: {e}"),
            ClientError::Decode(reason) => write!(f, "cannot decode response body: {reason}"),
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
