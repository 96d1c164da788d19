//! [`Backoff`]: exponential backoff with full jitter, AWS's formula
//! `sleep = random_between(0, min(cap, base * 2^attempt))`, and the small per-thread
//! random source it draws from.
//!
//! Full jitter spreads the retries of many clients that failed together over the whole
//! interval, so they do not come back in synchronized waves; see AWS's "Exponential
//! Backoff And Jitter" (Marc Brooker, 2015).

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Duration;

/// Exponential backoff with full jitter: the delay before retry `n` (0 for the first
/// retry) is uniform in `[0, min(cap, base * 2^n)]`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use keel_runtime::resilience::Backoff;
///
/// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
/// assert_eq!(backoff.ceiling(0), Duration::from_millis(100));
/// assert_eq!(backoff.ceiling(3), Duration::from_millis(800));
/// assert_eq!(backoff.ceiling(10), Duration::from_secs(2)); // capped
/// assert!(backoff.delay(3) <= Duration::from_millis(800));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
}

impl Backoff {
    /// Backoff starting at `base`, never above `cap`. A `cap` below `base` caps every
    /// delay at `cap`.
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff { base, cap }
    }

    /// The first retry's ceiling.
    pub fn base(&self) -> Duration {
        self.base
    }

    /// The largest delay ever returned.
    pub fn cap(&self) -> Duration {
        self.cap
    }

    /// The ceiling for retry `attempt` (0-based): `min(cap, base * 2^attempt)`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base
            .checked_mul(factor)
            .map_or(self.cap, |d| d.min(self.cap))
    }

    /// A random delay for retry `attempt` (0-based), uniform in `[0, ceiling(attempt)]`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt).as_nanos();
        let ceiling = u64::try_from(ceiling).unwrap_or(u64::MAX);
        Duration::from_nanos(random_up_to(ceiling))
    }
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(RandomState::new().hash_one(std::thread::current().id()));
}

/// A uniform-enough random number in `[0, max]` from a per-thread splitmix64 stream
/// (seeded by std's random hasher keys). Not for cryptography; for jitter only.
fn random_up_to(max: u64) -> u64 {
    let x = RNG.with(|state| {
        let s = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        state.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    });
    match max.checked_add(1) {
        // Multiply-shift maps the 64-bit draw onto [0, max] with negligible bias.
        Some(range) => ((u128::from(x) * u128::from(range)) >> 64) as u64,
        None => x,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_stays_in_range_and_varies() {
        let draws: Vec<u64> = (0..1000).map(|_| random_up_to(9)).collect();
        assert!(draws.iter().all(|&d| d <= 9));
        for v in 0..=9 {
            assert!(draws.contains(&v), "{v} never drawn in 1000 draws");
        }
        assert_eq!(random_up_to(0), 0);
    }

    #[test]
    fn ceiling_saturates_instead_of_overflowing() {
        let b = Backoff::new(Duration::from_secs(1), Duration::MAX);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(1 << 31));
        let b = Backoff::new(Duration::from_secs(u64::MAX / 2), Duration::from_secs(5));
        assert_eq!(b.ceiling(40), Duration::from_secs(5));
    }
}
