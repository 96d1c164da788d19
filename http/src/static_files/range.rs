//! The `Range` header (RFC 9110 §14.2) against a file's length: one byte range becomes a
//! `206`, a range that starts past the end a `416`; several ranges are answered with the
//! whole file (`200`), which the RFC allows, rather than `multipart/byteranges`.

/// What a `Range` header asks of a representation `len` bytes long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeAnswer {
    /// No usable range (none, another unit, several ranges, malformed): the whole file.
    Whole,
    /// Bytes `start..=end` (both within the file).
    Part { start: u64, end: u64 },
    /// A single range that selects no byte of the file: `416`.
    Unsatisfiable,
}

/// Reads `header` (the `Range` value) for a file of `len` bytes.
pub(crate) fn parse(header: &str, len: u64) -> RangeAnswer {
    let header = header.trim();
    let Some(unit_end) = header.find('=') else {
        return RangeAnswer::Whole;
    };
    if !header[..unit_end].trim().eq_ignore_ascii_case("bytes") {
        return RangeAnswer::Whole;
    }
    let set = &header[unit_end + 1..];
    if set.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((first, last)) = set.trim().split_once('-') else {
        return RangeAnswer::Whole;
    };
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    if first.trim().is_empty() {
        // A suffix: the last `n` bytes.
        return match number(last) {
            None => RangeAnswer::Whole,
            Some(0) => RangeAnswer::Unsatisfiable,
            Some(_) if len == 0 => RangeAnswer::Unsatisfiable,
            Some(n) => RangeAnswer::Part {
                start: len - n.min(len),
                end: len - 1,
            },
        };
    }
    let Some(start) = number(first) else {
        return RangeAnswer::Whole;
    };
    let end = if last.trim().is_empty() {
        u64::MAX
    } else {
        match number(last) {
            Some(end) if end >= start => end,
            _ => return RangeAnswer::Whole,
        }
    };
    if start >= len {
        return RangeAnswer::Unsatisfiable;
    }
    RangeAnswer::Part {
        start,
        end: end.min(len - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(start: u64, end: u64) -> RangeAnswer {
        RangeAnswer::Part { start, end }
    }

    #[test]
    fn single_ranges() {
        assert_eq!(parse("bytes=0-9", 100), part(0, 9));
        assert_eq!(parse("bytes=90-", 100), part(90, 99));
        assert_eq!(parse("bytes=90-1000", 100), part(90, 99));
        assert_eq!(parse("bytes=-10", 100), part(90, 99));
        assert_eq!(parse("bytes=-1000", 100), part(0, 99));
        assert_eq!(parse("Bytes = 5-5", 100), part(5, 5));
    }

    #[test]
    fn unsatisfiable_ranges() {
        assert_eq!(parse("bytes=100-", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(parse("bytes=500-600", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(parse("bytes=-0", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(parse("bytes=0-", 0), RangeAnswer::Unsatisfiable);
    }

    #[test]
    fn anything_else_is_the_whole_file() {
        for header in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=",
            "bytes=-",
            "0-1",
            "bytes=1",
        ] {
            assert_eq!(parse(header, 100), RangeAnswer::Whole, "{header:?}");
        }
    }
}
