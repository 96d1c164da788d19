//! Which CPU each loop thread is pinned to.
//!
//! Loop `i` goes to the `i`-th CPU this process may run on (its affinity mask, so a
//! container's cpuset is respected). When there are more loops than CPUs, pinning would
//! stack loops on the same CPU for no gain, so it is skipped and the skip is logged.

/// The CPU per loop, or `None` when pinning is off or not possible.
pub(crate) fn plan(loops: usize, pin: bool) -> Option<Vec<core_affinity::CoreId>> {
    if !pin {
        return None;
    }
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    if cores.is_empty() {
        tracing::info!("CPU pinning skipped: the CPU list is not available");
        return None;
    }
    if loops > cores.len() {
        tracing::info!(
            loops,
            cpus = cores.len(),
            "CPU pinning skipped: more loops than CPUs this process may use"
        );
        return None;
    }
    Some(cores.into_iter().take(loops).collect())
}

/// Pins the calling thread; logs and goes on unpinned when the OS refuses.
pub(crate) fn pin_current(core: core_affinity::CoreId, loop_index: usize) {
    if !core_affinity::set_for_current(core) {
        tracing::warn!(
            loop_index,
            cpu = core.id,
            "could not pin loop thread; running unpinned"
        );
    }
}
