//! Response encoding: the status line and headers ([`HeadEncoder`]) and the body framing that
//! follows them ([`BodyEncoder`]: `Content-Length`, chunked, or close-delimited).
//!
//! The encoder owns the framing headers. It writes `Content-Length` or
//! `Transfer-Encoding: chunked` itself and drops those fields if the caller passes them, so a
//! handler cannot produce a response whose framing disagrees with its body. It also owns
//! the rules on which responses have no body: `HEAD` responses keep their `Content-Length`
//! but send no bytes, and `1xx`, `204` and `304` responses get neither framing nor body.
//!
//! Everything is appended to a caller-owned `Vec<u8>` with `extend_from_slice`; numbers are
//! formatted by hand, nothing allocates besides the `Vec` growing.

use std::fmt;

use super::date;

/// The interim response sent to a client that asked for `Expect: 100-continue`.
pub(crate) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

macro_rules! status_table {
    ($($code:literal => $reason:literal,)*) => {
        /// The standard reason phrase for a status code, if it is one of the common ones.
        pub(crate) fn reason_phrase(status: u16) -> Option<&'static str> {
            match status {
                $($code => Some($reason),)*
                _ => None,
            }
        }

        /// The whole status line for the common codes, as one static slice.
        fn status_line(status: u16) -> Option<&'static [u8]> {
            match status {
                $($code => Some(concat!("HTTP/1.1 ", stringify!($code), " ", $reason, "\r\n").as_bytes()),)*
                _ => None,
            }
        }
    };
}

status_table! {
    100 => "Continue",
    101 => "Switching Protocols",
    200 => "OK",
    201 => "Created",
    202 => "Accepted",
    203 => "Non-Authoritative Information",
    204 => "No Content",
    205 => "Reset Content",
    206 => "Partial Content",
    301 => "Moved Permanently",
    302 => "Found",
    303 => "See Other",
    304 => "Not Modified",
    307 => "Temporary Redirect",
    308 => "Permanent Redirect",
    400 => "Bad Request",
    401 => "Unauthorized",
    403 => "Forbidden",
    404 => "Not Found",
    405 => "Method Not Allowed",
    406 => "Not Acceptable",
    408 => "Request Timeout",
    409 => "Conflict",
    410 => "Gone",
    411 => "Length Required",
    412 => "Precondition Failed",
    413 => "Content Too Large",
    414 => "URI Too Long",
    415 => "Unsupported Media Type",
    416 => "Range Not Satisfiable",
    417 => "Expectation Failed",
    421 => "Misdirected Request",
    422 => "Unprocessable Content",
    425 => "Too Early",
    426 => "Upgrade Required",
    428 => "Precondition Required",
    429 => "Too Many Requests",
    431 => "Request Header Fields Too Large",
    500 => "Internal Server Error",
    501 => "Not Implemented",
    502 => "Bad Gateway",
    503 => "Service Unavailable",
    504 => "Gateway Timeout",
    505 => "HTTP Version Not Supported",
}

/// How the response body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// A body of exactly this many bytes: `Content-Length: n` (0 for no body).
    Length(u64),
    /// A streamed body: `Transfer-Encoding: chunked`. Only for HTTP/1.1 clients.
    Chunked,
    /// A streamed body that ends when the connection closes (for HTTP/1.0 clients). Implies
    /// `Connection: close`.
    CloseDelimited,
}

/// The `Connection` header the encoder adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Connection {
    /// None: the connection persists by HTTP/1.1's default.
    Default,
    /// `Connection: close`: the server closes after this response.
    Close,
    /// `Connection: keep-alive`: tells an HTTP/1.0 client the connection persists.
    KeepAlive,
}

/// Writes a response head into a `Vec<u8>`: status line first, then each [`header`], then the
/// framing, `Connection` and `Date` headers and the blank line in [`finish`].
///
/// [`header`]: HeadEncoder::header
/// [`finish`]: HeadEncoder::finish
#[derive(Debug)]
pub(crate) struct HeadEncoder<'a> {
    dst: &'a mut Vec<u8>,
    status: u16,
    head_request: bool,
    has_date: bool,
}

