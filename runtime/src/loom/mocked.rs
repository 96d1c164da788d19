//! The loom side of the shim: loom's atomics and `fence`, a `Mutex` with
//! `parking_lot`'s API over loom's, and a model of `crossbeam_queue::SegQueue`.

use std::collections::VecDeque;

/// loom's `sync`, with `parking_lot`'s `Mutex` API.
pub(crate) mod sync {
    /// loom's atomics and `fence`.
    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
    }

    /// loom's `Mutex` with `parking_lot`'s API: `lock` returns the guard (a panic while
    /// locked fails the model anyway, so poisoning is not passed on).
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }
    }
}

use self::sync::Mutex;
use self::sync::atomic::{AtomicUsize, Ordering};

/// A model of `crossbeam_queue::SegQueue`: the items sit behind a loom `Mutex`, and the
/// length is a loom atomic that `is_empty`/`len` read without the lock, as the real
/// queue reads its head and tail indices. So a reader of `is_empty` gets no ordering from
/// the lock and may see a stale length, which is what makes a missing fence in a
/// protocol around the queue visible to loom (a queue guarded by the lock alone would
/// hide it).
pub(crate) struct SegQueue<T> {
    items: Mutex<VecDeque<T>>,
    len: AtomicUsize,
}

impl<T> SegQueue<T> {
    pub(crate) fn new() -> SegQueue<T> {
        SegQueue {
            items: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
        }
    }

    pub(crate) fn push(&self, value: T) {
        let mut items = self.items.lock();
        items.push_back(value);
        self.len.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn pop(&self) -> Option<T> {
        let mut items = self.items.lock();
        let value = items.pop_front();
        if value.is_some() {
            self.len.fetch_sub(1, Ordering::SeqCst);
        }
        value
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len.load(Ordering::SeqCst) == 0
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }
}
