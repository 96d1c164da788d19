//! The parsed request head: [`RequestHead`] and the [`Span`]s it keeps into the read buffer.
//!
//! A head owns no header bytes. The request-target and every header name and value are
//! byte ranges into the buffer that was parsed, so parsing allocates at most one `Vec` (the
//! header index), and none when a head is reused through
//! [`parse_request_into`](super::parse::parse_request_into). Accessors that return bytes take that
//! same buffer; passing any other buffer returns unrelated bytes or panics on the range.

use std::ops::Range;

use super::{BodyLength, Method, Version};

/// A byte range into the buffer a head was parsed from.
///
/// Stored as two `u32`s: a head never exceeds the head-size limit, which the parser caps
/// below `u32::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// A span from `start` to `end`. The parser only builds spans inside a head it has capped
    /// at `u32::MAX` bytes, so the conversions never saturate there.
    pub(crate) fn new(start: usize, end: usize) -> Span {
        debug_assert!(start <= end, "span {start}..{end}");
        Span {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        }
    }

    /// Offset of the first byte.
    pub fn start(self) -> usize {
        self.start as usize
    }

    /// Offset one past the last byte.
    pub fn end(self) -> usize {
        self.end as usize
    }

    /// Length in bytes.
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    /// Whether the span covers no bytes.
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// The span as a `Range<usize>`, for indexing.
    pub fn range(self) -> Range<usize> {
        self.start()..self.end()
    }

    /// The bytes this span covers in `buf`.
    ///
    /// # Panics
    ///
    /// If `buf` is shorter than [`Span::end`], i.e. it is not the buffer the span came from.
    pub fn of(self, buf: &[u8]) -> &[u8] {
        &buf[self.range()]
    }
}

/// One header field as ranges into the parsed buffer. The value has no leading or trailing
/// whitespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderSpan {
    /// The field name, as sent (names compare case-insensitively).
    pub name: Span,
    /// The field value, trimmed of surrounding SP/HTAB.
    pub value: Span,
}

/// Which of the four request-target forms of RFC 9112 §3.2 a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetForm {
    /// `/path?query`: the usual form.
    Origin,
    /// `http://authority/path?query`: sent to proxies, and accepted by servers.
    Absolute,
    /// `host:port`: only with `CONNECT`.
    Authority,
    /// `*`: only with `OPTIONS`.
    Asterisk,
}

/// The request-target, split into the parts a router needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub(super) form: TargetForm,
    pub(super) whole: Span,
    pub(super) scheme: Option<Span>,
    pub(super) authority: Option<Span>,
    pub(super) path: Span,
    pub(super) query: Option<Span>,
}

impl Target {
    /// Which form the target was sent in.
    pub fn form(&self) -> TargetForm {
        self.form
    }

    /// The whole request-target as sent.
    pub fn whole(&self) -> Span {
        self.whole
    }

    /// The scheme of an absolute-form target (`http` or `https`, in the case sent).
    pub fn scheme(&self) -> Option<Span> {
        self.scheme
    }

    /// The authority (`host[:port]`) of an absolute-form or authority-form target. RFC 9112
    /// §3.2.2: when present it takes precedence over the `Host` header.
    pub fn authority(&self) -> Option<Span> {
        self.authority
    }

    /// The path: empty for authority-form and for an absolute-form target with no path
    /// (which [`RequestHead::path`] reports as `/`), `*` for asterisk-form.
    pub fn path(&self) -> Span {
        self.path
    }

    /// The query, without the `?`, if the target had one (it may be empty: `/a?`).
    pub fn query(&self) -> Option<Span> {
        self.query
    }
}

/// A parsed and validated request head.
///
/// Built by [`parse_request`](super::parse::parse_request). Besides the raw parts it carries the
/// facts the connection layer needs: body framing, keep-alive and `Expect: 100-continue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub(super) method: Method,
    pub(super) version: Version,
    pub(super) target: Target,
    pub(super) headers: Vec<HeaderSpan>,
    pub(super) head_len: usize,
    pub(super) body: BodyLength,
    pub(super) keep_alive: bool,
    pub(super) expect_continue: bool,
    pub(super) host: Option<Span>,
}

