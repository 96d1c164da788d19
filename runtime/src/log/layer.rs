//! [`KeelLayer`]: the `tracing-subscriber` layer that turns each enabled event into a
//! line (`line.rs`) and hands it to the `keel-log` thread (`sink.rs`).

use std::fmt;
use std::sync::Arc;

use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use super::Format;
use super::line::{self, Process};
use super::redact::Redactor;
use super::sink::Sink;

/// Keel's log layer: add it to a `tracing_subscriber` registry beside your own layers
/// (made by [`layer`](super::layer); [`init`](super::init) does it all).
#[derive(Clone)]
pub struct KeelLayer {
    inner: Arc<Inner>,
}

struct Inner {
    format: Format,
    process: Process,
    redactor: Redactor,
    sink: Sink,
}

impl KeelLayer {
    pub(crate) fn new(format: Format, redactor: Redactor, sink: Sink) -> KeelLayer {
        KeelLayer {
            inner: Arc::new(Inner {
                format,
                process: Process::current(),
                redactor,
                sink,
            }),
        }
    }
}

impl fmt::Debug for KeelLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeelLayer")
            .field("format", &self.inner.format)
            .field("redactor", &self.inner.redactor)
            .finish_non_exhaustive()
    }
}

impl<S: Subscriber> Layer<S> for KeelLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let inner = &*self.inner;
        let line = line::format(inner.format, &inner.process, &inner.redactor, event);
        inner.sink.push(line);
    }
}
