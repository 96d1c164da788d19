//! [`H2Config`]: the HTTP/2 settings a server announces and enforces — whether it speaks
//! HTTP/2 at all, concurrent streams, header list size, flow-control windows, frame size
//! and the idle timeout — with documented defaults and [`H2Config::from_env`] for the
//! `KEEL_H2_*` variables.

use std::time::Duration;

use keel_runtime::env::{self, EnvError};

/// Default streams a client may have open at once on one connection
/// (`SETTINGS_MAX_CONCURRENT_STREAMS`; RFC 9113 recommends at least 100).
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 100;
/// Default largest decoded header list a request may carry
/// (`SETTINGS_MAX_HEADER_LIST_SIZE`, counted as RFC 9113 does: name + value + 32 per
/// field); the same 16 KiB as HTTP/1.1's head limit.
pub const DEFAULT_MAX_HEADER_LIST_SIZE: u32 = 16 * 1024;
/// Default flow-control window of each stream: request body bytes a client may send
/// ahead of the handler (`SETTINGS_INITIAL_WINDOW_SIZE`).
pub const DEFAULT_INITIAL_STREAM_WINDOW: u32 = 256 * 1024;
/// Default flow-control window of the whole connection: request body bytes buffered for
/// all its streams together.
pub const DEFAULT_INITIAL_CONNECTION_WINDOW: u32 = 1024 * 1024;
/// Default largest frame payload the server accepts (`SETTINGS_MAX_FRAME_SIZE`; the
/// protocol's minimum).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16 * 1024;
/// Default time a connection with no open stream stays open before a `GOAWAY` closes it.
pub const DEFAULT_H2_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest flow-control window HTTP/2 allows (2^31 − 1).
const MAX_WINDOW: u32 = (1 << 31) - 1;
/// The largest frame size HTTP/2 allows (2^24 − 1).
const MAX_FRAME: u32 = (1 << 24) - 1;
/// The smallest frame size HTTP/2 allows.
const MIN_FRAME: u32 = 1 << 14;

/// HTTP/2 settings: set with [`ServerConfig::h2`](crate::ServerConfig::h2), or from the
/// environment by [`ServerConfig::from_env`](crate::ServerConfig::from_env). See
/// `docs/http2.md` for how a connection gets to HTTP/2 and which floods are refused.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use keel_http::{H2Config, ServerConfig};
///
/// let h2 = H2Config::default()
///     .max_concurrent_streams(250)
///     .idle_timeout(Duration::from_secs(120));
/// let config = ServerConfig::default().h2(h2);
/// assert_eq!(config.get_h2().get_max_concurrent_streams(), 250);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H2Config {
    pub(crate) enabled: bool,
    pub(crate) max_concurrent_streams: u32,
    pub(crate) max_header_list_size: u32,
    pub(crate) initial_stream_window: u32,
    pub(crate) initial_connection_window: u32,
    pub(crate) max_frame_size: u32,
    pub(crate) idle_timeout: Duration,
}

impl Default for H2Config {
    fn default() -> H2Config {
        H2Config {
            enabled: true,
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
            max_header_list_size: DEFAULT_MAX_HEADER_LIST_SIZE,
            initial_stream_window: DEFAULT_INITIAL_STREAM_WINDOW,
            initial_connection_window: DEFAULT_INITIAL_CONNECTION_WINDOW,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            idle_timeout: DEFAULT_H2_IDLE_TIMEOUT,
        }
    }
}

impl H2Config {
    /// Defaults overridden by `KEEL_H2` (`on` or `off`), `KEEL_H2_MAX_CONCURRENT_STREAMS`
    /// (1 to 2^31−1), `KEEL_H2_MAX_HEADER_LIST_SIZE` (a size from 1KiB to 1MiB),
    /// `KEEL_H2_INITIAL_STREAM_WINDOW` and `KEEL_H2_INITIAL_CONNECTION_WINDOW` (sizes from
    /// 64KiB − 1 to 2GiB − 1), `KEEL_H2_MAX_FRAME_SIZE` (16KiB to 16MiB − 1) and
    /// `KEEL_H2_IDLE_TIMEOUT` (a duration above zero).
    ///
    /// # Errors
    ///
    /// The first variable with a bad value, named in the error.
    pub fn from_env() -> Result<H2Config, EnvError> {
        let mut c = H2Config::default();
        if let Some(on) = env::var("KEEL_H2", env::parse_switch)? {
            c.enabled = on;
        }
        if let Some(n) = env::var("KEEL_H2_MAX_CONCURRENT_STREAMS", env::parse_number::<u32>)? {
            c.max_concurrent_streams = within(
                "KEEL_H2_MAX_CONCURRENT_STREAMS",
                n.into(),
                1,
                MAX_WINDOW,
                "a number from 1 to 2147483647",
            )?;
        }
        if let Some(n) = env::var("KEEL_H2_MAX_HEADER_LIST_SIZE", env::parse_size)? {
            c.max_header_list_size = within(
                "KEEL_H2_MAX_HEADER_LIST_SIZE",
                n,
                1024,
                1 << 20,
                "a size from 1KiB to 1MiB",
            )?;
        }
        if let Some(n) = env::var("KEEL_H2_INITIAL_STREAM_WINDOW", env::parse_size)? {
            c.initial_stream_window = within(
                "KEEL_H2_INITIAL_STREAM_WINDOW",
                n,
                65_535,
                MAX_WINDOW,
                "a size from 65535 to 2147483647 bytes",
            )?;
        }
        if let Some(n) = env::var("KEEL_H2_INITIAL_CONNECTION_WINDOW", env::parse_size)? {
            c.initial_connection_window = within(
                "KEEL_H2_INITIAL_CONNECTION_WINDOW",
                n,
                65_535,
                MAX_WINDOW,
                "a size from 65535 to 2147483647 bytes",
            )?;
        }
        if let Some(n) = env::var("KEEL_H2_MAX_FRAME_SIZE", env::parse_size)? {
            c.max_frame_size = within(
                "KEEL_H2_MAX_FRAME_SIZE",
                n,
                MIN_FRAME,
                MAX_FRAME,
                "a size from 16KiB to 16777215 bytes",
            )?;
        }
        if let Some(d) = env::var("KEEL_H2_IDLE_TIMEOUT", env::parse_duration)? {
            if d.is_zero() {
                return Err(EnvError::new(
                    "KEEL_H2_IDLE_TIMEOUT",
                    "0",
                    "a duration above zero",
                ));
            }
            c.idle_timeout = d;
        }
        Ok(c)
    }

