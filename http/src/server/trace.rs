//! A request's server span: with tracing on, a valid W3C `traceparent` (and
//! `tracestate`) on the request makes it the parent, else a new trace starts; the span's
//! context goes into the request's [`Context`], so the handler's outbound calls and pool
//! acquires are its children. With tracing off this is one atomic load per request.

use keel_runtime::task_context::Context;
use keel_runtime::trace::{self, Span, SpanContext, SpanKind, SpanStatus};

use crate::proto::{Method, RequestHead};

/// The server span of a request being answered (boxed: it lives across the
/// connection task's awaits, whose future should not grow when tracing is off).
pub(crate) struct ServerSpan(Box<Span>);

/// When tracing is on, starts the request's server span and puts its context into
/// `ctx` (the request's context, already renewed for it).
#[inline]
pub(crate) fn start_request(
    ctx: &mut Context,
    head: &RequestHead,
    head_bytes: &[u8],
) -> Option<ServerSpan> {
    if !trace::enabled() {
        return None;
    }
    Some(start(ctx, head, head_bytes))
}

/// The incoming trace context: one valid `traceparent` (several, or an invalid one,
/// start a new trace), with its `tracestate` when well formed.
fn incoming(head: &RequestHead, buf: &[u8]) -> Option<SpanContext> {
    let mut parents = head
        .header_pairs(buf)
        .filter(|(name, _)| name.eq_ignore_ascii_case(b"traceparent"));
    let traceparent = std::str::from_utf8(parents.next()?.1).ok()?;
    if parents.next().is_some() {
        return None;
    }
    let tracestate = head
        .header(buf, "tracestate")
        .and_then(|v| std::str::from_utf8(v).ok());
    SpanContext::from_headers(traceparent, tracestate)
}

fn start(ctx: &mut Context, head: &RequestHead, buf: &[u8]) -> ServerSpan {
    let parent = incoming(head, buf);
    let method = head.method().as_str();
    let mut span = Span::start(method.to_owned(), SpanKind::Server, parent.as_ref());
    if span.is_recording() {
        span.set_attribute("http.request.method", method.to_owned());
        let path = String::from_utf8_lossy(head.path(buf)).into_owned();
        span.set_attribute("url.path", path);
        span.set_attribute("keel.request_id", ctx.request_id().to_owned());
    }
    ctx.set_trace(span.context().clone());
    ServerSpan(Box::new(span))
}

impl ServerSpan {
    /// Ends the span with the matched route (its name becomes `GET /items/:id`) and the
    /// status; a 5xx marks it failed (a 4xx is the client's error, not the server's).
    pub(crate) fn end(mut self, method: &Method, route: Option<&str>, status: u16) {
        if self.0.is_recording() {
            if let Some(route) = route {
                self.0.set_name(format!("{} {route}", method.as_str()));
                self.0.set_attribute("http.route", route.to_owned());
            }
            self.0
                .set_attribute("http.response.status_code", i64::from(status));
            if status >= 500 {
                self.0
                    .set_status(SpanStatus::Error(format!("HTTP {status}").into()));
            }
        }
        self.0.end();
    }
}
