//! [`WebSocketUpgrade`]: the extractor that checks a WebSocket handshake request
//! (RFC 6455 §4.2.1) and answers it with a `101` whose continuation runs the handler's
//! callback on the open socket, beside the driver, on the connection's task.

use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use keel_runtime::future::CatchPanic;
use keel_runtime::task_context;
use sha1::{Digest, Sha1};

use super::driver;
use super::message::{CloseFrame, close_code};
use super::settings::Settings;
use super::socket::{Shared, WebSocket};
use crate::error::AppError;
use crate::extract::FromRequestParts;
use crate::proto::{Method, Version};
use crate::request::Request;
use crate::response::Response;
use crate::status::StatusCode;
use crate::upgrade::{OnUpgrade, Upgraded};

/// The GUID RFC 6455 appends to the client's key.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A WebSocket handshake request, checked; [`on_upgrade`](Self::on_upgrade) accepts it.
///
/// As an extractor it refuses what is not a valid handshake before the handler runs: a
/// method other than `GET` (405), HTTP/1.0 (426), a missing `Upgrade: websocket` or
/// `Connection: upgrade` (426), a `Sec-WebSocket-Version` other than 13 (426), a
/// `Sec-WebSocket-Key` that is not 16 bytes in base64 (400).
///
/// The builder methods set the socket's limits and timers (defaults in
/// [`settings`](super#settings)). `permessage-deflate` is not offered: a client asking
/// for it gets uncompressed messages (RFC 6455 §9.1 lets the server decline).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use keel_http::ws::{Message, WebSocketUpgrade};
/// use keel_http::Response;
///
/// async fn chat(ws: WebSocketUpgrade) -> Response {
///     ws.protocols(["chat.v1"])
///         .max_message_size(64 * 1024)
///         .idle_timeout(Duration::from_secs(120))
///         .on_upgrade(|mut socket| async move {
///             let _ = socket.send(Message::text("welcome")).await;
///         })
/// }
/// # let _ = keel_http::Router::new().get("/chat", chat);
/// ```
#[derive(Debug)]
pub struct WebSocketUpgrade {
    accept: String,
    /// The subprotocols the client offered, in its order of preference.
    offered: Vec<String>,
    protocol: Option<String>,
    settings: Settings,
}

impl FromRequestParts for WebSocketUpgrade {
    fn from_request_parts(req: &Request) -> Result<Self, AppError> {
        if *req.method() != Method::Get {
            return Err(refusal(
                StatusCode::METHOD_NOT_ALLOWED,
                "a WebSocket handshake is a GET request",
            ));
        }
        if req.version() != Version::Http11 {
            return Err(refusal(
                StatusCode::UPGRADE_REQUIRED,
                "a WebSocket handshake needs HTTP/1.1",
            ));
        }
        if !has_token(req, "upgrade", "websocket") || !has_token(req, "connection", "upgrade") {
            return Err(refusal(
                StatusCode::UPGRADE_REQUIRED,
                "this endpoint speaks WebSocket: Upgrade: websocket and Connection: upgrade are required",
            ));
        }
        if req.header("sec-websocket-version").map(str::trim) != Some("13") {
            return Err(refusal(
                StatusCode::UPGRADE_REQUIRED,
                "Sec-WebSocket-Version 13 is the only version supported",
            ));
        }
        let key = req
            .header("sec-websocket-key")
            .map(str::trim)
            .filter(|key| BASE64.decode(key).is_ok_and(|k| k.len() == 16))
            .ok_or_else(|| {
                AppError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_websocket_key",
                    "Sec-WebSocket-Key must be 16 bytes in base64",
                )
            })?;
        let offered = req
            .headers()
            .filter(|(name, _)| name.eq_ignore_ascii_case("sec-websocket-protocol"))
            .filter_map(|(_, value)| std::str::from_utf8(value).ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(WebSocketUpgrade {
            accept: accept_key(key),
            offered,
            protocol: None,
            settings: Settings::default(),
        })
    }
}