impl<'a> HeadEncoder<'a> {
    /// Starts a response with `status` (100..=999) to a request; `head_request` is whether
    /// the request method was `HEAD`.
    ///
    /// An out-of-range status is a bug in the caller: it panics in debug builds and is sent as
    /// 500 in release builds.
    pub(crate) fn new(dst: &'a mut Vec<u8>, status: u16, head_request: bool) -> HeadEncoder<'a> {
        debug_assert!((100..=999).contains(&status), "invalid status {status}");
        let status = if (100..=999).contains(&status) {
            status
        } else {
            500
        };
        match status_line(status) {
            Some(line) => dst.extend_from_slice(line),
            None => {
                dst.extend_from_slice(b"HTTP/1.1 ");
                push_decimal(dst, u64::from(status));
                dst.extend_from_slice(b" \r\n");
            }
        }
        HeadEncoder {
            dst,
            status,
            head_request,
            has_date: false,
        }
    }

    /// Writes one header field. `Content-Length` and `Transfer-Encoding` are dropped (the
    /// encoder writes the framing); a `Date` field replaces the cached one.
    ///
    /// # Errors
    ///
    /// If `name` is not a token or `value` contains CR, LF or another control character
    /// other than HTAB (which would let a value inject headers); nothing is written then.
    pub(crate) fn header(&mut self, name: &[u8], value: &[u8]) -> Result<(), EncodeError> {
        let mut name_ok = !name.is_empty();
        for &b in name {
            name_ok &= TOKEN[b as usize];
        }
        if !name_ok {
            return Err(EncodeError::new(EncodeErrorKind::InvalidHeaderName));
        }
        let mut value_ok = true;
        for &b in value {
            value_ok &= is_field_byte(b);
        }
        if !value_ok {
            return Err(EncodeError::new(EncodeErrorKind::InvalidHeaderValue));
        }
        match name.len() {
            4 if name.eq_ignore_ascii_case(b"date") => self.has_date = true,
            14 if name.eq_ignore_ascii_case(b"content-length") => return Ok(()),
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => return Ok(()),
            _ => {}
        }
        self.write_header(name, value);
        Ok(())
    }

    /// [`header`](Self::header) for a field of `'static` strings (a handler's
    /// `"content-type"`, a middleware's fixed security headers): checked once per
    /// [`CheckedStatics`], then written without looking at its bytes again.
    ///
    /// # Errors
    ///
    /// As [`header`](Self::header).
    pub(crate) fn static_header(
        &mut self,
        name: &'static str,
        value: &'static str,
        checked: &mut CheckedStatics,
    ) -> Result<(), EncodeError> {
        let (slot, key) = CheckedStatics::slot_and_key(name, value);
        if checked.slots[slot] == key {
            self.write_header(name.as_bytes(), value.as_bytes());
            return Ok(());
        }
        self.header(name.as_bytes(), value.as_bytes())?;
        // The fields the encoder treats specially (`date`, the framing fields) go
        // through `header` every time; so does any name of those lengths.
        if !matches!(name.len(), 4 | 14 | 17) {
            checked.slots[slot] = key;
        }
        Ok(())
    }

    /// Writes a header field the caller has already validated (a token name, a value of
    /// field bytes) and that is not one of the fields the encoder owns.
    pub(crate) fn trusted_header(&mut self, name: &[u8], value: &[u8]) {
        debug_assert!(!name.is_empty() && name.iter().all(|&b| TOKEN[b as usize]));
        debug_assert!(value.iter().all(|&b| is_field_byte(b)));
        self.write_header(name, value);
    }

    /// Writes header fields already encoded as `name: value\r\n` lines, validated by the
    /// caller like [`trusted_header`](Self::trusted_header)'s (e.g. a server-wide set of
    /// security headers, rendered once).
    pub(crate) fn trusted_fields(&mut self, fields: &[u8]) {
        debug_assert!(fields.is_empty() || fields.ends_with(b"\r\n"));
        self.dst.extend_from_slice(fields);
    }

    fn write_header(&mut self, name: &[u8], value: &[u8]) {
        let dst = &mut *self.dst;
        dst.reserve(name.len() + value.len() + 4);
        dst.extend_from_slice(name);
        dst.push(b':');
        dst.push(b' ');
        dst.extend_from_slice(value);
        dst.push(b'\r');
        dst.push(b'\n');
    }

    /// Writes the framing, `Connection` and `Date` headers and ends the head. Returns the
    /// encoder for the body.
    pub(crate) fn finish(self, framing: Framing, connection: Connection) -> BodyEncoder {
        let bodiless = matches!(self.status, 100..=199 | 204 | 304);
        let connection = match framing {
            Framing::CloseDelimited => Connection::Close,
            _ => connection,
        };
        let dst = self.dst;
        if !bodiless {
            match framing {
                Framing::Length(n) => {
                    dst.extend_from_slice(b"content-length: ");
                    push_decimal(dst, n);
                    dst.extend_from_slice(b"\r\n");
                }
                Framing::Chunked if !self.head_request => {
                    dst.extend_from_slice(b"transfer-encoding: chunked\r\n");
                }
                Framing::Chunked | Framing::CloseDelimited => {}
            }
        }
        match connection {
            Connection::Default => {}
            Connection::Close => dst.extend_from_slice(b"connection: close\r\n"),
            Connection::KeepAlive => dst.extend_from_slice(b"connection: keep-alive\r\n"),
        }
        if !self.has_date {
            dst.extend_from_slice(b"date: ");
            date::extend(dst);
            dst.extend_from_slice(b"\r\n");
        }
        dst.extend_from_slice(b"\r\n");

        let kind = if bodiless || self.head_request {
            BodyKind::Discard
        } else {
            match framing {
                Framing::Length(n) => BodyKind::Length(n),
                Framing::Chunked => BodyKind::Chunked,
                Framing::CloseDelimited => BodyKind::CloseDelimited,
            }
        };
        BodyEncoder { kind }
    }
}

/// Header fields made of `&'static str`s that passed [`HeadEncoder::header`]'s checks,
/// remembered by address and length (one connection keeps one). A `'static` string can
/// never change, so a field found here is valid without reading it. Direct-mapped: a
/// field whose slot another one took is simply checked again.
#[derive(Debug, Default)]
pub(crate) struct CheckedStatics {
    /// `(name address, name length, value address, value length)`; all zero when empty
    /// (no valid name is empty).
    slots: [(usize, usize, usize, usize); CHECKED_SLOTS],
}

const CHECKED_SLOTS: usize = 32;

impl CheckedStatics {
    fn slot_and_key(name: &str, value: &str) -> (usize, (usize, usize, usize, usize)) {
        let (n, v) = (name.as_ptr() as usize, value.as_ptr() as usize);
        let slot = ((n ^ v.rotate_left(7)) >> 3) % CHECKED_SLOTS;
        (slot, (n, name.len(), v, value.len()))
    }
}

/// Frames the body of one response, as chosen by [`HeadEncoder::finish`].
#[derive(Debug, Clone)]
pub(crate) struct BodyEncoder {
    kind: BodyKind,
}

#[derive(Debug, Clone)]
enum BodyKind {
    /// This many bytes still to write.
    Length(u64),
    Chunked,
    CloseDelimited,
    /// The response has no body (`HEAD`, 1xx, 204, 304): data is dropped.
    Discard,
}

impl BodyEncoder {
    /// Appends `data` to `dst`, framed. Empty data writes nothing (an empty chunk would end a
    /// chunked body).
    ///
    /// # Errors
    ///
    /// [`EncodeErrorKind::BodyTooLong`] if `data` goes past the declared `Content-Length`;
    /// nothing is written then and the connection must close.
    pub(crate) fn encode(&mut self, dst: &mut Vec<u8>, data: &[u8]) -> Result<(), EncodeError> {
        if data.is_empty() {
            return Ok(());
        }
        match &mut self.kind {
            BodyKind::Length(remaining) => {
                let len = data.len() as u64;
                if len > *remaining {
                    return Err(EncodeError::new(EncodeErrorKind::BodyTooLong));
                }
                *remaining -= len;
                dst.extend_from_slice(data);
            }
            BodyKind::Chunked => {
                dst.reserve(data.len() + 20);
                push_hex(dst, data.len() as u64);
                dst.extend_from_slice(b"\r\n");
                dst.extend_from_slice(data);
                dst.extend_from_slice(b"\r\n");
            }
            BodyKind::CloseDelimited => dst.extend_from_slice(data),
            BodyKind::Discard => {}
        }
        Ok(())
    }

