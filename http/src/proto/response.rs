//! Response-head parsing for the client: httparse for the syntax, then the same RFC 9112
//! rules the server applies to requests (bare LF, `Content-Length` syntax and agreement,
//! `Content-Length` with `Transfer-Encoding`, `chunked` last, head size and field count),
//! and the response framing rules of RFC 9112 §6.3 (no body for `HEAD`, `1xx`, `204`,
//! `304`; a body without a declared length runs until the connection closes).
//!
//! Like [`parse`](super::parse), the parser keeps no state: [`Status::Partial`] asks for
//! more bytes, and it never looks past the head-size limit.

use std::fmt;
use std::mem::MaybeUninit;

use super::error::ParseErrorKind;
use super::fields::Fields;
use super::parse::{Status, has_bare_lf};
use super::{BodyLength, Span, Version};

/// How a response body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseBody {
    /// Framed by `Content-Length` or chunked coding, or no body at all.
    Framed(BodyLength),
    /// No declared length: the body ends when the server closes the connection.
    UntilClose,
}

/// A parsed response head. Header names and values are copied out of the buffer, so the
/// head outlives it.
#[derive(Debug, Clone)]
pub(crate) struct ResponseHead {
    pub(crate) status: u16,
    pub(crate) version: Version,
    /// Header fields in order, as sent.
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) head_len: usize,
    pub(crate) body: ResponseBody,
    /// Neither side of the exchange asked to close (the caller adds the request's side).
    pub(crate) keep_alive: bool,
}

/// Why a response head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseError {
    /// The status line, a header or the framing is malformed.
    Invalid(&'static str),
    /// The head exceeds the head-size limit.
    HeadTooLarge,
    /// More header fields than allowed.
    TooManyHeaders,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::Invalid(reason) => f.write_str(reason),
            ResponseError::HeadTooLarge => f.write_str("response head too large"),
            ResponseError::TooManyHeaders => f.write_str("too many header fields"),
        }
    }
}

/// Parses one response head from the front of `buf`, for a request whose method was `HEAD`
/// when `head_request` is set.
///
/// # Errors
///
/// A `ResponseError` when the head is malformed, breaks a framing rule, or exceeds
/// `max_head_size` bytes or `max_headers` fields.
pub(crate) fn parse_response(
    buf: &[u8],
    max_head_size: usize,
    max_headers: usize,
    head_request: bool,
) -> Result<Status<ResponseHead>, ResponseError> {
    let cap = max_head_size.min(u32::MAX as usize);
    let window = &buf[..buf.len().min(cap)];
    let slots_len = max_headers.min(cap / 3 + 1);
    let mut slots = Vec::new();
    slots.resize_with(slots_len, MaybeUninit::<httparse::Header<'_>>::uninit);

    let mut res = httparse::Response::new(&mut []);
    let head_len = match httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut res, window, &mut slots)
    {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            if !buf.is_empty() && window.len() >= cap {
                return Err(ResponseError::HeadTooLarge);
            }
            return Ok(Status::Partial);
        }
        Err(httparse::Error::TooManyHeaders) => return Err(ResponseError::TooManyHeaders),
        Err(e) => return Err(ResponseError::Invalid(httparse_reason(e))),
    };
    if has_bare_lf(&window[..head_len]) {
        return Err(ResponseError::Invalid("invalid line ending"));
    }
    let (Some(status), Some(minor)) = (res.code, res.version) else {
        return Err(ResponseError::Invalid("invalid status line"));
    };
    if !(100..=999).contains(&status) {
        return Err(ResponseError::Invalid("invalid status code"));
    }
    let version = if minor == 0 {
        Version::Http10
    } else {
        Version::Http11
    };

    let mut fields = Fields::default();
    let mut headers = Vec::with_capacity(res.headers.len());
    for h in res.headers.iter() {
        fields
            .note(h.name.as_bytes(), h.value, Span::new(0, 0))
            .map_err(|kind| ResponseError::Invalid(field_reason(kind)))?;
        headers.push((h.name.to_owned(), h.value.to_vec()));
    }

    // RFC 9112 §6.3 rules 1 and 2: these responses never have a body, whatever they say.
    let bodiless = head_request || (100..200).contains(&status) || status == 204 || status == 304;
    let body = if bodiless {
        ResponseBody::Framed(BodyLength::Empty)
    } else {
        // Check the framing fields even when they are absent, so a bad one always fails.
        let framing = fields
            .framing(version)
            .map_err(|kind| ResponseError::Invalid(field_reason(kind)))?;
        if fields.declares_length() {
            ResponseBody::Framed(framing)
        } else {
            ResponseBody::UntilClose
        }
    };
    let keep_alive = body != ResponseBody::UntilClose
        && match version {
            Version::Http11 | Version::Http2 => !fields.close,
            Version::Http10 => fields.keep_alive && !fields.close,
        };
    Ok(Status::Complete(ResponseHead {
        status,
        version,
        headers,
        head_len,
        body,
        keep_alive,
    }))
}

