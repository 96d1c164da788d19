//! [`Tracked`]: a `#[global_allocator]` wrapper that counts bytes and allocations per
//! thread. This file holds the `unsafe impl GlobalAlloc` and nothing else; the counting
//! itself is safe code in `counters.rs`.

use std::alloc::{GlobalAlloc, Layout, System};

use super::counters;

/// Counts what the wrapped allocator hands out, per thread, without shared contention:
/// each thread counts in its own thread-local cells and folds them into the process
/// totals every 64 KiB of change. Install it to get exact per-loop heap figures and the
/// heap limit (`KEEL_HEAP_LIMIT`) measured on the heap rather than on RSS.
///
/// # Examples
///
/// ```
/// use keel_runtime::heap::Tracked;
///
/// #[global_allocator]
/// static ALLOC: Tracked = Tracked::system();
///
/// let before = keel_runtime::heap::stats().used;
/// let big = vec![0u8; 4 << 20];
/// assert!(keel_runtime::heap::stats().used >= before + (4 << 20) - (1 << 20));
/// drop(big);
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct Tracked<A = System> {
    inner: A,
}

impl Tracked<System> {
    /// Wraps the system allocator.
    pub const fn system() -> Tracked<System> {
        Tracked { inner: System }
    }
}

impl<A> Tracked<A> {
    /// Wraps another allocator (jemalloc, mimalloc, …).
    pub const fn new(inner: A) -> Tracked<A> {
        Tracked { inner }
    }
}

// SAFETY: every method forwards to the wrapped allocator with the caller's arguments
// unchanged, so `A`'s guarantees carry over; the counting around the calls neither
// allocates (its thread-locals are const-initialized `Cell`s without destructors) nor
// touches the returned memory.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Tracked<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `alloc`'s contract.
        let ptr = unsafe { self.inner.alloc(layout) };
        if !ptr.is_null() {
            counters::allocated(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `alloc_zeroed`'s contract.
        let ptr = unsafe { self.inner.alloc_zeroed(layout) };
        if !ptr.is_null() {
            counters::allocated(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is; the caller upholds `dealloc`'s contract.
        unsafe { self.inner.dealloc(ptr, layout) };
        counters::freed(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `realloc`'s contract.
        let new = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            counters::freed(layout.size());
            counters::allocated(new_size);
        }
        new
    }
}
