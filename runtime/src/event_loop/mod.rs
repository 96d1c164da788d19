//! The event loop: one thread, one [`Core`], turning until its runtime shuts down.
//!
//! # One turn (a "tick")
//!
//! 1. Run up to `event_interval` tasks from the local run queue (each poll gets a fresh
//!    coop budget, see [`POLL_BUDGET`](core::POLL_BUDGET)).
//! 2. Drain the inject queue: remote wakes, remote spawns, closures to run here.
//! 3. Park: poll the OS for I/O — without blocking when tasks are still queued, else
//!    blocking until the next timer is due or another thread wakes the loop (the
//!    protocol is in [`shared`]) — publish the loop's counters, hand the loop's batch of
//!    log lines over (`log::batch`), fire due timers.
//!
//! Because I/O and timers are polled at least once every `event_interval` task polls,
//! and a task that keeps waking itself goes to the back of the queue, no task can
//! starve sockets, timers or other tasks.
//!
//! Parts: [`core`] (local state), [`shared`] (what other threads see), [`park`] (the mio
//! driver), [`placement`] (pinning loops to CPUs).

pub(crate) mod core;
pub(crate) mod mailbox;
pub(crate) mod park;
pub(crate) mod placement;
pub(crate) mod shared;

use std::time::Duration;

pub(crate) use self::core::Core;
pub(crate) use self::shared::{Injected, Shared};
use crate::metrics::batch::bump;

/// Turns a loop thread's loop until the runtime shuts down.
pub(crate) fn run(core: &Core) {
    while !core.handle.is_shutdown() {
        tick(core, || false);
    }
}

/// One tick (see the module docs). `more_work` tells the park step that something outside
/// the run queue (`block_on`'s root future) is ready, so it must not block. It is asked
/// at park time, since the tasks this tick runs may be what made it ready.
pub(crate) fn tick(core: &Core, more_work: impl Fn() -> bool) {
    core.run_tasks(core.event_interval);
    core.drain_inject();
    park(core, more_work());
}

/// Step 3 of a tick.
fn park(core: &Core, more_work: bool) {
    // Two clock reads per park: this one (the busy stretch's end, the timers' "now")
    // and the wake-up after `epoll_wait` (which the due timers are fired against).
    let (lag, parked_at) = core.clock.before_park(&core.stats);
    let mut timeout = if more_work || core.has_local_work() {
        Some(Duration::ZERO)
    } else {
        core.time.next_timeout(parked_at)
    };
    let blocking = timeout != Some(Duration::ZERO);
    bump(&core.stats.parks);
    core.record_lag(lag);
    // This turn's figures go out before the loop may block; a loop about to block also
    // flushes its histograms (normally copied at most every 10 ms), so an idle loop
    // never hides its latest samples.
    core.publish(parked_at, blocking);
    // Shutdown is checked after `prepare_sleep`'s fence: `Handle::shutdown` sets its flag
    // before `notify` reads `sleeping`, so either it wakes us or we see the flag here.
    if blocking && (!core.shared.prepare_sleep() || core.handle.is_shutdown()) {
        timeout = Some(Duration::ZERO);
    }
    // The lines this loop logged go to the `keel-log` thread in one piece (always before
    // it blocks, so an idle loop holds none).
    crate::log::batch::on_park(parked_at, timeout != Some(Duration::ZERO));
    if let Err(e) = core.io.park(timeout) {
        tracing::error!(loop_index = core.shared.index, error = %e, "epoll_wait failed");
    }
    let woke = core.clock.after_park(&core.stats, parked_at);
    if blocking {
        core.shared.end_sleep();
    }
    let (_, late) = core.time.fire_due(woke);
    if let Some(late) = late {
        core.record_timer_lag(late);
    }
}
