//! The loom side of the shim: loom's atomics, `fence` and threads; `Mutex` and `Condvar`
//! with `parking_lot`'s API over loom's; and models of `crossbeam_queue::SegQueue`, of
//! `crossbeam_deque`'s injector and work-stealing deques, and of `crossbeam_utils`'
//! `Backoff`.

use std::collections::VecDeque;

pub(crate) use loom::thread;

/// `loom::thread_local!` taking `std`'s `const { .. }` initialiser form, so the real
/// declaration compiles unchanged under loom.
macro_rules! loom_thread_local {
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const { $init:expr };) => {
        loom::thread_local!($(#[$attr])* $vis static $name: $t = $init);
    };
}
pub(crate) use loom_thread_local as thread_local;

/// loom's `sync`, with `parking_lot`'s `Mutex` and `Condvar` API.
pub(crate) mod sync {
    use std::ops::{Deref, DerefMut};
    use std::time::Instant;

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

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard {
                mutex: &self.0,
                guard: Some(lock(&self.0)),
            }
        }
    }

    fn lock<T>(mutex: &loom::sync::Mutex<T>) -> loom::sync::MutexGuard<'_, T> {
        mutex
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A locked [`Mutex`]. It keeps the mutex so a [`Condvar`] can wait through a `&mut`
    /// guard, as `parking_lot`'s does (loom's takes the guard by value).
    pub(crate) struct MutexGuard<'a, T> {
        mutex: &'a loom::sync::Mutex<T>,
        /// `None` only inside a `Condvar` wait.
        guard: Option<loom::sync::MutexGuard<'a, T>>,
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;

        fn deref(&self) -> &T {
            self.guard.as_ref().expect("guard held outside a wait")
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.guard.as_mut().expect("guard held outside a wait")
        }
    }

    /// Whether a [`Condvar::wait_until`] ended by its deadline.
    pub(crate) struct WaitTimeoutResult(bool);

    impl WaitTimeoutResult {
        pub(crate) fn timed_out(&self) -> bool {
            self.0
        }
    }

    /// loom's `Condvar` with `parking_lot`'s API. loom has no clock, so a timed wait is
    /// modelled by where its deadline lies when the wait begins:
    ///
    /// * already passed (a zero keep-alive, say): the wait times out — it lets the lock
    ///   go, lets other threads run, takes the lock back and reports a timeout (a notify
    ///   sent meanwhile is lost, as one sent to a thread whose timer fired is);
    /// * in the future: the wait lasts until a notify, however long — the deadline
    ///   never fires. So a protocol that would only recover from a lost notify when a
    ///   timer fires hangs, which loom reports as a deadlock: a lost wakeup is a bug
    ///   even when a timeout would hide it.
    #[derive(Debug)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Condvar {
            Condvar(loom::sync::Condvar::new())
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }

        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            let held = guard.guard.take().expect("guard held");
            let held = self
                .0
                .wait(held)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            guard.guard = Some(held);
        }

        pub(crate) fn wait_until<T>(
            &self,
            guard: &mut MutexGuard<'_, T>,
            deadline: Instant,
        ) -> WaitTimeoutResult {
            if deadline > Instant::now() {
                self.wait(guard);
                return WaitTimeoutResult(false);
            }
            drop(guard.guard.take());
            loom::thread::yield_now();
            guard.guard = Some(lock(guard.mutex));
            WaitTimeoutResult(true)
        }
    }
}

use self::sync::Mutex;
use self::sync::atomic::{AtomicUsize, Ordering};

/// A FIFO behind a loom `Mutex`, with its length in a loom atomic that `is_empty`/`len`
/// read without the lock, as the real lock-free queues read their head and tail
/// indices. So a reader of `is_empty` gets no ordering from the lock and may see a stale
/// length, which is what makes a missing fence in a protocol around the queue visible
/// to loom (a queue guarded by the lock alone would hide it).
struct Fifo<T> {
    items: Mutex<VecDeque<T>>,
    len: AtomicUsize,
}

impl<T> Fifo<T> {
    fn new() -> Fifo<T> {
        Fifo {
            items: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
        }
    }

    fn push(&self, value: T) {
        let mut items = self.items.lock();
        items.push_back(value);
        self.len.fetch_add(1, Ordering::SeqCst);
    }

    fn pop(&self) -> Option<T> {
        self.take(|_| 1).pop_front()
    }

