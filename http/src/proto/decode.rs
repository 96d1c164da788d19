//! Incremental request-body decoding: `Content-Length` bodies and the chunked transfer
//! coding (RFC 9112 §7.1), with the body-size limit enforced as data arrives.
//!
//! A [`Decoder`] holds all of its state, so input may be split at any byte: feed it each slice
//! as it is read. It copies nothing; body data is handed out as sub-slices of the input.
//! Chunk extensions are checked and skipped, trailer fields are checked and discarded, and
//! both are bounded ([`CHUNK_EXTENSIONS_LIMIT`], [`TRAILER_LIMIT`]).
//!
//! The chunked grammar accepted, strictly (a bare LF or CR anywhere is an error):
//!
//! ```text
//! chunked-body = *chunk last-chunk trailer-section CRLF
//! chunk        = 1*HEXDIG *WSP [ ";" ext ] CRLF chunk-data CRLF
//! last-chunk   = 1*"0"    *WSP [ ";" ext ] CRLF
//! trailer-section = *( token ":" *( VCHAR / obs-text / SP / HTAB ) CRLF )
//! ```

use std::fmt;

use super::BodyLength;

/// Most bytes of chunk extensions (and of leading zeros and whitespace in chunk-size lines)
/// accepted over a whole body. Extensions carry nothing we use, so this only stops a client
/// from sending unbounded framing with little data (hyper uses the same bound).
pub(crate) const CHUNK_EXTENSIONS_LIMIT: u64 = 16 * 1024;

/// Most bytes of trailer fields (their lines with CRLFs, not the final CRLF) accepted after
/// the last chunk. Trailers are checked and discarded.
pub(crate) const TRAILER_LIMIT: u64 = 16 * 1024;

/// Decodes one request body. Build it from the head's `BodyLength` with [`Decoder::new`].
#[derive(Debug, Clone)]
pub struct Decoder {
    kind: Kind,
    /// Most body bytes accepted.
    limit: u64,
    /// Body bytes handed out so far.
    received: u64,
    /// Set by the first error, which every later call repeats.
    failed: Option<DecodeErrorKind>,
}

#[derive(Debug, Clone)]
enum Kind {
    /// A `Content-Length` body with this many bytes still to come.
    Length(u64),
    Chunked(Chunked),
}

#[derive(Debug, Clone)]
struct Chunked {
    state: ChunkedState,
    /// The size of the chunk being read, then the bytes of it still to come.
    size: u64,
    /// Extension and padding bytes seen so far in this body.
    ext_bytes: u64,
    /// Trailer bytes seen so far.
    trailer_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkedState {
    /// Before the first digit of a chunk size.
    Start,
    /// In the chunk-size digits.
    Size,
    /// Whitespace after the size.
    SizeWs,
    /// Inside `;ext`.
    Extension,
    /// CR seen, LF expected, ending the size line.
    SizeLf,
    /// In the chunk data.
    Data,
    /// CR expected after the data.
    DataCr,
    /// LF expected after the data.
    DataLf,
    /// At the start of a trailer line or of the final CRLF.
    TrailerStart,
    /// In a trailer field name.
    TrailerName,
    /// In a trailer field value.
    TrailerValue,
    /// CR seen, LF expected, ending a trailer line.
    TrailerLf,
    /// CR seen, LF expected, ending the body.
    EndLf,
    /// The body is complete.
    Done,
}

/// What one [`Decoder::decode`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes consumed. Equal to the input length unless `done`; when `done`, the bytes
    /// after this offset belong to the next request.
    pub consumed: usize,
    /// The body is complete.
    pub done: bool,
}

impl Decoder {
    /// A decoder for a body framed as `body`, accepting at most `limit` body bytes.
    pub fn new(body: BodyLength, limit: u64) -> Decoder {
        match body {
            BodyLength::Empty => Decoder::length(0, limit),
            BodyLength::Known(n) => Decoder::length(n, limit),
            BodyLength::Chunked => Decoder::chunked(limit),
        }
    }

    /// A decoder for a `Content-Length: n` body.
    pub fn length(n: u64, limit: u64) -> Decoder {
        Decoder {
            kind: Kind::Length(n),
            limit,
            received: 0,
            failed: None,
        }
    }

