//! Request-head parsing: httparse for the syntax, then the RFC 9112 rules httparse leaves to
//! its caller (framing, `Host`, versions, bare LF, limits), ending in a [`RequestHead`] or a
//! [`ParseError`] that names the status code to answer with.
//!
//! Incomplete input is not an error: [`Status::Partial`] asks for more bytes. The parser keeps
//! no state between calls; each call parses the buffer from its start. It never looks past
//! the head-size limit, so a slow or hostile client costs at most one limit's worth of
//! scanning per call.
//!
//! # Rules enforced here, with their answers
//!
//! | rule | status | closes |
//! |---|---|---|
//! | invalid method token, request-target or header syntax, bare LF, obs-fold, space before `:`, control characters in a value | 400 | yes |
//! | `HTTP/d.d` other than 1.0 / 1.1 | 505 | yes |
//! | `Content-Length` with `Transfer-Encoding`; `Transfer-Encoding` on HTTP/1.0 | 400 | yes |
//! | `Content-Length` invalid or values that differ (`5, 5` is fine) | 400 | yes |
//! | `chunked` not the last coding, or twice | 400 | yes |
//! | a coding other than `chunked` | 501 | yes |
//! | request-target longer than [`Limits::max_uri_len`] | 414 | yes |
//! | head larger than [`Limits::max_head_size`] or more than [`Limits::max_headers`] fields | 431 | yes |
//! | `Content-Length` above [`Limits::max_body_size`] | 413 | yes |
//! | no `Host` on HTTP/1.1, more than one `Host`, a target form the method does not allow | 400 | only if the request has a body |
//! | a `Host` that is not a valid authority (userinfo, a path, a bad port, …) | 400 | yes |

use std::mem::MaybeUninit;

use super::authority::is_valid_host;
use super::error::{ParseError, ParseErrorKind};
use super::fields::Fields;
use super::{BodyLength, HeaderSpan, Method, RequestHead, Span, Target, TargetForm, Version};
use crate::limits::Limits;

/// Header slots kept on the stack. Heads allowed more fields than this use a heap array.
const STACK_HEADERS: usize = 128;

/// The outcome of a parse that did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status<T> {
    /// The head is complete.
    Complete(T),
    /// The buffer holds the start of a head (or nothing): read more and parse again.
    Partial,
}

impl<T> Status<T> {
    /// Whether more bytes are needed.
    pub fn is_partial(&self) -> bool {
        matches!(self, Status::Partial)
    }
}

/// Parses one request head from the front of `buf`.
///
/// # Errors
///
/// A `ParseError` when the head is malformed, breaks an RFC 9112 framing rule or exceeds
/// `limits`; see the module docs for the list.
pub fn parse_request(buf: &[u8], limits: &Limits) -> Result<Status<RequestHead>, ParseError> {
    let mut head = RequestHead::default();
    Ok(match parse_request_into(buf, limits, &mut head)? {
        Status::Complete(_) => Status::Complete(head),
        Status::Partial => Status::Partial,
    })
}

/// Parses one request head from the front of `buf` into `head`, reusing its header storage.
/// On success returns the head length; on `Partial` or an error, `head` holds no request.
///
/// # Errors
///
/// As [`parse_request`].
pub(crate) fn parse_request_into(
    buf: &[u8],
    limits: &Limits,
    head: &mut RequestHead,
) -> Result<Status<usize>, ParseError> {
    head.headers.clear();
    // Spans are u32 and the parser never looks past the head limit.
    let cap = limits.max_head_size.min(u32::MAX as usize);
    let window = &buf[..buf.len().min(cap)];

    // No header line is shorter than "a:\n", so more slots than that can never fill.
    let slots_len = limits.max_headers.min(cap / 3 + 1);
    let mut stack = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; STACK_HEADERS];
    let mut heap = Vec::new();
    let slots = if slots_len <= STACK_HEADERS {
        &mut stack[..slots_len]
    } else {
        heap.resize_with(slots_len, MaybeUninit::uninit);
        &mut heap[..]
    };

    let mut req = httparse::Request::new(&mut []);
    let head_len = match req.parse_with_uninit_headers(window, slots) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return partial(buf, window, cap, &req, limits),
        Err(httparse::Error::Version) => {
            return match classify_version(window, &req) {
                VersionToken::Incomplete => partial(buf, window, cap, &req, limits),
                VersionToken::Unsupported => {
                    Err(ParseError::new(ParseErrorKind::UnsupportedVersion))
                }
                VersionToken::Malformed => Err(ParseError::new(ParseErrorKind::InvalidVersion)),
            };
        }
        Err(e) => return Err(ParseError::new(map_httparse(e, &req))),
    };
    let bytes = &window[..head_len];

    // httparse accepts a bare LF as a line end; RFC 9112 §2.2 lets us refuse it, and we do:
    // a peer that splits lines differently from us is a request-smuggling vector.
    if has_bare_lf(bytes) {
        return Err(ParseError::new(ParseErrorKind::InvalidNewline));
    }

    let (Some(method), Some(uri), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(ParseError::new(ParseErrorKind::InvalidMethod));
    };
    if uri.len() > limits.max_uri_len {
        return Err(ParseError::new(ParseErrorKind::UriTooLong));
    }
    head.method = Method::from_token(method);
    head.version = if minor == 0 {
        Version::Http10
    } else {
        Version::Http11
    };
    head.head_len = head_len;

    head.headers.reserve(req.headers.len());
    let mut fields = Fields::default();
    for h in req.headers.iter() {
        let name_start = offset_in(window, h.name.as_bytes()).unwrap_or(0);
        let name = Span::new(name_start, name_start + h.name.len());
        let value = match offset_in(window, h.value) {
            Some(start) => Span::new(start, start + h.value.len()),
            None => Span::new(name.end(), name.end()),
        };
        head.headers.push(HeaderSpan { name, value });
        fields
            .note(h.name.as_bytes(), h.value, value)
            .map_err(ParseError::new)?;
    }

    head.body = fields.framing(head.version).map_err(ParseError::new)?;
    if let BodyLength::Known(n) = head.body
        && n > limits.max_body_size
    {
        return Err(ParseError::new(ParseErrorKind::BodyTooLarge));
    }
    head.keep_alive = match head.version {
        Version::Http11 | Version::Http2 => !fields.close,
        Version::Http10 => fields.keep_alive && !fields.close,
    };
    // RFC 9110 §10.1.1: a 100-continue expectation in an HTTP/1.0 request is ignored.
    head.expect_continue = fields.expect_continue && head.version == Version::Http11;
    head.host = fields.host;

    // The framing is known from here on: a request without a body can be refused and the
    // connection kept.
    let semantic =
        |kind| ParseError::after_head(kind, head_len, head.body, head.version, head.keep_alive);
    let uri_start = offset_in(window, uri.as_bytes()).unwrap_or(0);
    head.target = parse_target(&head.method, uri.as_bytes(), uri_start).map_err(semantic)?;
    if fields.host_count > 1 {
        return Err(semantic(ParseErrorKind::MultipleHost));
    }
    if fields.host_count == 0 && head.version == Version::Http11 {
        return Err(semantic(ParseErrorKind::MissingHost));
    }
    if let Some(host) = head.host
        && !is_valid_host(host.of(buf))
    {
        return Err(ParseError::closing(
            ParseErrorKind::InvalidHost,
            head.version,
        ));
    }
    Ok(Status::Complete(head_len))
}

