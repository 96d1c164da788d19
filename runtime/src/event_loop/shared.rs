//! [`Shared`]: the part of a loop that other threads see — its inject queue, its
//! published "asleep" flag, its `mio::Waker` and its published metrics.
//!
//! # The remote-wake protocol
//!
//! A thread that is not the loop's own hands it work (a woken task, a spawned task, a
//! closure to run) like this:
//!
//! 1. push the item onto `inject` (a lock-free `SegQueue`);
//! 2. a `SeqCst` fence;
//! 3. if `sleeping` is set, swap it to false and, if this thread is the one that cleared
//!    it, call the `mio::Waker`.
//!
//! The loop, before it blocks in `epoll_wait`:
//!
//! 1. stores `sleeping = true`;
//! 2. a `SeqCst` fence;
//! 3. checks `inject` once more; if it is not empty it polls with a zero timeout instead
//!    of blocking;
//! 4. after `poll` returns, stores `sleeping = false` and drains `inject`.
//!
//! The two fences order "push, then read the flag" against "set the flag, then read the
//! queue": either the loop sees the item in step 3, or the remote thread sees the flag
//! and wakes it. So no item is ever stranded, and the waker syscall is paid only when the
//! loop really sleeps (and only once per sleep, thanks to the swap). A busy loop is never
//! woken by syscall at all: it finds the items when it drains `inject` each tick.
//!
//! The code of the protocol is [`Mailbox`], which a loom model (`src/tests/loom_wake.rs`)
//! checks: a wake racing with the park never strands an item while the loop sleeps, and
//! an inject racing with [`close`](Shared::close) never strands an item either.

use std::fmt;
use std::sync::atomic::AtomicU64;

use super::mailbox::Mailbox;
use crate::executor::Unadopted;
use crate::executor::task::TaskRef;
use crate::metrics::PublishedLoopMetrics;
use crate::metrics::watch::PollWatch;

/// Work handed to a loop from another thread.
pub(crate) enum Injected {
    /// A task of this loop was woken.
    Wake(TaskRef),
    /// A new `Send` task to adopt and run here.
    Spawn(Unadopted),
    /// A closure to run on the loop thread (it typically spawns a `!Send` task).
    Run(Box<dyn FnOnce() + Send>),
}

/// What other threads may touch of one loop.
pub(crate) struct Shared {
    /// The loop's position in its runtime, `0..loops`.
    pub(crate) index: usize,
    /// The inject queue and the protocol's flags.
    mailbox: Mailbox<Injected, mio::Waker>,
    /// Figures the loop publishes each time it parks.
    pub(crate) metrics: PublishedLoopMetrics,
    /// The poll running now, for the watchdog.
    pub(crate) watch: PollWatch,
    /// Times the supervisor restarted this loop after it died outside a task.
    pub(crate) restarts: AtomicU64,
}

impl Shared {
    pub(crate) fn new(index: usize, waker: mio::Waker) -> Shared {
        Shared {
            index,
            mailbox: Mailbox::new(waker),
            metrics: PublishedLoopMetrics::default(),
            watch: PollWatch::default(),
            restarts: AtomicU64::new(0),
        }
    }

    /// Hands `item` to the loop from any thread (remote side of the protocol above).
    #[inline]
    pub(crate) fn inject(&self, item: Injected) {
        self.mailbox.inject(item);
    }

    /// Loop side, after its last tick and after dropping its tasks: marks the loop gone
    /// and drops whatever was injected meanwhile. Same fence pattern as the sleep
    /// protocol: an injector either sees `closed` (and drops its item itself) or pushed
    /// before this drain, which then drops it.
    pub(crate) fn close(&self) {
        self.mailbox.close();
    }

    /// Wakes the loop if it sleeps. Also used to make it notice shutdown.
    #[inline]
    pub(crate) fn notify(&self) {
        self.mailbox.notify();
    }

    /// Loop side, steps 1–3: announces the sleep; returns false when work arrived
    /// meanwhile and the loop must not block.
    #[inline]
    pub(crate) fn prepare_sleep(&self) -> bool {
        self.mailbox.prepare_sleep()
    }

    /// Loop side, step 4.
    #[inline]
    pub(crate) fn end_sleep(&self) {
        self.mailbox.end_sleep();
    }

    /// Loop side: takes the next injected item.
    #[inline]
    pub(crate) fn pop_injected(&self) -> Option<Injected> {
        self.mailbox.pop()
    }

    /// Items waiting in the inject queue (a snapshot).
    pub(crate) fn inject_len(&self) -> usize {
        self.mailbox.len()
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("index", &self.index)
            .field("inject_len", &self.mailbox.len())
            .field("sleeping", &self.mailbox.is_sleeping())
            .finish()
    }
}
