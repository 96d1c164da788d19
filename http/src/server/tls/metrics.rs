//! The TLS families on `/metrics`: `keel_tls_handshakes_total{outcome,version}`
//! (handshakes by how they ended and, for finished ones, the protocol version),
//! `keel_tls_handshake_duration_seconds` (accept to finished handshake),
//! `keel_tls_reloads_total{outcome}` (certificate reloads) and
//! `keel_tls_certificate_expiry_timestamp_seconds{certificate}` (each served
//! certificate's `notAfter`). Process-wide atomic counters (a handshake is rare next to
//! a request), exported by one collector registered when the first server starts
//! (zeros, and an expiry family without samples, while nothing speaks TLS).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once, Weak};
use std::time::Duration;

use super::accept::Refused;
use super::certs::CertStore;
use crate::metrics::{HistogramValue, Kind, MetricSet, register_collector};

const EXPIRY: &str = "keel_tls_certificate_expiry_timestamp_seconds";
const EXPIRY_HELP: &str = "When each served TLS certificate expires (its notAfter), in seconds since the Unix epoch, by certificate file.";

/// The handshake duration's bucket bounds, in seconds.
const DURATION_BUCKETS: [f64; 13] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

static DURATION_COUNTS: [AtomicU64; DURATION_BUCKETS.len()] =
    [const { AtomicU64::new(0) }; DURATION_BUCKETS.len()];
static DURATION_TOTAL: AtomicU64 = AtomicU64::new(0);
/// The sum of the durations, in nanoseconds.
static DURATION_SUM_NANOS: AtomicU64 = AtomicU64::new(0);

/// Reloads: well, then refused.
static RELOADS: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];

/// The stores whose certificates' expiry is exported (one per running TLS config).
static STORES: Mutex<Vec<Weak<CertStore>>> = Mutex::new(Vec::new());

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

/// Counts a finished handshake that took `took` from the accept.
pub(super) fn finished(version: Option<rustls::ProtocolVersion>, took: Duration) {
    let index = match version {
        Some(rustls::ProtocolVersion::TLSv1_2) => 1,
        _ => 0,
    };
    COUNTS[index].fetch_add(1, Ordering::Relaxed);
    let seconds = took.as_secs_f64();
    if let Some(bucket) = DURATION_BUCKETS.iter().position(|&le| seconds <= le) {
        DURATION_COUNTS[bucket].fetch_add(1, Ordering::Relaxed);
    }
    DURATION_TOTAL.fetch_add(1, Ordering::Relaxed);
    let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
    DURATION_SUM_NANOS.fetch_add(nanos, Ordering::Relaxed);
}

/// Counts a certificate reload, loaded well or refused.
pub(super) fn reloaded(ok: bool) {
    RELOADS[usize::from(!ok)].fetch_add(1, Ordering::Relaxed);
}

/// Exports `store`'s certificates' expiry while it lives.
pub(super) fn watch_expiry(store: &Arc<CertStore>) {
    let mut stores = STORES.lock().unwrap_or_else(|p| p.into_inner());
    stores.retain(|s| s.strong_count() > 0);
    stores.push(Arc::downgrade(store));
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
    let mut cumulative = 0;
    let buckets = DURATION_BUCKETS
        .iter()
        .zip(&DURATION_COUNTS)
        .map(|(&le, n)| {
            cumulative += n.load(Ordering::Relaxed);
            (le, cumulative)
        })
        .collect();
    set.histogram(
        "keel_tls_handshake_duration_seconds",
        "Time from the TCP accept to a finished TLS handshake (the client's round trips included).",
        &[],
        HistogramValue {
            buckets,
            sum: DURATION_SUM_NANOS.load(Ordering::Relaxed) as f64 / 1e9,
            count: DURATION_TOTAL.load(Ordering::Relaxed),
        },
    );
    for (outcome, count) in ["ok", "error"].into_iter().zip(&RELOADS) {
        set.counter(
            "keel_tls_reloads_total",
            "Certificate reloads after their files changed: ok (serving the new one) or error (the old one kept).",
            &[("outcome", outcome)],
            count.load(Ordering::Relaxed) as f64,
        );
    }
    set.declare(EXPIRY, EXPIRY_HELP, Kind::Gauge);
    let stores = STORES.lock().unwrap_or_else(|p| p.into_inner());
    let mut seen = std::collections::BTreeSet::new();
    for store in stores.iter().filter_map(Weak::upgrade) {
        for entry in &store.entries {
            let certificate = entry.files.cert.display().to_string();
            if !seen.insert(certificate.clone()) {
                continue;
            }
            set.gauge(
                EXPIRY,
                EXPIRY_HELP,
                &[("certificate", &certificate)],
                entry.current().info.not_after as f64,
            );
        }
    }
}
