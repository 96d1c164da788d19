//! The bucket layout every Keel histogram shares: log-linear over all of `u64`
//! nanoseconds, 16 sub-buckets per power of two (HdrHistogram with one significant hex
//! digit).

use std::time::Duration;

/// Sub-buckets per power of two, as a bit count (16 sub-buckets).
const SUB_BITS: u32 = 4;
const SUB: u64 = 1 << SUB_BITS;
/// Buckets needed to cover all of `u64`: 976 (7.8 KiB of counters).
pub(crate) const BUCKETS: usize = ((64 - SUB_BITS as usize) + 1) * SUB as usize;

/// The bucket holding `v`.
pub(crate) fn index_of(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros();
    let sub = (v >> (e - SUB_BITS)) & (SUB - 1);
    ((e - SUB_BITS + 1) as usize) * SUB as usize + sub as usize
}

/// The highest value that falls in bucket `i`.
pub(crate) fn highest_of(i: usize) -> u64 {
    if i < SUB as usize {
        return i as u64;
    }
    let e = (i / SUB as usize) as u32 + SUB_BITS - 1;
    let sub = (i % SUB as usize) as u64;
    let width = 1u64 << (e - SUB_BITS);
    ((SUB + sub) << (e - SUB_BITS)).saturating_add(width - 1)
}

/// `d` in nanoseconds, saturating at `u64::MAX` (about 584 years).
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_bounded() {
        assert_eq!(index_of(0), 0);
        assert_eq!(index_of(u64::MAX), BUCKETS - 1);
        assert_eq!(highest_of(BUCKETS - 1), u64::MAX);
        for i in 0..BUCKETS - 1 {
            let top = highest_of(i);
            assert_eq!(index_of(top), i, "top of {i}");
            assert_eq!(index_of(top + 1), i + 1, "after {i}");
        }
    }

    #[test]
    fn buckets_bound_their_values() {
        for ns in [
            0u64,
            1,
            1023,
            1024,
            1500,
            4096,
            999_999,
            1_000_000,
            50_000_000,
            1 << 40,
        ] {
            let i = index_of(ns);
            assert!(ns <= highest_of(i), "{ns} above bucket {i}");
            if i > 0 {
                assert!(ns > highest_of(i - 1), "{ns} belongs lower than {i}");
            }
        }
    }

    #[test]
    fn precision_is_a_sixteenth() {
        for v in [17u64, 1000, 123_456, 9_876_543_210] {
            let top = highest_of(index_of(v));
            assert!(
                top >= v && (top - v) as f64 <= v as f64 / 16.0,
                "{v} -> {top}"
            );
        }
    }
}
