//! WebSocket (RFC 6455) over HTTP/1.1's `Upgrade`, plaintext or TLS: the
//! [`WebSocketUpgrade`] extractor accepts the handshake, and the handler's callback gets
//! an open [`WebSocket`] — a [`Stream`](futures_core::Stream) of [`Message`]s and a
//! [`Sink`](futures_sink::Sink) for them — on the connection's own loop.
//!
//! The handshake request goes through the server's one dispatch like any request
//! (middleware, metrics, access log: a `101`); the response carries the continuation
//! (`upgrade.rs`) the HTTP/1.1 connection runs once the `101` is written.
//!
//! * [`upgrade`]: the extractor, the handshake, and the socket's task (the handler's
//!   callback beside the driver);
//! * [`socket`]: [`WebSocket`], [`WsSender`], [`WsReceiver`] — the handler's queues;
//! * `driver`: the protocol on the byte stream (tungstenite's sans-I/O
//!   `WebSocketContext` over `buffers`), keep-alive, idle timeout, close handshake,
//!   limits, drain;
//! * [`message`]: [`Message`], [`CloseFrame`], [`close_code`], [`WsError`];
//! * `settings`: limits and timers; `metrics`: `keel_websockets_open`,
//!   `keel_websocket_messages_total`.
//!
//! # Settings
//!
//! | setting | default | |
//! |---|---|---|
//! | [`max_message_size`](WebSocketUpgrade::max_message_size) | 1 MiB | 1009 past it |
//! | [`max_frame_size`](WebSocketUpgrade::max_frame_size) | 1 MiB | 1009 past it |
//! | [`ping_interval`](WebSocketUpgrade::ping_interval) | 30 s | a ping to a quiet peer |
//! | [`idle_timeout`](WebSocketUpgrade::idle_timeout) | 60 s | 1001 after this long without a frame |
//! | [`close_timeout`](WebSocketUpgrade::close_timeout) | 5 s | the wait for the peer's close |
//! | [`read_ahead`](WebSocketUpgrade::read_ahead) | 16 messages | backpressure on reads |
//! | [`send_queue`](WebSocketUpgrade::send_queue) | 256 KiB | backpressure on sends |
//!
//! # Shutdown
//!
//! When the server drains, every open socket gets a close frame with 1001 ("going
//! away"); the connection counts as open until the peer answered (or the close timeout
//! passed) and the handler's callback returned, and the drain waits for it within
//! `KEEL_SHUTDOWN_TIMEOUT`.
//!
//! See `docs/websocket.md` for a guide, and `examples/websocket_echo.rs`.

mod buffers;
pub(crate) mod driver;
pub mod message;
mod metrics;
pub(crate) mod settings;
pub mod socket;
pub mod upgrade;

pub use self::message::{CloseFrame, Message, WsError, close_code};
pub(crate) use self::metrics::register as register_metrics;
pub use self::settings::{
    DEFAULT_CLOSE_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_PING_INTERVAL,
};
pub use self::socket::{WebSocket, WsReceiver, WsSender};
pub use self::upgrade::WebSocketUpgrade;