/// The answer for an incomplete head: `Partial`, unless what has arrived already breaks a
/// limit.
fn partial<T>(
    buf: &[u8],
    window: &[u8],
    cap: usize,
    req: &httparse::Request<'_, '_>,
    limits: &Limits,
) -> Result<Status<T>, ParseError> {
    if partial_uri_len(window, req) > limits.max_uri_len {
        return Err(ParseError::new(ParseErrorKind::UriTooLong));
    }
    // A head that has not ended within `cap` bytes can only end beyond the limit.
    if !buf.is_empty() && window.len() >= cap {
        return Err(ParseError::new(ParseErrorKind::HeadTooLarge));
    }
    Ok(Status::Partial)
}

/// Length of the request-target received so far, complete or not.
fn partial_uri_len(window: &[u8], req: &httparse::Request<'_, '_>) -> usize {
    if let Some(uri) = req.path {
        return uri.len();
    }
    let line = skip_empty_lines(window);
    let Some(sp) = line.iter().position(|&b| b == b' ') else {
        return 0;
    };
    let rest = &line[sp + 1..];
    rest.iter()
        .position(|&b| matches!(b, b' ' | b'\r' | b'\n'))
        .unwrap_or(rest.len())
}

fn skip_empty_lines(mut bytes: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = bytes {
        bytes = rest;
    }
    bytes
}

enum VersionToken {
    Incomplete,
    Unsupported,
    Malformed,
}

/// httparse reports any version other than 1.0/1.1 as one error. Split it: a well-formed
/// `HTTP/d.d` is a version we do not support (505), anything else is a bad request (400).
fn classify_version(window: &[u8], req: &httparse::Request<'_, '_>) -> VersionToken {
    const SHAPE: &[u8; 8] = b"HTTP/d.d";
    let Some(uri) = req.path else {
        return VersionToken::Malformed;
    };
    let start = offset_in(window, uri.as_bytes()).unwrap_or(0) + uri.len() + 1;
    let rest = window.get(start..).unwrap_or_default();
    let (token, terminated) = match rest.iter().position(|&b| b == b'\r' || b == b'\n') {
        Some(end) => (&rest[..end], true),
        None => (rest, false),
    };
    let shaped = token.len() <= SHAPE.len()
        && token.iter().zip(SHAPE).all(|(&b, &s)| match s {
            b'd' => b.is_ascii_digit(),
            _ => b == s,
        });
    match (shaped, terminated, token.len() == SHAPE.len()) {
        (false, _, _) => VersionToken::Malformed,
        (true, true, true) => VersionToken::Unsupported,
        (true, true, false) => VersionToken::Malformed,
        (true, false, _) => VersionToken::Incomplete,
    }
}

fn map_httparse(e: httparse::Error, req: &httparse::Request<'_, '_>) -> ParseErrorKind {
    match e {
        httparse::Error::HeaderName => ParseErrorKind::InvalidHeaderName,
        httparse::Error::HeaderValue => ParseErrorKind::InvalidHeaderValue,
        httparse::Error::NewLine => ParseErrorKind::InvalidNewline,
        httparse::Error::TooManyHeaders => ParseErrorKind::TooManyHeaders,
        // A bad token before the method is parsed is the method; after, it is the target.
        httparse::Error::Token if req.method.is_none() => ParseErrorKind::InvalidMethod,
        httparse::Error::Token => ParseErrorKind::InvalidTarget,
        httparse::Error::Version | httparse::Error::Status => ParseErrorKind::InvalidVersion,
    }
}

