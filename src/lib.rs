//! Keel: production network services on a thread-per-core runtime.
//!
//! This crate gathers the parts: [`runtime`] (event loops, tasks, timers, TCP, signals,
//! the blocking and CPU worker pools), [`http`] (the HTTP/1.1 server) and [`pool`]
//! (connection pools). The most used corners of the runtime are also here at the root:
//! [`fs`] (file system calls on the blocking pool) and [`net`] (TCP, and
//! [`lookup_host`](net::lookup_host) on the blocking pool's `dns` class), [`metrics`]
//! (Prometheus metrics, with the connection-pool collector), [`resilience`] (circuit
//! breaker, retries with backoff and a budget, bulkhead — around any future), [`log`]
//! (JSON logs through the `keel-log` thread), [`context`] (the request context), and
//! [`trace`] with [`otlp`] (W3C trace propagation, spans, OTLP export).
//! [`Config`] reads and validates every deployment variable at startup.
//!
//! ```
//! keel::runtime::block_on(async {
//!     let addrs = keel::net::lookup_host("127.0.0.1:80").await.unwrap();
//!     assert_eq!(addrs[0].port(), 80);
//!     let meta = keel::fs::metadata("/").await.unwrap();
//!     assert!(meta.is_dir());
//! });
//! ```

pub use keel_http as http;
pub use keel_http::Config;
/// OpenTelemetry export: `keel::otlp::init_from_env()` turns tracing on from the
/// `OTEL_*` variables.
pub use keel_http::otlp;
pub use keel_pool as pool;
pub use keel_runtime as runtime;
/// Structured logging: `keel::log::init_from_env()` installs the JSON/pretty logger.
pub use keel_runtime::log;
/// The request context: `keel::context::request_id()` anywhere in a request's async
/// chain, its spawned tasks and its pool jobs.
pub use keel_runtime::task_context as context;
pub use keel_runtime::{fs, net, resilience, trace};

/// Prometheus metrics: `keel_http::metrics`, built here with the `pool` feature, so
/// `keel::metrics::register_pool` exports a connection pool beside
/// `register_breaker` and `register_bulkhead`.
pub use keel_http::metrics;

/// The README's example, compiled as a doctest so it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
