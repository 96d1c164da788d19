//! Distributed tracing: W3C Trace Context propagation, spans, sampling, and the batch
//! pipeline that hands finished spans to an exporter on a background thread.
//!
//! This module knows nothing of HTTP: `keel_http` reads `traceparent` on incoming
//! requests (the server span), writes it on outgoing client calls (the client span),
//! and provides the OTLP/HTTP JSON exporter (`keel_http::otlp`, which also reads the
//! `OTEL_*` variables). `keel_pool` records a span per acquire.
//!
//! # Parts
//!
//! | file | owns |
//! |---|---|
//! | `ids.rs` | [`TraceId`], [`SpanId`]: hex forms, random ids |
//! | `propagation.rs` | [`SpanContext`]: strict `traceparent` / `tracestate` parsing and writing |
//! | `sampler.rs` | [`Sampler`]: the `OTEL_TRACES_SAMPLER` samplers |
//! | `span.rs` | [`Span`] being recorded, [`SpanData`] when finished |
//! | `batch.rs` | the bounded queue and the `keel-trace` thread calling a [`SpanExporter`] |
//!
//! # Off by default, and cheap when off
//!
//! Nothing is traced until [`install`] runs (the OTLP exporter's `init_from_env` does,
//! when `OTEL_EXPORTER_OTLP_ENDPOINT` is set). Until then [`enabled`] is one relaxed
//! atomic load, and every instrumented place (each request, each client call, each
//! pool acquire) does nothing more than that load: no parsing, no allocation.
//!
//! # How a trace travels
//!
//! The server span's [`SpanContext`] is stored in the request's
//! [context](crate::task_context::Context::trace), so it is current in the handler, in
//! the tasks it spawns and in its pool jobs — as the request id is. A span started with
//! [`start_span`] (the client span, the pool acquire) is a child of it. The client
//! writes the client span's context as the outgoing `traceparent`, so the next service's
//! server span is a child of the client span.
//!
//! # Examples
//!
//! ```
//! use keel_runtime::trace::{self, BatchConfig, Sampler, SpanData, SpanExporter, SpanKind};
//! use keel_runtime::task_context::{self, Context};
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//!
//! struct Collect(Arc<Mutex<Vec<SpanData>>>);
//! impl SpanExporter for Collect {
//!     fn export(&mut self, batch: Vec<SpanData>) -> Result<(), String> {
//!         self.0.lock().unwrap().extend(batch);
//!         Ok(())
//!     }
//! }
//!
//! let spans = Arc::new(Mutex::new(Vec::new()));
//! trace::install(Sampler::AlwaysOn, BatchConfig::default(), Collect(spans.clone())).unwrap();
//! assert!(trace::enabled());
//!
//! // A request arrives with a traceparent: its context carries the parent.
//! let parent = trace::SpanContext::parse_traceparent(
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
//! let ctx = Context::new("req-1").with_trace(parent.clone());
//! task_context::enter(Some(ctx), || {
//!     let span = trace::start_span("work", SpanKind::Internal).unwrap();
//!     assert_eq!(span.context().trace_id(), parent.trace_id());
//!     span.end();
//! });
//! assert!(trace::shutdown(Duration::from_secs(5)));
//! let spans = spans.lock().unwrap();
//! assert_eq!(spans[0].parent_span_id, Some(parent.span_id()));
//! ```

mod batch;
mod ids;
mod propagation;
mod sampler;
mod span;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use self::batch::{
    BatchConfig, DEFAULT_MAX_BATCH, DEFAULT_MAX_QUEUE, DEFAULT_SCHEDULE_DELAY, SpanExporter,
    TraceStats,
};
pub use self::ids::{SpanId, TraceId};
pub use self::propagation::{FLAG_SAMPLED, SpanContext};
pub use self::sampler::Sampler;
pub use self::span::{Span, SpanData, SpanKind, SpanStatus, Value};
use batch::Batcher;

/// Set by [`install`], cleared by [`shutdown`]: the one check on the hot path.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// The installed pipeline (at most one per process).
static PIPELINE: OnceLock<Pipeline> = OnceLock::new();

