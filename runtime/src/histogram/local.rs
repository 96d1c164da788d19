//! A loop's own histograms (loop lag, timer lateness, task poll time): [`LocalHistogram`]
//! counts in plain memory on the owning loop, and [`SharedHistogram`] is its published
//! copy, refreshed at most every [`PUBLISH_EVERY`] and read by anyone as a
//! [`HistogramSnapshot`]. Nothing on the loop's hot path writes shared memory.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::HistogramSnapshot;
use super::buckets::{BUCKETS, index_of, nanos};

/// How often a loop copies its histograms for readers, at most.
pub(crate) const PUBLISH_EVERY: Duration = Duration::from_millis(10);

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
    pub(crate) fn record_n(&self, value: Duration, n: u64) {
        let ns = nanos(value);
        let i = index_of(ns);
        self.buckets.borrow_mut()[i] += n;
        let (lo, hi) = self.dirty.get();
        self.dirty.set((lo.min(i), hi.max(i)));
        self.count.set(self.count.get() + n);
        self.sum_ns
            .set(self.sum_ns.get().saturating_add(ns.saturating_mul(n)));
        let s = value.as_secs_f64();
        self.sum_sq_s.set(self.sum_sq_s.get() + s * s * n as f64);
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
    /// The count last published, so an unchanged histogram is not copied again.
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
            sum_sq_bits: AtomicU64::new(0f64.to_bits()),
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
        let buckets = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        HistogramSnapshot::from_parts(
            buckets,
            self.sum_ns.load(Ordering::Relaxed),
            f64::from_bits(self.sum_sq_bits.load(Ordering::Relaxed)),
            self.min_ns.load(Ordering::Relaxed),
            self.max_ns.load(Ordering::Relaxed),
        )
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
