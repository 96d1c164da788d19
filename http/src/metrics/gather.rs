//! One scrape: the process-wide families read where the scrape runs, and each loop's
//! own figures (HTTP, user metrics, loop-local collectors) read on that loop by a small
//! task and merged here. Loops keep counting in plain memory; nothing is published on
//! their hot path.

use std::rc::Rc;
use std::time::Duration;

use keel_runtime::Handle;

use super::http::{HttpSnapshot, HttpStats};
use super::text::MetricSet;
use super::user::{self, Values};
use super::{builtin, collect};

/// How long a scrape waits for a loop's figures; a loop that does not answer in time
/// (stuck in a poll) is left out of that scrape, and a warning is logged.
const LOOP_TIMEOUT: Duration = Duration::from_secs(2);

thread_local! {
    static HTTP: Rc<HttpStats> = Rc::new(HttpStats::default());
}

/// The calling thread's (loop's) HTTP figures, shared by every server on it.
pub(crate) fn http_stats() -> Rc<HttpStats> {
    HTTP.with(Rc::clone)
}

/// What a scrape takes from one loop.
#[derive(Debug, Default)]
struct LoopPart {
    http: HttpSnapshot,
    values: Values,
    collected: MetricSet,
}

/// Reads the calling loop's figures.
fn loop_part() -> LoopPart {
    let mut collected = MetricSet::new();
    collect::collect_local(&mut collected);
    LoopPart {
        http: HTTP.with(|h| h.snapshot()),
        values: user::local_values(),
        collected,
    }
}

/// Every family: process, runtime (every loop of the runtime the caller runs on), heap,
/// blocking and worker pools, HTTP, user metrics and collectors.
///
/// Outside a Keel runtime this is [`gather_local`].
pub async fn gather() -> MetricSet {
    let Some(handle) = Handle::try_current() else {
        return gather_local();
    };
    let mut parts = Vec::with_capacity(handle.loops());
    let joins: Vec<_> = (0..handle.loops())
        .map(|i| (i, handle.spawn_on(i, async { loop_part() })))
        .collect();
    for (i, join) in joins {
        match keel_runtime::time::timeout(LOOP_TIMEOUT, join).await {
            Ok(Ok(part)) => parts.push(part),
            _ => tracing::warn!(
                loop_index = i,
                "metrics: loop did not answer the scrape in time; left out"
            ),
        }
    }
    let mut set = process_wide();
    builtin::write_runtime(&mut set, &handle.metrics());
    finish(set, parts)
}

/// The families readable from the calling thread alone: process, heap, pools, the
/// global collectors, values recorded off loops, and the calling thread's own figures
/// (when it is a loop). Synchronous; for tests, and for threads outside a runtime.
pub fn gather_local() -> MetricSet {
    let mut set = process_wide();
    if let Some(handle) = Handle::try_current() {
        builtin::write_runtime(&mut set, &handle.metrics());
    }
    finish(set, vec![loop_part()])
}

/// Families that do not depend on a loop.
fn process_wide() -> MetricSet {
    let mut set = MetricSet::new();
    builtin::write_process(&mut set);
    builtin::write_heap(&mut set);
    builtin::write_blocking(&mut set);
    builtin::write_workers(&mut set);
    builtin::write_log(&mut set);
    builtin::write_trace(&mut set);
    collect::collect_global(&mut set);
    set
}

/// Merges the loops' parts into `set`.
fn finish(mut set: MetricSet, parts: Vec<LoopPart>) -> MetricSet {
    let mut http = HttpSnapshot::default();
    let mut values = user::off_loop_values();
    for part in parts {
        http.merge(part.http);
        values.merge(&part.values);
        set.append(part.collected);
    }
    http.write(&mut set);
    values.write(&mut set);
    set
}