    /// A decoder for a chunked body.
    pub fn chunked(limit: u64) -> Decoder {
        Decoder {
            kind: Kind::Chunked(Chunked {
                state: ChunkedState::Start,
                size: 0,
                ext_bytes: 0,
                trailer_bytes: 0,
            }),
            limit,
            received: 0,
            failed: None,
        }
    }

    /// Whether the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        match &self.kind {
            Kind::Length(remaining) => *remaining == 0,
            Kind::Chunked(c) => c.state == ChunkedState::Done,
        }
    }

    /// Body bytes decoded so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Decodes from `input`, calling `on_data` with each run of body bytes in order (never
    /// with an empty slice).
    ///
    /// # Errors
    ///
    /// A `DecodeError` for malformed chunked framing (400) or a body over the limit (413).
    /// The connection must close: the end of the body can no longer be found. Once failed,
    /// the decoder returns the same error on every call.
    pub fn decode(
        &mut self,
        input: &[u8],
        mut on_data: impl FnMut(&[u8]),
    ) -> Result<Progress, DecodeError> {
        if let Some(kind) = self.failed {
            return Err(DecodeError { kind });
        }
        let result = match &mut self.kind {
            Kind::Length(remaining) => {
                if self.received.saturating_add(*remaining) > self.limit {
                    Err(DecodeErrorKind::BodyTooLarge)
                } else {
                    let n = input
                        .len()
                        .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                    if n > 0 {
                        on_data(&input[..n]);
                    }
                    *remaining -= n as u64;
                    self.received += n as u64;
                    Ok(Progress {
                        consumed: n,
                        done: *remaining == 0,
                    })
                }
            }
            Kind::Chunked(chunked) => {
                chunked.decode(input, self.limit, &mut self.received, &mut on_data)
            }
        };
        result.map_err(|kind| {
            self.failed = Some(kind);
            DecodeError { kind }
        })
    }
}

impl Chunked {
    fn decode(
        &mut self,
        input: &[u8],
        limit: u64,
        received: &mut u64,
        on_data: &mut impl FnMut(&[u8]),
    ) -> Result<Progress, DecodeErrorKind> {
        use ChunkedState::*;
        let mut pos = 0;
        while pos < input.len() {
            if self.state == Done {
                break;
            }
            if self.state == Data {
                let rest = &input[pos..];
                let n = rest
                    .len()
                    .min(usize::try_from(self.size).unwrap_or(usize::MAX));
                on_data(&rest[..n]);
                self.size -= n as u64;
                *received += n as u64;
                pos += n;
                if self.size == 0 {
                    self.state = DataCr;
                }
                continue;
            }
            let b = input[pos];
            pos += 1;
            self.state = self.step(b, limit, *received)?;
        }
        Ok(Progress {
            consumed: pos,
            done: self.state == Done,
        })
    }

