//! Loop-local latency histograms (loop lag, task poll time): log-linear buckets like
//! HdrHistogram's — 8 sub-buckets per power of two from 1 µs to about 68 s, so any
//! recorded value is within 12.5% of its bucket's bound — counted in plain memory by the
//! owning loop and copied to atomics at most every [`PUBLISH_EVERY`].

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Sub-buckets per power of two.
const SUB_BITS: u32 = 3;
const SUB: usize = 1 << SUB_BITS;
/// Values below 2^10 ns (~1 µs) share the first bucket.
const MIN_EXP: u32 = 10;
/// Values from 2^36 ns (~68.7 s) up share the last bucket.
const MAX_EXP: u32 = 36;
/// Number of buckets.
pub(crate) const BUCKETS: usize = 2 + (MAX_EXP - MIN_EXP) as usize * SUB;

/// How often a loop copies its histograms for readers, at most.
pub(crate) const PUBLISH_EVERY: Duration = Duration::from_millis(10);

fn index(ns: u64) -> usize {
    if ns < 1 << MIN_EXP {
        return 0;
    }
    let exp = 63 - ns.leading_zeros();
    if exp >= MAX_EXP {
        return BUCKETS - 1;
    }
    let sub = ((ns >> (exp - SUB_BITS)) as usize) & (SUB - 1);
    1 + (exp - MIN_EXP) as usize * SUB + sub
}

/// The largest value (ns) that falls in bucket `i`; `u64::MAX` for the last.
fn upper_bound(i: usize) -> u64 {
    if i == 0 {
        return (1 << MIN_EXP) - 1;
    }
    if i >= BUCKETS - 1 {
        return u64::MAX;
    }
    let exp = MIN_EXP + ((i - 1) / SUB) as u32;
    let sub = ((i - 1) % SUB) as u64;
    ((SUB as u64 + sub + 1) << (exp - SUB_BITS)) - 1
}

/// A histogram owned by one loop.
#[derive(Debug)]
pub(crate) struct LocalHistogram {
    buckets: RefCell<Box<[u64; BUCKETS]>>,
    count: Cell<u64>,
    sum_ns: Cell<u64>,
    sum_sq_s: Cell<f64>,
    min_ns: Cell<u64>,
    max_ns: Cell<u64>,
    /// The buckets changed since the last publish: `dirty.0..=dirty.1`, empty when
    /// `dirty.0 > dirty.1`. Samples cluster, so publishing copies a few buckets.
    dirty: Cell<(usize, usize)>,
}

impl LocalHistogram {
    pub(crate) fn new() -> LocalHistogram {
        LocalHistogram {
            buckets: RefCell::new(Box::new([0; BUCKETS])),
            count: Cell::new(0),
            sum_ns: Cell::new(0),
            sum_sq_s: Cell::new(0.0),
            min_ns: Cell::new(u64::MAX),
            max_ns: Cell::new(0),
            dirty: Cell::new(CLEAN),
        }
    }

    /// Records one value.
    pub(crate) fn record(&self, value: Duration) {
        self.record_n(value, 1);
    }

    /// Records `value` as if seen `n` times (one sample standing for `n` events).
    pub(crate) fn record_n(&self, value: Duration, n: u32) {
        let ns = value.as_nanos().min(u128::from(u64::MAX)) as u64;
        let i = index(ns);
        self.buckets.borrow_mut()[i] += u64::from(n);
        let (lo, hi) = self.dirty.get();
        self.dirty.set((lo.min(i), hi.max(i)));
        self.count.set(self.count.get() + u64::from(n));
        self.sum_ns.set(
            self.sum_ns
                .get()
                .saturating_add(ns.saturating_mul(u64::from(n))),
        );
        let s = value.as_secs_f64();
        self.sum_sq_s
            .set(self.sum_sq_s.get() + s * s * f64::from(n));
        self.min_ns.set(self.min_ns.get().min(ns));
        self.max_ns.set(self.max_ns.get().max(ns));
    }
}

/// No bucket changed.
const CLEAN: (usize, usize) = (usize::MAX, 0);

/// The published copy of a [`LocalHistogram`].
#[derive(Debug)]
pub(crate) struct SharedHistogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum_ns: AtomicU64,
    sum_sq_bits: AtomicU64,
    min_ns: AtomicU64,
    max_ns: AtomicU64,
}

impl Default for SharedHistogram {
    fn default() -> SharedHistogram {
        SharedHistogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_ns: AtomicU64::new(0),
            sum_sq_bits: AtomicU64::new(0),
            min_ns: AtomicU64::new(u64::MAX),
            max_ns: AtomicU64::new(0),
        }
    }
}

impl SharedHistogram {
    /// Owner side: copies `local` (only the buckets that changed).
    pub(crate) fn store(&self, local: &LocalHistogram) {
        if self.count.load(Ordering::Relaxed) == local.count.get() {
            return;
        }
        let (lo, hi) = local.dirty.replace(CLEAN);
        if lo <= hi {
            let buckets = local.buckets.borrow();
            for (shared, &n) in self.buckets[lo..=hi].iter().zip(&buckets[lo..=hi]) {
                shared.store(n, Ordering::Relaxed);
            }
        }
        self.sum_ns.store(local.sum_ns.get(), Ordering::Relaxed);
        self.sum_sq_bits
            .store(local.sum_sq_s.get().to_bits(), Ordering::Relaxed);
        self.min_ns.store(local.min_ns.get(), Ordering::Relaxed);
        self.max_ns.store(local.max_ns.get(), Ordering::Relaxed);
        self.count.store(local.count.get(), Ordering::Relaxed);
    }

