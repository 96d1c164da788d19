//! [`ParseError`]: why a request head was refused ([`ParseErrorKind`]), the status code
//! to answer with, and whether the connection can carry on. Shared by the head parser
//! (`parse.rs`), its field rules (`fields.rs`) and the client's response-head parser.

use std::fmt;
use std::num::NonZeroU32;

use super::{BodyLength, Version};

/// Why a request head was refused. Each kind maps to one status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The method is not a token. 400.
    InvalidMethod,
    /// The request-target has invalid bytes, or a form its method does not allow. 400.
    InvalidTarget,
    /// The version is not `HTTP/d.d`. 400.
    InvalidVersion,
    /// A well-formed version other than HTTP/1.0 and HTTP/1.1. 505.
    UnsupportedVersion,
    /// A line ends in a bare LF or CR, or the request line has trailing bytes. 400.
    InvalidNewline,
    /// A header name is not a token: includes space before the colon and obs-fold. 400.
    InvalidHeaderName,
    /// A header value contains a control character. 400.
    InvalidHeaderValue,
    /// HTTP/1.1 without `Host`. 400.
    MissingHost,
    /// More than one `Host` field. 400.
    MultipleHost,
    /// A `Host` value that is not a valid authority (RFC 9110 §7.2). 400, and the
    /// connection closes.
    InvalidHost,
    /// Both `Content-Length` and `Transfer-Encoding`. 400.
    ContentLengthWithTransferEncoding,
    /// `Content-Length` is not `1*DIGIT`, overflows, or its values differ. 400.
    InvalidContentLength,
    /// `Transfer-Encoding` with no coding in it. 400.
    InvalidTransferEncoding,
    /// `chunked` is not the last coding, or appears twice. 400.
    ChunkedNotLast,
    /// `Transfer-Encoding` in an HTTP/1.0 request. 400.
    TransferEncodingOnHttp10,
    /// A transfer coding other than `chunked`. 501.
    UnsupportedTransferEncoding,
    /// The request-target exceeds the URI limit. 414.
    UriTooLong,
    /// The head exceeds the head-size limit. 431.
    HeadTooLarge,
    /// More header fields than the limit allows. 431.
    TooManyHeaders,
    /// `Content-Length` exceeds the body limit. 413.
    BodyTooLarge,
}

/// A request head that was refused: what was wrong, the status code to answer with, and
/// whether the connection can carry on afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError {
    kind: ParseErrorKind,
    /// Set only when the head was complete and has no body, so the next request starts here.
    resume_at: Option<NonZeroU32>,
    /// The request's version and whether it asked to keep the connection, when the head
    /// was complete enough to tell.
    request: Option<(Version, bool)>,
}

impl ParseError {
    pub(super) fn new(kind: ParseErrorKind) -> ParseError {
        ParseError {
            kind,
            resume_at: None,
            request: None,
        }
    }

    pub(super) fn after_head(
        kind: ParseErrorKind,
        head_len: usize,
        body: BodyLength,
        version: Version,
        keep_alive: bool,
    ) -> ParseError {
        ParseError {
            kind,
            // A head is never empty and never longer than `u32::MAX` (the parse cap).
            resume_at: NonZeroU32::new(u32::try_from(head_len).unwrap_or(0))
                .filter(|_| body == BodyLength::Empty),
            request: Some((version, keep_alive)),
        }
    }

    /// A refusal after a complete head that closes the connection all the same: the
    /// request cannot be trusted to be what it claims.
    pub(super) fn closing(kind: ParseErrorKind, version: Version) -> ParseError {
        ParseError {
            kind,
            resume_at: None,
            request: Some((version, false)),
        }
    }

    /// What was wrong.
    pub fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// The status code to answer with: 400, 413, 414, 431, 501 or 505.
    pub fn status(&self) -> u16 {
        use ParseErrorKind::*;
        match self.kind {
            UnsupportedVersion => 505,
            UnsupportedTransferEncoding => 501,
            UriTooLong => 414,
            HeadTooLarge | TooManyHeaders => 431,
            BodyTooLarge => 413,
            InvalidMethod
            | InvalidTarget
            | InvalidVersion
            | InvalidNewline
            | InvalidHeaderName
            | InvalidHeaderValue
            | MissingHost
            | MultipleHost
            | InvalidHost
            | ContentLengthWithTransferEncoding
            | InvalidContentLength
            | InvalidTransferEncoding
            | ChunkedNotLast
            | TransferEncodingOnHttp10 => 400,
        }
    }

    /// Whether the connection must close after the error response. False only when the head
    /// was complete, its framing valid and it had no body: then the next request starts at
    /// [`ParseError::head_len`].
    pub fn must_close(&self) -> bool {
        self.resume_at.is_none()
    }

    /// The refused request's HTTP version, when its head was complete.
    pub fn version(&self) -> Option<Version> {
        self.request.map(|(version, _)| version)
    }

    /// Whether the refused request asked to keep the connection open (its version's
    /// default and its `Connection` header); `false` when the head was incomplete.
    pub fn keep_alive(&self) -> bool {
        self.request.is_some_and(|(_, keep_alive)| keep_alive)
    }

    /// The length of the refused head, when the connection can go on after it.
    pub fn head_len(&self) -> Option<usize> {
        self.resume_at.map(|n| n.get() as usize)
    }

    /// A short, stable description, fit for an error response body or a log line.
    pub fn reason(&self) -> &'static str {
        use ParseErrorKind::*;
        match self.kind {
            InvalidMethod => "invalid method",
            InvalidTarget => "invalid request-target",
            InvalidVersion => "invalid HTTP version",
            UnsupportedVersion => "HTTP version not supported",
            InvalidNewline => "invalid line ending",
            InvalidHeaderName => "invalid header name",
            InvalidHeaderValue => "invalid header value",
            MissingHost => "missing Host header",
            MultipleHost => "more than one Host header",
            InvalidHost => "invalid Host header",
            ContentLengthWithTransferEncoding => "Content-Length with Transfer-Encoding",
            InvalidContentLength => "invalid Content-Length",
            InvalidTransferEncoding => "invalid Transfer-Encoding",
            ChunkedNotLast => "chunked is not the final transfer coding",
            TransferEncodingOnHttp10 => "Transfer-Encoding in an HTTP/1.0 request",
            UnsupportedTransferEncoding => "unsupported transfer coding",
            UriTooLong => "request-target too long",
            HeadTooLarge => "request head too large",
            TooManyHeaders => "too many header fields",
            BodyTooLarge => "request body too large",
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason(), self.status())
    }
}

impl std::error::Error for ParseError {}
