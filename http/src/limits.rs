//! Request size limits: the documented defaults and the [`Limits`] set the parser and the
//! body decoder enforce.
//!
//! Each limit maps to the status code the server answers with when a request exceeds it.
//! Timeouts are not here: they belong to the connection layer, which owns the clock.

/// Default maximum size of a request head in bytes: the request line, every header line and
/// the blank line that ends the head, including leading empty lines. A head that does not fit
/// is answered with `431 Request Header Fields Too Large`.
///
/// 16 KiB holds the largest heads that mainstream browsers and proxies send (cookies
/// included) while bounding the memory an idle connection can pin.
pub const DEFAULT_MAX_HEAD_SIZE: usize = 16 * 1024;

/// Default maximum number of header fields in a request head. One more is answered with
/// `431 Request Header Fields Too Large`.
///
/// 100 matches hyper's and nginx's order of magnitude; real requests carry 10 to 30.
pub const DEFAULT_MAX_HEADERS: usize = 100;

/// Default maximum length in bytes of the request-target (the URI in the request line).
/// A longer one is answered with `414 URI Too Long`.
pub const DEFAULT_MAX_URI_LEN: usize = 8 * 1024;

/// Default maximum size in bytes of a request body after transfer decoding. A larger
/// `Content-Length` is answered with `413 Content Too Large` before the body is read; a chunked
/// body is cut off with `413` as soon as its chunks declare more.
pub const DEFAULT_MAX_BODY_SIZE: u64 = 1024 * 1024;

/// The size limits applied to one request.
///
/// Every limit is inclusive: a value equal to the limit is accepted, one byte (or one header)
/// more is rejected.
///
/// # Default
///
/// [`DEFAULT_MAX_HEAD_SIZE`], [`DEFAULT_MAX_HEADERS`], [`DEFAULT_MAX_URI_LEN`] and
/// [`DEFAULT_MAX_BODY_SIZE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum size of the request head in bytes (→ 431). Values above `u32::MAX` act as
    /// `u32::MAX`.
    pub max_head_size: usize,
    /// Maximum number of header fields (→ 431).
    pub max_headers: usize,
    /// Maximum length of the request-target in bytes (→ 414).
    pub max_uri_len: usize,
    /// Maximum decoded body size in bytes (→ 413).
    pub max_body_size: u64,
}

impl Limits {
    /// The default limits, usable in `const` contexts.
    pub const DEFAULT: Limits = Limits {
        max_head_size: DEFAULT_MAX_HEAD_SIZE,
        max_headers: DEFAULT_MAX_HEADERS,
        max_uri_len: DEFAULT_MAX_URI_LEN,
        max_body_size: DEFAULT_MAX_BODY_SIZE,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_consts() {
        let l = Limits::default();
        assert_eq!(l.max_head_size, 16 * 1024);
        assert_eq!(l.max_headers, 100);
        assert_eq!(l.max_uri_len, 8 * 1024);
        assert_eq!(l.max_body_size, 1024 * 1024);
        assert_eq!(l, Limits::DEFAULT);
    }
}
