//! [`Core`]: one loop's `!Send` state — its run queue, its task slab, its drivers and its
//! counters. Reached through [`current_loop`](crate::current_loop) by the code running on the loop;
//! never by another thread.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use slab::Slab;

use super::park::IoDriver;
use super::shared::{Injected, Shared};
use crate::executor::task::{Header, TaskRef, state};
use crate::handle::Handle;
use crate::histogram::local::{self, LocalHistogram};
use crate::metrics::LoopStats;
use crate::metrics::batch::bump;
use crate::metrics::clock::LoopClock;
use crate::metrics::stall::StallDetector;
use crate::sys::clock::coarse_nanos;
use crate::task_context::{self, Context as RequestContext};
use crate::time::driver::TimeDriver;

/// How many resource operations a task may complete in one poll before it is made to
/// yield (tokio's coop budget): a socket that is always ready cannot starve the loop.
pub(crate) const POLL_BUDGET: u32 = 128;

/// One task poll in this many is timed with the precise clock for the poll-time
/// histogram (and recorded with this weight); every poll is timed with the coarse clock
/// for stalls and the watchdog, and every stall goes into the histogram too. Reading the
/// precise clock around every poll would cost more than the rest of a local wake.
pub(crate) const POLL_TIME_SAMPLE: u32 = 16;

/// Gives every core in the process a distinct number, so a socket or timer registered on
/// one loop is never mistaken for one of another loop (debug checks, stale handles).
static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

/// One loop's local state.
pub(crate) struct Core {
    /// The part other threads see.
    pub(crate) shared: Arc<Shared>,
    /// Process-unique number of this core.
    pub(crate) instance: u64,
    /// The runtime this loop belongs to.
    pub(crate) handle: Handle,
    /// Task polls between two I/O polls.
    pub(crate) event_interval: u32,
    run_queue: RefCell<VecDeque<TaskRef>>,
    /// Every live task of this loop. The loop decides when a task's future is dropped:
    /// at shutdown it cancels every task here, whatever wakers or queued references to
    /// them remain elsewhere (those then only keep the allocation).
    tasks: RefCell<Slab<TaskRef>>,
    pub(crate) io: IoDriver,
    pub(crate) time: TimeDriver,
    pub(crate) stats: LoopStats,
    pub(crate) clock: LoopClock,
    stalls: StallDetector,
    /// Whether polls are timed and lag recorded (`Builder::instrument_polls`).
    instrument: bool,
    lag: LocalHistogram,
    timer_lag: LocalHistogram,
    poll_time: LocalHistogram,
    /// Polls left until the next one timed precisely for `poll_time`.
    polls_until_sample: Cell<u32>,
    histograms_published: Cell<Instant>,
    budget: Cell<u32>,
    /// The header of the task being polled now (null between polls), for the panic hook
    /// (`panic_hook.rs`) on this same thread. Valid while set: `run_task` holds the
    /// task's reference for the whole poll.
    polling: Cell<*const Header>,
}