    /// Whether the server speaks HTTP/2: `h2` offered by ALPN on a TLS listener, and h2c
    /// with prior knowledge on a plaintext one. Off, both answer HTTP/1.1 only (a
    /// connection preface is answered `505`). # Default: on (env `KEEL_H2`).
    pub fn enabled(mut self, on: bool) -> H2Config {
        self.enabled = on;
        self
    }

    /// Streams a client may have open at once on one connection; more are refused
    /// (`REFUSED_STREAM`). # Default: 100 (env `KEEL_H2_MAX_CONCURRENT_STREAMS`).
    pub fn max_concurrent_streams(mut self, n: u32) -> H2Config {
        self.max_concurrent_streams = n.clamp(1, MAX_WINDOW);
        self
    }

    /// The largest decoded header list of a request (name + value + 32 bytes per field);
    /// a larger one is answered `431`. # Default: 16 KiB (env
    /// `KEEL_H2_MAX_HEADER_LIST_SIZE`).
    pub fn max_header_list_size(mut self, bytes: u32) -> H2Config {
        self.max_header_list_size = bytes.max(1024);
        self
    }

    /// Each stream's flow-control window: request body bytes a client may send before
    /// the handler reads them. # Default: 256 KiB (env `KEEL_H2_INITIAL_STREAM_WINDOW`).
    pub fn initial_stream_window(mut self, bytes: u32) -> H2Config {
        self.initial_stream_window = bytes.clamp(65_535, MAX_WINDOW);
        self
    }

    /// The connection's flow-control window: request body bytes buffered for all its
    /// streams together. # Default: 1 MiB (env `KEEL_H2_INITIAL_CONNECTION_WINDOW`).
    pub fn initial_connection_window(mut self, bytes: u32) -> H2Config {
        self.initial_connection_window = bytes.clamp(65_535, MAX_WINDOW);
        self
    }

    /// The largest frame payload the server accepts. # Default: 16 KiB (env
    /// `KEEL_H2_MAX_FRAME_SIZE`).
    pub fn max_frame_size(mut self, bytes: u32) -> H2Config {
        self.max_frame_size = bytes.clamp(MIN_FRAME, MAX_FRAME);
        self
    }

    /// How long a connection with no open stream stays open; then a `GOAWAY` closes it.
    /// # Default: 60 s (env `KEEL_H2_IDLE_TIMEOUT`).
    pub fn idle_timeout(mut self, timeout: Duration) -> H2Config {
        self.idle_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Whether the server speaks HTTP/2.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Streams a client may have open at once.
    pub fn get_max_concurrent_streams(&self) -> u32 {
        self.max_concurrent_streams
    }

    /// The largest decoded header list of a request.
    pub fn get_max_header_list_size(&self) -> u32 {
        self.max_header_list_size
    }

    /// Each stream's flow-control window.
    pub fn get_initial_stream_window(&self) -> u32 {
        self.initial_stream_window
    }

    /// The connection's flow-control window.
    pub fn get_initial_connection_window(&self) -> u32 {
        self.initial_connection_window
    }

    /// The largest frame payload the server accepts.
    pub fn get_max_frame_size(&self) -> u32 {
        self.max_frame_size
    }

    /// The idle timeout.
    pub fn get_idle_timeout(&self) -> Duration {
        self.idle_timeout
    }
}

/// `n` when within `min..=max`, else the error naming `name`.
fn within(name: &str, n: u64, min: u32, max: u32, expected: &'static str) -> Result<u32, EnvError> {
    if (u64::from(min)..=u64::from(max)).contains(&n) {
        Ok(n as u32)
    } else {
        Err(EnvError::new(name, &n.to_string(), expected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_keep_values_within_the_protocol() {
        let c = H2Config::default()
            .max_frame_size(1)
            .initial_stream_window(u32::MAX)
            .max_concurrent_streams(0);
        assert_eq!(c.get_max_frame_size(), MIN_FRAME);
        assert_eq!(c.get_initial_stream_window(), MAX_WINDOW);
        assert_eq!(c.get_max_concurrent_streams(), 1);
    }

    #[test]
    fn ranges_name_the_variable() {
        let e = within("KEEL_H2_MAX_FRAME_SIZE", 10, MIN_FRAME, MAX_FRAME, "x").unwrap_err();
        assert_eq!(e.name(), "KEEL_H2_MAX_FRAME_SIZE");
        assert_eq!(within("X", 16384, MIN_FRAME, MAX_FRAME, "x"), Ok(16384));
    }
}