fn httparse_reason(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status code",
        httparse::Error::Version => "invalid or unsupported HTTP version",
        httparse::Error::Token => "invalid token in status line",
        httparse::Error::TooManyHeaders => "too many header fields",
    }
}

fn field_reason(kind: ParseErrorKind) -> &'static str {
    use ParseErrorKind::*;
    match kind {
        ContentLengthWithTransferEncoding => "Content-Length with Transfer-Encoding",
        InvalidContentLength => "invalid Content-Length",
        InvalidTransferEncoding => "invalid Transfer-Encoding",
        ChunkedNotLast => "chunked is not the final transfer coding",
        TransferEncodingOnHttp10 => "Transfer-Encoding in an HTTP/1.0 response",
        UnsupportedTransferEncoding => "unsupported transfer coding",
        _ => "invalid header field",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(buf: &[u8]) -> Result<Status<ResponseHead>, ResponseError> {
        parse_response(buf, 8 * 1024, 100, false)
    }

    fn complete(buf: &[u8]) -> ResponseHead {
        match parse(buf) {
            Ok(Status::Complete(head)) => head,
            other => panic!("expected a complete head, got {other:?}"),
        }
    }

    #[test]
    fn content_length_and_chunked_and_close_delimited() {
        let head = complete(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!(head.status, 200);
        assert_eq!(head.head_len, 38);
        assert_eq!(head.body, ResponseBody::Framed(BodyLength::Known(5)));
        assert!(head.keep_alive);

        let head = complete(b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(head.body, ResponseBody::Framed(BodyLength::Chunked));

        let head = complete(b"HTTP/1.1 200 OK\r\nX-A: b\r\n\r\n");
        assert_eq!(head.body, ResponseBody::UntilClose);
        assert!(!head.keep_alive);
        assert_eq!(head.headers, vec![("X-A".to_owned(), b"b".to_vec())]);
    }

    #[test]
    fn keep_alive_follows_version_and_connection() {
        let close = complete(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        assert!(!close.keep_alive);
        let old = complete(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert!(!old.keep_alive);
        let old_ka =
            complete(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
        assert!(old_ka.keep_alive);
    }

    #[test]
    fn bodiless_statuses_and_head_requests() {
        for status in [b"204", b"304", b"100"] {
            let mut buf = b"HTTP/1.1 ".to_vec();
            buf.extend_from_slice(status);
            buf.extend_from_slice(b" X\r\nContent-Length: 10\r\n\r\n");
            assert_eq!(complete(&buf).body, ResponseBody::Framed(BodyLength::Empty));
        }
        let buf = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
        match parse_response(buf, 1024, 10, true) {
            Ok(Status::Complete(head)) => {
                assert_eq!(head.body, ResponseBody::Framed(BodyLength::Empty));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn smuggling_shapes_are_refused() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                "Content-Length with Transfer-Encoding",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n",
                "invalid Content-Length",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n",
                "invalid Content-Length",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                "chunked is not the final transfer coding",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                "unsupported transfer coding",
            ),
            (
                b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
                "invalid line ending",
            ),
            (b"HTTP/1.1 2000 OK\r\n\r\n", "invalid status code"),
            (
                b"HTTP/2.0 200 OK\r\n\r\n",
                "invalid or unsupported HTTP version",
            ),
        ];
        for (buf, reason) in cases {
            match parse(buf) {
                Err(ResponseError::Invalid(r)) => assert_eq!(r, *reason, "{buf:?}"),
                other => panic!("{buf:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn limits_and_partial_heads() {
        assert!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Le")
                .unwrap()
                .is_partial()
        );
        let big = [b"HTTP/1.1 200 OK\r\nX: ".as_slice(), &[b'a'; 100]].concat();
        assert_eq!(
            parse_response(&big, 64, 10, false).unwrap_err(),
            ResponseError::HeadTooLarge
        );
        let many = b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        assert_eq!(
            parse_response(many, 1024, 2, false).unwrap_err(),
            ResponseError::TooManyHeaders
        );
    }
}
