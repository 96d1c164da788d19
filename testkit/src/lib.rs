//! Keel's test helpers, written once for the integration tests of every crate (like
//! tokio-test): a dev-dependency only, never published.
//!
//! - [`logs`]: [`Capture`], an in-memory log writer; [`json_lines`]; [`keel_log`], Keel's
//!   logger installed once per test binary and read back as JSON lines.
//! - [`eventually()`]: poll a condition from a plain thread until a deadline.
//! - [`client`]: [`Client`], a raw HTTP/1.1 client sending exactly the bytes a test gives
//!   it, and the [`Response`] it reads back.
//! - [`server`] (feature `http`): [`TestServer`], a keel-http server on a background
//!   thread, shut down (bounded) when dropped.
//! - [`body`] (feature `http`): [`SlowChunks`], a response body streamed with pauses.
//! - [`proxy`]: [`Proxy`], a TCP forwarder a fault test can stop, restart and slow down.
//! - [`netns`]: [`NetNs`], a network namespace linked to the host, whose link a test can
//!   break ([`Fault`]: packet loss, every packet dropped).
//!
//! Use it from integration tests (`tests/*.rs`) only: from keel-runtime's or keel-http's
//! own unit tests it would be a second copy of that crate, whose types do not match.
//!
//! [`Capture`]: logs::Capture
//! [`json_lines`]: logs::json_lines
//! [`keel_log`]: logs::keel_log
//! [`Client`]: client::Client
//! [`Response`]: client::Response
//! [`TestServer`]: server::TestServer
//! [`SlowChunks`]: body::SlowChunks
//! [`Proxy`]: proxy::Proxy
//! [`NetNs`]: netns::NetNs
//! [`Fault`]: netns::Fault

// The links above to `server` and `body` resolve only with feature `http`.
#![cfg_attr(not(feature = "http"), allow(rustdoc::broken_intra_doc_links))]

use std::time::Duration;

#[cfg(feature = "http")]
pub mod body;
pub mod client;
pub mod eventually;
pub mod logs;
pub mod netns;
pub mod proxy;
#[cfg(feature = "http")]
pub mod server;

#[cfg(feature = "http")]
pub use body::SlowChunks;
pub use client::{Client, Response, is_reset, request_text};
pub use eventually::eventually;
#[cfg(feature = "http")]
pub use server::{TestServer, assert_serves};

/// The longest any single read, write or wait of these helpers may take by default.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
