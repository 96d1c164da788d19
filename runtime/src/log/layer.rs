//! [`KeelLayer`]: the `tracing-subscriber` layer that turns each enabled event into a
//! line (`line.rs`): on a loop, into the loop's batch (`batch.rs`); on another thread,
//! into a line of its own, handed to the `keel-log` thread (`sink.rs`) at once.

use std::fmt;
use std::sync::Arc;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use super::Format;
use super::batch::{self, Local};
use super::direct::Fields;
use super::json::Clock;
use super::line::{self, FieldWriter, Head, Process, Scratch};
use super::redact::Redactor;
use super::sink::Sink;
use crate::task_context::{self, Context as RequestContext};

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

impl KeelLayer {
    /// [`write_line`](super::write_line)'s work.
    pub(crate) fn write_line(
        &self,
        level: Level,
        target: &'static str,
        message: &'static str,
        context: Option<&RequestContext>,
        fields: impl FnOnce(&mut Fields<'_>),
    ) {
        let inner = &*self.inner;
        let loop_index = crate::current_loop::try_with_core(|core| core.shared.index);
        let write = |out: &mut String, clock: &mut Clock, scratch: &mut Scratch| {
            let head = Head {
                level,
                target,
                message,
                loop_index,
                context,
            };
            match inner.format {
                Format::Json => line::cached_json_head(
                    out,
                    &inner.process,
                    &inner.redactor,
                    clock,
                    &mut scratch.head,
                    &head,
                    (target, message),
                ),
                Format::Pretty => {
                    line::head(
                        out,
                        inner.format,
                        &inner.process,
                        &inner.redactor,
                        clock,
                        &head,
                    );
                }
            }
            fields(&mut Fields {
                writer: FieldWriter {
                    format: inner.format,
                    in_context: context.is_some(),
                    in_trace: context.is_some_and(|c| c.trace().is_some()),
                    redactor: &inner.redactor,
                    out,
                    message: None,
                    value: &mut scratch.value,
                },
            });
            line::tail(out, inner.format);
        };
        inner.deliver(level, loop_index, write);
    }
}

impl Inner {
    /// Puts a line written by `write` where it goes: on a loop, into its batch; on
    /// another thread (or when this thread's state is busy), into a line of its own
    /// handed over at once.
    fn deliver(
        &self,
        level: Level,
        loop_index: Option<usize>,
        write: impl FnOnce(&mut String, &mut Clock, &mut Scratch),
    ) {
        let mut write = Some(write);
        let urgent = level <= Level::WARN;
        let done = batch::with_local(|local: &mut Local| {
            let write = write.take()?;
            if loop_index.is_some() {
                local.append(&self.sink, urgent, write);
            } else {
                let mut line = String::with_capacity(256);
                write(&mut line, &mut local.clock, &mut local.scratch);
                local.scratch.clear();
                self.sink.push(line);
            }
            Some(())
        });
        if done.is_none()
            && let Some(write) = write.take()
        {
            // This thread's state is busy (a line logged while a value of another was
            // formatted) or gone: a line of its own, with fresh buffers.
            let mut line = String::with_capacity(256);
            write(&mut line, &mut Clock::default(), &mut Scratch::default());
            self.sink.push(line);
        }
    }

    /// Writes the line for `event` into `out`.
    fn format(
        &self,
        out: &mut String,
        clock: &mut Clock,
        scratch: &mut Scratch,
        event: &Event<'_>,
        loop_index: Option<usize>,
        context: Option<&RequestContext>,
    ) {
        let Scratch {
            fields,
            message,
            value,
            ..
        } = scratch;
        event.record(&mut FieldWriter {
            format: self.format,
            in_context: context.is_some(),
            in_trace: context.is_some_and(|c| c.trace().is_some()),
            redactor: &self.redactor,
            out: fields,
            message: Some(message),
            value,
        });
        let meta = event.metadata();
        let head = Head {
            level: *meta.level(),
            target: meta.target(),
            message,
            loop_index,
            context,
        };
        line::head(
            out,
            self.format,
            &self.process,
            &self.redactor,
            clock,
            &head,
        );
        out.push_str(fields);
        line::tail(out, self.format);
    }
}

impl<S: Subscriber> Layer<S> for KeelLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let inner = &*self.inner;
        let loop_index = crate::current_loop::try_with_core(|core| core.shared.index);
        task_context::with_current(|context| {
            inner.deliver(
                *event.metadata().level(),
                loop_index,
                |out, clock, scratch| {
                    inner.format(out, clock, scratch, event, loop_index, context);
                },
            );
        });
    }
}