impl WebSocketUpgrade {
    /// The subprotocols the server speaks, in its order of preference: the first the
    /// client also offered is chosen and answered in `Sec-WebSocket-Protocol`
    /// ([`WebSocket::protocol`]). None in common: no protocol is answered (the client
    /// decides whether to go on).
    pub fn protocols<I, P>(mut self, protocols: I) -> WebSocketUpgrade
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        self.protocol = protocols
            .into_iter()
            .find(|p| self.offered.iter().any(|o| o == p.as_ref()))
            .map(|p| p.as_ref().to_owned());
        self
    }

    /// The subprotocol chosen by [`protocols`](Self::protocols), if any.
    pub fn selected_protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The subprotocols the client offered.
    pub fn offered_protocols(&self) -> &[String] {
        &self.offered
    }

    /// The largest message, after reassembling its frames (1009 past it). # Default:
    /// 1 MiB.
    pub fn max_message_size(mut self, bytes: usize) -> WebSocketUpgrade {
        self.settings.max_message_size = bytes;
        self
    }

    /// The largest frame (1009 past it). # Default: 1 MiB.
    pub fn max_frame_size(mut self, bytes: usize) -> WebSocketUpgrade {
        self.settings.max_frame_size = bytes;
        self
    }

    /// A ping after this long without a frame from the peer; zero: none. # Default: 30 s.
    pub fn ping_interval(mut self, interval: Duration) -> WebSocketUpgrade {
        self.settings.ping_interval = interval;
        self
    }

    /// Closed (1001) after this long without a frame from the peer (pongs count); zero:
    /// never. # Default: 60 s.
    pub fn idle_timeout(mut self, timeout: Duration) -> WebSocketUpgrade {
        self.settings.idle_timeout = timeout;
        self
    }

    /// How long a close frame we sent waits for the peer's answer before the
    /// connection closes anyway. # Default: 5 s.
    pub fn close_timeout(mut self, timeout: Duration) -> WebSocketUpgrade {
        self.settings.close_timeout = timeout;
        self
    }

    /// Messages read ahead of the handler (past it, the socket is not read until the
    /// handler receives: backpressure). # Default: 16.
    pub fn read_ahead(mut self, messages: usize) -> WebSocketUpgrade {
        self.settings.read_ahead = messages.max(1);
        self
    }

    /// Bytes queued by `send` before it waits for the peer to read. # Default: 256 KiB.
    pub fn send_queue(mut self, bytes: usize) -> WebSocketUpgrade {
        self.settings.send_queue = bytes.max(1);
        self
    }

    /// Accepts the handshake: the `101` response, whose connection then runs `callback`
    /// with the open socket (on the connection's loop, under the request's context:
    /// its request id is in the logs of whatever it does). The connection stays open
    /// until `callback`'s future ends and the socket closed; a panic in it closes the
    /// socket with 1011.
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(WebSocket) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let WebSocketUpgrade {
            accept,
            protocol,
            settings,
            ..
        } = self;
        let mut response = Response::new(StatusCode::SWITCHING_PROTOCOLS)
            .with_header("upgrade", "websocket")
            .with_header("connection", "upgrade")
            .with_header("sec-websocket-accept", accept);
        if let Some(protocol) = &protocol {
            response = response.with_header("sec-websocket-protocol", protocol.clone());
        }
        let context = task_context::current();
        response.set_upgrade(OnUpgrade::new(move |upgraded: Upgraded| {
            run(upgraded, settings, protocol, context, callback)
        }));
        response
    }
}

/// The open socket: the driver and the handler's callback, side by side, until both
/// are done.
async fn run<F, Fut>(
    upgraded: Upgraded,
    settings: Settings,
    protocol: Option<String>,
    context: Option<task_context::Context>,
    callback: F,
) where
    F: FnOnce(WebSocket) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let shared = Rc::new(RefCell::new(Shared {
        send_queue: settings.send_queue,
        ..Shared::default()
    }));
    let socket = WebSocket::new(shared.clone(), protocol);
    let handler = CatchPanic::new(async move { callback(socket).await });
    let handler = async {
        let outcome = match context {
            Some(context) => task_context::scope(context, handler).await,
            None => handler.await,
        };
        if let Err(panic) = outcome {
            tracing::error!(panic = %panic, "WebSocket handler panicked; closing with 1011");
            let mut shared = shared.borrow_mut();
            shared
                .close_request
                .get_or_insert_with(|| CloseFrame::new(close_code::INTERNAL_ERROR, ""));
            shared.wake_driver();
        }
    };
    let driver = driver::run(upgraded, driver::Role::Server, settings, shared.clone());
    both(handler, driver).await;
}

/// Runs `a` and `b` to their ends on this task.
async fn both(a: impl Future<Output = ()>, b: impl Future<Output = ()>) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut a_done, mut b_done) = (false, false);
    std::future::poll_fn(|cx| {
        if !a_done {
            a_done = a.as_mut().poll(cx).is_ready();
        }
        if !b_done {
            b_done = b.as_mut().poll(cx).is_ready();
        }
        if a_done && b_done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}

fn refusal(status: StatusCode, message: &'static str) -> AppError {
    AppError::new(status, "websocket_handshake", message)
}

/// Whether header `name` lists `token` (comma-separated, case-insensitive).
fn has_token(req: &Request, name: &str, token: &str) -> bool {
    req.headers()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .filter_map(|(_, value)| std::str::from_utf8(value).ok())
        .flat_map(|value| value.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// `Sec-WebSocket-Accept` for the client's `key`: base64(SHA-1(key + GUID)).
pub(crate) fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(ACCEPT_GUID);
    BASE64.encode(sha.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_example_key() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
