//! What travels on a WebSocket: [`Message`] (text, binary, ping, pong, close),
//! [`CloseFrame`] and the [`close_code`]s Keel sends, and [`WsError`].

use std::fmt;

use tungstenite::protocol::CloseFrame as RawCloseFrame;
use tungstenite::protocol::frame::coding::CloseCode as RawCloseCode;

/// The close codes of RFC 6455 §7.4.1 that Keel sends (any code 1000–4999 a peer sends
/// is passed on as received).
pub mod close_code {
    /// 1000: the purpose of the connection was fulfilled (a handler that returned).
    pub const NORMAL: u16 = 1000;
    /// 1001: the server is going away (shutdown) or the peer went idle.
    pub const GOING_AWAY: u16 = 1001;
    /// 1002: the peer broke the protocol (an unmasked frame, a bad opcode, …).
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// 1003: a kind of data the endpoint does not accept.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// 1007: a text message that is not UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// 1008: a message that breaks the application's policy.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// 1009: a message or frame over the configured size limit.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// 1011: the handler failed (it panicked).
    pub const INTERNAL_ERROR: u16 = 1011;
}

/// The code and reason of a close frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code ([`close_code`]).
    pub code: u16,
    /// Why, in at most 123 bytes of UTF-8 (longer reasons are cut on a character
    /// boundary when sent).
    pub reason: String,
}

impl CloseFrame {
    /// A close frame with `code` and `reason`.
    pub fn new(code: u16, reason: impl Into<String>) -> CloseFrame {
        CloseFrame {
            code,
            reason: reason.into(),
        }
    }

    pub(crate) fn into_raw(self) -> RawCloseFrame {
        let mut reason = self.reason;
        // A control frame's payload is at most 125 bytes: two for the code.
        if reason.len() > 123 {
            let mut end = 123;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        RawCloseFrame {
            code: RawCloseCode::from(self.code),
            reason: reason.into(),
        }
    }

    pub(crate) fn from_raw(raw: RawCloseFrame) -> CloseFrame {
        CloseFrame {
            code: raw.code.into(),
            reason: raw.reason.as_str().to_owned(),
        }
    }
}

/// A WebSocket message.
///
/// Pings from the peer are answered by Keel and pongs consumed by its keep-alive: a
/// handler receives only `Text`, `Binary` and, last, the peer's `Close`. It may send
/// `Ping`s of its own (their pongs are not delivered either).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A UTF-8 text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A ping (at most 125 bytes).
    Ping(Vec<u8>),
    /// A pong (at most 125 bytes).
    Pong(Vec<u8>),
    /// A close frame: received, the peer closes (Keel answers it); sent, the handler
    /// closes with this code (no more messages may be sent after it).
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Message {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(bytes: impl Into<Vec<u8>>) -> Message {
        Message::Binary(bytes.into())
    }

    /// The payload's length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Message::Text(t) => t.len(),
            Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b.len(),
            Message::Close(frame) => frame.as_ref().map_or(0, |f| 2 + f.reason.len()),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text of a `Text` message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(t) => Some(t),
            _ => None,
        }
    }

    pub(crate) fn into_raw(self) -> tungstenite::Message {
        match self {
            Message::Text(t) => tungstenite::Message::Text(t.into()),
            Message::Binary(b) => tungstenite::Message::Binary(b.into()),
            Message::Ping(b) => tungstenite::Message::Ping(b.into()),
            Message::Pong(b) => tungstenite::Message::Pong(b.into()),
            Message::Close(frame) => tungstenite::Message::Close(frame.map(CloseFrame::into_raw)),
        }
    }

    /// The message a handler sees for `raw`; `None` for pings, pongs and raw frames.
    pub(crate) fn from_raw(raw: tungstenite::Message) -> Option<Message> {
        match raw {
            tungstenite::Message::Text(t) => Some(Message::Text(t.as_str().to_owned())),
            tungstenite::Message::Binary(b) => Some(Message::Binary(b.into())),
            tungstenite::Message::Close(frame) => {
                Some(Message::Close(frame.map(CloseFrame::from_raw)))
            }
            tungstenite::Message::Ping(_)
            | tungstenite::Message::Pong(_)
            | tungstenite::Message::Frame(_) => None,
        }
    }
}

impl From<String> for Message {
    fn from(text: String) -> Message {
        Message::Text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Message {
        Message::Text(text.to_owned())
    }
}

impl From<Vec<u8>> for Message {
    fn from(bytes: Vec<u8>) -> Message {
        Message::Binary(bytes)
    }
}

/// Why a WebSocket operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum WsError {
    /// The socket is closed (or closing): nothing more can be sent.
    Closed,
    /// The peer broke RFC 6455; the socket was closed with `code` (1002, 1007 or 1009).
    Protocol {
        /// The close code sent to the peer.
        code: u16,
        /// What the peer did.
        message: String,
    },
    /// The connection failed.
    Io(std::io::Error),
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WsError::Closed => f.write_str("the WebSocket is closed"),
            WsError::Protocol { code, message } => {
                write!(
                    f,
                    "WebSocket protocol error (closed with {code}): {message}"
                )
            }
            WsError::Io(e) => write!(f, "WebSocket I/O error: {e}"),
        }
    }
}

impl std::error::Error for WsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WsError::Io(e) => Some(e),
            _ => None,
        }
    }
}