    /// Reader side.
    pub(crate) fn snapshot(&self) -> HistogramSnapshot {
        let count = self.count.load(Ordering::Relaxed);
        let buckets: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        HistogramSnapshot {
            count,
            sum_ns: self.sum_ns.load(Ordering::Relaxed),
            sum_sq_s: f64::from_bits(self.sum_sq_bits.load(Ordering::Relaxed)),
            min_ns: if count == 0 {
                0
            } else {
                self.min_ns.load(Ordering::Relaxed)
            },
            max_ns: self.max_ns.load(Ordering::Relaxed),
            buckets,
        }
    }
}

/// A latency distribution: count, min, max, mean, standard deviation and percentiles.
///
/// Percentiles are the upper bound of the bucket holding that rank (at most 12.5% above
/// the true value), capped by the maximum seen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistogramSnapshot {
    count: u64,
    sum_ns: u64,
    sum_sq_s: f64,
    min_ns: u64,
    max_ns: u64,
    buckets: Vec<u64>,
}

impl HistogramSnapshot {
    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Sum of all values.
    pub fn sum(&self) -> Duration {
        Duration::from_nanos(self.sum_ns)
    }

    /// Smallest value.
    pub fn min(&self) -> Duration {
        Duration::from_nanos(self.min_ns)
    }

    /// Largest value.
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max_ns)
    }

    /// Mean value.
    pub fn mean(&self) -> Duration {
        Duration::from_nanos(self.sum_ns.checked_div(self.count).unwrap_or(0))
    }

    /// Standard deviation.
    pub fn stddev(&self) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let n = self.count as f64;
        let mean = self.sum_ns as f64 / 1e9 / n;
        let var = (self.sum_sq_s / n - mean * mean).max(0.0);
        Duration::from_secs_f64(var.sqrt())
    }

    /// The value at percentile `p` (0–100), e.g. `percentile(99.0)`.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let rank = ((p.clamp(0.0, 100.0) / 100.0) * self.count as f64)
            .ceil()
            .max(1.0) as u64;
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Duration::from_nanos(upper_bound(i).min(self.max_ns));
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

    /// How many values are at most `bound` (for Prometheus `le` buckets; exact at bucket
    /// bounds, otherwise counting the whole bucket that straddles `bound`).
    pub fn count_at_most(&self, bound: Duration) -> u64 {
        let ns = bound.as_nanos().min(u128::from(u64::MAX)) as u64;
        let last = index(ns);
        self.buckets.iter().take(last + 1).sum()
    }
}

/// Whether it is time to publish again (at most every [`PUBLISH_EVERY`]).
pub(crate) fn due(last: &Cell<Instant>, now: Instant) -> bool {
    if now.saturating_duration_since(last.get()) >= PUBLISH_EVERY {
        last.set(now);
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let i = index(ns);
            assert!(ns <= upper_bound(i), "{ns} above bucket {i}");
            if i > 0 {
                assert!(ns > upper_bound(i - 1), "{ns} belongs lower than {i}");
            }
        }
        for i in 1..BUCKETS - 1 {
            assert!(upper_bound(i) > upper_bound(i - 1));
            assert_eq!(index(upper_bound(i)), i);
        }
    }

    #[test]
    fn percentiles_and_moments() {
        let local = LocalHistogram::new();
        for ms in 1..=100 {
            local.record(Duration::from_millis(ms));
        }
        let shared = SharedHistogram::default();
        shared.store(&local);
        let s = shared.snapshot();
        assert_eq!(s.count(), 100);
        assert_eq!(s.min(), Duration::from_millis(1));
        assert_eq!(s.max(), Duration::from_millis(100));
        assert_eq!(s.mean(), Duration::from_micros(50_500));
        let p50 = s.percentile(50.0).as_secs_f64();
        assert!((0.050..=0.050 * 1.125).contains(&p50), "{p50}");
        let p99 = s.percentile(99.0).as_secs_f64();
        assert!((0.099..=0.100).contains(&p99), "{p99}");
        assert_eq!(s.p99(), s.percentile(99.0));
        assert_eq!(s.p50(), s.percentile(50.0));
        assert!(s.p90() >= Duration::from_millis(90) && s.p90() <= s.p99());
        assert_eq!(s.p999(), Duration::from_millis(100));
        let sd = s.stddev().as_secs_f64();
        assert!((0.0285..0.0292).contains(&sd), "{sd}");
        assert_eq!(s.count_at_most(Duration::from_secs(1)), 100);
        assert!(s.count_at_most(Duration::from_millis(10)) >= 10);
    }

    #[test]
    fn publishing_copies_every_change_across_stores() {
        let local = LocalHistogram::new();
        let shared = SharedHistogram::default();
        local.record(Duration::from_micros(5));
        local.record(Duration::from_millis(300));
        shared.store(&local);
        local.record(Duration::from_millis(2));
        local.record(Duration::from_micros(5));
        shared.store(&local);
        shared.store(&local);
        let s = shared.snapshot();
        assert_eq!(s.count(), 4);
        assert_eq!(s.count_at_most(Duration::from_micros(6)), 2);
        assert_eq!(s.count_at_most(Duration::from_millis(3)), 3);
        assert_eq!(s.max(), Duration::from_millis(300));
    }

    #[test]
    fn empty_snapshot_is_zero() {
        let s = SharedHistogram::default().snapshot();
        assert_eq!(s.count(), 0);
        assert_eq!(s.percentile(99.0), Duration::ZERO);
        assert_eq!(s.min(), Duration::ZERO);
    }
}
