//! Prometheus metrics: everything `/metrics` serves, and the API to add your own.
//!
//! # What is exported
//!
//! * `process_*`: the standard process families (CPU seconds, resident and virtual
//!   memory, open and max fds, start time, threads).
//! * `keel_loop_*`, `keel_task*`, `keel_connections_*`, `keel_watchdog_*`: per loop
//!   (label `loop`): lag histogram, utilization, busy/idle seconds, tasks alive, spawned
//!   and polled, poll-duration histogram, stalls (also by task name), accepted and open
//!   connections, watchdog reports.
//! * `keel_heap_*`, `keel_memory_pressure`: heap used, peak, limit, per-loop net bytes,
//!   and the memory-pressure flag.
//! * `keel_blocking_*` (per class) and `keel_workers_*`: the blocking and worker pools,
//!   once started.
//! * `http_*`: requests by method, route pattern (never the raw path;
//!   [`UNMATCHED_ROUTE`] when none matched) and status; their durations
//!   (5 ms … 5 s buckets); requests in flight; bytes in and out; rejections (requests
//!   refused before a handler ran: 400, 408, 413, 414, 431, …) by status and reason.
//! * your own: [`counter`], [`gauge`], [`histogram`], and collectors
//!   ([`register_collector`], [`register_local_collector`]). Keel's own tools are
//!   exported that way: circuit breakers and bulkheads ([`register_breaker`],
//!   [`register_bulkhead`]) and, with the `pool` feature (on in the root crate `keel`),
//!   connection pools (`register_pool`; without the feature keel-http does not depend
//!   on keel-pool).
//!
//! # Cost
//!
//! Loops count in plain `Cell`s and thread-local vectors: no shared atomic, no lock and
//! no allocation per request. A scrape ([`gather`]) sends each loop a small task that
//! copies its figures out, and merges them.
//!
//! # Serving
//!
//! The ops endpoints ([`Ops`](crate::Ops)) answer `GET /metrics` beside the health
//! probes, before the application's router, unless [`Ops::metrics`](crate::Ops::metrics)
//! turns it off. With a token ([`Ops::metrics_token`](crate::Ops::metrics_token) or
//! `KEEL_METRICS_TOKEN`) it wants `Authorization: Bearer <token>` and answers 401
//! otherwise.

mod builtin;
mod collect;
mod endpoint;
mod gather;
mod http;
#[cfg(feature = "pool")]
mod pool;
mod resilience;
mod text;
mod user;

pub use self::collect::{register_collector, register_local_collector};
pub use self::endpoint::METRICS_PATH;
pub(crate) use self::endpoint::serve as serve_endpoint;
pub(crate) use self::gather::http_stats;
pub use self::gather::{gather, gather_local};
pub use self::http::{DURATION_BUCKETS, UNMATCHED_ROUTE};
pub(crate) use self::http::{HttpStats, InFlightCount};
#[cfg(feature = "pool")]
pub use self::pool::register_pool;
pub use self::resilience::{register_breaker, register_bulkhead};
pub use self::text::{CONTENT_TYPE, HistogramValue, Kind, MetricSet};
pub use self::user::{Counter, DEFAULT_BUCKETS, Gauge, Histogram, counter, gauge, histogram};

/// Every family, rendered in the text exposition format (see [`gather`]).
pub async fn render() -> String {
    gather().await.render()
}
