//! The `Date` header value: an IMF-fixdate (RFC 9110 §5.6.7) formatter, its parser (for
//! `If-Modified-Since` and `Retry-After`) and a per-thread cache that renders it at most
//! once a second.
//!
//! Every response carries `Date`, so formatting it per response would be measurable; the
//! cache costs one coarse clock read and a 29-byte copy instead: the wall clock is read
//! only when the coarse monotonic clock says the second the text shows has passed (so the
//! text turns over at most a kernel tick, 1–4 ms, after the wall clock's second does). The
//! cache is `thread_local` because Keel runs one event loop per thread: no sharing, no
//! atomics.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keel_runtime::time::CoarseInstant;

/// Length of an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) const DATE_LEN: usize = 29;

/// The last second the format can show: 9999-12-31T23:59:59Z. Later times are clamped to it.
const MAX_SECS: u64 = 253_402_300_799;

const DAYS: [&[u8; 3]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

thread_local! {
    /// The second last rendered and its text. `u64::MAX` means nothing rendered yet.
    static CACHE: Cell<(u64, [u8; DATE_LEN])> = const { Cell::new((u64::MAX, [0; DATE_LEN])) };
    /// When the cached text's second ends, on the coarse monotonic clock (`None`: never
    /// read), and that text.
    static CURRENT: Cell<(Option<CoarseInstant>, [u8; DATE_LEN])> =
        const { Cell::new((None, [0; DATE_LEN])) };
}

/// Seconds since the Unix epoch of an IMF-fixdate.
pub(crate) fn parse(s: &str) -> Option<u64> {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let b = s.as_bytes();
    if b.len() != 29 || &b[3..5] != b", " || &s[25..] != " GMT" {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let day = num(5..7)?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| s.get(8..11) == Some(*m))? as u64
        + 1;
    let year = num(12..16)?;
    let (hour, min, sec) = (num(17..19)?, num(20..22)?, num(23..25)?);
    if b[7] != b' ' || b[11] != b' ' || b[16] != b' ' || b[19] != b':' || b[22] != b':' {
        return None;
    }
    if !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 || year < 1970 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + min * 60 + sec)
}

#[cfg(test)]
thread_local! {
    static RENDERS: Cell<usize> = const { Cell::new(0) };
}

/// The current time as an IMF-fixdate, from this thread's cache.
pub(crate) fn now() -> [u8; DATE_LEN] {
    let (until, text) = CURRENT.get();
    let mono = CoarseInstant::now();
    if until.is_some_and(|until| mono < until) {
        return text;
    }
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let text = cached(since_epoch.as_secs());
    let rest_of_second =
        Duration::from_secs(1) - Duration::from_nanos(since_epoch.subsec_nanos().into());
    CURRENT.set((mono.checked_add(rest_of_second), text));
    text
}

/// Appends the current `Date` value to `dst`.
pub(crate) fn extend(dst: &mut Vec<u8>) {
    dst.extend_from_slice(&now());
}

/// The IMF-fixdate for `secs` since the Unix epoch, rendered only if the cache holds another
/// second.
fn cached(secs: u64) -> [u8; DATE_LEN] {
    CACHE.with(|cache| {
        let (at, text) = cache.get();
        if at == secs {
            return text;
        }
        let text = render(secs);
        cache.set((secs, text));
        text
    })
}

/// Formats `secs` since the Unix epoch (UTC) as an IMF-fixdate. Times after the year 9999
/// are clamped to its last second.
pub(crate) fn render(secs: u64) -> [u8; DATE_LEN] {
    #[cfg(test)]
    RENDERS.with(|r| r.set(r.get() + 1));

    let secs = secs.min(MAX_SECS);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let weekday = ((days + 4) % 7) as usize; // 1970-01-01 was a Thursday.

    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[weekday]);
    two(&mut out[5..7], day);
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    two(&mut out[12..14], year / 100);
    two(&mut out[14..16], year % 100);
    two(&mut out[17..19], rem / 3600);
    two(&mut out[20..22], rem / 60 % 60);
    two(&mut out[23..25], rem % 60);
    out
}

fn two(dst: &mut [u8], n: u64) {
    dst[0] = b'0' + (n / 10 % 10) as u8;
    dst[1] = b'0' + (n % 10) as u8;
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31) in the proleptic Gregorian
/// calendar. Howard Hinnant's `civil_from_days`, for non-negative day counts.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // Shift the epoch to 0000-03-01.
    let era = z / 146_097;
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(secs: u64) -> String {
        String::from_utf8(render(secs).to_vec()).unwrap()
    }

    #[test]
    fn known_dates() {
        assert_eq!(text(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        // The example in RFC 9110 §5.6.7.
        assert_eq!(text(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(text(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(text(1_234_567_890), "Fri, 13 Feb 2009 23:31:30 GMT");
        assert_eq!(text(1_709_164_799), "Wed, 28 Feb 2024 23:59:59 GMT");
        assert_eq!(text(1_709_251_199), "Thu, 29 Feb 2024 23:59:59 GMT");
        assert_eq!(text(1_709_251_200), "Fri, 01 Mar 2024 00:00:00 GMT");
        assert_eq!(text(4_102_444_800), "Fri, 01 Jan 2100 00:00:00 GMT");
        assert_eq!(text(MAX_SECS), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(text(u64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn civil_round_trip_every_day_for_400_years() {
        // Walk day by day and check the calendar advances by exactly one day.
        let (mut y, mut m, mut d) = civil_from_days(0);
        for days in 1..146_097 {
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let month_len = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            let expected = if d < month_len {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
            let got = civil_from_days(days);
            assert_eq!(got, expected, "day {days}");
            (y, m, d) = got;
        }
    }

    #[test]
    fn cache_renders_once_per_second() {
        let renders = || RENDERS.with(Cell::get);
        let before = renders();
        let a = cached(1_000_000_000);
        let b = cached(1_000_000_000);
        assert_eq!(a, b);
        assert_eq!(renders() - before, 1);
        let c = cached(1_000_000_001);
        assert_ne!(a, c);
        assert_eq!(renders() - before, 2);
        assert_eq!(&c, b"Sun, 09 Sep 2001 01:46:41 GMT");
    }

    #[test]
    fn now_is_a_well_formed_date() {
        let mut v = Vec::new();
        extend(&mut v);
        assert_eq!(v.len(), DATE_LEN);
        assert!(v.ends_with(b" GMT"));
        assert_eq!(v[3], b',');
        // Later than the time this test was written.
        let year: u32 = std::str::from_utf8(&v[12..16]).unwrap().parse().unwrap();
        assert!(year >= 2024);
    }
}
