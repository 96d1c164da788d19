//! [`Span`]: one timed operation being recorded (a request served, an outbound call, a
//! pool acquire), and [`SpanData`], what it becomes when it ends and goes to the
//! exporter.
//!
//! A span that is not sampled still has an id and a context to propagate (the next
//! service must see the same trace and the "not sampled" flag), but records nothing:
//! its attributes are not kept and ending it sends nothing.

use std::borrow::Cow;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::ids::{SpanId, TraceId};
use super::propagation::{FLAG_SAMPLED, SpanContext};

/// What kind of operation a span is (OTLP's `SpanKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpanKind {
    /// Work inside the service (a pool acquire).
    Internal,
    /// A request this service answered.
    Server,
    /// A request this service made.
    Client,
}

impl SpanKind {
    /// The OTLP enum number: 1 internal, 2 server, 3 client.
    pub fn otlp_code(self) -> u8 {
        match self {
            SpanKind::Internal => 1,
            SpanKind::Server => 2,
            SpanKind::Client => 3,
        }
    }
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string.
    Str(Cow<'static, str>),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A floating-point number.
    Float(f64),
}

impl From<&'static str> for Value {
    fn from(s: &'static str) -> Value {
        Value::Str(Cow::Borrowed(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(Cow::Owned(s))
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Value {
        Value::Float(x)
    }
}

impl SpanData {
    /// A span with these ids, name and kind, no parent, no attributes, unset status and
    /// zero times (for exporters' tests; spans normally come from [`Span::end`]).
    pub fn new(
        trace_id: TraceId,
        span_id: SpanId,
        name: impl Into<Cow<'static, str>>,
        kind: SpanKind,
    ) -> SpanData {
        SpanData {
            trace_id,
            span_id,
            parent_span_id: None,
            tracestate: None,
            flags: FLAG_SAMPLED,
            name: name.into(),
            kind,
            start_unix_nanos: 0,
            end_unix_nanos: 0,
            attributes: Vec::new(),
            status: SpanStatus::Unset,
        }
    }
}

/// A span's outcome (OTLP's `Status`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SpanStatus {
    /// Not set: the usual outcome.
    #[default]
    Unset,
    /// Explicitly successful.
    Ok,
    /// Failed, with a message.
    Error(Cow<'static, str>),
}

/// A finished, sampled span, as handed to a [`SpanExporter`](super::SpanExporter).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SpanData {
    /// The trace it belongs to.
    pub trace_id: TraceId,
    /// Its own id.
    pub span_id: SpanId,
    /// Its parent's id; `None` for a root span.
    pub parent_span_id: Option<SpanId>,
    /// The W3C `tracestate` it carried.
    pub tracestate: Option<Box<str>>,
    /// The W3C trace flags.
    pub flags: u8,
    /// Its name (`GET /items/:id`, `pool.acquire`).
    pub name: Cow<'static, str>,
    /// Its kind.
    pub kind: SpanKind,
    /// When it started, in nanoseconds since the Unix epoch.
    pub start_unix_nanos: u64,
    /// When it ended, in nanoseconds since the Unix epoch.
    pub end_unix_nanos: u64,
    /// Its attributes, in the order set.
    pub attributes: Vec<(&'static str, Value)>,
    /// Its outcome.
    pub status: SpanStatus,
}

/// A span being recorded. Start one with [`Span::start`] (or the helpers in
/// [`trace`](super)); [`end`](Span::end) it to export it. Dropping a span without
/// ending it discards it.
///
/// # Examples
///
/// ```
/// use keel_runtime::trace::{Span, SpanKind};
///
/// let mut span = Span::start("load config", SpanKind::Internal, None);
/// span.set_attribute("config.source", "env");
/// let child = Span::start("parse", SpanKind::Internal, Some(span.context()));
/// assert_eq!(child.context().trace_id(), span.context().trace_id());
/// child.end();
/// span.end();
/// ```
#[derive(Debug)]
pub struct Span {
    context: SpanContext,
    parent: Option<SpanId>,
    /// `None` when not sampled: nothing is recorded.
    record: Option<Box<Record>>,
}

#[derive(Debug)]
struct Record {
    name: Cow<'static, str>,
    kind: SpanKind,
    start_unix_nanos: u64,
    started: Instant,
    attributes: Vec<(&'static str, Value)>,
    status: SpanStatus,
}

impl Span {
    /// Starts a span named `name`: a child of `parent` (same trace, its `tracestate`),
    /// or the root of a new trace. The installed [`Sampler`](super::Sampler) decides
    /// whether it is recorded (without one installed, only children of a sampled parent
    /// are — and nothing is exported).
    pub fn start(
        name: impl Into<Cow<'static, str>>,
        kind: SpanKind,
        parent: Option<&SpanContext>,
    ) -> Span {
        let trace_id = parent.map_or_else(TraceId::random, SpanContext::trace_id);
        let sampled = super::should_sample(parent, trace_id);
        let mut context = SpanContext::new(trace_id, SpanId::random(), sampled);
        if let Some(state) = parent.and_then(SpanContext::tracestate) {
            context = context.with_tracestate(Some(state));
        }
        let record = sampled.then(|| {
            Box::new(Record {
                name: name.into(),
                kind,
                start_unix_nanos: unix_nanos(SystemTime::now()),
                started: Instant::now(),
                attributes: Vec::new(),
                status: SpanStatus::Unset,
            })
        });
        Span {
            context,
            parent: parent.map(SpanContext::span_id),
            record,
        }
    }

    /// This span's context: what a child's `traceparent` names.
    pub fn context(&self) -> &SpanContext {
        &self.context
    }

    /// Whether the span is recorded (and exported when it ends).
    pub fn is_recording(&self) -> bool {
        self.record.is_some()
    }

    /// Renames the span (a server span learns its route after it started).
    pub fn set_name(&mut self, name: impl Into<Cow<'static, str>>) {
        if let Some(r) = &mut self.record {
            r.name = name.into();
        }
    }

    /// Sets attribute `key` (replacing an earlier value).
    pub fn set_attribute(&mut self, key: &'static str, value: impl Into<Value>) {
        if let Some(r) = &mut self.record {
            let value = value.into();
            match r.attributes.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => r.attributes.push((key, value)),
            }
        }
    }

    /// Sets the outcome.
    pub fn set_status(&mut self, status: SpanStatus) {
        if let Some(r) = &mut self.record {
            r.status = status;
        }
    }

    /// Ends the span now and hands it to the exporter (when sampled and one is
    /// installed).
    pub fn end(self) {
        let Some(r) = self.record else {
            return;
        };
        let elapsed = u64::try_from(r.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let flags = self.context.flags() & FLAG_SAMPLED;
        super::export(SpanData {
            trace_id: self.context.trace_id(),
            span_id: self.context.span_id(),
            parent_span_id: self.parent,
            tracestate: self.context.tracestate().map(Box::from),
            flags,
            name: r.name,
            kind: r.kind,
            start_unix_nanos: r.start_unix_nanos,
            end_unix_nanos: r.start_unix_nanos.saturating_add(elapsed),
            attributes: r.attributes,
            status: r.status,
        });
    }
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
