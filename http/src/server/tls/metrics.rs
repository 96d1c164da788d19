//! `keel_tls_handshakes_total{outcome,version}`: TLS handshakes by how they ended and,
//! for finished ones, the protocol version. Process-wide atomic counters (a handshake is
//! rare next to a request), exported by one collector registered when the first server
//! starts (zeros while nothing speaks TLS).

use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

use super::accept::Refused;
use crate::metrics::{MetricSet, register_collector};

/// The series, in a fixed order: `(outcome, version)`.
const SERIES: [(&str, &str); 7] = [
    ("ok", "TLSv1.3"),
    ("ok", "TLSv1.2"),
    ("plain_http", "none"),
    ("not_tls", "none"),
    ("failed", "none"),
    ("timeout", "none"),
    ("closed", "none"),
];

static COUNTS: [AtomicU64; SERIES.len()] = [const { AtomicU64::new(0) }; SERIES.len()];
static REGISTERED: Once = Once::new();

/// Exports the counters on `/metrics` from now on (once per process).
pub(super) fn register() {
    REGISTERED.call_once(|| register_collector(write));
}

/// Counts a finished handshake.
pub(super) fn finished(version: Option<rustls::ProtocolVersion>) {
    let index = match version {
        Some(rustls::ProtocolVersion::TLSv1_2) => 1,
        _ => 0,
    };
    COUNTS[index].fetch_add(1, Ordering::Relaxed);
}

/// Counts a handshake that did not finish.
pub(super) fn refused(why: Refused) {
    let label = why.label();
    if let Some(index) = SERIES.iter().position(|&(outcome, _)| outcome == label) {
        COUNTS[index].fetch_add(1, Ordering::Relaxed);
    }
}

fn write(set: &mut MetricSet) {
    for (&(outcome, version), count) in SERIES.iter().zip(&COUNTS) {
        set.counter(
            "keel_tls_handshakes_total",
            "TLS handshakes on the server, by outcome (ok, plain_http, not_tls, failed, timeout, closed) and, when finished, version.",
            &[("outcome", outcome), ("version", version)],
            count.load(Ordering::Relaxed) as f64,
        );
    }
}
