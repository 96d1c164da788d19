//! The coarse monotonic clock (`CLOCK_MONOTONIC_COARSE`): a few nanoseconds to read, at
//! the kernel tick's resolution (1–4 ms), on the same timeline as `Instant`. The loop
//! reads it around every task poll for stall detection and the watchdog, where
//! milliseconds are plenty; precise timing (`Instant`) is kept for sampled polls.

/// Nanoseconds on the coarse monotonic clock; never 0 (0 means "not polling" to the
/// watchdog).
pub(crate) fn coarse_nanos() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC_COARSE exists on every
    // Linux since 2.6.32, and clock_gettime writes nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    debug_assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC_COARSE) failed");
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::coarse_nanos;
    use std::time::Duration;

    #[test]
    fn moves_forward_with_time() {
        let a = coarse_nanos();
        std::thread::sleep(Duration::from_millis(30));
        let b = coarse_nanos();
        assert!(b > a, "{b} after {a}");
        // At most a tick of slack either way around the 30 ms slept.
        assert!(b - a >= 20_000_000, "{} ns", b - a);
    }
}
