//! The one-line startup report: how many loops, pinned or not, the heap limit, and where
//! each figure came from — plus a warning when the loops alone oversubscribe the
//! container's CPU quota.

use crate::builder::Config;
use crate::cgroup;

/// Logs the report for a runtime starting with `config`.
pub(crate) fn startup(config: &Config, pinned: bool) {
    let limits = cgroup::detect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let heap = crate::heap::limit::resolve(&limits).ok();
    tracing::info!(
        loops = config.loops,
        pinned,
        cpus = cores,
        cpu_quota = ?limits.cpu_quota,
        memory_max = ?limits.memory_max,
        heap_limit = ?heap.and_then(|h| h.bytes),
        heap_limit_from = heap.map_or("unresolved", |h| h.source),
        "keel runtime started"
    );
    if let Some(quota) = limits.cpu_quota
        && config.loops as f64 > quota.ceil()
    {
        tracing::warn!(
            loops = config.loops,
            cpu_quota = quota,
            "more loops than the container's CPU quota: loops will be throttled"
        );
    }
}
