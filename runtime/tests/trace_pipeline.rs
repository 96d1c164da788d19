//! The trace batch pipeline with a test exporter (tracing is process-wide, so one
//! test): a full queue drops and counts spans instead of blocking the caller, a flush
//! exports everything queued, a failed export is counted, shutdown turns tracing off
//! and later spans go nowhere.

use std::sync::mpsc;
use std::time::Duration;

use keel_runtime::trace::{self, BatchConfig, Sampler, Span, SpanData, SpanExporter, SpanKind};

/// Blocks in its first export until released; refuses batches holding a span named
/// `refuse`; reports every batch size.
struct Gate {
    entered: mpsc::Sender<usize>,
    release: Option<mpsc::Receiver<()>>,
}

impl SpanExporter for Gate {
    fn export(&mut self, batch: Vec<SpanData>) -> Result<(), String> {
        let _ = self.entered.send(batch.len());
        if let Some(release) = self.release.take() {
            release.recv().unwrap();
        }
        if batch.iter().any(|s| s.name == "refuse") {
            return Err("refused".into());
        }
        Ok(())
    }
}

fn root(name: &'static str) {
    Span::start(name, SpanKind::Internal, None).end();
}

#[test]
fn a_full_queue_drops_and_counts_then_flush_and_shutdown_export_the_rest() {
    let (entered_tx, entered) = mpsc::channel();
    let (release_tx, release) = mpsc::channel();
    let config = BatchConfig {
        max_queue: 4,
        max_batch: 2,
        schedule_delay: Duration::from_secs(3600),
    };
    let gate = Gate {
        entered: entered_tx,
        release: Some(release),
    };
    trace::install(Sampler::AlwaysOn, config, gate).unwrap();
    assert!(matches!(
        trace::install(
            Sampler::AlwaysOn,
            config,
            Gate {
                entered: mpsc::channel().0,
                release: None
            }
        ),
        Err(trace::InstallError::AlreadyInstalled)
    ));

    // A full batch wakes the thread, whose export then blocks.
    root("a");
    root("b");
    assert_eq!(entered.recv_timeout(Duration::from_secs(30)).unwrap(), 2);
    // Four fit in the queue; the other two are dropped, at once.
    for _ in 0..6 {
        root("c");
    }
    let stats = trace::stats();
    assert_eq!((stats.queued, stats.dropped), (4, 2), "{stats:?}");

    release_tx.send(()).unwrap();
    assert!(trace::flush(Duration::from_secs(30)));
    let stats = trace::stats();
    assert_eq!((stats.exported, stats.queued), (6, 0), "{stats:?}");

    root("refuse");
    assert!(trace::flush(Duration::from_secs(30)));
    assert_eq!(trace::stats().failed, 1);

    // Queued at shutdown: exported on the way out.
    root("last");
    assert!(trace::shutdown(Duration::from_secs(30)));
    assert!(!trace::enabled());
    assert_eq!(trace::stats().exported, 7);
    root("after");
    assert_eq!(
        trace::stats().queued,
        0,
        "nothing is queued once tracing is off"
    );
}
