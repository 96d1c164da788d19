//! Heap accounting, like `v8.getHeapStatistics()`: [`Tracked`] counts allocations per
//! thread (so per loop, exactly: tasks never migrate), [`stats`] gives a snapshot with
//! the process's RSS and virtual size, and the heap limit raises a memory-pressure flag
//! ([`under_pressure`]) that readiness and load shedding read.
//!
//! Without `Tracked` installed, the heap figures are zero and the limit is checked
//! against RSS instead.

mod counters;
pub(crate) mod limit;
mod tracked;

pub use self::limit::{
    DEFAULT_LIMIT_PERCENT, PRESSURE_OFF_PERCENT, PRESSURE_ON_PERCENT, under_pressure,
};
pub use self::tracked::Tracked;

/// A heap snapshot from [`stats`]. The per-loop breakdown is [`loop_stats`] (kept
/// apart so this stays `Copy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeapStats {
    /// Whether a [`Tracked`] allocator is installed (else the heap figures are 0).
    pub tracked: bool,
    /// Bytes in use now (within 64 KiB per thread).
    pub used: u64,
    /// The most bytes in use at once so far.
    pub peak: u64,
    /// Allocations so far.
    pub allocations: u64,
    /// Frees so far.
    pub frees: u64,
    /// The heap limit, if any.
    pub limit: Option<u64>,
    /// Whether the process is under memory pressure.
    pub under_pressure: bool,
    /// Resident set size, from `/proc/self/statm`.
    pub rss: u64,
    /// Virtual size, from `/proc/self/statm`.
    pub virtual_size: u64,
}

/// A snapshot of the process's heap.
///
/// # Examples
///
/// ```
/// let stats = keel_runtime::heap::stats();
/// assert!(stats.rss > 0);
/// ```
pub fn stats() -> HeapStats {
    let (used, peak, allocations, frees) = counters::totals();
    let (virtual_size, rss) = statm().unwrap_or((0, 0));
    HeapStats {
        tracked: counters::enabled(),
        used,
        peak,
        allocations,
        frees,
        limit: limit::limit(),
        under_pressure: under_pressure(),
        rss,
        virtual_size,
    }
}

/// The calling thread's heap counts (net, peak, allocations, frees).
pub(crate) fn thread_counts() -> counters::ThreadCounts {
    counters::thread_counts()
}

/// One loop's share of the heap, from [`loop_stats`]: exact, since a loop's tasks never
/// leave its thread. Bytes are net — allocated minus freed by the loop's thread — so a
/// loop that frees what another thread allocated can go below zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoopHeapStats {
    /// The loop's index in its runtime.
    pub loop_index: usize,
    /// Net bytes in use by the loop now.
    pub used: i64,
    /// The most net bytes the loop has had in use at once.
    pub peak: i64,
    /// Allocations by the loop.
    pub allocations: u64,
    /// Frees by the loop.
    pub frees: u64,
}

/// The heap per loop, as each loop last published it (at its last park), for every
/// loop of every running [`Runtime`](crate::Runtime) in the process, in start order.
/// All zero without [`Tracked`]. The same figures are in
/// [`LoopMetrics`](crate::metrics::LoopMetrics) (`heap_*`).
///
/// # Examples
///
/// ```
/// let rt = keel_runtime::Runtime::builder().loops(2).build().unwrap();
/// let loops = keel_runtime::heap::loop_stats();
/// assert_eq!(loops.iter().map(|l| l.loop_index).collect::<Vec<_>>(), [0, 1]);
/// # drop(rt);
/// ```
pub fn loop_stats() -> Vec<LoopHeapStats> {
    crate::Handle::loop_shareds_of_all()
        .iter()
        .map(|shared| {
            let p = shared.metrics.load();
            LoopHeapStats {
                loop_index: shared.index,
                used: p.heap_net as i64,
                peak: p.heap_peak as i64,
                allocations: p.heap_allocations,
                frees: p.heap_frees,
            }
        })
        .collect()
}

/// Checks the limit against the heap (or RSS when untracked) and updates the flag.
/// Runs several times a second, so a tracked heap is read from its counters alone,
/// without opening `/proc/self/statm`.
pub(crate) fn check_pressure() {
    let used = if counters::enabled() {
        counters::totals().0
    } else {
        statm().map_or(0, |(_, rss)| rss)
    };
    limit::check(used);
}

/// `(virtual, resident)` bytes.
fn statm() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/self/statm").ok()?;
    let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
    let pages = fields.next()??;
    let resident = fields.next()??;
    let page = crate::sys::process::page_size();
    Some((pages * page, resident * page))
}