    /// Advances the framing state machine by one byte (any state but `Data` and `Done`).
    fn step(&mut self, b: u8, limit: u64, received: u64) -> Result<ChunkedState, DecodeErrorKind> {
        use ChunkedState::*;
        use DecodeErrorKind::*;
        Ok(match self.state {
            Start | Size => match hex_value(b) {
                Some(digit) => {
                    if self.size == 0 && self.state == Size {
                        // A leading zero carries no size: count it like padding.
                        self.pad()?;
                    }
                    self.size = self
                        .size
                        .checked_mul(16)
                        .and_then(|s| s.checked_add(u64::from(digit)))
                        .ok_or(ChunkSizeOverflow)?;
                    Size
                }
                None if self.state == Start => return Err(InvalidChunkSize),
                None => self.after_size(b)?,
            },
            SizeWs => self.after_size(b)?,
            Extension => match b {
                b'\r' => SizeLf,
                b'\n' => return Err(InvalidNewline),
                b'\t' | b' '..=b'~' | 0x80..=0xff => {
                    self.pad()?;
                    Extension
                }
                _ => return Err(InvalidChunkExtension),
            },
            SizeLf => match b {
                b'\n' if self.size == 0 => TrailerStart,
                b'\n' => {
                    if received.saturating_add(self.size) > limit {
                        return Err(BodyTooLarge);
                    }
                    Data
                }
                _ => return Err(InvalidNewline),
            },
            DataCr => match b {
                b'\r' => DataLf,
                _ => return Err(MissingChunkCrlf),
            },
            DataLf => match b {
                b'\n' => Start,
                _ => return Err(MissingChunkCrlf),
            },
            TrailerStart => match b {
                b'\r' => EndLf,
                _ if is_token(b) => self.trailer(TrailerName)?,
                _ => return Err(InvalidTrailer),
            },
            TrailerName => match b {
                b':' => self.trailer(TrailerValue)?,
                _ if is_token(b) => self.trailer(TrailerName)?,
                _ => return Err(InvalidTrailer),
            },
            TrailerValue => match b {
                b'\r' => self.trailer(TrailerLf)?,
                b'\t' | b' '..=b'~' | 0x80..=0xff => self.trailer(TrailerValue)?,
                _ => return Err(InvalidTrailer),
            },
            TrailerLf => match b {
                b'\n' => self.trailer(TrailerStart)?,
                _ => return Err(InvalidTrailer),
            },
            EndLf => match b {
                b'\n' => Done,
                _ => return Err(InvalidNewline),
            },
            Data | Done => unreachable!("handled by the caller"),
        })
    }

    /// The byte after the size digits or the whitespace that follows them.
    fn after_size(&mut self, b: u8) -> Result<ChunkedState, DecodeErrorKind> {
        Ok(match b {
            b' ' | b'\t' => {
                self.pad()?;
                ChunkedState::SizeWs
            }
            b';' => {
                self.pad()?;
                ChunkedState::Extension
            }
            b'\r' => ChunkedState::SizeLf,
            b'\n' => return Err(DecodeErrorKind::InvalidNewline),
            _ => return Err(DecodeErrorKind::InvalidChunkSize),
        })
    }

    /// Counts one byte of extension or padding against [`CHUNK_EXTENSIONS_LIMIT`].
    fn pad(&mut self) -> Result<(), DecodeErrorKind> {
        self.ext_bytes += 1;
        if self.ext_bytes > CHUNK_EXTENSIONS_LIMIT {
            return Err(DecodeErrorKind::ExtensionsTooLarge);
        }
        Ok(())
    }

    /// Counts one trailer byte against [`TRAILER_LIMIT`] and moves to `next`.
    fn trailer(&mut self, next: ChunkedState) -> Result<ChunkedState, DecodeErrorKind> {
        self.trailer_bytes += 1;
        if self.trailer_bytes > TRAILER_LIMIT {
            return Err(DecodeErrorKind::TrailersTooLarge);
        }
        Ok(next)
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// RFC 9110 `tchar`.
fn is_token(b: u8) -> bool {
    matches!(b,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9'
        | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.'
        | b'^' | b'_' | b'`' | b'|' | b'~')
}

/// Why a body could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// A chunk-size line does not start with a hex digit, or has stray bytes. 400.
    InvalidChunkSize,
    /// A chunk size does not fit in 64 bits. 400.
    ChunkSizeOverflow,
    /// A chunk extension contains a control character. 400.
    InvalidChunkExtension,
    /// Chunk extensions exceed [`CHUNK_EXTENSIONS_LIMIT`]. 400.
    ExtensionsTooLarge,
    /// Chunk data is not followed by CRLF. 400.
    MissingChunkCrlf,
    /// A bare LF, or a CR not followed by LF, in the framing. 400.
    InvalidNewline,
    /// A malformed trailer field. 400.
    InvalidTrailer,
    /// Trailers exceed [`TRAILER_LIMIT`]. 400.
    TrailersTooLarge,
    /// The body exceeds the body-size limit. 413.
    BodyTooLarge,
}

/// A body that could not be decoded. The connection must close after the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError {
    kind: DecodeErrorKind,
}

impl DecodeError {
    /// What was wrong.
    pub fn kind(&self) -> DecodeErrorKind {
        self.kind
    }

