//! The sans-I/O HTTP/1.1 protocol core (RFC 9112): the server side, and the response-head
//! parser of the client ([`response`]).
//!
//! Nothing in this module touches a socket, a clock other than the `Date` cache, or a
//! runtime: every function takes bytes and returns what it found, so the whole protocol is
//! tested and fuzzed on plain buffers.
//!
//! # The contract
//!
//! The connection layer owns a read buffer and a write buffer and drives the parts in this
//! order, once per request on a keep-alive connection:
//!
//! 1. [`parse`]: call [`parse_request`] (or [`parse_request_into`] to reuse a head's
//!    allocation) on the unread front of the read buffer.
//!    - `Ok(Status::Partial)`: read more bytes and call again with the longer buffer. The
//!      parser keeps no state between calls.
//!    - `Ok(Status::Complete(head))`: the head is [`RequestHead::head_len`] bytes long. Its
//!      method, target and headers are [`Span`]s into *that* buffer, so keep those bytes
//!      until the request is handled. Pipelined requests follow at `head_len`.
//!    - `Err(e)`: answer [`ParseError::status`]; close afterwards unless
//!      [`ParseError::must_close`] is false, in which case skip [`ParseError::head_len`] bytes
//!      and go on with the next request.
//! 2. [`decode`]: build a [`Decoder`] from [`RequestHead::body`] and feed it the bytes after
//!    the head, then each newly read slice. It keeps its own state, so input may be split at
//!    any byte. It hands out body data as borrowed slices and reports how many input bytes it
//!    consumed; when it reports `done`, the next request starts at that offset. Errors carry a
//!    status (400 or 413) and always close the connection.
//! 3. [`encode`]: write the response head with [`HeadEncoder`] into the write buffer, then the
//!    body through the [`BodyEncoder`] it returns (`Content-Length` or chunked framing, or
//!    nothing at all for `HEAD`, `1xx`, `204` and `304`).
//! 4. [`date`]: [`HeadEncoder`] adds the `Date` header from a per-thread cache rendered at
//!    most once a second.
//!
//! Keep-alive is decided from the head ([`RequestHead::keep_alive`]) and from whether the
//! response asked to close; the connection layer combines them.
//!
//! [`parse_request`]: parse::parse_request
//! [`parse_request_into`]: parse::parse_request_into
//! [`ParseError::status`]: error::ParseError::status
//! [`ParseError::must_close`]: error::ParseError::must_close
//! [`ParseError::head_len`]: error::ParseError::head_len
//! [`Decoder`]: decode::Decoder
//! [`HeadEncoder`]: encode::HeadEncoder
//! [`BodyEncoder`]: encode::BodyEncoder

mod authority;
pub(crate) mod date;
pub(crate) mod decode;
pub(crate) mod encode;
pub(crate) mod error;
mod fields;
pub(crate) mod head;
pub(crate) mod method;
pub(crate) mod parse;
pub(crate) mod response;

pub(crate) use self::head::{HeaderSpan, RequestHead, Span, Target, TargetForm};
pub(crate) use self::method::Method;

/// The HTTP version of a request. Only HTTP/1.0 and HTTP/1.1 are parsed from text; an
/// HTTP/2 request (its head decoded by the `h2` crate) is [`Version::Http2`]; any other
/// version is answered with `505`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// `HTTP/1.0`: connections close after each exchange unless `Connection: keep-alive`.
    Http10,
    /// `HTTP/1.1`: connections persist unless `Connection: close`.
    Http11,
    /// `HTTP/2`: a stream of a multiplexed connection (h2c or ALPN `h2`).
    Http2,
}

impl Version {
    /// The version as it appears on the wire, e.g. `"HTTP/1.1"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
            Version::Http2 => "HTTP/2",
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the body of a request is framed (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// No body: neither `Content-Length` nor `Transfer-Encoding`, or `Content-Length: 0`.
    Empty,
    /// A `Content-Length` body of exactly this many bytes (never 0).
    Known(u64),
    /// A `Transfer-Encoding: chunked` body, length unknown until its last chunk.
    Chunked,
}
