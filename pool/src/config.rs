//! `Config`: the resolved settings a pool runs with, filled in by the
//! [`Builder`](crate::Builder) and read by the pool.

use std::time::Duration;

/// The resolved settings a pool runs with.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) max: usize,
    pub(crate) min: usize,
    pub(crate) acquire_timeout: Duration,
    pub(crate) create_timeout: Duration,
    pub(crate) recycle_timeout: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) lifetime_jitter: f64,
    pub(crate) validation_window: Duration,
    pub(crate) leak_threshold: Option<Duration>,
    pub(crate) reap_interval: Duration,
    pub(crate) backoff_base: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) fail_fast: bool,
}
