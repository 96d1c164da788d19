//! ASCII bytes as `&str` at the cost of an ASCII check. The request path and the request
//! id are read as text on every request; `std::str::from_utf8` costs about eleven
//! instructions per byte on such short strings (its fast path wants long, aligned runs),
//! [`<[u8]>::is_ascii`](slice::is_ascii) about one (a word at a time). Measured with
//! `benches/load/callgrind.sh`: about 110 instructions per request on `/plaintext`.
//!
//! This module holds `unsafe` (listed in `sys/mod.rs`): the one `from_utf8_unchecked`,
//! behind the ASCII check that makes it sound.

/// `bytes` as text when they are all ASCII, else `None` (callers fall back to
/// `std::str::from_utf8` for text that may be wider).
///
/// ```
/// use keel_runtime::ascii;
/// assert_eq!(ascii::as_str(b"/plaintext"), Some("/plaintext"));
/// assert_eq!(ascii::as_str("/caf\u{e9}".as_bytes()), None);
/// ```
#[inline]
pub fn as_str(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: every byte is below 0x80, and each such byte is a complete one-byte
        // UTF-8 sequence, so `bytes` is valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        None
    }
}

/// `bytes` as text: [`as_str`] first, `std::str::from_utf8` for the rest.
#[inline]
pub fn to_str(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    match as_str(bytes) {
        Some(text) => Ok(text),
        None => std::str::from_utf8(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_is_text_and_wider_bytes_go_to_the_full_check() {
        for s in ["", "/", "/plaintext", "0123456789abcdef0123456789abcdef"] {
            assert_eq!(as_str(s.as_bytes()), Some(s));
            assert_eq!(to_str(s.as_bytes()), Ok(s));
        }
        assert_eq!(as_str("é".as_bytes()), None);
        assert_eq!(to_str("/é".as_bytes()), Ok("/é"));
        assert!(to_str(&[0x2f, 0xff]).is_err());
        assert_eq!(as_str(&[0x80]), None);
    }
}