    /// The status code to answer with: 413 for [`DecodeErrorKind::BodyTooLarge`], else 400.
    pub fn status(&self) -> u16 {
        match self.kind {
            DecodeErrorKind::BodyTooLarge => 413,
            _ => 400,
        }
    }

    /// Always true: after a framing error or a cut-off body, the next request cannot be found.
    pub fn must_close(&self) -> bool {
        true
    }

    /// A short, stable description, fit for an error response body or a log line.
    pub fn reason(&self) -> &'static str {
        use DecodeErrorKind::*;
        match self.kind {
            InvalidChunkSize => "invalid chunk size",
            ChunkSizeOverflow => "chunk size too large",
            InvalidChunkExtension => "invalid chunk extension",
            ExtensionsTooLarge => "chunk extensions too large",
            MissingChunkCrlf => "missing CRLF after chunk data",
            InvalidNewline => "invalid line ending in chunked body",
            InvalidTrailer => "invalid trailer field",
            TrailersTooLarge => "trailers too large",
            BodyTooLarge => "request body too large",
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason(), self.status())
    }
}

impl std::error::Error for DecodeError {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NO_LIMIT: u64 = u64::MAX;

    /// Feeds `pieces` in order; returns the body, the total bytes consumed, and whether done.
    fn feed(dec: &mut Decoder, pieces: &[&[u8]]) -> Result<(Vec<u8>, usize, bool), DecodeError> {
        let mut body = Vec::new();
        let mut consumed = 0;
        for piece in pieces {
            let p = dec.decode(piece, |d| {
                assert!(!d.is_empty());
                body.extend_from_slice(d);
            })?;
            consumed += p.consumed;
            if p.done {
                return Ok((body, consumed, true));
            }
            assert_eq!(
                p.consumed,
                piece.len(),
                "a decoder that is not done consumes all"
            );
        }
        Ok((body, consumed, false))
    }

    fn chunked_all(input: &[u8], limit: u64) -> Result<(Vec<u8>, usize, bool), DecodeError> {
        feed(&mut Decoder::chunked(limit), &[input])
    }

    fn chunked_err(input: &[u8]) -> DecodeErrorKind {
        match chunked_all(input, NO_LIMIT) {
            Err(e) => e.kind(),
            Ok(r) => panic!("expected an error, got {r:?}"),
        }
    }

    /// `dec!(name, bytes, Ok(body))` / `dec!(name, bytes, Err(Kind))` for chunked input.
    macro_rules! dec {
        ($name:ident, $input:expr, Ok($body:expr)) => {
            #[test]
            fn $name() {
                let input: &[u8] = $input;
                let (body, consumed, done) = chunked_all(input, NO_LIMIT).unwrap();
                assert_eq!(body, $body);
                assert!(done);
                assert_eq!(consumed, input.len());
                // And the same byte by byte.
                let mut dec = Decoder::chunked(NO_LIMIT);
                let bytes: Vec<&[u8]> = input.chunks(1).collect();
                assert_eq!(feed(&mut dec, &bytes).unwrap().0, $body);
                assert!(dec.is_done());
            }
        };
        ($name:ident, $input:expr, Err($kind:ident)) => {
            #[test]
            fn $name() {
                assert_eq!(chunked_err($input), DecodeErrorKind::$kind);
            }
        };
    }

    // ===== Content-Length =====

    #[test]
    fn length_body_split_and_followed_by_next_request() {
        let mut dec = Decoder::length(5, NO_LIMIT);
        let (body, consumed, done) = feed(&mut dec, &[b"he", b"", b"lloGET /"]).unwrap();
        assert_eq!(body, b"hello");
        assert_eq!(consumed, 5);
        assert!(done && dec.is_done());
        assert_eq!(dec.received(), 5);
    }

    #[test]
    fn empty_body_is_done_at_once() {
        let mut dec = Decoder::new(BodyLength::Empty, NO_LIMIT);
        assert!(dec.is_done());
        let p = dec.decode(b"GET /", |_| panic!("no data")).unwrap();
        assert_eq!(
            p,
            Progress {
                consumed: 0,
                done: true
            }
        );
    }