impl Core {
    pub(crate) fn new(
        shared: Arc<Shared>,
        handle: Handle,
        io: IoDriver,
        event_interval: u32,
        stall_threshold: Duration,
        instrument: bool,
    ) -> Core {
        Core {
            shared,
            instance: NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed),
            handle,
            event_interval,
            run_queue: RefCell::new(VecDeque::with_capacity(256)),
            tasks: RefCell::new(Slab::with_capacity(256)),
            io,
            time: TimeDriver::new(),
            stats: LoopStats::default(),
            clock: LoopClock::new(),
            stalls: StallDetector::new(stall_threshold),
            instrument,
            lag: LocalHistogram::new(),
            timer_lag: LocalHistogram::new(),
            poll_time: LocalHistogram::new(),
            polls_until_sample: Cell::new(0),
            histograms_published: Cell::new(Instant::now()),
            budget: Cell::new(POLL_BUDGET),
            polling: Cell::new(std::ptr::null()),
        }
    }

    /// Queues a task of this loop (the local wake path: no atomics on the queue).
    pub(crate) fn push_local(&self, task: TaskRef) {
        self.run_queue.borrow_mut().push_back(task);
    }

    fn pop_local(&self) -> Option<TaskRef> {
        self.run_queue.borrow_mut().pop_front()
    }

    pub(crate) fn has_local_work(&self) -> bool {
        !self.run_queue.borrow().is_empty()
    }

    /// Adopts a new task (already marked scheduled) and queues it.
    pub(crate) fn adopt(&self, task: TaskRef) {
        let key = self.tasks.borrow_mut().insert(task.clone());
        task.header().set_key(key);
        bump(&self.stats.tasks_spawned);
        self.push_local(task);
    }

    /// Tasks alive on this loop.
    pub(crate) fn task_count(&self) -> usize {
        self.tasks.borrow().len()
    }

    /// Runs up to `max` queued tasks. Returns how many polls ran.
    pub(crate) fn run_tasks(&self, max: u32) -> u32 {
        if !self.instrument {
            return self.run_tasks_untimed(max);
        }
        let mut polled = 0;
        // One coarse clock read per poll: each poll ends when the next one starts.
        let mut now = coarse_nanos();
        while polled < max {
            let Some(task) = self.pop_local() else {
                break;
            };
            if let Some(ended) = self.run_task(&task, now) {
                now = ended;
                polled += 1;
            }
        }
        polled
    }

    /// `run_tasks` with poll timing off: no clock reads, no watchdog record, no stalls.
    fn run_tasks_untimed(&self, max: u32) -> u32 {
        let mut polled = 0;
        while polled < max {
            let Some(task) = self.pop_local() else {
                break;
            };
            if self.begin_poll(&task) {
                if self.poll_task(&task) {
                    self.finish(&task);
                }
                polled += 1;
            }
        }
        polled
    }

    /// Gets a dequeued task ready to be polled; false when the entry was stale (the task
    /// completed since it was queued) or the task was aborted (then it is finished here).
    #[inline]
    fn begin_poll(&self, task: &TaskRef) -> bool {
        let prev = task.header().begin_poll();
        if prev & state::COMPLETE != 0 {
            return false;
        }
        if prev & state::ABORTED != 0 {
            self.finish(task);
            return false;
        }
        bump(&self.stats.polls);
        self.budget.set(POLL_BUDGET);
        true
    }

    /// Polls `task` once; whether it finished.
    #[inline]
    fn poll_task(&self, task: &TaskRef) -> bool {
        // Named for the panic hook, should the poll panic.
        let header = task.header();
        self.polling.set(header);
        // The task's request context is current for the poll (one `Cell` swap each way);
        // `task`, and so its header's context, outlives the guard.
        let restore = task_context::Restore(task_context::swap_raw(RequestContext::as_raw(
            header.context.as_ref(),
        )));
        // SAFETY: this is the task's owning loop (it is in our slab), on its own thread,
        // and `task` is held across the call.
        let ready = unsafe { task.poll() }.is_ready();
        drop(restore);
        self.polling.set(std::ptr::null());
        ready
    }

    /// Polls one task, starting at `started` (coarse clock). Returns when the poll ended,
    /// or `None` when the queued entry was stale (or aborted: nothing was timed).
    fn run_task(&self, task: &TaskRef, started: u64) -> Option<u64> {
        if !self.begin_poll(task) {
            return None;
        }
        let header = task.header();
        let precise = match self.polls_until_sample.get() {
            0 => {
                self.polls_until_sample.set(POLL_TIME_SAMPLE - 1);
                Some(Instant::now())
            }
            n => {
                self.polls_until_sample.set(n - 1);
                None
            }
        };
        self.shared.watch.begin(header, started);
        let ready = self.poll_task(task);
        self.shared.watch.end();
        let now = coarse_nanos();
        let took = now.saturating_sub(started);
        if took >= self.stalls.threshold_nanos() {
            self.record_stall(header, precise, took, now);
        } else if let Some(began) = precise {
            self.poll_time
                .record_n(began.elapsed(), u64::from(POLL_TIME_SAMPLE));
        }
        if ready {
            self.finish(task);
        }
        Some(now)
    }

    /// A poll of `header`'s task that started at `now - took` (coarse nanoseconds) ran
    /// past the stall threshold: it goes into the poll-time histogram (with the precise
    /// time when this poll was sampled) and to the stall detector.
    #[cold]
    #[inline(never)]
    fn record_stall(&self, header: &Header, precise: Option<Instant>, took: u64, now: u64) {
        let took = Duration::from_nanos(took);
        self.poll_time
            .record(precise.map_or(took, |began| began.elapsed()));
        self.stalls.observe(header, took, now, self.shared.index);
    }

    /// Drops a task's future (reporting cancellation if it had not finished) and frees
    /// its slot.
    fn finish(&self, task: &TaskRef) {
        // SAFETY: the task is in this loop's slab and we run on the loop's thread.
        unsafe { task.cancel() };
        let owned = self.tasks.borrow_mut().try_remove(task.header().key());
        drop(owned);
        bump(&self.stats.tasks_completed);
    }

    /// The name and spawn location of the task being polled now, if any. Meant for the
    /// panic hook, which runs on this loop's thread in the middle of the poll.
    pub(crate) fn polling(&self) -> Option<(String, String)> {
        let header = self.polling.get();
        if header.is_null() {
            return None;
        }
        // SAFETY: `polling` is non-null only inside `poll_task`'s poll, whose caller holds a
        // reference to the task (so its header is alive), and `Core` is `!Send`: the
        // caller runs on this loop's thread, inside that poll.
        Some(unsafe { Header::describe(header) })
    }

    /// Takes one unit of the running task's budget; false when it is spent.
    pub(crate) fn consume_budget(&self) -> bool {
        let left = self.budget.get();
        if left == 0 {
            return false;
        }
        self.budget.set(left - 1);
        true
    }

    /// Moves everything other threads handed over into the local queue.
    pub(crate) fn drain_inject(&self) {
        while let Some(item) = self.shared.pop_injected() {
            match item {
                Injected::Wake(task) => self.push_local(task),
                Injected::Spawn(task) => self.adopt(task.adopt()),
                Injected::Run(f) => f(),
            }
        }
    }

    /// Drops every task (runtime shutdown or the end of `block_on`). Their join handles
    /// report cancellation. Runs until no task is left, since dropping one may spawn or
    /// wake others.
    pub(crate) fn drop_all_tasks(&self) {
        self.cancel_tasks(true);
    }

    /// Drops every task of a loop that died outside a task poll (`supervisor.rs`), like
    /// [`drop_all_tasks`](Core::drop_all_tasks) but leaving the inject queue alone: what
    /// other threads handed over is for the loop's successor (a queued wake of a task
    /// cancelled here is skipped there, since the task is complete).
    pub(crate) fn abandon_tasks(&self) {
        self.cancel_tasks(false);
    }

    fn cancel_tasks(&self, take_injected: bool) {
        self.io.wake_all();
        loop {
            if take_injected {
                self.drain_inject();
            }
            let tasks: Vec<TaskRef> = self.tasks.borrow_mut().drain().collect();
            self.run_queue.borrow_mut().clear();
            if tasks.is_empty() {
                break;
            }
            for task in tasks {
                // SAFETY: the task was in this loop's slab; we run on the loop's thread,
                // outside any poll (shutdown, or after the loop unwound out of one).
                unsafe { task.cancel() };
                drop(task);
                bump(&self.stats.tasks_completed);
            }
        }
        self.publish(Instant::now(), true);
    }

    /// Takes the loop's epoll instance back, for a successor loop: the loop's `Shared`
    /// (and so its `mio::Waker`, registered on this instance) outlives the core.
    pub(crate) fn into_poll(self) -> mio::Poll {
        self.io.into_poll()
    }

    /// Records one turn's busy stretch (the loop lag sample), unless timing is off.
    pub(crate) fn record_lag(&self, lag: Duration) {
        if self.instrument {
            self.lag.record(lag);
        }
    }

    /// Records how late the timers fired at the end of a park ran, unless timing is off.
    pub(crate) fn record_timer_lag(&self, late: Duration) {
        if self.instrument {
            self.timer_lag.record(late);
        }
    }

    /// Publishes this loop's counters for other threads. `now` is a recent reading of the
    /// clock; the histograms are copied when `flush` is set (the loop is about to block,
    /// or stops) or at most every 10 ms otherwise.
    pub(crate) fn publish(&self, now: Instant, flush: bool) {
        let mut p = self.stats.gather();
        p.inject_depth = self.shared.inject_len() as u64;
        p.timers = self.time.len() as u64;
        p.stalls = self.stalls.total();
        let heap = crate::heap::thread_counts();
        p.heap_net = heap.net as u64;
        p.heap_peak = heap.peak as u64;
        p.heap_allocations = heap.allocations;
        p.heap_frees = heap.frees;
        self.shared.metrics.store(&p);
        if let Some(by_task) = self.stalls.take_changes() {
            self.shared.metrics.store_stalls(by_task);
        }
        if local::due(&self.histograms_published, now) || flush {
            self.shared.metrics.lag.store(&self.lag);
            self.shared.metrics.timer_lag.store(&self.timer_lag);
            self.shared.metrics.poll_time.store(&self.poll_time);
        }
    }
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("index", &self.shared.index)
            .field("tasks", &self.task_count())
            .field("queued", &self.run_queue.borrow().len())
            .finish()
    }
}
