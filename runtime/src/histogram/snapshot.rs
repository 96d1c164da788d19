//! [`HistogramSnapshot`]: the read-out of any Keel histogram (a pool's [`Histogram`] or
//! a loop's lag and poll-time histograms): count, min, max, mean, standard deviation,
//! percentiles and Prometheus-style cumulative counts, mergeable across threads, pools
//! and loops.

use std::fmt;
use std::time::Duration;

#[cfg(doc)]
use super::Histogram;
use super::buckets::{BUCKETS, highest_of, index_of, nanos};

/// A read-out of a histogram: plain numbers, cheap to merge across threads, pools or
/// loops.
///
/// Percentiles are the upper bound of the bucket holding that rank (at most 1/16, 6.25%,
/// above the true value), kept within `min..=max`.
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
/// assert!((total.stddev().as_secs_f64() - 10e-6).abs() < 1e-9);
/// ```
#[derive(Clone, PartialEq)]
pub struct HistogramSnapshot {
    buckets: Box<[u64]>,
    count: u64,
    sum_ns: u64,
    /// Sum of the squared values in seconds², for the standard deviation.
    sum_sq_s: f64,
    min_ns: u64,
    max_ns: u64,
}

impl Default for HistogramSnapshot {
    fn default() -> HistogramSnapshot {
        HistogramSnapshot {
            buckets: vec![0; BUCKETS].into_boxed_slice(),
            count: 0,
            sum_ns: 0,
            sum_sq_s: 0.0,
            min_ns: u64::MAX,
            max_ns: 0,
        }
    }
}

impl HistogramSnapshot {
    /// A snapshot of these figures; `count` is derived from the buckets, so the count and
    /// the percentiles always agree.
    pub(crate) fn from_parts(
        buckets: Box<[u64]>,
        sum_ns: u64,
        sum_sq_s: f64,
        min_ns: u64,
        max_ns: u64,
    ) -> HistogramSnapshot {
        debug_assert_eq!(buckets.len(), BUCKETS);
        HistogramSnapshot {
            count: buckets.iter().sum(),
            buckets,
            sum_ns,
            sum_sq_s,
            min_ns,
            max_ns,
        }
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The smallest value, or zero when empty.
    pub fn min(&self) -> Duration {
        if self.count == 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(self.min_ns)
        }
    }

    /// The largest value, or zero when empty.
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max_ns)
    }

    /// The exact sum of all values.
    pub fn sum(&self) -> Duration {
        Duration::from_nanos(self.sum_ns)
    }

    /// The exact mean, or zero when empty.
    pub fn mean(&self) -> Duration {
        Duration::from_nanos(self.sum_ns.checked_div(self.count).unwrap_or(0))
    }

    /// The standard deviation, or zero when empty.
    pub fn stddev(&self) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let n = self.count as f64;
        let mean = self.sum_ns as f64 / 1e9 / n;
        let var = (self.sum_sq_s / n - mean * mean).max(0.0);
        Duration::from_secs_f64(var.sqrt())
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
                // `max` then `min`, not `clamp`: a snapshot taken while others record
                // may briefly see `min > max`, which must not panic.
                let v = highest_of(i).max(self.min_ns).min(self.max_ns);
                return Duration::from_nanos(v);
            }
        }
        self.max()
    }

    /// The median, [`percentile(50.0)`](Self::percentile).
    pub fn p50(&self) -> Duration {
        self.percentile(50.0)
    }

    /// [`percentile(90.0)`](Self::percentile).
    pub fn p90(&self) -> Duration {
        self.percentile(90.0)
    }

    /// [`percentile(99.0)`](Self::percentile).
    pub fn p99(&self) -> Duration {
        self.percentile(99.0)
    }

    /// [`percentile(99.9)`](Self::percentile).
    pub fn p999(&self) -> Duration {
        self.percentile(99.9)
    }

    /// How many values are at most `bound` (for Prometheus `le` buckets): exact at
    /// bucket bounds, otherwise counting the whole bucket that straddles `bound`.
    pub fn count_at_most(&self, bound: Duration) -> u64 {
        let last = index_of(nanos(bound));
        self.buckets.iter().take(last + 1).sum()
    }

    /// Adds the values of `other` to this snapshot.
    pub fn merge(&mut self, other: &HistogramSnapshot) {
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum_ns = self.sum_ns.saturating_add(other.sum_ns);
        self.sum_sq_s += other.sum_sq_s;
        self.min_ns = self.min_ns.min(other.min_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
    }
}

impl fmt::Debug for HistogramSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistogramSnapshot")
            .field("count", &self.count)
            .field("min", &self.min())
            .field("mean", &self.mean())
            .field("p50", &self.p50())
            .field("p99", &self.p99())
            .field("max", &self.max())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_zero() {
        let s = HistogramSnapshot::default();
        assert_eq!(s.count(), 0);
        assert_eq!(s.percentile(99.0), Duration::ZERO);
        assert_eq!(s.min(), Duration::ZERO);
        assert_eq!(s.stddev(), Duration::ZERO);
    }
}
