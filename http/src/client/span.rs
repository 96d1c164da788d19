//! The client span of one request on the wire: with tracing on, a child of the
//! request's span (the [current](keel_runtime::trace::current) one) or the root of a
//! new trace, written into the request as `traceparent` (and `tracestate`) so the
//! called service continues the trace. Off, it costs one atomic load per request.

use keel_runtime::trace::{self, Span, SpanKind, SpanStatus};

use super::error::ClientError;
use super::response::Response;
use super::url::Url;
use crate::proto::method::Method;

/// Starts the client span for `method url`, unless tracing is off or the caller set its
/// own `traceparent` (then the caller owns propagation).
#[inline]
pub(crate) fn start(method: &Method, url: &Url, headers: &[(String, String)]) -> Option<Span> {
    if !trace::enabled() {
        return None;
    }
    start_traced(method, url, headers)
}

fn start_traced(method: &Method, url: &Url, headers: &[(String, String)]) -> Option<Span> {
    if headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("traceparent"))
    {
        return None;
    }
    let parent = trace::current();
    let mut span = Span::start(
        method.as_str().to_owned(),
        SpanKind::Client,
        parent.as_ref(),
    );
    if span.is_recording() {
        span.set_attribute("http.request.method", method.as_str().to_owned());
        span.set_attribute("server.address", url.host.clone());
        span.set_attribute("server.port", i64::from(url.port));
        span.set_attribute(
            "url.full",
            format!("{}://{}{}", url.scheme.as_str(), url.authority, url.target),
        );
    }
    Some(span)
}

/// Ends the span with the response's status (4xx and 5xx mark it failed, as a client
/// sees them) or the error.
pub(crate) fn end(mut span: Span, result: &Result<Response, ClientError>) {
    if span.is_recording() {
        match result {
            Ok(res) => {
                let status = res.status().as_u16();
                span.set_attribute("http.response.status_code", i64::from(status));
                if status >= 400 {
                    span.set_attribute("error.type", status.to_string());
                    span.set_status(SpanStatus::Error(format!("HTTP {status}").into()));
                }
            }
            Err(e) => {
                span.set_attribute("error.type", e.kind_name());
                span.set_status(SpanStatus::Error(e.to_string().into()));
            }
        }
    }
    span.end();
}