impl Default for RequestHead {
    /// An empty head (`GET /` over HTTP/1.1 with no headers), ready to be filled by
    /// [`parse_request_into`](super::parse::parse_request_into).
    fn default() -> Self {
        RequestHead {
            method: Method::Get,
            version: Version::Http11,
            target: Target {
                form: TargetForm::Origin,
                whole: Span::default(),
                scheme: None,
                authority: None,
                path: Span::default(),
                query: None,
            },
            headers: Vec::new(),
            head_len: 0,
            body: BodyLength::Empty,
            keep_alive: true,
            expect_continue: false,
            host: None,
        }
    }
}

impl RequestHead {
    /// The request method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request's HTTP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The request-target and its parts.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The path of the target in `buf`: `/` for an absolute-form target without a path,
    /// `*` for asterisk-form, empty for authority-form.
    pub fn path<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        if self.target.form == TargetForm::Absolute && self.target.path.is_empty() {
            return b"/";
        }
        self.target.path.of(buf)
    }

    /// The query of the target in `buf`, without the `?`.
    pub fn query<'b>(&self, buf: &'b [u8]) -> Option<&'b [u8]> {
        self.target.query.map(|q| q.of(buf))
    }

    /// Size of the head in bytes, including leading empty lines and the blank line that
    /// ends it. The body or the next pipelined request starts at this offset.
    pub fn head_len(&self) -> usize {
        self.head_len
    }

    /// The header fields in the order they were sent.
    pub fn headers(&self) -> &[HeaderSpan] {
        &self.headers
    }

    /// The header fields as `(name, value)` byte pairs from `buf`.
    pub fn header_pairs<'h, 'b>(
        &'h self,
        buf: &'b [u8],
    ) -> impl Iterator<Item = (&'b [u8], &'b [u8])> + use<'h, 'b> {
        self.headers
            .iter()
            .map(move |h| (h.name.of(buf), h.value.of(buf)))
    }

    /// The value of the first header named `name` (ASCII case-insensitive).
    pub fn header<'b>(&self, buf: &'b [u8], name: &str) -> Option<&'b [u8]> {
        self.headers
            .iter()
            .find(|h| h.name.of(buf).eq_ignore_ascii_case(name.as_bytes()))
            .map(|h| h.value.of(buf))
    }

    /// How the body is framed. `Content-Length: 0` is reported as [`BodyLength::Empty`].
    pub fn body(&self) -> BodyLength {
        self.body
    }

    /// Whether the client wants the connection kept open after this exchange: HTTP/1.1
    /// unless `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// Whether an HTTP/1.1 client sent `Expect: 100-continue` and waits for a
    /// `100 Continue` before sending the body.
    pub fn expect_continue(&self) -> bool {
        self.expect_continue
    }

    /// The `Host` header value, if one was sent (at most one is accepted).
    pub fn host(&self) -> Option<Span> {
        self.host
    }

    /// Whether a `Host` header was sent.
    pub fn has_host(&self) -> bool {
        self.host.is_some()
    }

    /// Marks the head as another version's (an HTTP/2 request parsed from its
    /// HTTP/1.1 rendering).
    pub(crate) fn set_version(&mut self, version: Version) {
        self.version = version;
    }

    /// Takes the header index out (for [`recycle`](crate::recycle)), leaving none.
    pub(crate) fn take_index(&mut self) -> Vec<HeaderSpan> {
        std::mem::take(&mut self.headers)
    }

    /// Gives the head an empty header index to parse into, with its capacity.
    pub(crate) fn set_index(&mut self, mut index: Vec<HeaderSpan>) {
        index.clear();
        self.headers = index;
    }
}

#[cfg(test)]
mod tests {
    use super::Span;

    #[test]
    fn span_indexes_the_buffer() {
        let buf = b"hello world";
        let s = Span::new(6, 11);
        assert_eq!(s.of(buf), b"world");
        assert_eq!(s.len(), 5);
        assert!(!s.is_empty());
        assert!(Span::new(3, 3).is_empty());
        assert_eq!(s.range(), 6..11);
    }
}