/// Whether any LF in `head` is not preceded by CR. Branch-free so it vectorizes.
pub(super) fn has_bare_lf(head: &[u8]) -> bool {
    let first = head.first() == Some(&b'\n');
    let rest = head[1.min(head.len())..]
        .iter()
        .zip(head)
        .fold(false, |acc, (&b, &prev)| {
            acc | ((b == b'\n') & (prev != b'\r'))
        });
    first | rest
}

/// Offset of `part` inside `whole`, if `part` points into it.
fn offset_in(whole: &[u8], part: &[u8]) -> Option<usize> {
    let base = whole.as_ptr() as usize;
    let start = (part.as_ptr() as usize).checked_sub(base)?;
    (start + part.len() <= whole.len()).then_some(start)
}

/// Splits the request-target into its parts (RFC 9112 §3.2). `start` is its offset in the
/// buffer.
fn parse_target(method: &Method, uri: &[u8], start: usize) -> Result<Target, ParseErrorKind> {
    let span = |from: usize, to: usize| Span::new(start + from, start + to);
    let whole = span(0, uri.len());
    let split_query = |from: usize| match uri[from..].iter().position(|&b| b == b'?') {
        Some(q) => (span(from, from + q), Some(span(from + q + 1, uri.len()))),
        None => (span(from, uri.len()), None),
    };
    if *method == Method::Connect {
        // authority-form = uri-host ":" port
        let port = uri.iter().rposition(|&b| b == b':').map(|c| &uri[c + 1..]);
        let valid = uri.first().is_some_and(|&b| b != b':')
            && port.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit))
            && !uri.iter().any(|&b| matches!(b, b'/' | b'?' | b'#' | b'@'));
        if !valid {
            return Err(ParseErrorKind::InvalidTarget);
        }
        return Ok(Target {
            form: TargetForm::Authority,
            whole,
            scheme: None,
            authority: Some(whole),
            path: span(0, 0),
            query: None,
        });
    }
    match uri {
        [b'/', ..] => {
            let (path, query) = split_query(0);
            Ok(Target {
                form: TargetForm::Origin,
                whole,
                scheme: None,
                authority: None,
                path,
                query,
            })
        }
        b"*" if *method == Method::Options => Ok(Target {
            form: TargetForm::Asterisk,
            whole,
            scheme: None,
            authority: None,
            path: whole,
            query: None,
        }),
        _ => {
            let sep = find(uri, b"://").ok_or(ParseErrorKind::InvalidTarget)?;
            let scheme = &uri[..sep];
            if !scheme.eq_ignore_ascii_case(b"http") && !scheme.eq_ignore_ascii_case(b"https") {
                return Err(ParseErrorKind::InvalidTarget);
            }
            let auth_start = sep + 3;
            let auth_end = uri[auth_start..]
                .iter()
                .position(|&b| b == b'/' || b == b'?')
                .map_or(uri.len(), |i| auth_start + i);
            if auth_end == auth_start {
                return Err(ParseErrorKind::InvalidTarget);
            }
            let (path, query) = split_query(auth_end);
            Ok(Target {
                form: TargetForm::Absolute,
                whole,
                scheme: Some(span(0, sep)),
                authority: Some(span(auth_start, auth_end)),
                path,
                query,
            })
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const L: Limits = Limits::DEFAULT;

    fn complete(buf: &[u8], limits: &Limits) -> RequestHead {
        match parse_request(buf, limits) {
            Ok(Status::Complete(head)) => head,
            other => panic!("expected a complete head, got {other:?}"),
        }
    }

    fn error(buf: &[u8], limits: &Limits) -> ParseError {
        match parse_request(buf, limits) {
            Err(e) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    /// `req!(name, bytes, |head, buf| assertions)` for heads that parse;
    /// `req!(name, bytes, Err(Kind, status, close))` for heads that are refused;
    /// `req!(name, bytes, Partial)` for heads that need more bytes.
    macro_rules! req {
        ($name:ident, $buf:expr, |$head:ident, $b:ident| $body:expr) => {
            #[test]
            fn $name() {
                let $b: &[u8] = $buf;
                let $head = complete($b, &L);
                $body
            }
        };
        ($name:ident, $buf:expr, Err($kind:ident, $status:expr, close = $close:expr)) => {
            #[test]
            fn $name() {
                let e = error($buf, &L);
                assert_eq!(e.kind(), ParseErrorKind::$kind, "{e}");
                assert_eq!(e.status(), $status);
                assert_eq!(e.must_close(), $close);
            }
        };
        ($name:ident, $buf:expr, Partial) => {
            #[test]
            fn $name() {
                assert_eq!(parse_request($buf, &L).unwrap(), Status::Partial);
            }
        };
    }

    // ===== well-formed heads =====

    req!(
        simple_get,
        b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
        |h, b| {
            assert_eq!(*h.method(), Method::Get);
            assert_eq!(h.version(), Version::Http11);
            assert_eq!(h.path(b), b"/index.html");
            assert_eq!(h.query(b), None);
            assert_eq!(h.target().form(), TargetForm::Origin);
            assert_eq!(h.head_len(), b.len());
            assert_eq!(h.headers().len(), 2);
            assert_eq!(h.header(b, "ACCEPT"), Some(&b"*/*"[..]));
            assert_eq!(h.host().map(|s| s.of(b)), Some(&b"example.com"[..]));
            assert_eq!(h.body(), BodyLength::Empty);
            assert!(h.keep_alive());
            assert!(!h.expect_continue());
            let pairs: Vec<_> = h.header_pairs(b).collect();
            assert_eq!(pairs[1], (&b"Accept"[..], &b"*/*"[..]));
        }
    );

    req!(
        origin_form_query,
        b"GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: h\r\n\r\n",
        |h, b| {
            assert_eq!(h.path(b), b"/a/b");
            assert_eq!(h.query(b), Some(&b"x=1&y=2"[..]));
            assert_eq!(h.target().whole().of(b), b"/a/b?x=1&y=2");
        }
    );

    req!(
        empty_query,
        b"GET /a? HTTP/1.1\r\nHost: h\r\n\r\n",
        |h, b| {
            assert_eq!(h.path(b), b"/a");
            assert_eq!(h.query(b), Some(&b""[..]));
        }
    );

    req!(
        absolute_form,
        b"GET http://example.com:8080/p/q?z HTTP/1.1\r\nHost: other\r\n\r\n",
        |h, b| {
            let t = h.target();
            assert_eq!(t.form(), TargetForm::Absolute);
            assert_eq!(t.scheme().unwrap().of(b), b"http");
            assert_eq!(t.authority().unwrap().of(b), b"example.com:8080");
            assert_eq!(h.path(b), b"/p/q");
            assert_eq!(h.query(b), Some(&b"z"[..]));
        }
    );

    req!(
        absolute_form_without_path,
        b"GET HTTPS://example.com?q HTTP/1.1\r\nHost: h\r\n\r\n",
        |h, b| {
            assert_eq!(h.target().authority().unwrap().of(b), b"example.com");
            assert_eq!(h.path(b), b"/");
            assert_eq!(h.query(b), Some(&b"q"[..]));
        }
    );

    req!(
        asterisk_form,
        b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
        |h, b| {
            assert_eq!(h.target().form(), TargetForm::Asterisk);
            assert_eq!(h.path(b), b"*");
        }
    );

    req!(
        authority_form,
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        |h, b| {
            assert_eq!(h.target().form(), TargetForm::Authority);
            assert_eq!(h.target().authority().unwrap().of(b), b"example.com:443");
            assert_eq!(h.path(b), b"");
        }
    );

    req!(
        extension_method,
        b"PROPFIND /dav HTTP/1.1\r\nHost: h\r\n\r\n",
        |h, _b| {
            assert_eq!(*h.method(), Method::Extension("PROPFIND".into()));
        }
    );

    req!(
        leading_empty_lines_are_skipped,
        b"\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
        |h, b| {
            assert_eq!(h.head_len(), b.len());
            assert_eq!(h.path(b), b"/");
        }
    );

    req!(
        value_whitespace_trimmed_and_empty_values,
        b"GET / HTTP/1.1\r\nHost: h\r\nX-A: \t a b \t\r\nX-Empty:\r\nX-Sp:   \r\n\r\n",
        |h, b| {
            assert_eq!(h.header(b, "x-a"), Some(&b"a b"[..]));
            assert_eq!(h.header(b, "x-empty"), Some(&b""[..]));
            assert_eq!(h.header(b, "x-sp"), Some(&b""[..]));
            assert_eq!(h.header(b, "x-missing"), None);
        }
    );

    req!(
        htab_and_obs_text_in_values,
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\tb\xff\xfe\r\n\r\n",
        |h, b| {
            assert_eq!(h.header(b, "x"), Some(&b"a\tb\xff\xfe"[..]));
        }
    );

    // ===== version and keep-alive =====

    req!(
        http10_needs_no_host_and_closes,
        b"GET / HTTP/1.0\r\n\r\n",
        |h, _b| {
            assert_eq!(h.version(), Version::Http10);
            assert!(!h.has_host());
            assert!(!h.keep_alive());
        }
    );

    req!(
        http10_keep_alive,
        b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
        |h, _b| {
            assert!(h.keep_alive());
        }
    );

    req!(
        http10_keep_alive_in_list_then_close,
        b"GET / HTTP/1.0\r\nConnection: foo, keep-alive\r\nConnection: close\r\n\r\n",
        |h, _b| {
            assert!(!h.keep_alive());
        }
    );

    req!(
        http11_close,
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade ,  CLOSE \r\n\r\n",
        |h, _b| {
            assert!(!h.keep_alive());
        }
    );

    req!(
        http11_close_token_must_match_whole,
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: closed, x-close\r\n\r\n",
        |h, _b| {
            assert!(h.keep_alive());
        }
    );

    req!(
        expect_continue,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-Continue\r\n\r\n",
        |h, _b| {
            assert!(h.expect_continue());
            assert_eq!(h.body(), BodyLength::Known(3));
        }
    );

    req!(
        expect_continue_ignored_on_http10,
        b"POST / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
        |h, _b| {
            assert!(!h.expect_continue());
        }
    );

    req!(
        unsupported_version_2_0,
        b"GET / HTTP/2.0\r\nHost: h\r\n\r\n",
        Err(UnsupportedVersion, 505, close = true)
    );
    req!(
        unsupported_version_1_2,
        b"GET / HTTP/1.2\r\nHost: h\r\n\r\n",
        Err(UnsupportedVersion, 505, close = true)
    );
    req!(
        unsupported_version_0_9,
        b"GET / HTTP/0.9\r\n\r\n",
        Err(UnsupportedVersion, 505, close = true)
    );
    req!(
        malformed_version_letters,
        b"GET / HTTP/1.x\r\nHost: h\r\n\r\n",
        Err(InvalidVersion, 400, close = true)
    );
    req!(
        malformed_version_lowercase,
        b"GET / http/1.1\r\nHost: h\r\n\r\n",
        Err(InvalidVersion, 400, close = true)
    );
    req!(
        malformed_version_too_long,
        b"GET / HTTP/2.00\r\nHost: h\r\n\r\n",
        Err(InvalidVersion, 400, close = true)
    );
    req!(
        malformed_version_short,
        b"GET / HTTP/2\r\nHost: h\r\n\r\n",
        Err(InvalidVersion, 400, close = true)
    );
    req!(
        trailing_bytes_after_version,
        b"GET / HTTP/1.1x\r\nHost: h\r\n\r\n",
        Err(InvalidNewline, 400, close = true)
    );
    req!(
        partial_unsupported_version_waits,
        b"GET / HTTP/2.0",
        Partial
    );
    req!(
        partial_unsupported_version_prefix_waits,
        b"GET / HTTP/2",
        Partial
    );
    req!(
        unsupported_version_decided_at_cr,
        b"GET / HTTP/2.0\r",
        Err(UnsupportedVersion, 505, close = true)
    );

    // ===== request line =====

    req!(
        invalid_method_token,
        b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n",
        Err(InvalidMethod, 400, close = true)
    );
    req!(
        invalid_method_empty,
        b" / HTTP/1.1\r\nHost: h\r\n\r\n",
        Err(InvalidMethod, 400, close = true)
    );
    req!(
        invalid_target_bytes,
        b"GET /a\x01b HTTP/1.1\r\nHost: h\r\n\r\n",
        Err(InvalidTarget, 400, close = true)
    );
    req!(
        double_space_request_line,
        b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
        Err(InvalidTarget, 400, close = true)
    );
    req!(
        asterisk_needs_options,
        b"GET * HTTP/1.1\r\nHost: h\r\n\r\n",
        Err(InvalidTarget, 400, close = false)
    );
    req!(
        unknown_scheme,
        b"GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n",
        Err(InvalidTarget, 400, close = false)
    );
    req!(
        relative_target,
        b"GET a/b HTTP/1.1\r\nHost: h\r\n\r\n",
        Err(InvalidTarget, 400, close = false)
    );
    req!(
        absolute_without_authority,
        b"GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n",
        Err(InvalidTarget, 400, close = false)
    );
    req!(
        connect_needs_authority_form,
        b"CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n",
        Err(InvalidTarget, 400, close = false)
    );
    req!(
        connect_needs_port,
        b"CONNECT example.com HTTP/1.1\r\nHost: h\r\n\r\n",
        Err(InvalidTarget, 400, close = false)
    );
    req!(
        bad_target_with_body_closes,
        b"GET * HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx",
        Err(InvalidTarget, 400, close = true)
    );

    // ===== line endings and header syntax =====

    req!(
        bare_lf_everywhere,
        b"GET / HTTP/1.1\nHost: h\n\n",
        Err(InvalidNewline, 400, close = true)
    );
    req!(
        bare_lf_after_request_line,
        b"GET / HTTP/1.1\nHost: h\r\n\r\n",
        Err(InvalidNewline, 400, close = true)
    );
    req!(
        bare_lf_in_one_header,
        b"GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n",
        Err(InvalidNewline, 400, close = true)
    );
    req!(
        bare_lf_final_line,
        b"GET / HTTP/1.1\r\nHost: h\r\n\n",
        Err(InvalidNewline, 400, close = true)
    );
    req!(
        bare_lf_leading_line,
        b"\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
        Err(InvalidNewline, 400, close = true)
    );
    req!(
        bare_cr_in_value,
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",
        Err(InvalidHeaderValue, 400, close = true)
    );
    req!(
        space_before_colon,
        b"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
        Err(InvalidHeaderName, 400, close = true)
    );
    req!(
        tab_before_colon,
        b"GET / HTTP/1.1\r\nHost\t: h\r\n\r\n",
        Err(InvalidHeaderName, 400, close = true)
    );
    req!(
        obs_fold_space,
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
        Err(InvalidHeaderName, 400, close = true)
    );
    req!(
        obs_fold_tab,
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n",
        Err(InvalidHeaderName, 400, close = true)
    );
    req!(
        space_before_first_header,
        b"GET / HTTP/1.1\r\n Host: h\r\n\r\n",
        Err(InvalidHeaderName, 400, close = true)
    );
    req!(
        empty_header_name,
        b"GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n",
        Err(InvalidHeaderName, 400, close = true)
    );
    req!(
        nul_in_value,
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n",
        Err(InvalidHeaderValue, 400, close = true)
    );
    req!(
        ctl_in_value,
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n",
        Err(InvalidHeaderValue, 400, close = true)
    );
    req!(
        escape_in_value,
        b"GET / HTTP/1.1\r\nHost: h\r\nX: \x1b[31m\r\n\r\n",
        Err(InvalidHeaderValue, 400, close = true)
    );
    req!(
        del_in_value,
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fb\r\n\r\n",
        Err(InvalidHeaderValue, 400, close = true)
    );

    // ===== Host =====

    req!(
        missing_host_http11,
        b"GET / HTTP/1.1\r\nX: y\r\n\r\n",
        Err(MissingHost, 400, close = false)
    );
    req!(
        missing_host_with_body_closes,
        b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi",
        Err(MissingHost, 400, close = true)
    );
    req!(
        two_hosts,
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
        Err(MultipleHost, 400, close = false)
    );
    req!(
        two_hosts_http10,
        b"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
        Err(MultipleHost, 400, close = false)
    );
    req!(
        host_is_case_insensitive,
        b"GET / HTTP/1.1\r\nhOsT: a\r\n\r\n",
        |h, _b| assert!(h.has_host())
    );

    #[test]
    fn recoverable_error_reports_where_the_next_request_starts() {
        let buf = b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
        let e = error(buf, &L);
        assert_eq!(e.kind(), ParseErrorKind::MissingHost);
        let next = e.head_len().unwrap();
        assert_eq!(next, 18);
        assert_eq!(complete(&buf[next..], &L).head_len(), buf.len() - next);
    }

    #[test]
    fn refused_head_reports_the_version_and_keep_alive_it_asked_for() {
        let e = error(b"GET / HTTP/1.1\r\n\r\n", &L);
        assert_eq!((e.version(), e.keep_alive()), (Some(Version::Http11), true));
        let e = error(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &L);
        assert_eq!(
            (e.version(), e.keep_alive()),
            (Some(Version::Http11), false)
        );
        let two_hosts = b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n";
        let e = error(two_hosts, &L);
        assert_eq!(
            (e.version(), e.keep_alive()),
            (Some(Version::Http10), false)
        );
        let e = error(
            b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nHost: a\r\nHost: b\r\n\r\n",
            &L,
        );
        assert_eq!((e.version(), e.keep_alive()), (Some(Version::Http10), true));
        // Refused before the head was understood: unknown.
        let e = error(b"GET / HTTP/1.1\r\nBad Name: v\r\n\r\n", &L);
        assert_eq!((e.version(), e.keep_alive()), (None, false));
    }

    // ===== Content-Length =====

    req!(
        content_length,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 42\r\n\r\n",
        |h, _b| {
            assert_eq!(h.body(), BodyLength::Known(42));
        }
    );
    req!(
        content_length_zero_is_empty,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
        |h, _b| {
            assert_eq!(h.body(), BodyLength::Empty);
        }
    );
    req!(
        content_length_repeated_list,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n",
        |h, _b| {
            assert_eq!(h.body(), BodyLength::Known(5));
        }
    );
    req!(
        content_length_repeated_fields,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 5,5\r\n\r\n",
        |h, _b| {
            assert_eq!(h.body(), BodyLength::Known(5));
        }
    );
    req!(
        content_length_differs_in_list,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\n",
        Err(InvalidContentLength, 400, close = true)
    );
    req!(
        content_length_differs_in_fields,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        Err(InvalidContentLength, 400, close = true)
    );
    req!(
        content_length_plus,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n",
        Err(InvalidContentLength, 400, close = true)
    );
    req!(
        content_length_negative,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
        Err(InvalidContentLength, 400, close = true)
    );
    req!(
        content_length_trailing_garbage,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5a\r\n\r\n",
        Err(InvalidContentLength, 400, close = true)
    );
    req!(
        content_length_hex,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\n",
        Err(InvalidContentLength, 400, close = true)
    );
    req!(
        content_length_empty,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n",
        Err(InvalidContentLength, 400, close = true)
    );
    req!(
        content_length_empty_element,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5,\r\n\r\n",
        Err(InvalidContentLength, 400, close = true)
    );
    req!(
        content_length_inner_space,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n",
        Err(InvalidContentLength, 400, close = true)
    );
    req!(
        content_length_overflow,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n",
        Err(InvalidContentLength, 400, close = true)
    );

    #[test]
    fn content_length_u64_max_fits_with_no_body_limit() {
        let limits = Limits {
            max_body_size: u64::MAX,
            ..L
        };
        let buf = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n";
        assert_eq!(complete(buf, &limits).body(), BodyLength::Known(u64::MAX));
    }

    // ===== Transfer-Encoding =====

    req!(
        chunked,
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
        |h, _b| {
            assert_eq!(h.body(), BodyLength::Chunked);
        }
    );
    req!(
        chunked_case_insensitive,
        b"POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding:  CHUNKED \r\n\r\n",
        |h, _b| {
            assert_eq!(h.body(), BodyLength::Chunked);
        }
    );
    req!(
        te_and_cl,
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        Err(ContentLengthWithTransferEncoding, 400, close = true)
    );
    req!(
        cl_after_te,
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
        Err(ContentLengthWithTransferEncoding, 400, close = true)
    );
    req!(
        te_gzip_only,
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
        Err(UnsupportedTransferEncoding, 501, close = true)
    );
    req!(
        te_gzip_then_chunked,
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        Err(UnsupportedTransferEncoding, 501, close = true)
    );
    req!(te_gzip_field_then_chunked_field, b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", Err(UnsupportedTransferEncoding, 501, close = true));
    req!(
        te_chunked_not_last,
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        Err(ChunkedNotLast, 400, close = true)
    );
    req!(
        te_chunked_twice,
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        Err(ChunkedNotLast, 400, close = true)
    );
    req!(te_chunked_twice_in_fields, b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", Err(ChunkedNotLast, 400, close = true));
    req!(
        te_empty,
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , \r\n\r\n",
        Err(InvalidTransferEncoding, 400, close = true)
    );
    req!(
        te_on_http10,
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        Err(TransferEncodingOnHttp10, 400, close = true)
    );
    req!(
        te_lookalike_is_not_chunked,
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n",
        Err(UnsupportedTransferEncoding, 501, close = true)
    );

    // ===== partial input =====

    req!(partial_empty, b"", Partial);
    req!(partial_method, b"GE", Partial);
    req!(
        partial_no_blank_line,
        b"GET / HTTP/1.1\r\nHost: h\r\n",
        Partial
    );
    req!(
        partial_half_crlf,
        b"GET / HTTP/1.1\r\nHost: h\r\n\r",
        Partial
    );

    #[test]
    fn every_prefix_of_a_valid_head_is_partial() {
        let buf = b"POST /upload?x=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\nX-Tab:\ta\r\n\r\n";
        for end in 0..buf.len() {
            assert_eq!(
                parse_request(&buf[..end], &L),
                Ok(Status::Partial),
                "prefix {end}"
            );
        }
        assert_eq!(complete(buf, &L).head_len(), buf.len());
    }

    // ===== pipelining and reuse =====

    #[test]
    fn pipelined_heads() {
        let buf = b"GET /one HTTP/1.1\r\nHost: h\r\n\r\nPOST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhiGET /thr";
        let first = complete(buf, &L);
        assert_eq!(first.path(buf), b"/one");
        let rest = &buf[first.head_len()..];
        let second = complete(rest, &L);
        assert_eq!(second.path(rest), b"/two");
        assert_eq!(second.body(), BodyLength::Known(2));
        let after_body = &rest[second.head_len() + 2..];
        assert_eq!(parse_request(after_body, &L), Ok(Status::Partial));
    }

    #[test]
    fn parse_into_reuses_and_resets_the_head() {
        let mut head = RequestHead::default();
        let a = b"POST /a HTTP/1.0\r\nX-1: a\r\nX-2: b\r\nX-3: c\r\nContent-Length: 1\r\n\r\n";
        assert_eq!(
            parse_request_into(a, &L, &mut head),
            Ok(Status::Complete(a.len()))
        );
        assert_eq!(head.headers().len(), 4);
        assert!(!head.keep_alive());
        let b = b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
        assert_eq!(
            parse_request_into(b, &L, &mut head),
            Ok(Status::Complete(b.len()))
        );
        assert_eq!(head.headers().len(), 1);
        assert_eq!(head.path(b), b"/b");
        assert_eq!(head.body(), BodyLength::Empty);
        assert!(head.keep_alive());
        assert_eq!(*head.method(), Method::Get);
    }

    // ===== limits: URI =====

    fn with_uri(len: usize) -> Vec<u8> {
        let mut v = b"GET /".to_vec();
        v.resize(4 + len, b'a');
        v.extend_from_slice(b" HTTP/1.1\r\nHost: h\r\n\r\n");
        v
    }

    #[test]
    fn uri_limit() {
        let max = L.max_uri_len;
        assert!(parse_request(&with_uri(max - 1), &L).is_ok());
        let at = complete(&with_uri(max), &L);
        assert_eq!(at.target().whole().len(), max);
        let e = error(&with_uri(max + 1), &L);
        assert_eq!((e.kind(), e.status()), (ParseErrorKind::UriTooLong, 414));
        assert!(e.must_close());
    }

    #[test]
    fn uri_limit_applies_before_the_line_ends() {
        let max = L.max_uri_len;
        let mut buf = b"GET /".to_vec();
        buf.resize(4 + max, b'a');
        assert_eq!(parse_request(&buf, &L), Ok(Status::Partial));
        buf.push(b'a');
        assert_eq!(error(&buf, &L).kind(), ParseErrorKind::UriTooLong);
        // Also once the URI is complete but the head is not.
        buf.extend_from_slice(b" HTTP/1.1\r\n");
        assert_eq!(error(&buf, &L).kind(), ParseErrorKind::UriTooLong);
    }

    #[test]
    fn uri_limit_wins_over_head_limit() {
        let limits = Limits {
            max_head_size: 64,
            max_uri_len: 32,
            ..L
        };
        let mut buf = b"GET /".to_vec();
        buf.resize(200, b'a');
        assert_eq!(error(&buf, &limits).kind(), ParseErrorKind::UriTooLong);
    }

    // ===== limits: head size =====

    /// A complete head of exactly `len` bytes.
    fn head_of_len(len: usize) -> Vec<u8> {
        let start = b"GET / HTTP/1.1\r\nHost: h\r\nX: ";
        let mut v = start.to_vec();
        v.resize(len - 4, b'v');
        v.extend_from_slice(b"\r\n\r\n");
        assert_eq!(v.len(), len);
        v
    }

    #[test]
    fn head_size_limit_default() {
        let max = L.max_head_size;
        assert_eq!(complete(&head_of_len(max - 1), &L).head_len(), max - 1);
        assert_eq!(complete(&head_of_len(max), &L).head_len(), max);
        let e = error(&head_of_len(max + 1), &L);
        assert_eq!((e.kind(), e.status()), (ParseErrorKind::HeadTooLarge, 431));
        assert!(e.must_close());
    }

    #[test]
    fn head_size_limit_on_partial_input() {
        let max = L.max_head_size;
        let head = head_of_len(max + 100);
        // Below the limit an incomplete head is just incomplete.
        assert_eq!(parse_request(&head[..max - 1], &L), Ok(Status::Partial));
        // A full limit's worth with no end can only end past the limit.
        assert_eq!(error(&head[..max], &L).kind(), ParseErrorKind::HeadTooLarge);
        assert_eq!(
            error(&head[..max + 1], &L).kind(),
            ParseErrorKind::HeadTooLarge
        );
    }

    #[test]
    fn head_at_limit_followed_by_more_bytes() {
        let max = 128;
        let limits = Limits {
            max_head_size: max,
            ..L
        };
        let mut buf = head_of_len(max);
        buf.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(complete(&buf, &limits).head_len(), max);
        let mut buf = head_of_len(max + 1);
        buf.extend_from_slice(b"body");
        assert_eq!(error(&buf, &limits).kind(), ParseErrorKind::HeadTooLarge);
    }

    // ===== limits: header count =====

    fn with_headers(n: usize) -> Vec<u8> {
        let mut v = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
        for i in 1..n {
            v.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
        }
        v.extend_from_slice(b"\r\n");
        v
    }

    fn check_header_limit(max: usize) {
        let limits = Limits {
            max_headers: max,
            max_head_size: 64 * 1024,
            ..L
        };
        assert_eq!(
            complete(&with_headers(max - 1), &limits).headers().len(),
            max - 1
        );
        assert_eq!(complete(&with_headers(max), &limits).headers().len(), max);
        let e = error(&with_headers(max + 1), &limits);
        assert_eq!(
            (e.kind(), e.status()),
            (ParseErrorKind::TooManyHeaders, 431)
        );
        assert!(e.must_close());
    }

    #[test]
    fn header_count_limit_default() {
        check_header_limit(DEFAULT_MAX_HEADERS_FOR_TEST);
    }

    const DEFAULT_MAX_HEADERS_FOR_TEST: usize = crate::limits::DEFAULT_MAX_HEADERS;

    #[test]
    fn header_count_limit_small() {
        check_header_limit(3);
    }

    #[test]
    fn header_count_limit_above_stack_slots() {
        check_header_limit(STACK_HEADERS + 50);
    }

    // ===== limits: body =====

    fn with_content_length(n: u64) -> Vec<u8> {
        format!("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {n}\r\n\r\n").into_bytes()
    }

    #[test]
    fn body_limit_on_content_length() {
        let max = L.max_body_size;
        assert_eq!(
            complete(&with_content_length(max - 1), &L).body(),
            BodyLength::Known(max - 1)
        );
        assert_eq!(
            complete(&with_content_length(max), &L).body(),
            BodyLength::Known(max)
        );
        let e = error(&with_content_length(max + 1), &L);
        assert_eq!((e.kind(), e.status()), (ParseErrorKind::BodyTooLarge, 413));
        assert!(e.must_close());
    }

    // ===== the error type =====

    #[test]
    fn error_display_and_size() {
        let e = error(b"GET / HTTP/2.0\r\n\r\n", &L);
        assert_eq!(e.to_string(), "HTTP version not supported (505)");
        assert_eq!(e.reason(), "HTTP version not supported");
        assert_eq!(std::mem::size_of::<ParseError>(), 8);
    }

    #[test]
    fn bare_lf_scan() {
        assert!(has_bare_lf(b"\n"));
        assert!(has_bare_lf(b"a\nb"));
        assert!(!has_bare_lf(b"a\r\nb\r\n"));
        assert!(!has_bare_lf(b""));
    }

    // ===== properties =====

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let small = Limits { max_head_size: 64, max_headers: 4, max_uri_len: 16, max_body_size: 10 };
            let _ = parse_request(&bytes, &L);
            let _ = parse_request(&bytes, &small);
        }

        #[test]
        fn random_tails_after_a_request_line_never_panic(
            tail in proptest::collection::vec(prop_oneof![
                Just(b'\r'), Just(b'\n'), Just(b':'), Just(b' '), Just(b','), any::<u8>(), b'a'..=b'z'
            ], 0..256)
        ) {
            let mut buf = b"POST / HTTP/1.1\r\nHost: h\r\n".to_vec();
            buf.extend_from_slice(&tail);
            if let Ok(Status::Complete(head)) = parse_request(&buf, &L) {
                prop_assert!(head.head_len() <= buf.len());
                for h in head.headers() {
                    prop_assert!(h.value.end() <= head.head_len());
                }
            }
        }

        #[test]
        fn generated_headers_round_trip(
            fields in proptest::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,15}", "[!-~]([ -~]{0,30}[!-~])?"), 0..20)
        ) {
            let mut buf = b"GET /p HTTP/1.1\r\nHost: h\r\n".to_vec();
            for (n, v) in &fields {
                buf.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
            }
            buf.extend_from_slice(b"\r\n");
            match parse_request(&buf, &L) {
                Ok(Status::Complete(head)) => {
                    let pairs: Vec<_> = head.header_pairs(&buf).skip(1).collect();
                    prop_assert_eq!(pairs.len(), fields.len());
                    for ((n, v), (pn, pv)) in fields.iter().zip(pairs) {
                        prop_assert_eq!(n.as_bytes(), pn);
                        prop_assert_eq!(v.as_bytes(), pv);
                    }
                }
                // Generated names may collide with the framing fields and be refused.
                Err(e) => prop_assert!(fields.iter().any(|(n, _)| {
                    let n = n.to_ascii_lowercase();
                    n == "host" || n == "content-length" || n == "transfer-encoding"
                }), "{}", e),
                Ok(Status::Partial) => prop_assert!(false, "partial"),
            }
        }
    }
}