    #[test]
    fn length_limit() {
        for (n, ok) in [(9, true), (10, true), (11, false)] {
            let mut dec = Decoder::new(BodyLength::Known(n), 10);
            let r = dec.decode(&[b'x'; 11], |_| {});
            assert_eq!(r.is_ok(), ok, "length {n}");
            if let Err(e) = r {
                assert_eq!((e.kind(), e.status()), (DecodeErrorKind::BodyTooLarge, 413));
            }
        }
    }

    // ===== chunked: accepted =====

    dec!(single_chunk, b"5\r\nhello\r\n0\r\n\r\n", Ok(b"hello"));
    dec!(
        several_chunks,
        b"5\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\n\r\n",
        Ok(b"hello world!")
    );
    dec!(empty_chunked_body, b"0\r\n\r\n", Ok(b""));
    dec!(
        hex_sizes_both_cases,
        b"a\r\n0123456789\r\nB\r\nabcdefghijk\r\n0\r\n\r\n",
        Ok(b"0123456789abcdefghijk")
    );
    dec!(leading_zeros, b"0005\r\nhello\r\n000\r\n\r\n", Ok(b"hello"));
    dec!(
        extensions_ignored,
        b"5;name=value;x=\"q;d\"\r\nhello\r\n0;last\r\n\r\n",
        Ok(b"hello")
    );
    dec!(
        whitespace_before_extension,
        b"5 \t;a=b\r\nhello\r\n0 \r\n\r\n",
        Ok(b"hello")
    );
    dec!(
        trailers_discarded,
        b"5\r\nhello\r\n0\r\nX-Sum: abc\r\nX-Empty:\r\nX-Tab:\ta b\r\n\r\n",
        Ok(b"hello")
    );
    dec!(
        crlf_inside_data_is_data,
        b"4\r\n\r\n\r\n\r\n0\r\n\r\n",
        Ok(b"\r\n\r\n")
    );

    #[test]
    fn stops_at_the_end_of_the_body() {
        let input = b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
        let (body, consumed, done) = chunked_all(input, NO_LIMIT).unwrap();
        assert_eq!(body, b"abc");
        assert!(done);
        assert_eq!(&input[consumed..], b"GET / HTTP/1.1\r\n");
    }

    #[test]
    fn data_is_borrowed_from_the_input_without_copying() {
        let input = b"5\r\nhello\r\n0\r\n\r\n";
        let mut dec = Decoder::chunked(NO_LIMIT);
        let mut seen = None;
        dec.decode(input, |d| {
            seen = Some(d.as_ptr() as usize - input.as_ptr() as usize)
        })
        .unwrap();
        assert_eq!(seen, Some(3));
    }

    // ===== chunked: refused =====

