//! The `keel-watchdog` thread: notices a loop stuck inside one task poll (a blocking
//! call, a hot loop) and reports it *while it is still stuck*, naming the task and where
//! it was spawned — no runtime but glommio comes close to this.
//!
//! It also checks the heap against its limit (`heap/limit.rs`) on each round.
//!
//! It wakes every `threshold / 4` (at most every 100 ms), reads each loop's
//! `PollWatch` (`metrics/watch.rs`), and logs one warning per stuck poll. It exits when
//! the runtime shuts down.

use std::thread;
use std::time::Duration;

use crate::handle::Handle;

/// Starts the watchdog for the loops of `handle`'s runtime (stuck polls only when
/// `threshold` is set; the heap-limit check always); it exits at shutdown.
/// Returns the thread, for the runtime to unpark and join when it is dropped.
pub(crate) fn start(handle: Handle, threshold: Option<Duration>) -> Option<thread::JoinHandle<()>> {
    let period = threshold.map_or(Duration::from_millis(100), |t| {
        (t / 4).clamp(Duration::from_millis(1), Duration::from_millis(100))
    });
    let spawned = thread::Builder::new()
        .name("keel-watchdog".to_owned())
        .spawn(move || {
            loop {
                // Parked, not slept: `Runtime::drop` unparks it so it exits (and lets go
                // of its `Handle`) at once. An early wake only means an early round.
                thread::park_timeout(period);
                if handle.is_shutdown() {
                    return;
                }
                crate::heap::check_pressure();
                let Some(threshold) = threshold else { continue };
                let now = crate::sys::clock::coarse_nanos();
                for shared in handle.loop_shareds() {
                    if let Some(stuck) = shared.watch.check(now, threshold) {
                        tracing::warn!(
                            loop_index = shared.index,
                            task = %stuck.task,
                            spawned_at = %stuck.spawned_at,
                            stuck_ms = stuck.running_for.as_millis() as u64,
                            "loop is stuck in one task poll; everything else on this loop waits"
                        );
                    }
                }
            }
        });
    match spawned {
        Ok(thread) => Some(thread),
        Err(e) => {
            tracing::warn!(error = %e, "could not start the watchdog thread; stuck loops will not be reported");
            None
        }
    }
}
