//! What a thread keeps for logging: its cached clock, its scratch buffers and — on a
//! loop thread — the loop's batch, the lines it logged since it last handed text to the
//! `keel-log` thread.
//!
//! A loop writes each line straight into its batch (no allocation, no atomic operation
//! but one per few lines, no system call, no wake-up) and hands the batch over as one
//! piece when it parks ([`on_park`]): always before it blocks, else once the batch holds
//! [`PARK_BYTES`] or has waited [`PARK_DELAY`]. So a busy loop wakes the `keel-log`
//! thread once per batch of lines, and an idle loop holds none. A batch that reaches
//! [`BATCH_BYTES`] goes at once, and so does one with a warning or an error in it (should
//! the process die next, the line is already out of the loop). The batch also goes when
//! the loop stops or its thread ends.
//!
//! The buffer's bound holds: each line takes a place in the `keel-log` thread's buffer
//! as it is written into the batch (see [`Sink::reserve`]); when there is none, the line
//! is dropped and counted.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use super::json::Clock;
use super::line::Scratch;
use super::sink::{self, Sink};

/// Bytes at which a batch is handed over at once, parked or not.
pub(crate) const BATCH_BYTES: usize = 64 * 1024;

/// Bytes at which a batch is handed over at the next park, even one that does not block.
pub(crate) const PARK_BYTES: usize = 16 * 1024;

/// How long a batch waits at most for a busy loop (one that never blocks) to hand it
/// over, counted from the first park that saw it.
pub(crate) const PARK_DELAY: Duration = Duration::from_millis(10);

thread_local! {
    static LOCAL: RefCell<Local> = RefCell::new(Local::default());
}

/// This thread's logging state.
#[derive(Debug, Default)]
pub(crate) struct Local {
    pub(crate) clock: Clock,
    pub(crate) scratch: Scratch,
    batch: Option<Batch>,
}

/// Lines written and not yet handed over.
#[derive(Debug)]
struct Batch {
    sink: Sink,
    text: String,
    lines: usize,
    /// Places in the sink's buffer taken and not yet used by a line.
    reserved: usize,
    /// When a park first saw the batch.
    seen: Option<Instant>,
}

/// Runs `f` with this thread's logging state; `None` when it is in use (a value being
/// formatted for a line logged itself) or gone (the thread is ending).
pub(crate) fn with_local<R>(f: impl FnOnce(&mut Local) -> R) -> Option<R> {
    LOCAL
        .try_with(|local| local.try_borrow_mut().ok().map(|mut local| f(&mut local)))
        .ok()
        .flatten()
}

impl Local {
    /// Adds a line for `sink` to this loop's batch: `write` appends it to the text it is
    /// given, with the clock and the scratch buffers. When the sink's buffer is full the
    /// line is dropped (and counted) without being written. `urgent` hands the batch over
    /// at once.
    pub(crate) fn append(
        &mut self,
        sink: &Sink,
        urgent: bool,
        write: impl FnOnce(&mut String, &mut Clock, &mut Scratch),
    ) {
        if self.batch.as_ref().is_some_and(|b| !b.sink.same(sink)) {
            self.hand_off();
        }
        let batch = self.batch.get_or_insert_with(|| Batch {
            sink: sink.clone(),
            text: sink.buffer(BATCH_BYTES),
            lines: 0,
            reserved: 0,
            seen: None,
        });
        if batch.reserved == 0 {
            batch.reserved = sink.reserve(sink.reserve_step());
            if batch.reserved == 0 {
                sink::count_dropped(1);
                return;
            }
        }
        write(&mut batch.text, &mut self.clock, &mut self.scratch);
        self.scratch.clear();
        batch.lines += 1;
        batch.reserved -= 1;
        if urgent || batch.text.len() >= BATCH_BYTES {
            self.hand_off();
        }
    }

    /// Hands the batch to the `keel-log` thread, giving back the places it did not use.
    pub(crate) fn hand_off(&mut self) {
        let Some(batch) = self.batch.take() else {
            return;
        };
        batch.sink.release(batch.reserved);
        if batch.lines > 0 {
            batch.sink.send(batch.text, batch.lines);
        }
    }

    /// The park step: hands the batch over when the loop is about to block, when the
    /// batch is large, or when it has waited long enough.
    fn on_park(&mut self, now: Instant, blocking: bool) {
        let Some(batch) = self.batch.as_mut() else {
            return;
        };
        let due = blocking
            || batch.text.len() >= PARK_BYTES
            || match batch.seen {
                None => {
                    batch.seen = Some(now);
                    false
                }
                Some(seen) => now.saturating_duration_since(seen) >= PARK_DELAY,
            };
        if due {
            self.hand_off();
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        self.hand_off();
    }
}

/// Called by a loop as it parks, `now` being the park's clock reading: see the module
/// docs.
#[inline]
pub(crate) fn on_park(now: Instant, blocking: bool) {
    with_local(|local| local.on_park(now, blocking));
}

/// Hands this thread's batch over now (a loop stops, or `block_on` returns).
pub(crate) fn hand_off() {
    with_local(Local::hand_off);
}
