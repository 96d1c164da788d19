//! Writing JSON text fast, without `core::fmt` on the common path: strings escaped (a
//! scan, then one copy when nothing needs escaping), unsigned integers, the short
//! decimals Keel logs (`duration_ms`), and the ISO 8601 timestamp with its date and time
//! of day cached per second.

use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

/// Whether a byte must be escaped in a JSON string.
#[inline]
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Whether any of the eight bytes of `w` is below 0x20, a `"` or a `\\` (rarely also
/// when one is not: the caller then looks byte by byte).
#[inline]
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    control | has_zero(w ^ (ONES * u64::from(b'"'))) | has_zero(w ^ (ONES * u64::from(b'\\'))) != 0
}

/// Where the first byte of `bytes` to escape is (`bytes.len()`: none), eight bytes at a
/// time (the last word padded with spaces).
#[inline]
fn clean_len(bytes: &[u8]) -> usize {
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if word_needs_escape(u64::from_le_bytes(word)) {
            return slow_clean_len(bytes);
        }
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [b' '; 8];
        word[..rest.len()].copy_from_slice(rest);
        if word_needs_escape(u64::from_le_bytes(word)) {
            return slow_clean_len(bytes);
        }
    }
    bytes.len()
}

/// [`clean_len`] byte by byte.
#[cold]
fn slow_clean_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| needs_escape(b))
        .unwrap_or(bytes.len())
}

/// `text` as a JSON string, quotes included.
#[inline]
pub(crate) fn string(out: &mut String, text: &str) {
    out.push('"');
    let clean = clean_len(text.as_bytes());
    if clean == text.len() {
        out.push_str(text);
    } else {
        escaped(out, text, clean);
    }
    out.push('"');
}

/// `text` escaped, from `first`, the first byte to escape (the slow path).
#[cold]
fn escaped(out: &mut String, text: &str, first: usize) {
    let mut start = 0;
    for (i, b) in text.bytes().enumerate().skip(first) {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&text[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&text[start..]);
}

/// `,"key":`
#[inline]
pub(crate) fn key(out: &mut String, key: &str) {
    out.push(',');
    string(out, key);
    out.push(':');
}

/// `n` in decimal.
#[inline]
pub(crate) fn unsigned(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// A finite `value` as a JSON number: written exactly as `Display` writes it, by hand
/// when it has at most three decimals and a small integer part (a duration in
/// milliseconds rounded to microseconds), else through `Display`.
pub(crate) fn finite(out: &mut String, value: f64) {
    let thousandths = (value * 1000.0).round();
    // At most three decimals, and small enough that each decimal maps to one `f64`
    // (so the shortest form that reads back as `value` is the plain decimal).
    if value.abs() < 1e12 && thousandths / 1000.0 == value {
        if value.is_sign_negative() {
            out.push('-');
        }
        let thousandths = thousandths.abs() as u64;
        unsigned(out, thousandths / 1000);
        let mut fraction = thousandths % 1000;
        if fraction != 0 {
            out.push('.');
            let mut width = 3;
            while fraction.is_multiple_of(10) {
                fraction /= 10;
                width -= 1;
            }
            let digits = [
                b'0' + (fraction / 100 % 10) as u8,
                b'0' + (fraction / 10 % 10) as u8,
                b'0' + (fraction % 10) as u8,
            ];
            for &digit in &digits[3 - width..] {
                out.push(char::from(digit));
            }
        }
        return;
    }
    let _ = write!(out, "{value}");
}

/// The time of a line, `2026-01-31T12:00:00.123Z`, with the part up to the seconds
/// formatted once per second and kept.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    /// The second `prefix` is for, since the epoch.
    second: Option<u64>,
    /// `2026-01-31T12:00:00.`
    prefix: String,
}

impl Clock {
    /// Writes `time` (UTC, milliseconds).
    pub(crate) fn write(&mut self, out: &mut String, time: SystemTime) {
        let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        let second = since.as_secs();
        if self.second != Some(second) {
            self.prefix.clear();
            let _ = write!(self.prefix, "{}", Seconds(second));
            self.second = Some(second);
        }
        out.push_str(&self.prefix);
        let millis = since.subsec_millis();
        for digit in [millis / 100, millis / 10 % 10, millis % 10] {
            out.push(char::from(b'0' + digit as u8));
        }
        out.push('Z');
    }
}

/// A second since the epoch as `2026-01-31T12:00:00.` (the milliseconds follow).
struct Seconds(u64);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (days, rem) = (self.0 / 86_400, self.0 % 86_400);
        let (year, month, day) = civil_from_days(days as i64);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60,
        )
    }
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn timestamps() {
        let mut clock = Clock::default();
        let mut at = |secs, millis| {
            let mut s = String::new();
            clock.write(
                &mut s,
                UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis),
            );
            s
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(951_782_400, 42), "2000-02-29T00:00:00.042Z");
        assert_eq!(at(1_790_000_000, 999), "2026-09-21T14:13:20.999Z");
        assert_eq!(at(4_102_444_799, 0), "2099-12-31T23:59:59.000Z");
    }

    #[test]
    fn escaping() {
        let mut s = String::new();
        string(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, "\"a\\\"b\\\\c\\nd\\u0001é\"");
        s.clear();
        string(&mut s, "plain é");
        assert_eq!(s, "\"plain é\"");
        // Every position in a long text, and bytes next to the escaped ones.
        for at in 0..40 {
            for special in ['"', '\\', '\n', '\u{1f}', '\u{7f}', '!', '#', '[', ']', 'é'] {
                let mut text: String = "abcdefghij".repeat(4);
                text.replace_range(at..=at, &special.to_string());
                let mut fast = String::new();
                string(&mut fast, &text);
                let mut slow = String::from("\"");
                match text.bytes().position(needs_escape) {
                    Some(first) => escaped(&mut slow, &text, first),
                    None => slow.push_str(&text),
                }
                slow.push('"');
                assert_eq!(fast, slow, "{text:?}");
            }
        }
    }

    #[test]
    fn numbers_as_display_writes_them() {
        for n in [0, 7, 10, 4_294_967_296, u64::MAX] {
            let mut s = String::new();
            unsigned(&mut s, n);
            assert_eq!(s, n.to_string());
        }
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            0.5,
            0.123,
            0.12,
            0.1,
            0.001,
            0.01,
            12.345,
            1000.0,
            999_999.999,
            -2.5,
            1e-4,
            1.0 / 3.0,
            1e15,
            123_456_789_012.5,
        ];
        values.extend((0..5000).map(|i| (f64::from(i) * 0.997).round() / 1e3));
        for v in values {
            let mut s = String::new();
            finite(&mut s, v);
            assert_eq!(s, v.to_string(), "{v:?}");
        }
    }
}
