//! The batch pipeline: finished spans go into a bounded lock-free queue and a plain std
//! thread (`keel-trace`) hands them to the [`SpanExporter`] in batches.
//!
//! # Protocol
//!
//! * A loop ending a span pushes it onto the queue (`ArrayQueue`, no lock). When the
//!   queue is full the span is dropped and counted — a slow or dead collector never
//!   slows a request down or grows memory. When the queue holds a full batch and no
//!   wake is pending (`wake_pending`, set by the one pusher that wins it, cleared by the
//!   thread when it wakes), the pusher wakes the thread: one mutex + condvar notify per
//!   batch, not per span, however many loops push at once.
//! * The thread sleeps on the condvar until the schedule delay passes, a batch is full,
//!   a flush is asked, or shutdown; then it drains the queue in batches of at most
//!   `max_batch`, calling the exporter for each (a failed export is counted and its
//!   spans dropped: no retry queue to grow).
//! * [`flush`](super::flush) bumps `flush_asked` and waits until the thread reports
//!   `flushed` at least that far. Shutdown sets `shutdown`, the thread drains one last
//!   time, reports, and exits; the caller joins it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use parking_lot::{Condvar, Mutex};

use super::span::SpanData;

/// The default number of finished spans queued for export: 2048 (`OTEL_BSP_MAX_QUEUE_SIZE`).
pub const DEFAULT_MAX_QUEUE: usize = 2048;
/// The default largest batch handed to the exporter: 512 (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`).
pub const DEFAULT_MAX_BATCH: usize = 512;
/// The default delay between exports: 5 s (`OTEL_BSP_SCHEDULE_DELAY`).
pub const DEFAULT_SCHEDULE_DELAY: Duration = Duration::from_secs(5);

/// Sends batches of finished spans somewhere (an OTLP collector, a test's list). Runs on
/// the `keel-trace` thread only, never on a loop, so it may block.
pub trait SpanExporter: Send + 'static {
    /// Exports one batch.
    ///
    /// # Errors
    ///
    /// Why the batch was not accepted; it is counted and dropped, not retried.
    fn export(&mut self, batch: Vec<SpanData>) -> Result<(), String>;
}

/// The batching settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Finished spans held for export at most; more are dropped and counted.
    pub max_queue: usize,
    /// The largest batch handed to the exporter.
    pub max_batch: usize,
    /// How long spans wait for a batch to fill before they are exported anyway.
    pub schedule_delay: Duration,
}

impl Default for BatchConfig {
    fn default() -> BatchConfig {
        BatchConfig {
            max_queue: DEFAULT_MAX_QUEUE,
            max_batch: DEFAULT_MAX_BATCH,
            schedule_delay: DEFAULT_SCHEDULE_DELAY,
        }
    }
}

/// Counts since the pipeline was installed, from [`stats`](super::stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TraceStats {
    /// Spans handed to the exporter in batches it accepted.
    pub exported: u64,
    /// Spans dropped because the queue was full.
    pub dropped: u64,
    /// Spans lost in batches the exporter refused.
    pub failed: u64,
    /// Spans waiting in the queue now.
    pub queued: u64,
}

#[derive(Default)]
struct Signal {
    flush_asked: u64,
    flushed: u64,
    wake: bool,
    shutdown: bool,
    stopped: bool,
}

