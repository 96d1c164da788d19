//! The header fields that shape a request: `Host`, `Content-Length`, `Transfer-Encoding`,
//! `Connection` and `Expect`. [`Fields`] gathers them in one pass over the headers and
//! decides the body framing (RFC 9112 §6.3).

use super::error::ParseErrorKind;
use super::{BodyLength, Span, Version};

/// The facts gathered from the header fields that shape the message.
#[derive(Debug, Default)]
pub(super) struct Fields {
    pub(super) host: Option<Span>,
    pub(super) host_count: usize,
    content_length: Option<u64>,
    /// Some Transfer-Encoding field was present.
    te: bool,
    /// The last coding seen so far is `chunked`.
    chunked_last: bool,
    /// A coding was seen after `chunked` (including a second `chunked`).
    chunked_not_last: bool,
    /// A coding other than `chunked` was seen.
    other_coding: bool,
    pub(super) close: bool,
    pub(super) keep_alive: bool,
    pub(super) expect_continue: bool,
}

impl Fields {
    /// Records one header field. Names are matched by length first, then case-insensitively.
    pub(super) fn note(
        &mut self,
        name: &[u8],
        value: &[u8],
        span: Span,
    ) -> Result<(), ParseErrorKind> {
        match name.len() {
            4 if name.eq_ignore_ascii_case(b"host") => {
                self.host_count += 1;
                self.host = Some(span);
            }
            6 if name.eq_ignore_ascii_case(b"expect") => {
                self.expect_continue |= value.eq_ignore_ascii_case(b"100-continue");
            }
            10 if name.eq_ignore_ascii_case(b"connection") => {
                for token in list(value) {
                    self.close |= token.eq_ignore_ascii_case(b"close");
                    self.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                for element in value.split(|&b| b == b',') {
                    let n = parse_decimal(trim_ows(element))
                        .ok_or(ParseErrorKind::InvalidContentLength)?;
                    if self.content_length.is_some_and(|prev| prev != n) {
                        return Err(ParseErrorKind::InvalidContentLength);
                    }
                    self.content_length = Some(n);
                }
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                self.te = true;
                let mut any = false;
                for coding in list(value) {
                    any = true;
                    self.chunked_not_last |= self.chunked_last;
                    self.chunked_last = coding.eq_ignore_ascii_case(b"chunked");
                    self.other_coding |= !self.chunked_last;
                }
                if !any {
                    return Err(ParseErrorKind::InvalidTransferEncoding);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether the message declared its length at all (`Content-Length` or
    /// `Transfer-Encoding`). A response without either is delimited by the connection
    /// closing.
    pub(super) fn declares_length(&self) -> bool {
        self.te || self.content_length.is_some()
    }

    /// Decides the body framing (RFC 9112 §6.3).
    pub(super) fn framing(&self, version: Version) -> Result<BodyLength, ParseErrorKind> {
        if self.te {
            if version == Version::Http10 {
                return Err(ParseErrorKind::TransferEncodingOnHttp10);
            }
            if self.content_length.is_some() {
                return Err(ParseErrorKind::ContentLengthWithTransferEncoding);
            }
            // `chunked, gzip` cannot be framed (400); `gzip` or `gzip, chunked` could be, with
            // a coding we do not implement (501).
            if self.chunked_not_last {
                return Err(ParseErrorKind::ChunkedNotLast);
            }
            if self.other_coding {
                return Err(ParseErrorKind::UnsupportedTransferEncoding);
            }
            return Ok(BodyLength::Chunked);
        }
        Ok(match self.content_length {
            None | Some(0) => BodyLength::Empty,
            Some(n) => BodyLength::Known(n),
        })
    }
}

/// The non-empty elements of a comma-separated list, trimmed of optional whitespace.
fn list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// `1*DIGIT` as a u64; `None` for anything else, including a sign or overflow.
fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |n, &b| {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_and_number_helpers() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"007"), Some(7));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"1_0"), None);
        assert_eq!(trim_ows(b" \t a b\t "), b"a b");
        assert_eq!(
            list(b" a ,, b,").collect::<Vec<_>>(),
            vec![&b"a"[..], &b"b"[..]]
        );
    }
}
