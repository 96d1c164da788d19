//! The bridged tasks still running: every [`spawn`](super::spawn)ed future is registered
//! (its request id, where it was spawned, since when) until it ends or is dropped, so the
//! shutdown can wait for them ([`drain`]) and name the stragglers ([`BridgedTask`]).

use std::collections::BTreeMap;
use std::panic::Location;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A task spawned with [`spawn`](super::spawn) that has not finished yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgedTask {
    /// The request it was spawned for, when it had a request context.
    pub request_id: Option<String>,
    /// Where in the code it was spawned.
    pub spawned_at: &'static Location<'static>,
    /// How long it has been running (when the snapshot was taken).
    pub running_for: Duration,
}

struct Entry {
    request_id: Option<String>,
    spawned_at: &'static Location<'static>,
    since: Instant,
}

struct Running {
    next_id: u64,
    tasks: BTreeMap<u64, Entry>,
}

/// Process-wide: one process runs one bridge in practice, and a drain waits for the
/// work its requests spawned.
static RUNNING: Mutex<Running> = Mutex::new(Running {
    next_id: 0,
    tasks: BTreeMap::new(),
});
/// Notified whenever a task ends.
static ENDED: Condvar = Condvar::new();

fn running() -> MutexGuard<'static, Running> {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// One spawned task's registration; dropping it (the task ended, or was dropped
/// unfinished) removes it.
#[derive(Debug)]
pub(crate) struct Tracking {
    id: u64,
}

impl Tracking {
    pub(crate) fn start(
        request_id: Option<String>,
        spawned_at: &'static Location<'static>,
    ) -> Tracking {
        let mut running = running();
        let id = running.next_id;
        running.next_id += 1;
        running.tasks.insert(
            id,
            Entry {
                request_id,
                spawned_at,
                since: Instant::now(),
            },
        );
        Tracking { id }
    }
}

impl Drop for Tracking {
    fn drop(&mut self) {
        running().tasks.remove(&self.id);
        ENDED.notify_all();
    }
}

fn snapshot(running: &Running) -> Vec<BridgedTask> {
    running
        .tasks
        .values()
        .map(|e| BridgedTask {
            request_id: e.request_id.clone(),
            spawned_at: e.spawned_at,
            running_for: e.since.elapsed(),
        })
        .collect()
}

/// The [`spawn`](super::spawn)ed tasks still running, oldest first.
pub fn in_flight() -> Vec<BridgedTask> {
    snapshot(&running())
}

/// Blocks the calling thread until every [`spawn`](super::spawn)ed task has ended, or
/// `timeout` has passed; returns the ones still running then (the stragglers), oldest
/// first. The shutdown calls it with what is left of its deadline once the HTTP drain is
/// over; the stragglers are dropped when the runtime's bridge stops.
///
/// Never call it on a loop thread: it would block the loop.
pub fn drain(timeout: Duration) -> Vec<BridgedTask> {
    let guard = running();
    let (guard, _) = ENDED
        .wait_timeout_while(guard, timeout, |r| !r.tasks.is_empty())
        .unwrap_or_else(|e| e.into_inner());
    snapshot(&guard)
}
