//! Keel: production network services on a thread-per-core runtime.
//!
//! This crate gathers the parts: [`runtime`] (event loops, tasks, timers, TCP, signals),
//! [`http`] (the HTTP/1.1 server) and [`pool`] (connection pools).

pub use keel_http as http;
pub use keel_pool as pool;
pub use keel_runtime as runtime;
