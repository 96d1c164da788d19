//! Randomness for spreading work out: jittered max lifetimes (so connections opened
//! together do not all expire together) and exponential backoff with jitter between
//! failed connects. A xorshift generator per pool is plenty; nothing here is secret.

use std::cell::Cell;
use std::time::Duration;

/// A small xorshift64* generator.
#[derive(Debug)]
pub(crate) struct Rng(Cell<u64>);

impl Rng {
    /// Seeded from the clock and the address of a stack value.
    pub(crate) fn new() -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let local = 0u8;
        let seed = nanos ^ (&local as *const u8 as u64).rotate_left(32);
        Rng(Cell::new(seed | 1))
    }

    fn next(&self) -> u64 {
        let mut x = self.0.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A uniform fraction in `[0, 1)`.
    fn unit(&self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `lifetime` shortened by up to `fraction` of itself, at random.
    pub(crate) fn shorten(&self, lifetime: Duration, fraction: f64) -> Duration {
        lifetime.mul_f64(1.0 - fraction.clamp(0.0, 1.0) * self.unit())
    }

    /// The pause before create attempt `attempt + 1`: `base × 2^attempt`, capped at
    /// `max`, then "equal jitter" (half fixed, half random).
    pub(crate) fn backoff(&self, attempt: u32, base: Duration, max: Duration) -> Duration {
        let exp = base.saturating_mul(1u32 << attempt.min(16)).min(max);
        exp / 2 + (exp / 2).mul_f64(self.unit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let rng = Rng::new();
        let base = Duration::from_millis(10);
        let max = Duration::from_millis(500);
        for attempt in 0..40 {
            let d = rng.backoff(attempt, base, max);
            let cap = base.saturating_mul(1 << attempt.min(16)).min(max);
            assert!(d >= cap / 2 && d <= cap, "attempt {attempt}: {d:?}");
        }
    }

    #[test]
    fn shorten_stays_in_range() {
        let rng = Rng::new();
        let life = Duration::from_secs(100);
        for _ in 0..1000 {
            let d = rng.shorten(life, 0.25);
            assert!(d <= life && d >= Duration::from_secs(75));
        }
    }
}