    /// Takes `count(len)` items from the front in one step (under the lock).
    fn take(&self, count: impl FnOnce(usize) -> usize) -> VecDeque<T> {
        let mut items = self.items.lock();
        let n = count(items.len()).min(items.len());
        if n > 0 {
            self.len.fetch_sub(n, Ordering::SeqCst);
        }
        items.drain(..n).collect()
    }

    fn len(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }
}

/// A model of `crossbeam_queue::SegQueue` (see [`Fifo`]).
pub(crate) struct SegQueue<T>(Fifo<T>);

impl<T> SegQueue<T> {
    pub(crate) fn new() -> SegQueue<T> {
        SegQueue(Fifo::new())
    }

    pub(crate) fn push(&self, value: T) {
        self.0.push(value);
    }

    pub(crate) fn pop(&self) -> Option<T> {
        self.0.pop()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.len() == 0
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// A model of `crossbeam_deque` for FIFO workers: the injector and each worker's deque
/// are [`Fifo`]s. What it keeps of the real crate is what the worker pool's sleep
/// protocol depends on:
///
/// * `is_empty` reads a length without the lock (so it may be stale, see [`Fifo`]);
/// * a batch steal takes the same share as the real one (the injector: `(len + 1) / 2`
///   items, one returned and the rest moved; a worker's deque: one returned plus
///   `(len - 1) / 2` moved), and moves the batch in two steps — out of the source, then
///   into the thief's deque — so the batch is in transit, seen in neither, in between,
///   as it is in the real deque (there its slots are claimed before they are written to
///   the thief's buffer).
///
/// What it leaves out: `Steal::Retry` (a steal here never loses a race; the pool treats
/// `Retry` as "look again", which only adds looks), the 32-job batch limit, LIFO
/// workers, and the memory orderings inside the real deque (it is itself checked by
/// crossbeam's own loom and miri runs, not here).
pub(crate) mod deque {
    use std::sync::Arc;

    use super::Fifo;

    /// The outcome of a steal.
    pub(crate) enum Steal<T> {
        Empty,
        Success(T),
        #[allow(dead_code)] // Never produced by the model; matched by the pool.
        Retry,
    }

    /// Moves the stolen `batch` into `dest`: its first job is returned, the rest pushed
    /// one by one (the push after the take is the transit window).
    fn settle<T>(mut batch: std::collections::VecDeque<T>, dest: &Worker<T>) -> Steal<T> {
        let Some(first) = batch.pop_front() else {
            return Steal::Empty;
        };
        for job in batch {
            dest.0.push(job);
        }
        Steal::Success(first)
    }

    /// The global queue.
    pub(crate) struct Injector<T>(Fifo<T>);

    impl<T> Injector<T> {
        pub(crate) fn new() -> Injector<T> {
            Injector(Fifo::new())
        }

        pub(crate) fn push(&self, value: T) {
            self.0.push(value);
        }

        pub(crate) fn steal(&self) -> Steal<T> {
            self.0.pop().map_or(Steal::Empty, Steal::Success)
        }

        pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
            settle(self.0.take(|len| len.div_ceil(2)), dest)
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.0.len() == 0
        }
    }

    /// A worker's own deque (FIFO).
    pub(crate) struct Worker<T>(Arc<Fifo<T>>);

    impl<T> Worker<T> {
        pub(crate) fn new_fifo() -> Worker<T> {
            Worker(Arc::new(Fifo::new()))
        }

        pub(crate) fn stealer(&self) -> Stealer<T> {
            Stealer(self.0.clone())
        }

        pub(crate) fn push(&self, value: T) {
            self.0.push(value);
        }

        pub(crate) fn pop(&self) -> Option<T> {
            self.0.pop()
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.0.len() == 0
        }
    }

    /// Another thread's handle on a worker's deque.
    pub(crate) struct Stealer<T>(Arc<Fifo<T>>);

    impl<T> Stealer<T> {
        pub(crate) fn steal(&self) -> Steal<T> {
            self.0.pop().map_or(Steal::Empty, Steal::Success)
        }

        pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
            settle(self.0.take(|len| 1 + len.saturating_sub(1) / 2), dest)
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.0.len() == 0
        }
    }
}

/// `crossbeam_utils::Backoff` with no spinning: a thread that finds no work goes straight
/// to the sleep protocol. Spinning only adds looks for work, and each look would
/// multiply the interleavings loom explores.
pub(crate) struct Backoff;

impl Backoff {
    pub(crate) fn new() -> Backoff {
        Backoff
    }

    pub(crate) fn reset(&self) {}

    pub(crate) fn snooze(&self) {}

    pub(crate) fn is_completed(&self) -> bool {
        true
    }
}
