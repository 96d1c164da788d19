//! [`Histogram`]: a lock-free, log-linear histogram of durations with fixed buckets, and
//! [`HistogramSnapshot`], its mergeable read-out (count, min, max, mean, percentiles).
//!
//! # Buckets
//!
//! Values are nanoseconds (`u64`). Values below 16 get a bucket each; above, every power
//! of two `[2^e, 2^(e+1))` is split into 16 equal sub-buckets. A percentile therefore
//! comes back within 1/16 (6.25%) of the true value, over the whole `u64` range, with 976
//! buckets (7.8 KiB of counters) and no configuration. This is the HdrHistogram layout
//! with one significant hex digit, kept small enough to own one per pool class or per
//! loop.
//!
//! # Concurrency
//!
//! [`Histogram::record`] is a handful of relaxed atomic adds, callable from any thread.
//! A [`snapshot`](Histogram::snapshot) taken while others record is not one instant but
//! every bucket is exact as of its own read; `count` is derived from the buckets, so the
//! percentiles and the count always agree.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Sub-buckets per power of two, as a bit count (16 sub-buckets).
const SUB_BITS: u32 = 4;
const SUB: u64 = 1 << SUB_BITS;
/// Buckets needed to cover all of `u64`.
const BUCKETS: usize = ((64 - SUB_BITS as usize) + 1) * SUB as usize;

/// The bucket holding `v`.
fn index_of(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros();
    let sub = (v >> (e - SUB_BITS)) & (SUB - 1);
    ((e - SUB_BITS + 1) as usize) * SUB as usize + sub as usize
}

/// The highest value that falls in bucket `i`.
fn highest_of(i: usize) -> u64 {
    if i < SUB as usize {
        return i as u64;
    }
    let e = (i / SUB as usize) as u32 + SUB_BITS - 1;
    let sub = (i % SUB as usize) as u64;
    let width = 1u64 << (e - SUB_BITS);
    ((SUB + sub) << (e - SUB_BITS)).saturating_add(width - 1)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A histogram of durations that any thread may record into.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use keel_runtime::histogram::Histogram;
///
/// let h = Histogram::new();
/// for ms in 1..=100 {
///     h.record(Duration::from_millis(ms));
/// }
/// let s = h.snapshot();
/// assert_eq!(s.count(), 100);
/// assert_eq!(s.min(), Duration::from_millis(1));
/// assert_eq!(s.max(), Duration::from_millis(100));
/// let p50 = s.percentile(50.0);
/// assert!(p50 >= Duration::from_millis(50) && p50 <= Duration::from_millis(54), "{p50:?}");
/// ```
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Histogram {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            min: AtomicU64::new(u64::MAX),
            max: AtomicU64::new(0),
        }
    }

    /// Records one duration (saturating at `u64::MAX` nanoseconds, about 584 years).
    pub fn record(&self, d: Duration) {
        self.record_nanos(nanos(d));
    }

    /// Records one value in nanoseconds.
    pub fn record_nanos(&self, v: u64) {
        self.record_nanos_n(v, 1);
    }

    /// Records `d` as if seen `n` times (one sample standing for `n` events).
    pub fn record_n(&self, d: Duration, n: u64) {
        self.record_nanos_n(nanos(d), n);
    }

    fn record_nanos_n(&self, v: u64, n: u64) {
        self.buckets[index_of(v)].fetch_add(n, Ordering::Relaxed);
        self.sum.fetch_add(v.saturating_mul(n), Ordering::Relaxed);
        if v < self.min.load(Ordering::Relaxed) {
            self.min.fetch_min(v, Ordering::Relaxed);
        }
        if v > self.max.load(Ordering::Relaxed) {
            self.max.fetch_max(v, Ordering::Relaxed);
        }
    }

    /// The figures recorded so far.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let buckets: Box<[u64]> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let count = buckets.iter().sum();
        HistogramSnapshot {
            buckets,
            count,
            sum: self.sum.load(Ordering::Relaxed),
            min: self.min.load(Ordering::Relaxed),
            max: self.max.load(Ordering::Relaxed),
        }
    }
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram::new()
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.snapshot(), f)
    }
}