/// The queue and the thread's controls.
pub(crate) struct Batcher {
    queue: ArrayQueue<SpanData>,
    max_batch: usize,
    schedule_delay: Duration,
    dropped: AtomicU64,
    exported: AtomicU64,
    failed: AtomicU64,
    /// A pusher asked for a wake the thread has not taken yet.
    wake_pending: AtomicBool,
    signal: Mutex<Signal>,
    cond: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Batcher {
    /// Starts the `keel-trace` thread around `exporter`.
    pub(crate) fn start(
        config: BatchConfig,
        exporter: Box<dyn SpanExporter>,
    ) -> std::io::Result<Arc<Batcher>> {
        let batcher = Arc::new(Batcher {
            queue: ArrayQueue::new(config.max_queue.max(1)),
            max_batch: config.max_batch.max(1),
            schedule_delay: config.schedule_delay,
            dropped: AtomicU64::new(0),
            exported: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            wake_pending: AtomicBool::new(false),
            signal: Mutex::new(Signal::default()),
            cond: Condvar::new(),
            thread: Mutex::new(None),
        });
        let worker = batcher.clone();
        let handle = std::thread::Builder::new()
            .name("keel-trace".into())
            .spawn(move || worker.run(exporter))?;
        *batcher.thread.lock() = Some(handle);
        Ok(batcher)
    }

    /// Queues a finished span, or drops and counts it when the queue is full.
    pub(crate) fn push(&self, span: SpanData) {
        if self.queue.push(span).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.queue.len() >= self.max_batch
            && !self.wake_pending.load(Ordering::Relaxed)
            && !self.wake_pending.swap(true, Ordering::AcqRel)
        {
            self.signal.lock().wake = true;
            self.cond.notify_one();
        }
    }

    pub(crate) fn stats(&self) -> TraceStats {
        TraceStats {
            exported: self.exported.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            queued: self.queue.len() as u64,
        }
    }

    /// Asks for an export of everything queued and waits for it, up to `timeout`.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut signal = self.signal.lock();
        if signal.stopped {
            return self.queue.is_empty();
        }
        signal.flush_asked += 1;
        let target = signal.flush_asked;
        self.cond.notify_all();
        while signal.flushed < target && !signal.stopped {
            if self.cond.wait_until(&mut signal, deadline).timed_out() {
                return false;
            }
        }
        true
    }

    /// Exports what is queued, stops the thread and joins it; `false` when it did not
    /// stop within `timeout` (it is then left to finish on its own).
    pub(crate) fn shutdown(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        {
            let mut signal = self.signal.lock();
            signal.shutdown = true;
            self.cond.notify_all();
            while !signal.stopped {
                if self.cond.wait_until(&mut signal, deadline).timed_out() {
                    return false;
                }
            }
        }
        if let Some(handle) = self.thread.lock().take() {
            let _ = handle.join();
        }
        true
    }

    fn run(&self, mut exporter: Box<dyn SpanExporter>) {
        loop {
            let (asked, shutdown) = {
                let mut signal = self.signal.lock();
                let deadline = Instant::now() + self.schedule_delay;
                while !signal.wake
                    && !signal.shutdown
                    && signal.flush_asked == signal.flushed
                    && self.queue.len() < self.max_batch
                {
                    if self.cond.wait_until(&mut signal, deadline).timed_out() {
                        break;
                    }
                }
                signal.wake = false;
                self.wake_pending.store(false, Ordering::Release);
                (signal.flush_asked, signal.shutdown)
            };
            self.drain(exporter.as_mut());
            let mut signal = self.signal.lock();
            signal.flushed = signal.flushed.max(asked);
            if shutdown {
                signal.stopped = true;
            }
            self.cond.notify_all();
            if shutdown {
                return;
            }
        }
    }

    /// Exports everything queued now, in batches.
    fn drain(&self, exporter: &mut dyn SpanExporter) {
        loop {
            let mut batch = Vec::with_capacity(self.queue.len().min(self.max_batch));
            while batch.len() < self.max_batch {
                match self.queue.pop() {
                    Some(span) => batch.push(span),
                    None => break,
                }
            }
            if batch.is_empty() {
                return;
            }
            let n = batch.len() as u64;
            let full = n == self.max_batch as u64;
            match exporter.export(batch) {
                Ok(()) => {
                    self.exported.fetch_add(n, Ordering::Relaxed);
                }
                Err(e) => {
                    self.failed.fetch_add(n, Ordering::Relaxed);
                    tracing::warn!(spans = n, error = %e, "trace export failed; spans dropped");
                }
            }
            if !full {
                return;
            }
        }
    }
}
