//! [`Window`]: counts over a rolling time window, kept in a ring of buckets (opossum's
//! `rollingCountTimeout` / `rollingCountBuckets`). Used by the circuit breaker (successes
//! and failures) and the retry budget (first attempts and retries).
//!
//! The window is `buckets` slices of `len / buckets` each. A count lands in the slice of
//! the current instant; a slice older than the window reads as zero and is reset when it
//! is reused. So the sum covers between `len - len/buckets` and `len` of history.

use std::time::{Duration, Instant};

/// `K` counters per bucket, summed over the last `len` of time. Not synchronized: the
/// owner keeps it under its lock.
#[derive(Debug)]
pub(crate) struct Window<const K: usize> {
    start: Instant,
    bucket_nanos: u128,
    /// `(epoch, counts)`: the bucket's counts belong to slice `epoch` since `start`.
    buckets: Vec<(u64, [u64; K])>,
}

impl<const K: usize> Window<K> {
    /// A window of `len`, cut into `buckets` slices. Both must be non-zero.
    pub(crate) fn new(len: Duration, buckets: u32) -> Window<K> {
        debug_assert!(buckets > 0 && !len.is_zero());
        let bucket_nanos = (len.as_nanos() / u128::from(buckets)).max(1);
        Window {
            start: Instant::now(),
            bucket_nanos,
            buckets: vec![(0, [0; K]); buckets as usize],
        }
    }

    fn epoch(&self, now: Instant) -> u64 {
        let nanos = now.saturating_duration_since(self.start).as_nanos();
        u64::try_from(nanos / self.bucket_nanos).unwrap_or(u64::MAX)
    }

    /// Adds `n` to counter `which` at `now`.
    pub(crate) fn add(&mut self, now: Instant, which: usize, n: u64) {
        let epoch = self.epoch(now);
        let len = self.buckets.len() as u64;
        let bucket = &mut self.buckets[(epoch % len) as usize];
        if bucket.0 != epoch {
            *bucket = (epoch, [0; K]);
        }
        bucket.1[which] += n;
    }

    /// The counters summed over the window ending at `now`.
    pub(crate) fn sum(&self, now: Instant) -> [u64; K] {
        let epoch = self.epoch(now);
        let len = self.buckets.len() as u64;
        let oldest = epoch.saturating_sub(len - 1);
        let mut total = [0; K];
        for (bucket_epoch, counts) in &self.buckets {
            if (oldest..=epoch).contains(bucket_epoch) {
                for (t, c) in total.iter_mut().zip(counts) {
                    *t += c;
                }
            }
        }
        total
    }

    /// Forgets every count.
    pub(crate) fn clear(&mut self) {
        for bucket in &mut self.buckets {
            *bucket = (0, [0; K]);
        }
        self.start = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_expire_after_the_window() {
        let mut w = Window::<2>::new(Duration::from_secs(10), 10);
        let t0 = w.start;
        w.add(t0, 0, 3);
        w.add(t0 + Duration::from_secs(5), 1, 2);
        assert_eq!(w.sum(t0 + Duration::from_secs(5)), [3, 2]);
        // The first bucket [0 s, 1 s) leaves the window once slice 10 begins.
        assert_eq!(w.sum(t0 + Duration::from_millis(9_999)), [3, 2]);
        assert_eq!(w.sum(t0 + Duration::from_secs(10)), [0, 2]);
        assert_eq!(w.sum(t0 + Duration::from_secs(15)), [0, 0]);
        // A reused slot starts from zero.
        w.add(t0 + Duration::from_secs(20), 0, 1);
        assert_eq!(w.sum(t0 + Duration::from_secs(20)), [1, 0]);
    }

    #[test]
    fn clear_forgets() {
        let mut w = Window::<1>::new(Duration::from_secs(1), 4);
        w.add(Instant::now(), 0, 7);
        w.clear();
        assert_eq!(w.sum(Instant::now()), [0]);
    }
}
