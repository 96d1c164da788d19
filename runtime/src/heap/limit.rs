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

/// Resolves the limit from `KEEL_HEAP_LIMIT` and the cgroup (first call wins).
pub(crate) fn resolve(cgroup: &CgroupLimits) -> Result<HeapLimit, EnvError> {
    if let Some(limit) = LIMIT.get() {
        return Ok(*limit);
    }
    let limit = match env::var("KEEL_HEAP_LIMIT", env::parse_size)? {
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
                bytes: Some(max / 100 * DEFAULT_LIMIT_PERCENT),
                source: "75% of the cgroup memory limit",
            },
            None => HeapLimit {
                bytes: None,
                source: "none (no KEEL_HEAP_LIMIT, no container memory limit)",
            },
        },
    };
    Ok(*LIMIT.get_or_init(|| limit))
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
    let on = used >= limit / 100 * PRESSURE_ON_PERCENT;
    let off = used < limit / 100 * PRESSURE_OFF_PERCENT;
    if on && !PRESSURE.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            used,
            limit,
            "heap over 90% of its limit: memory pressure on (readiness fails, load is shed)"
        );
    } else if off && PRESSURE.swap(false, Ordering::Relaxed) {
        tracing::info!(
            used,
            limit,
            "heap back under 80% of its limit: memory pressure off"
        );
    }
}