    dec!(size_not_hex, b"g\r\nx\r\n0\r\n\r\n", Err(InvalidChunkSize));
    dec!(size_missing, b"\r\nx\r\n0\r\n\r\n", Err(InvalidChunkSize));
    dec!(
        size_signed,
        b"+5\r\nhello\r\n0\r\n\r\n",
        Err(InvalidChunkSize)
    );
    dec!(
        size_with_prefix,
        b"0x5\r\nhello\r\n0\r\n\r\n",
        Err(InvalidChunkSize)
    );
    dec!(
        size_space_inside,
        b"5 5\r\nhello\r\n0\r\n\r\n",
        Err(InvalidChunkSize)
    );
    dec!(
        size_leading_space,
        b" 5\r\nhello\r\n0\r\n\r\n",
        Err(InvalidChunkSize)
    );
    dec!(
        size_overflow,
        b"10000000000000000\r\n",
        Err(ChunkSizeOverflow)
    );
    dec!(
        size_overflow_all_f,
        b"fffffffffffffffff\r\n",
        Err(ChunkSizeOverflow)
    );
    dec!(size_bare_lf, b"5\nhello\r\n0\r\n\r\n", Err(InvalidNewline));
    dec!(size_bare_cr, b"5\rhello\r\n0\r\n\r\n", Err(InvalidNewline));
    dec!(
        extension_bare_lf,
        b"5;a\nhello\r\n0\r\n\r\n",
        Err(InvalidNewline)
    );
    dec!(
        extension_control_char,
        b"5;a\x00b\r\nhello\r\n0\r\n\r\n",
        Err(InvalidChunkExtension)
    );
    dec!(
        data_not_followed_by_crlf,
        b"5\r\nhelloX\r\n0\r\n\r\n",
        Err(MissingChunkCrlf)
    );
    dec!(
        data_followed_by_bare_lf,
        b"5\r\nhello\n0\r\n\r\n",
        Err(MissingChunkCrlf)
    );
    dec!(
        data_followed_by_cr_only,
        b"5\r\nhello\rX0\r\n\r\n",
        Err(MissingChunkCrlf)
    );
    dec!(
        data_longer_than_size,
        b"3\r\nhello\r\n0\r\n\r\n",
        Err(MissingChunkCrlf)
    );
    dec!(end_bare_lf, b"0\r\n\n", Err(InvalidTrailer));
    dec!(end_cr_without_lf, b"0\r\n\rX", Err(InvalidNewline));
    dec!(
        trailer_obs_fold,
        b"0\r\nX: a\r\n b\r\n\r\n",
        Err(InvalidTrailer)
    );
    dec!(
        trailer_without_colon,
        b"0\r\nX a\r\n\r\n",
        Err(InvalidTrailer)
    );
    dec!(
        trailer_space_before_colon,
        b"0\r\nX : a\r\n\r\n",
        Err(InvalidTrailer)
    );
    dec!(
        trailer_control_char,
        b"0\r\nX: a\x01\r\n\r\n",
        Err(InvalidTrailer)
    );
    dec!(trailer_bare_lf, b"0\r\nX: a\n\r\n", Err(InvalidTrailer));

    #[test]
    fn errors_are_sticky() {
        let mut dec = Decoder::chunked(NO_LIMIT);
        let e = dec.decode(b"z", |_| {}).unwrap_err();
        assert_eq!(e.kind(), DecodeErrorKind::InvalidChunkSize);
        assert_eq!(e.status(), 400);
        assert!(e.must_close());
        assert_eq!(dec.decode(b"0\r\n\r\n", |_| {}).unwrap_err(), e);
        assert_eq!(e.to_string(), "invalid chunk size (400)");
    }

    #[test]
    fn size_of_16_hex_digits_fits() {
        let mut dec = Decoder::chunked(NO_LIMIT);
        let p = dec.decode(b"ffffffffffffffff\r\nabc", |_| {}).unwrap();
        assert!(!p.done);
    }

    // ===== chunked: limits =====

    fn chunked_body_of(len: usize) -> Vec<u8> {
        let mut v = Vec::new();
        let mut left = len;
        while left > 0 {
            let n = left.min(7);
            v.extend_from_slice(format!("{n:x}\r\n").as_bytes());
            v.extend(std::iter::repeat_n(b'x', n));
            v.extend_from_slice(b"\r\n");
            left -= n;
        }
        v.extend_from_slice(b"0\r\n\r\n");
        v
    }

    #[test]
    fn body_limit_as_chunks_arrive() {
        let limit = 100;
        for (len, ok) in [(99, true), (100, true), (101, false)] {
            let r = chunked_all(&chunked_body_of(len), limit);
            match r {
                Ok((body, _, done)) => {
                    assert!(ok, "len {len} should fail");
                    assert!(done);
                    assert_eq!(body.len(), len);
                }
                Err(e) => {
                    assert!(!ok, "len {len} should pass: {e}");
                    assert_eq!((e.kind(), e.status()), (DecodeErrorKind::BodyTooLarge, 413));
                }
            }
        }
    }

    #[test]
    fn body_limit_refuses_a_chunk_before_its_data() {
        let mut dec = Decoder::chunked(10);
        let mut got = 0;
        let e = dec.decode(b"b\r\n", |d| got += d.len()).unwrap_err();
        assert_eq!(e.kind(), DecodeErrorKind::BodyTooLarge);
        assert_eq!(got, 0);
    }

