//! The `keel-log` thread and its bounded buffer: callers hand finished text over — a
//! loop a batch of lines at a time ([`batch`](super::batch)), another thread one line —
//! without ever blocking; a full buffer drops lines and counts them
//! ([`dropped_lines`]); the thread writes through a `BufWriter`, flushing whenever it
//! runs out of work, and on [`LogGuard`](super::LogGuard)'s request.
//!
//! The bound is a count of lines: a line takes its place when it is written into a
//! loop's batch (a loop reserves places a few at a time, see [`Sink::reserve`]) or handed
//! over alone, and gives it back once the thread has taken it. The channel is std's
//! unbounded one: it holds batches, not lines, and grows in small blocks as they queue
//! (a `sync_channel` would allocate every slot up front). The text of a written batch
//! goes back to a small stock of spare buffers, so a loop's next batch does not allocate.

use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Lines dropped because the buffer was full, process-wide.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// How many log lines were dropped since the process started because the `keel-log`
/// thread's buffer was full (its writer could not keep up, or was blocked). A metric:
/// it only grows.
pub fn dropped_lines() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Counts `lines` as dropped.
pub(crate) fn count_dropped(lines: usize) {
    DROPPED.fetch_add(lines as u64, Ordering::Relaxed);
}

/// Spare buffers kept for the loops' next batches.
const SPARES: usize = 8;

/// A buffer smaller than this (a single line's) is freed rather than kept as a spare.
const SPARE_MIN_BYTES: usize = 4 * 1024;

/// A spare buffer larger than this is freed rather than kept.
const SPARE_MAX_BYTES: usize = 256 * 1024;

/// What the thread receives.
enum Message {
    /// `lines` whole lines of text.
    Text { text: String, lines: usize },
    /// Flush, then answer.
    Flush(SyncSender<()>),
}

/// What the senders and the thread share.
#[derive(Debug)]
struct Shared {
    /// Lines in the buffer: in a loop's batch (reserved) or queued, not yet taken by the
    /// thread.
    queued: AtomicUsize,
    capacity: usize,
    /// Emptied buffers, for the loops' next batches.
    spares: Mutex<Vec<String>>,
}

/// The sending side, held by the layer and by the loops' batches.
#[derive(Debug, Clone)]
pub(crate) struct Sink {
    tx: Sender<Message>,
    shared: Arc<Shared>,
}

impl Sink {
    /// Starts the `keel-log` thread writing to `writer`, with room for `capacity` lines.
    pub(crate) fn start(
        writer: Box<dyn Write + Send>,
        capacity: usize,
    ) -> io::Result<(Sink, JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            queued: AtomicUsize::new(0),
            capacity: capacity.max(1),
            spares: Mutex::new(Vec::new()),
        });
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("keel-log".into())
            .spawn(move || run(rx, &thread_shared, writer))?;
        Ok((Sink { tx, shared }, thread))
    }

    /// Whether `self` and `other` feed the same thread.
    pub(crate) fn same(&self, other: &Sink) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// How many places a loop takes at once when its batch runs out of them: a few, so
    /// that the shared count is touched once per few lines, yet small beside the
    /// capacity, so that loops holding unused places hardly shrink the buffer.
    pub(crate) fn reserve_step(&self) -> usize {
        (self.shared.capacity / 64).clamp(1, 64)
    }

    /// Takes up to `wanted` places in the buffer; how many it got (0: the buffer is
    /// full).
    pub(crate) fn reserve(&self, wanted: usize) -> usize {
        let queued = &self.shared.queued;
        let mut current = queued.load(Ordering::Relaxed);
        loop {
            let free = self.shared.capacity.saturating_sub(current);
            let taken = wanted.min(free);
            if taken == 0 {
                return 0;
            }
            match queued.compare_exchange_weak(
                current,
                current + taken,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return taken,
                Err(now) => current = now,
            }
        }
    }

    /// Gives back `places` reserved and not used.
    pub(crate) fn release(&self, places: usize) {
        if places > 0 {
            self.shared.queued.fetch_sub(places, Ordering::Relaxed);
        }
    }

    /// Hands `text`, holding `lines` lines whose places are reserved, to the thread.
    pub(crate) fn send(&self, text: String, lines: usize) {
        if let Err(mpsc::SendError(Message::Text { lines, .. })) =
            self.tx.send(Message::Text { text, lines })
        {
            // The thread is gone (its writer panicked): nowhere to write.
            self.release(lines);
            count_dropped(lines);
        }
    }

    /// Hands one `line` to the thread, or drops and counts it when the buffer is full.
    pub(crate) fn push(&self, line: String) {
        if self.reserve(1) == 0 {
            count_dropped(1);
            return;
        }
        self.send(line, 1);
    }

    /// An empty buffer for a batch: a spare one when there is one.
    pub(crate) fn buffer(&self, capacity: usize) -> String {
        self.shared
            .spares
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_else(|| String::with_capacity(capacity))
    }

    /// Waits until every line queued before this call is written and flushed, for at
    /// most `timeout`. Whether it was.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        if self.tx.send(Message::Flush(ack_tx)).is_err() {
            return false;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        ack_rx.recv_timeout(left).is_ok()
    }
}

/// The thread's body: write text as it comes, flush when idle.
fn run(rx: Receiver<Message>, shared: &Shared, writer: Box<dyn Write + Send>) {
    let mut out = BufWriter::with_capacity(64 * 1024, writer);
    let mut dirty = false;
    loop {
        let message = match rx.try_recv() {
            Ok(m) => m,
            Err(mpsc::TryRecvError::Empty) => {
                if dirty {
                    // Write errors (a closed stdout) have nowhere to be reported.
                    let _ = out.flush();
                }
                match rx.recv() {
                    Ok(m) => m,
                    Err(_) => break,
                }
            }
            Err(mpsc::TryRecvError::Disconnected) => break,
        };
        match message {
            Message::Text { mut text, lines } => {
                shared.queued.fetch_sub(lines, Ordering::Relaxed);
                let _ = out.write_all(text.as_bytes());
                dirty = true;
                if (SPARE_MIN_BYTES..=SPARE_MAX_BYTES).contains(&text.capacity()) {
                    text.clear();
                    let mut spares = shared.spares.lock().unwrap_or_else(PoisonError::into_inner);
                    if spares.len() < SPARES {
                        spares.push(text);
                    }
                }
            }
            Message::Flush(ack) => {
                let _ = out.flush();
                dirty = false;
                let _ = ack.send(());
            }
        }
    }
    let _ = out.flush();
}
