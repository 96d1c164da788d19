//! The counters behind [`Tracked`](super::Tracked): per-thread `Cell`s, folded into
//! process-wide atomics every [`FOLD_BYTES`] of change, so the allocator's hot path
//! touches no shared cache line.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

/// How much a thread's unpublished change may grow before it is folded in.
const FOLD_BYTES: i64 = 64 * 1024;

static ENABLED: AtomicBool = AtomicBool::new(false);
static USED: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static FREES: AtomicU64 = AtomicU64::new(0);

/// One thread's counts. Const-initialized and without a destructor, so using it from
/// inside the allocator never allocates.
struct Local {
    /// Bytes allocated minus bytes freed by this thread, ever.
    net: Cell<i64>,
    /// The highest `net` so far.
    peak: Cell<i64>,
    /// Change not yet folded into `USED`.
    pending: Cell<i64>,
    /// Allocations by this thread, ever.
    allocations: Cell<u64>,
    /// Frees by this thread, ever.
    frees: Cell<u64>,
    /// `allocations` and `frees` as of the last fold.
    folded_allocations: Cell<u64>,
    folded_frees: Cell<u64>,
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            net: Cell::new(0),
            peak: Cell::new(0),
            pending: Cell::new(0),
            allocations: Cell::new(0),
            frees: Cell::new(0),
            folded_allocations: Cell::new(0),
            folded_frees: Cell::new(0),
        }
    };
}

pub(super) fn allocated(size: usize) {
    change(size as i64, true);
}

pub(super) fn freed(size: usize) {
    change(-(size as i64), false);
}

fn change(delta: i64, alloc: bool) {
    let folded = LOCAL.try_with(|l| {
        let net = l.net.get() + delta;
        l.net.set(net);
        if alloc {
            l.allocations.set(l.allocations.get() + 1);
            if net > l.peak.get() {
                l.peak.set(net);
            }
        } else {
            l.frees.set(l.frees.get() + 1);
        }
        let pending = l.pending.get() + delta;
        if pending.abs() >= FOLD_BYTES {
            l.pending.set(0);
            let allocations = l.allocations.get();
            let frees = l.frees.get();
            fold(
                pending,
                allocations - l.folded_allocations.replace(allocations),
                frees - l.folded_frees.replace(frees),
            );
        } else {
            l.pending.set(pending);
        }
    });
    if folded.is_err() {
        // The thread is being torn down: count straight into the totals.
        fold(delta, u64::from(alloc), u64::from(!alloc));
    }
}

fn fold(delta: i64, allocations: u64, frees: u64) {
    ENABLED.store(true, Ordering::Relaxed);
    let used = USED.fetch_add(delta, Ordering::Relaxed) + delta;
    ALLOCATIONS.fetch_add(allocations, Ordering::Relaxed);
    FREES.fetch_add(frees, Ordering::Relaxed);
    if used > 0 {
        PEAK.fetch_max(used as u64, Ordering::Relaxed);
    }
}

/// Whether a `Tracked` allocator is installed (it has counted something).
pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed) || LOCAL.try_with(|l| l.net.get() != 0).unwrap_or(false)
}

/// Process totals: (used bytes, peak bytes, allocations, frees). Within 64 KiB per
/// thread of the exact figure.
pub(crate) fn totals() -> (u64, u64, u64, u64) {
    let used = USED.load(Ordering::Relaxed).max(0) as u64;
    (
        used,
        PEAK.load(Ordering::Relaxed).max(used),
        ALLOCATIONS.load(Ordering::Relaxed),
        FREES.load(Ordering::Relaxed),
    )
}

/// The calling thread's counts, exact: net bytes, peak net bytes, allocations, frees.
pub(crate) fn thread_counts() -> ThreadCounts {
    LOCAL
        .try_with(|l| ThreadCounts {
            net: l.net.get(),
            peak: l.peak.get(),
            allocations: l.allocations.get(),
            frees: l.frees.get(),
        })
        .unwrap_or_default()
}

/// One thread's heap counts (see [`thread_counts`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ThreadCounts {
    pub(crate) net: i64,
    pub(crate) peak: i64,
    pub(crate) allocations: u64,
    pub(crate) frees: u64,
}
