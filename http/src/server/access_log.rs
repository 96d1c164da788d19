//! The access log: one line (`keel_http::access`, info) per answered request, under the
//! request's context so it carries the request id. Off with `KEEL_ACCESS_LOG=off`, or
//! filtered out like any other `tracing` target.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use keel_runtime::task_context::{self, Context};

use crate::proto::Method;
use crate::trusted_proxies::Remote;

/// What one access log line says about a request.
pub(crate) struct AccessLine<'a> {
    /// The precise start, kept only when the access log is on.
    pub(crate) started: Option<Instant>,
    pub(crate) method: &'a Method,
    /// The route pattern it matched.
    pub(crate) route: Option<&'a str>,
    /// The path, for a request no route matched.
    pub(crate) path: Option<&'a str>,
    pub(crate) ctx: &'a Context,
    pub(crate) peer: SocketAddr,
    /// The client's address from a trusted proxy, when not the peer's.
    pub(crate) forwarded_ip: Option<IpAddr>,
    pub(crate) status: u16,
    /// Body bytes written.
    pub(crate) bytes: u64,
}

/// Whether lines would be written at all: the setting, and the `tracing` filter.
#[inline]
pub(crate) fn enabled(setting: bool) -> bool {
    setting && tracing::enabled!(target: "keel_http::access", tracing::Level::INFO)
}

/// Writes the line.
pub(crate) fn write(line: &AccessLine<'_>) {
    let duration: Duration = line.started.map_or(Duration::ZERO, |s| s.elapsed());
    let duration_ms = (duration.as_secs_f64() * 1e6).round() / 1e3;
    task_context::enter(Some(line.ctx.clone()), || {
        tracing::info!(
            target: "keel_http::access",
            method = line.method.as_str(),
            route = line.route,
            path = line.path,
            status = line.status,
            duration_ms,
            bytes = line.bytes,
            remote = %Remote::new(line.peer, line.forwarded_ip),
            proxy = line.forwarded_ip.map(|_| tracing::field::display(line.peer)),
            "request"
        );
    });
}
