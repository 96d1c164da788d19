//! [`register_pool`] (feature `pool`): a [`keel_pool::Pool`]'s gauges and counters on
//! `/metrics`.
//!
//! keel-pool owns its figures ([`Pool::status`], [`Pool::metrics`]) and knows nothing
//! of Prometheus; this file reads them at each scrape through a loop-local collector
//! (pools are per loop and `!Send`). It is the only place keel-http's metrics touch
//! keel-pool, and it is compiled only with the `pool` feature (the root crate `keel`
//! turns it on).

use keel_pool::{Manager, Pool};

use super::collect::register_local_collector;
use super::text::MetricSet;

/// Exports `pool` under the label `pool="<name>"` (and `loop`, the calling loop) from
/// now on: `keel_pool_connections{state}`, `keel_pool_max`, `keel_pool_waiting`,
/// `keel_pool_healthy`, and counters of acquires, wait and usage time, timeouts,
/// creates, create errors, closes by reason and leak warnings.
///
/// Call it on the loop that owns the pool (in the app factory, once per loop). The
/// collector keeps a handle to the pool, so a pool registered here lives (and, once
/// closed, keeps reporting its last figures) as long as its loop.
///
/// # Examples
///
/// ```
/// # use keel_pool::{Manager, Pool};
/// # struct M;
/// # impl Manager for M {
/// #     type Connection = (); type Error = std::convert::Infallible;
/// #     async fn create(&self) -> Result<(), Self::Error> { Ok(()) }
/// #     async fn recycle(&self, _: &mut ()) -> Result<(), Self::Error> { Ok(()) }
/// # }
/// keel_runtime::block_on(async {
///     let pool = Pool::builder(M).max(4).build();
///     keel_http::metrics::register_pool("db", &pool);
///     let conn = pool.get().await.unwrap();
///     let text = keel_http::metrics::gather_local().render();
///     assert!(text.contains("keel_pool_connections{pool=\"db\",loop=\"0\",state=\"in_use\"} 1\n"));
///     assert!(text.contains("keel_pool_max{pool=\"db\",loop=\"0\"} 4\n"));
///     assert!(text.contains("keel_pool_creates_total{pool=\"db\",loop=\"0\"} 1\n"));
///     drop(conn);
/// });
/// ```
pub fn register_pool<M: Manager + 'static>(name: &str, pool: &Pool<M>) {
    let pool = pool.clone();
    let name = name.to_owned();
    let lp = keel_runtime::current_loop().map_or_else(|| "none".to_owned(), |i| i.to_string());
    register_local_collector(move |set| write_pool(set, &name, &lp, &pool));
}

fn write_pool<M: Manager>(set: &mut MetricSet, name: &str, lp: &str, pool: &Pool<M>) {
    let s = pool.status();
    let m = pool.metrics();
    let l = [("pool", name), ("loop", lp)];
    for (state, n) in [("idle", s.idle), ("in_use", s.in_use)] {
        set.gauge(
            "keel_pool_connections",
            "Connections of a pool, by state.",
            &[("pool", name), ("loop", lp), ("state", state)],
            n as f64,
        );
    }
    set.gauge(
        "keel_pool_size",
        "Connections open or being opened.",
        &l,
        s.size as f64,
    );
    set.gauge(
        "keel_pool_max",
        "The most connections the pool opens.",
        &l,
        s.max as f64,
    );
    set.gauge(
        "keel_pool_waiting",
        "Tasks waiting for a connection.",
        &l,
        s.waiting as f64,
    );
    set.gauge(
        "keel_pool_healthy",
        "1 when no connection attempt failed since the last success.",
        &l,
        f64::from(u8::from(s.healthy)),
    );
    set.counter(
        "keel_pool_acquires_total",
        "Successful acquires.",
        &l,
        m.acquire_wait.count as f64,
    );
    set.counter(
        "keel_pool_acquire_wait_seconds_total",
        "Time successful acquires waited, summed.",
        &l,
        m.acquire_wait.sum.as_secs_f64(),
    );
    set.counter(
        "keel_pool_usage_seconds_total",
        "Time connections were held, checkout to return, summed.",
        &l,
        m.usage.sum.as_secs_f64(),
    );
    for (phase, n) in [
        ("wait", m.timeouts_wait),
        ("create", m.timeouts_create),
        ("recycle", m.timeouts_recycle),
    ] {
        set.counter(
            "keel_pool_timeouts_total",
            "Acquires that timed out, by phase.",
            &[("pool", name), ("loop", lp), ("phase", phase)],
            n as f64,
        );
    }
    set.counter(
        "keel_pool_creates_total",
        "Connections created.",
        &l,
        m.creates as f64,
    );
    set.counter(
        "keel_pool_create_errors_total",
        "Failed connection attempts.",
        &l,
        m.create_errors as f64,
    );
    let c = m.closed;
    for (reason, n) in [
        ("broken", c.broken),
        ("recycle_failed", c.recycle_failed),
        ("recycle_cancelled", c.recycle_cancelled),
        ("idle_timeout", c.idle_timeout),
        ("max_lifetime", c.max_lifetime),
        ("pool_closed", c.pool_closed),
        ("detached", c.detached),
    ] {
        set.counter(
            "keel_pool_closed_total",
            "Connections closed, by reason.",
            &[("pool", name), ("loop", lp), ("reason", reason)],
            n as f64,
        );
    }
    set.counter(
        "keel_pool_leaks_total",
        "Leak warnings (a connection held past the leak threshold).",
        &l,
        m.leaks as f64,
    );
}
