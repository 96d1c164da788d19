//! [`Histogram`]: a histogram of durations that any thread may record into (the blocking
//! and worker pools' queue-wait and run-time figures).
//!
//! # Concurrency
//!
//! [`Histogram::record`] is a handful of relaxed atomic operations, callable from any
//! thread. A [`snapshot`](Histogram::snapshot) taken while others record is not one
//! instant but every bucket is exact as of its own read; the count is derived from the
//! buckets, so the percentiles and the count always agree.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::HistogramSnapshot;
use super::buckets::{BUCKETS, index_of, nanos};

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
    /// The sum of the squared values in seconds², as `f64` bits.
    sum_sq_bits: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Histogram {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            sum_sq_bits: AtomicU64::new(0f64.to_bits()),
            min: AtomicU64::new(u64::MAX),
            max: AtomicU64::new(0),
        }
    }

    /// Records one duration (saturating at `u64::MAX` nanoseconds, about 584 years).
    pub fn record(&self, d: Duration) {
        self.record_n(d, 1);
    }

    /// Records one value in nanoseconds.
    pub fn record_nanos(&self, v: u64) {
        self.record_n(Duration::from_nanos(v), 1);
    }

    /// Records `d` as if seen `n` times (one sample standing for `n` events).
    pub fn record_n(&self, d: Duration, n: u64) {
        let v = nanos(d);
        self.buckets[index_of(v)].fetch_add(n, Ordering::Relaxed);
        self.sum.fetch_add(v.saturating_mul(n), Ordering::Relaxed);
        let s = d.as_secs_f64();
        let add = s * s * n as f64;
        let _ = self
            .sum_sq_bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + add).to_bits())
            });
        if v < self.min.load(Ordering::Relaxed) {
            self.min.fetch_min(v, Ordering::Relaxed);
        }
        if v > self.max.load(Ordering::Relaxed) {
            self.max.fetch_max(v, Ordering::Relaxed);
        }
    }

    /// The figures recorded so far.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let buckets = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        HistogramSnapshot::from_parts(
            buckets,
            self.sum.load(Ordering::Relaxed),
            f64::from_bits(self.sum_sq_bits.load(Ordering::Relaxed)),
            self.min.load(Ordering::Relaxed),
            self.max.load(Ordering::Relaxed),
        )
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn weighted_records_count_n_times() {
        let h = Histogram::new();
        h.record_n(Duration::from_millis(2), 16);
        let s = h.snapshot();
        assert_eq!(s.count(), 16);
        assert_eq!(s.sum(), Duration::from_millis(32));
        assert_eq!(s.stddev(), Duration::ZERO);
    }
}