/// A read-out of a [`Histogram`]: plain numbers, cheap to merge across threads, pools or
/// loops.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use keel_runtime::histogram::{Histogram, HistogramSnapshot};
///
/// let (a, b) = (Histogram::new(), Histogram::new());
/// a.record(Duration::from_micros(10));
/// b.record(Duration::from_micros(30));
/// let mut total = HistogramSnapshot::default();
/// total.merge(&a.snapshot());
/// total.merge(&b.snapshot());
/// assert_eq!(total.count(), 2);
/// assert_eq!(total.mean(), Duration::from_micros(20));
/// assert_eq!(total.max(), Duration::from_micros(30));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct HistogramSnapshot {
    buckets: Box<[u64]>,
    count: u64,
    sum: u64,
    min: u64,
    max: u64,
}

impl Default for HistogramSnapshot {
    fn default() -> HistogramSnapshot {
        HistogramSnapshot {
            buckets: vec![0; BUCKETS].into_boxed_slice(),
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }
}

impl HistogramSnapshot {
    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The smallest value, or zero when empty.
    pub fn min(&self) -> Duration {
        if self.count == 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(self.min)
        }
    }

    /// The largest value, or zero when empty.
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max)
    }

    /// The exact sum of all values.
    pub fn sum(&self) -> Duration {
        Duration::from_nanos(self.sum)
    }

    /// How many values are at most `bound` (for Prometheus `le` buckets): exact at
    /// bucket bounds, otherwise counting the whole bucket that straddles `bound`.
    pub fn count_at_most(&self, bound: Duration) -> u64 {
        let last = index_of(nanos(bound));
        self.buckets.iter().take(last + 1).sum()
    }

    /// The exact mean, or zero when empty.
    pub fn mean(&self) -> Duration {
        match self.count {
            0 => Duration::ZERO,
            n => Duration::from_nanos(self.sum / n),
        }
    }

    /// The value below which `p` percent of the values fall (`p` from 0 to 100), within
    /// the bucket precision of 1/16 and never outside `min..=max`; zero when empty.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let p = p.clamp(0.0, 100.0);
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Duration::from_nanos(highest_of(i).clamp(self.min, self.max));
            }
        }
        self.max()
    }

    /// Adds the values of `other` to this snapshot.
    pub fn merge(&mut self, other: &HistogramSnapshot) {
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum = self.sum.saturating_add(other.sum);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

impl fmt::Debug for HistogramSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistogramSnapshot")
            .field("count", &self.count)
            .field("min", &self.min())
            .field("mean", &self.mean())
            .field("p50", &self.percentile(50.0))
            .field("p99", &self.percentile(99.0))
            .field("max", &self.max())
            .finish()
    }
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
    fn precision_is_a_sixteenth() {
        for v in [17u64, 1000, 123_456, 9_876_543_210] {
            let top = highest_of(index_of(v));
            assert!(
                top >= v && (top - v) as f64 <= v as f64 / 16.0,
                "{v} -> {top}"
            );
        }
    }

    #[test]
    fn percentiles_and_empty() {
        let empty = Histogram::new().snapshot();
        assert_eq!(empty.percentile(99.0), Duration::ZERO);
        assert_eq!(empty.min(), Duration::ZERO);
        let h = Histogram::new();
        for v in 1..=1000 {
            h.record_nanos(v);
        }
        let s = h.snapshot();
        assert_eq!(s.percentile(0.0), Duration::from_nanos(1));
        assert_eq!(s.percentile(100.0), Duration::from_nanos(1000));
        let p99 = s.percentile(99.0).as_nanos() as f64;
        assert!((990.0..=990.0 * 1.0625).contains(&p99), "{p99}");
    }
}