    /// Ends the body: writes the last chunk (`0\r\n\r\n`) of a chunked body.
    ///
    /// # Errors
    ///
    /// [`EncodeErrorKind::BodyTooShort`] if fewer bytes than the declared `Content-Length`
    /// were written; the connection must close.
    pub(crate) fn finish(self, dst: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self.kind {
            BodyKind::Length(0) | BodyKind::CloseDelimited | BodyKind::Discard => Ok(()),
            BodyKind::Length(_) => Err(EncodeError::new(EncodeErrorKind::BodyTooShort)),
            BodyKind::Chunked => {
                dst.extend_from_slice(b"0\r\n\r\n");
                Ok(())
            }
        }
    }

    /// Whether this response can only end by closing the connection.
    #[cfg(test)]
    pub(crate) fn is_close_delimited(&self) -> bool {
        matches!(self.kind, BodyKind::CloseDelimited)
    }
}

/// Appends `n` in decimal.
fn push_decimal(dst: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    dst.extend_from_slice(&buf[i..]);
}

/// Appends `n` in lowercase hex.
fn push_hex(dst: &mut Vec<u8>, mut n: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 16];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = HEX[(n & 0xf) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    dst.extend_from_slice(&buf[i..]);
}

/// RFC 9110 `tchar`.
const fn is_token(b: u8) -> bool {
    matches!(b,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9'
        | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.'
        | b'^' | b'_' | b'`' | b'|' | b'~')
}

/// [`is_token`] for every byte: one load per byte of a header name.
static TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = is_token(i as u8);
        i += 1;
    }
    table
};

