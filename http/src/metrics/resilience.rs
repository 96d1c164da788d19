//! Prometheus families for keel-runtime's [`resilience`](keel_runtime::resilience)
//! tools: [`register_breaker`] and [`register_bulkhead`]. The tools are shared across
//! loops, so each registers one process-wide collector that reads the tool's snapshot
//! at each scrape.

use super::collect::register_collector;
use super::text::MetricSet;
use keel_runtime::resilience::{Bulkhead, CircuitBreaker, State};

/// Exports `breaker` under the label `dependency="<its name>"` from now on:
/// `keel_breaker_state{state}` (1 for the current state, 0 for the others),
/// `keel_breaker_calls_total{outcome}` (success, failure, timeout, rejected),
/// `keel_breaker_transitions_total{to}` (open, half_open, closed) and
/// `keel_breaker_fallbacks_total`.
///
/// Register each breaker once (not once per loop): it is shared by every loop.
///
/// # Examples
///
/// ```
/// use keel_runtime::resilience::CircuitBreaker;
///
/// let breaker = CircuitBreaker::builder("users-api").volume_threshold(1).build().unwrap();
/// keel_http::metrics::register_breaker(&breaker);
/// keel_runtime::block_on(async {
///     let _ = breaker.call(|| async { Err::<(), _>("down") }).await;
/// });
/// let text = keel_http::metrics::gather_local().render();
/// assert!(text.contains("keel_breaker_state{dependency=\"users-api\",state=\"open\"} 1\n"));
/// assert!(text.contains("keel_breaker_transitions_total{dependency=\"users-api\",to=\"open\"} 1\n"));
/// ```
pub fn register_breaker(breaker: &CircuitBreaker) {
    let breaker = breaker.clone();
    register_collector(move |set| write_breaker(set, &breaker));
}

fn write_breaker(set: &mut MetricSet, breaker: &CircuitBreaker) {
    let m = breaker.metrics();
    let dep = breaker.dependency();
    for (state, name) in [
        (State::Closed, "closed"),
        (State::Open, "open"),
        (State::HalfOpen, "half_open"),
    ] {
        set.gauge(
            "keel_breaker_state",
            "1 for the circuit breaker's current state, 0 for the others.",
            &[("dependency", dep), ("state", name)],
            f64::from(u8::from(m.state == state)),
        );
    }
    for (outcome, n) in [
        ("success", m.successes),
        ("failure", m.failures),
        ("timeout", m.timeouts),
        ("rejected", m.rejected),
    ] {
        set.counter(
            "keel_breaker_calls_total",
            "Calls through the circuit breaker, by outcome (rejected: refused while open).",
            &[("dependency", dep), ("outcome", outcome)],
            n as f64,
        );
    }
    for (to, n) in [
        ("open", m.opened),
        ("half_open", m.half_opened),
        ("closed", m.closed),
    ] {
        set.counter(
            "keel_breaker_transitions_total",
            "Circuit breaker state changes, by new state.",
            &[("dependency", dep), ("to", to)],
            n as f64,
        );
    }
    set.counter(
        "keel_breaker_fallbacks_total",
        "Fallbacks run instead of a failed or refused call.",
        &[("dependency", dep)],
        m.fallbacks as f64,
    );
}

/// Exports `bulkhead` under the label `dependency="<its name>"` from now on:
/// `keel_bulkhead_in_flight`, `keel_bulkhead_max`, `keel_bulkhead_queued`,
/// `keel_bulkhead_admitted_total` and `keel_bulkhead_rejected_total`.
///
/// Register each bulkhead once: it is shared by every loop.
///
/// # Examples
///
/// ```
/// use keel_runtime::resilience::Bulkhead;
///
/// let bulkhead = Bulkhead::builder("thumbnailer").max_concurrent(8).build().unwrap();
/// keel_http::metrics::register_bulkhead(&bulkhead);
/// let text = keel_http::metrics::gather_local().render();
/// assert!(text.contains("keel_bulkhead_max{dependency=\"thumbnailer\"} 8\n"));
/// ```
pub fn register_bulkhead(bulkhead: &Bulkhead) {
    let bulkhead = bulkhead.clone();
    register_collector(move |set| write_bulkhead(set, &bulkhead));
}

fn write_bulkhead(set: &mut MetricSet, bulkhead: &Bulkhead) {
    let m = bulkhead.metrics();
    let l = [("dependency", bulkhead.dependency())];
    set.gauge(
        "keel_bulkhead_in_flight",
        "Calls holding a bulkhead slot.",
        &l,
        m.in_flight as f64,
    );
    set.gauge(
        "keel_bulkhead_max",
        "The bulkhead's cap on concurrent calls.",
        &l,
        bulkhead.max_concurrent() as f64,
    );
    set.gauge(
        "keel_bulkhead_queued",
        "Callers waiting for a bulkhead slot.",
        &l,
        m.queued as f64,
    );
    set.counter(
        "keel_bulkhead_admitted_total",
        "Calls that got a bulkhead slot.",
        &l,
        m.admitted as f64,
    );
    set.counter(
        "keel_bulkhead_rejected_total",
        "Calls refused by the bulkhead (queue full or wait too long).",
        &l,
        m.rejected as f64,
    );
}
