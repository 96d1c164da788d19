//! [`Settings`]: one WebSocket's limits and timers, set through
//! [`WebSocketUpgrade`](super::WebSocketUpgrade)'s builder methods, with their defaults.

use std::time::Duration;

/// Default largest message (after reassembling its frames): 1 MiB, like the default
/// request body limit.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 1024 * 1024;
/// Default largest frame: 1 MiB.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 1024 * 1024;
/// Default keep-alive: a ping after this long without hearing from the peer.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(30);
/// Default idle timeout: closed (1001) after this long without a frame from the peer.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default wait for the peer's answer to a close frame.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// One WebSocket's settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) max_message_size: usize,
    pub(crate) max_frame_size: usize,
    /// Zero: no keep-alive pings.
    pub(crate) ping_interval: Duration,
    /// Zero: no idle timeout.
    pub(crate) idle_timeout: Duration,
    pub(crate) close_timeout: Duration,
    /// Messages read ahead of the handler; past it the socket is not read (backpressure).
    pub(crate) read_ahead: usize,
    /// Bytes queued for sending before `send` waits.
    pub(crate) send_queue: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            ping_interval: DEFAULT_PING_INTERVAL,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            read_ahead: 16,
            send_queue: 256 * 1024,
        }
    }
}

impl Settings {
    /// How long one write may wait for a peer that does not read.
    pub(crate) fn write_timeout(&self) -> Duration {
        if self.idle_timeout.is_zero() {
            DEFAULT_IDLE_TIMEOUT
        } else {
            self.idle_timeout
        }
    }

    /// tungstenite's configuration: the size limits, and buffers sized for writes into
    /// memory (Keel writes them out).
    pub(crate) fn tungstenite(&self) -> tungstenite::protocol::WebSocketConfig {
        tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(self.max_message_size))
            .max_frame_size(Some(self.max_frame_size))
            .read_buffer_size(16 * 1024)
            .write_buffer_size(0)
    }
}