/// A byte allowed in a field value: VCHAR, obs-text, SP or HTAB.
fn is_field_byte(b: u8) -> bool {
    b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80
}

/// What went wrong while encoding a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub(crate) enum EncodeErrorKind {
    /// A header name that is not a token.
    InvalidHeaderName,
    /// A header value with CR, LF or another control character.
    InvalidHeaderValue,
    /// More body bytes than the declared `Content-Length`.
    BodyTooLong,
    /// Fewer body bytes than the declared `Content-Length`.
    BodyTooShort,
}

/// A response that could not be encoded as asked: a bug in the handler, not the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EncodeError {
    kind: EncodeErrorKind,
}

impl EncodeError {
    fn new(kind: EncodeErrorKind) -> EncodeError {
        EncodeError { kind }
    }

    /// What was wrong.
    #[cfg(test)]
    pub(crate) fn kind(&self) -> EncodeErrorKind {
        self.kind
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            EncodeErrorKind::InvalidHeaderName => "invalid response header name",
            EncodeErrorKind::InvalidHeaderValue => "invalid response header value",
            EncodeErrorKind::BodyTooLong => "response body longer than its Content-Length",
            EncodeErrorKind::BodyTooShort => "response body shorter than its Content-Length",
        })
    }
}

impl std::error::Error for EncodeError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::decode::Decoder;

    /// Splits an encoded response into (head without the date line, body), checking that
    /// exactly one well-formed date line was written.
    fn split(out: &[u8]) -> (String, Vec<u8>) {
        let text = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("head ends");
        let head = std::str::from_utf8(&out[..text + 4]).unwrap();
        let body = out[text + 4..].to_vec();
        let mut kept = String::new();
        let mut dates = 0;
        for line in head.split_inclusive("\r\n") {
            if let Some(d) = line.strip_prefix("date: ") {
                assert_eq!(d.len(), date::DATE_LEN + 2, "{d:?}");
                dates += 1;
            } else {
                kept.push_str(line);
            }
        }
        assert_eq!(dates, 1, "{head}");
        (kept, body)
    }

    #[test]
    fn sized_response() {
        let mut out = Vec::new();
        let mut head = HeadEncoder::new(&mut out, 200, false);
        head.header(b"Content-Type", b"text/plain").unwrap();
        let mut body = head.finish(Framing::Length(5), Connection::Default);
        body.encode(&mut out, b"hel").unwrap();
        body.encode(&mut out, b"lo").unwrap();
        body.finish(&mut out).unwrap();
        let (head, body) = split(&out);
        assert_eq!(
            head,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 5\r\n\r\n"
        );
        assert_eq!(body, b"hello");
    }

    #[test]
    fn chunked_response_round_trips_through_the_decoder() {
        let mut out = Vec::new();
        let head = HeadEncoder::new(&mut out, 201, false);
        let mut body = head.finish(Framing::Chunked, Connection::Close);
        body.encode(&mut out, b"hello").unwrap();
        body.encode(&mut out, b"").unwrap();
        body.encode(&mut out, &[b'x'; 300]).unwrap();
        body.finish(&mut out).unwrap();
        let (head, wire) = split(&out);
        assert_eq!(
            head,
            "HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        );
        assert!(wire.starts_with(b"5\r\nhello\r\n12c\r\nxxx"));
        assert!(wire.ends_with(b"x\r\n0\r\n\r\n"));
        let mut decoded = Vec::new();
        let p = Decoder::chunked(u64::MAX)
            .decode(&wire, |d| decoded.extend_from_slice(d))
            .unwrap();
        assert!(p.done);
        assert_eq!(p.consumed, wire.len());
        assert_eq!(decoded.len(), 305);
    }

    #[test]
    fn head_response_keeps_length_but_sends_no_body() {
        let mut out = Vec::new();
        let mut body =
            HeadEncoder::new(&mut out, 200, true).finish(Framing::Length(5), Connection::Default);
        body.encode(&mut out, b"hello").unwrap();
        body.finish(&mut out).unwrap();
        let (head, body) = split(&out);
        assert_eq!(head, "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n");
        assert!(body.is_empty());
    }

    #[test]
    fn head_response_to_streamed_body_has_no_framing() {
        let mut out = Vec::new();
        let mut body =
            HeadEncoder::new(&mut out, 200, true).finish(Framing::Chunked, Connection::Default);
        body.encode(&mut out, b"hello").unwrap();
        body.finish(&mut out).unwrap();
        let (head, body) = split(&out);
        assert_eq!(head, "HTTP/1.1 200 OK\r\n\r\n");
        assert!(body.is_empty());
    }

    #[test]
    fn bodiless_statuses_get_no_framing_and_no_body() {
        for status in [101, 204, 304] {
            let mut out = Vec::new();
            let mut body = HeadEncoder::new(&mut out, status, false)
                .finish(Framing::Length(3), Connection::Default);
            body.encode(&mut out, b"abc").unwrap();
            body.finish(&mut out).unwrap();
            let (head, body) = split(&out);
            assert!(!head.contains("content-length"), "{head}");
            assert!(body.is_empty(), "{status}");
        }
    }

    #[test]
    fn connection_headers() {
        let mut out = Vec::new();
        HeadEncoder::new(&mut out, 200, false).finish(Framing::Length(0), Connection::KeepAlive);
        assert_eq!(
            split(&out).0,
            "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n"
        );
        let mut out = Vec::new();
        let body = HeadEncoder::new(&mut out, 200, false)
            .finish(Framing::CloseDelimited, Connection::KeepAlive);
        assert!(body.is_close_delimited());
        assert_eq!(
            split(&out).0,
            "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n"
        );
    }

    #[test]
    fn caller_framing_headers_are_dropped_and_date_replaces_ours() {
        let mut out = Vec::new();
        let mut head = HeadEncoder::new(&mut out, 404, false);
        head.header(b"Content-Length", b"999").unwrap();
        head.header(b"transfer-encoding", b"chunked").unwrap();
        head.header(b"Date", b"Thu, 01 Jan 1970 00:00:00 GMT")
            .unwrap();
        head.finish(Framing::Length(0), Connection::Default);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "HTTP/1.1 404 Not Found\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\ncontent-length: 0\r\n\r\n"
        );
    }

    #[test]
    fn header_injection_is_refused() {
        let mut out = Vec::new();
        let mut head = HeadEncoder::new(&mut out, 200, false);
        let before = head.dst.len();
        for value in [
            &b"a\r\nX-Injected: 1"[..],
            b"a\nb",
            b"a\rb",
            b"a\0b",
            b"\x7f",
        ] {
            let e = head.header(b"X", value).unwrap_err();
            assert_eq!(e.kind(), EncodeErrorKind::InvalidHeaderValue);
        }
        for name in [&b""[..], b"X Y", b"X:", b"X\r\n"] {
            let e = head.header(name, b"v").unwrap_err();
            assert_eq!(e.kind(), EncodeErrorKind::InvalidHeaderName);
        }
        assert_eq!(head.dst.len(), before);
        head.header(b"X", b"tab\tand obs-text \xff").unwrap();
    }

    #[test]
    fn static_fields_are_checked_once_and_written_alike() {
        let mut checked = CheckedStatics::default();
        let mut first = Vec::new();
        let mut head = HeadEncoder::new(&mut first, 200, false);
        head.static_header("content-type", "text/plain", &mut checked)
            .unwrap();
        assert!(checked.slots.iter().any(|s| s.1 == 12), "remembered");
        let mut again = Vec::new();
        let mut head = HeadEncoder::new(&mut again, 200, false);
        head.static_header("content-type", "text/plain", &mut checked)
            .unwrap();
        assert_eq!(first, again);

        // An invalid field is refused every time, and never remembered.
        for _ in 0..2 {
            let mut head = HeadEncoder::new(&mut again, 200, false);
            let e = head
                .static_header("x-bad", "a\r\nb", &mut checked)
                .unwrap_err();
            assert_eq!(e.kind(), EncodeErrorKind::InvalidHeaderValue);
        }
        // `date` keeps its meaning (it replaces the cached date) on every response.
        for _ in 0..2 {
            let mut out = Vec::new();
            let mut head = HeadEncoder::new(&mut out, 200, false);
            head.static_header("date", "Thu, 01 Jan 1970 00:00:00 GMT", &mut checked)
                .unwrap();
            head.finish(Framing::Length(0), Connection::Default);
            let text = String::from_utf8(out).unwrap();
            assert_eq!(text.matches("date: ").count(), 1, "{text}");
        }
    }

    #[test]
    fn content_length_mismatch_is_an_error() {
        let mut out = Vec::new();
        let mut body =
            HeadEncoder::new(&mut out, 200, false).finish(Framing::Length(3), Connection::Default);
        let len = out.len();
        assert_eq!(
            body.encode(&mut out, b"abcd").unwrap_err().kind(),
            EncodeErrorKind::BodyTooLong
        );
        assert_eq!(out.len(), len);
        body.encode(&mut out, b"ab").unwrap();
        assert_eq!(
            body.finish(&mut out).unwrap_err().kind(),
            EncodeErrorKind::BodyTooShort
        );
    }

    #[test]
    fn status_lines() {
        let line = |status| {
            let mut out = Vec::new();
            HeadEncoder::new(&mut out, status, false);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(line(200), "HTTP/1.1 200 OK\r\n");
        assert_eq!(
            line(431),
            "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        );
        assert_eq!(line(299), "HTTP/1.1 299 \r\n");
        assert_eq!(line(999), "HTTP/1.1 999 \r\n");
        assert_eq!(reason_phrase(505), Some("HTTP Version Not Supported"));
        assert_eq!(reason_phrase(299), None);
        assert_eq!(CONTINUE, b"HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[test]
    fn status_table_lines_match_reason_phrases() {
        for status in 100..=999 {
            if let Some(line) = status_line(status) {
                let expected = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status).unwrap());
                assert_eq!(line, expected.as_bytes());
            }
        }
    }

    #[test]
    fn numbers() {
        let fmt = |f: fn(&mut Vec<u8>, u64), n| {
            let mut v = Vec::new();
            f(&mut v, n);
            String::from_utf8(v).unwrap()
        };
        for n in [0, 1, 9, 10, 99, 100, 12345, u64::MAX] {
            assert_eq!(fmt(push_decimal, n), n.to_string());
            assert_eq!(fmt(push_hex, n), format!("{n:x}"));
        }
    }
}
