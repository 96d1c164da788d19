//! The `keel-log` thread and its bounded buffer: callers hand finished lines over
//! without ever blocking; a full buffer drops the line and counts it
//! ([`dropped_lines`]); the thread writes through a `BufWriter`, flushing whenever the
//! buffer runs empty, and on [`LogGuard`](super::LogGuard)'s request.
//!
//! The buffer is an unbounded channel with a count of the lines in it, not a
//! `sync_channel`: std's bounded channel allocates and initialises every slot up front
//! (8,192 lines by default: 260 KiB resident in every process, logging or not), while
//! the unbounded one grows in small blocks as lines queue and gives them back as the
//! thread drains them. The bound is the count's.

use std::io::{self, BufWriter, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
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

/// What the thread receives.
enum Message {
    Line(String),
    /// Flush, then answer.
    Flush(SyncSender<()>),
}

/// The sending side, held by the layer.
#[derive(Debug, Clone)]
pub(crate) struct Sink {
    tx: Sender<Message>,
    /// Lines queued and not yet taken by the thread.
    queued: Arc<AtomicUsize>,
    capacity: usize,
}

impl Sink {
    /// Starts the `keel-log` thread writing to `writer`, with room for `capacity` lines.
    pub(crate) fn start(
        writer: Box<dyn Write + Send>,
        capacity: usize,
    ) -> io::Result<(Sink, JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let taken = queued.clone();
        let thread = std::thread::Builder::new()
            .name("keel-log".into())
            .spawn(move || run(rx, &taken, writer))?;
        let capacity = capacity.max(1);
        Ok((
            Sink {
                tx,
                queued,
                capacity,
            },
            thread,
        ))
    }

    /// Hands `line` to the thread, or drops and counts it when the buffer is full.
    pub(crate) fn push(&self, line: String) {
        if self.queued.fetch_add(1, Ordering::Relaxed) >= self.capacity {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            DROPPED.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.tx.send(Message::Line(line)).is_err() {
            // The thread is gone (its writer panicked): nowhere to write.
            self.queued.fetch_sub(1, Ordering::Relaxed);
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
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

/// The thread's body: write lines as they come, flush when idle.
fn run(rx: Receiver<Message>, queued: &AtomicUsize, writer: Box<dyn Write + Send>) {
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
            Message::Line(line) => {
                queued.fetch_sub(1, Ordering::Relaxed);
                let _ = out.write_all(line.as_bytes());
                dirty = true;
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