struct Pipeline {
    sampler: Sampler,
    batcher: Arc<Batcher>,
}

/// Why [`install`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum InstallError {
    /// A pipeline was already installed in this process.
    AlreadyInstalled,
    /// The `keel-trace` thread could not be started.
    Spawn(std::io::Error),
}

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstallError::AlreadyInstalled => f.write_str("a trace pipeline is already installed"),
            InstallError::Spawn(e) => write!(f, "cannot start the keel-trace thread: {e}"),
        }
    }
}

impl std::error::Error for InstallError {}

/// Whether tracing is on: a pipeline is installed and not shut down. One relaxed
/// atomic load.
#[inline]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Turns tracing on for this process: spans are sampled by `sampler`, batched per
/// `config`, and exported by `exporter` on the `keel-trace` thread.
///
/// # Errors
///
/// A pipeline is already installed (one per process, even after [`shutdown`]), or the
/// thread cannot start.
pub fn install(
    sampler: Sampler,
    config: BatchConfig,
    exporter: impl SpanExporter,
) -> Result<(), InstallError> {
    if PIPELINE.get().is_some() {
        return Err(InstallError::AlreadyInstalled);
    }
    let batcher = Batcher::start(config, Box::new(exporter)).map_err(InstallError::Spawn)?;
    let name = sampler.to_string();
    let mut fresh = Some(Pipeline { sampler, batcher });
    PIPELINE.get_or_init(|| fresh.take().expect("taken once"));
    if let Some(lost) = fresh {
        // Another install won the race: stop this one's thread.
        lost.batcher.shutdown(Duration::from_secs(1));
        return Err(InstallError::AlreadyInstalled);
    }
    ENABLED.store(true, Ordering::Release);
    tracing::info!(sampler = %name, "tracing on");
    Ok(())
}

/// Exports every span queued so far, waiting up to `timeout`; `false` when that was
/// not enough. With nothing installed there is nothing to do: `true`.
pub fn flush(timeout: Duration) -> bool {
    PIPELINE.get().is_none_or(|p| p.batcher.flush(timeout))
}

/// Turns tracing off, exports what is queued and stops the `keel-trace` thread,
/// waiting up to `timeout`; `false` when it did not finish in time. Call it at the
/// end of `main` (the OTLP exporter's guard does when dropped).
pub fn shutdown(timeout: Duration) -> bool {
    ENABLED.store(false, Ordering::Release);
    PIPELINE.get().is_none_or(|p| p.batcher.shutdown(timeout))
}

/// The pipeline's counts (all zero when nothing is installed).
pub fn stats() -> TraceStats {
    PIPELINE
        .get()
        .map_or_else(TraceStats::default, |p| p.batcher.stats())
}

/// The span context current for this request (the server span's), if tracing is on and
/// code runs under a traced request context.
pub fn current() -> Option<SpanContext> {
    if !enabled() {
        return None;
    }
    crate::task_context::with_current(|c| c.and_then(|c| c.trace().cloned()))
}

/// Starts a span that is a child of the [current] one; `None` when tracing is
/// off or no trace is current (a pool acquire outside a request is not traced).
pub fn start_span(name: &'static str, kind: SpanKind) -> Option<Span> {
    if !enabled() {
        return None;
    }
    crate::task_context::with_current(|c| {
        c.and_then(|c| c.trace())
            .map(|parent| Span::start(name, kind, Some(parent)))
    })
}

/// Whether a new span in `trace_id` under `parent` is sampled: the installed sampler,
/// or (none installed) the parent's flag.
fn should_sample(parent: Option<&SpanContext>, trace_id: TraceId) -> bool {
    match PIPELINE.get() {
        Some(p) => p.sampler.should_sample(parent, trace_id),
        None => parent.is_some_and(SpanContext::is_sampled),
    }
}

/// Hands a finished span to the pipeline.
fn export(span: SpanData) {
    if !enabled() {
        return;
    }
    if let Some(p) = PIPELINE.get() {
        p.batcher.push(span);
    }
}