    fn with_extension(len: u64) -> Vec<u8> {
        // ";" counts, so `len` bytes in all.
        let mut v = b"1;".to_vec();
        v.extend(std::iter::repeat_n(b'e', len as usize - 1));
        v.extend_from_slice(b"\r\nx\r\n0\r\n\r\n");
        v
    }

    #[test]
    fn extension_limit() {
        let max = CHUNK_EXTENSIONS_LIMIT;
        assert!(chunked_all(&with_extension(max - 1), NO_LIMIT).is_ok());
        assert!(chunked_all(&with_extension(max), NO_LIMIT).is_ok());
        assert_eq!(
            chunked_err(&with_extension(max + 1)),
            DecodeErrorKind::ExtensionsTooLarge
        );
    }

    #[test]
    fn extension_limit_is_per_body_and_counts_leading_zeros() {
        let mut v = Vec::new();
        for _ in 0..=(CHUNK_EXTENSIONS_LIMIT / 4) {
            v.extend_from_slice(b"0001;e\r\nx\r\n"); // 3 zeros + 2 extension bytes
        }
        v.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(chunked_err(&v), DecodeErrorKind::ExtensionsTooLarge);
    }

    fn with_trailer(len: u64) -> Vec<u8> {
        // The trailer lines ("X:" + value + CRLF) are `len` bytes; the final CRLF is not counted.
        let mut v = b"0\r\nX:".to_vec();
        v.extend(std::iter::repeat_n(b'v', len as usize - 4));
        v.extend_from_slice(b"\r\n\r\n");
        v
    }

    #[test]
    fn trailer_limit() {
        let max = TRAILER_LIMIT;
        assert!(chunked_all(&with_trailer(max - 1), NO_LIMIT).is_ok());
        assert!(chunked_all(&with_trailer(max), NO_LIMIT).is_ok());
        assert_eq!(
            chunked_err(&with_trailer(max + 1)),
            DecodeErrorKind::TrailersTooLarge
        );
    }

    // ===== properties =====

    /// A chunked encoding of `body` cut into `sizes`, with an optional extension per chunk.
    fn encode(body: &[u8], sizes: &[usize], ext: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = body;
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes
                .get(i)
                .copied()
                .unwrap_or(rest.len())
                .clamp(1, rest.len());
            out.extend_from_slice(format!("{n:X}").as_bytes());
            if ext {
                out.extend_from_slice(b";k=v");
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&rest[..n]);
            out.extend_from_slice(b"\r\n");
            rest = &rest[n..];
            i += 1;
        }
        out.extend_from_slice(b"0\r\nT: v\r\n\r\n");
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_split_decodes_to_the_same_body(
            body in proptest::collection::vec(any::<u8>(), 0..300),
            sizes in proptest::collection::vec(1usize..40, 0..20),
            ext in any::<bool>(),
            mut cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let mut input = encode(&body, &sizes, ext);
            let body_end = input.len();
            input.extend_from_slice(b"NEXT");
            let mut points: Vec<usize> = cuts.drain(..).map(|c| c.index(input.len() + 1)).collect();
            points.push(0);
            points.push(input.len());
            points.sort_unstable();
            let pieces: Vec<&[u8]> = points.windows(2).map(|w| &input[w[0]..w[1]]).collect();
            let mut dec = Decoder::chunked(NO_LIMIT);
            let (got, consumed, done) = feed(&mut dec, &pieces).unwrap();
            prop_assert!(done);
            prop_assert_eq!(got, body);
            // Everything up to the end of the body, nothing of what follows.
            prop_assert_eq!(consumed, body_end);
        }

        #[test]
        fn random_bytes_never_panic(
            bytes in proptest::collection::vec(prop_oneof![
                Just(b'\r'), Just(b'\n'), Just(b';'), Just(b':'), b'0'..=b'9', any::<u8>()
            ], 0..300),
            limit in 0u64..64,
        ) {
            let mut dec = Decoder::chunked(limit);
            for piece in bytes.chunks(7) {
                match dec.decode(piece, |_| {}) {
                    Ok(p) if p.done => break,
                    Ok(p) => prop_assert_eq!(p.consumed, piece.len()),
                    Err(_) => break,
                }
            }
            prop_assert!(dec.received() <= limit);
        }
    }
}
