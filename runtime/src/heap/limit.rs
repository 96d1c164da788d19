//! The heap limit (`--max-old-space-size`'s job): `KEEL_HEAP_LIMIT`, or 75% of the
//! container's memory limit. Above the soft limit (90% of it) the process is *under
//! memory pressure* — readiness and load shedding read the flag — until use falls below
//! 80% again. Each change of the flag is logged.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::cgroup::CgroupLimits;
use crate::env::{self, EnvError};

/// Share of the limit at which pressure starts, in percent.
pub const PRESSURE_ON_PERCENT: u64 = 90;
/// Share of the limit below which pressure ends, in percent.
pub const PRESSURE_OFF_PERCENT: u64 = 80;
/// Share of the container memory limit used when `KEEL_HEAP_LIMIT` is unset, in percent.
pub const DEFAULT_LIMIT_PERCENT: u64 = 75;

/// The configured limit and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeapLimit {
    pub(crate) bytes: Option<u64>,
    pub(crate) source: &'static str,
}

static LIMIT: OnceLock<HeapLimit> = OnceLock::new();
static PRESSURE: AtomicBool = AtomicBool::new(false);

/// Resolves the limit from `KEEL_HEAP_LIMIT` and the cgroup (the first successful call
/// wins; a bad value is an error every time it is read).
pub(crate) fn resolve(cgroup: &CgroupLimits) -> Result<HeapLimit, EnvError> {
    if let Some(limit) = LIMIT.get() {
        return Ok(*limit);
    }
    let limit = choose(env::var("KEEL_HEAP_LIMIT", env::parse_size)?, cgroup)?;
    Ok(*LIMIT.get_or_init(|| limit))
}

/// The limit from a parsed `KEEL_HEAP_LIMIT` (if set) and the cgroup's memory limit.
fn choose(from_env: Option<u64>, cgroup: &CgroupLimits) -> Result<HeapLimit, EnvError> {
    Ok(match from_env {
        Some(0) => {
            return Err(EnvError::new(
                "KEEL_HEAP_LIMIT",
                "0",
                "a size above zero, such as 1536MiB",
            ));
        }
        Some(bytes) => HeapLimit {
            bytes: Some(bytes),
            source: "KEEL_HEAP_LIMIT",
        },
        None => match cgroup.memory_max {
            Some(max) => HeapLimit {
                bytes: Some(percent_of(max, DEFAULT_LIMIT_PERCENT)),
                source: "75% of the cgroup memory limit",
            },
            None => HeapLimit {
                bytes: None,
                source: "none (no KEEL_HEAP_LIMIT, no container memory limit)",
            },
        },
    })
}

/// The limit in bytes, once resolved.
pub(crate) fn limit() -> Option<u64> {
    LIMIT.get().and_then(|l| l.bytes)
}

/// Whether the process is under memory pressure.
pub fn under_pressure() -> bool {
    PRESSURE.load(Ordering::Relaxed)
}

/// Updates the pressure flag from the current use (hysteresis between 80% and 90%).
pub(crate) fn check(used: u64) {
    let Some(limit) = limit() else { return };
    let was = PRESSURE.load(Ordering::Relaxed);
    let now = next_pressure(was, used, limit);
    if now == was || PRESSURE.swap(now, Ordering::Relaxed) == now {
        return;
    }
    if now {
        tracing::warn!(
            used,
            limit,
            "heap over 90% of its limit: memory pressure on (readiness fails, load is shed)"
        );
    } else {
        tracing::info!(
            used,
            limit,
            "heap back under 80% of its limit: memory pressure off"
        );
    }
}

/// The pressure flag after seeing `used` bytes against `limit`, given whether it is
/// on: it turns on at [`PRESSURE_ON_PERCENT`] of the limit and off only below
/// [`PRESSURE_OFF_PERCENT`].
fn next_pressure(on: bool, used: u64, limit: u64) -> bool {
    if used >= percent_of(limit, PRESSURE_ON_PERCENT) {
        true
    } else if used < percent_of(limit, PRESSURE_OFF_PERCENT) {
        false
    } else {
        on
    }
}

/// `percent`% of `bytes`, rounded down, without overflow or early rounding.
fn percent_of(bytes: u64, percent: u64) -> u64 {
    (u128::from(bytes) * u128::from(percent) / 100) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn pressure_turns_on_at_90_and_off_below_80_percent() {
        let limit = 1000 * MIB;
        let (on_at, off_below) = (900 * MIB, 800 * MIB);
        assert!(!next_pressure(false, on_at - 1, limit));
        assert!(next_pressure(false, on_at, limit));
        // Between the two thresholds the flag keeps its state.
        assert!(next_pressure(true, 850 * MIB, limit));
        assert!(!next_pressure(false, 850 * MIB, limit));
        assert!(next_pressure(true, off_below, limit));
        assert!(!next_pressure(true, off_below - 1, limit));
        assert!(next_pressure(true, 2 * limit, limit));
    }

    #[test]
    fn default_limit_is_75_percent_of_the_cgroup_memory_limit() {
        let cgroup = CgroupLimits {
            memory_max: Some(2048 * MIB),
            ..CgroupLimits::default()
        };
        let limit = choose(None, &cgroup).unwrap();
        assert_eq!(limit.bytes, Some(1536 * MIB));
        assert!(limit.source.contains("75%"), "{}", limit.source);
        // The variable wins over the cgroup.
        let limit = choose(Some(100 * MIB), &cgroup).unwrap();
        assert_eq!(
            (limit.bytes, limit.source),
            (Some(100 * MIB), "KEEL_HEAP_LIMIT")
        );
        // No container limit, no variable: no limit.
        assert_eq!(choose(None, &CgroupLimits::default()).unwrap().bytes, None);
        let err = choose(Some(0), &cgroup).unwrap_err();
        assert_eq!(err.name(), "KEEL_HEAP_LIMIT");
    }
}
