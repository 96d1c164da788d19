//! [`WebSocket`]: the handler's side of an upgraded connection — messages received as a
//! [`Stream`] (or [`recv`](WebSocket::recv)), sent through a [`Sink`] (or
//! [`send`](WebSocket::send)), and [`split`](WebSocket::split) into a
//! [`WsSender`] and a [`WsReceiver`] for tasks that read and write apart.
//!
//! The handles only touch queues shared with the connection's driver
//! (the `driver` module), on the same loop: every operation is cancel-safe (a `recv` in a
//! `select` loses nothing), and keep-alive, the close handshake and the drain go on
//! whatever the handler is awaiting.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use futures_sink::Sink;

use super::message::{CloseFrame, Message, WsError, close_code};

/// The queues between the handles and the driver, and their wakers.
#[derive(Default)]
pub(crate) struct Shared {
    /// Messages (and at most one error) read, waiting for the handler.
    pub(crate) incoming: VecDeque<Result<Message, WsError>>,
    /// Messages the handler sent, waiting for the driver.
    pub(crate) outgoing: VecDeque<Message>,
    pub(crate) outgoing_bytes: usize,
    /// A close the handler asked for (or the end of its handles: 1000).
    pub(crate) close_request: Option<CloseFrame>,
    /// The driver is done: nothing more arrives, nothing more is sent.
    pub(crate) closed: bool,
    /// Handles alive; at zero the driver closes the socket (1000).
    pub(crate) handles: usize,
    pub(crate) recv_waker: Option<Waker>,
    pub(crate) send_waker: Option<Waker>,
    pub(crate) driver_waker: Option<Waker>,
    /// The most bytes queued before `send` waits.
    pub(crate) send_queue: usize,
}

impl Shared {
    pub(crate) fn wake_driver(&mut self) {
        if let Some(waker) = self.driver_waker.take() {
            waker.wake();
        }
    }

    pub(crate) fn wake_handles(&mut self) {
        if let Some(waker) = self.recv_waker.take() {
            waker.wake();
        }
        if let Some(waker) = self.send_waker.take() {
            waker.wake();
        }
    }

    fn sending_stopped(&self) -> bool {
        self.closed || self.close_request.is_some()
    }
}

/// One handle's share of the socket.
struct Handle(Rc<RefCell<Shared>>);

impl Handle {
    fn new(shared: Rc<RefCell<Shared>>) -> Handle {
        shared.borrow_mut().handles += 1;
        Handle(shared)
    }

    fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, WsError>>> {
        let mut shared = self.0.borrow_mut();
        if let Some(message) = shared.incoming.pop_front() {
            // Room again: the driver may read on.
            shared.wake_driver();
            return Poll::Ready(Some(message));
        }
        if shared.closed {
            return Poll::Ready(None);
        }
        shared.recv_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        let mut shared = self.0.borrow_mut();
        if shared.sending_stopped() {
            return Poll::Ready(Err(WsError::Closed));
        }
        if shared.outgoing_bytes >= shared.send_queue {
            shared.send_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(&self, message: Message) -> Result<(), WsError> {
        let mut shared = self.0.borrow_mut();
        if shared.sending_stopped() {
            return Err(WsError::Closed);
        }
        if let Message::Close(frame) = message {
            shared.close_request =
                Some(frame.unwrap_or_else(|| CloseFrame::new(close_code::NORMAL, "")));
        } else {
            shared.outgoing_bytes += message.len();
            shared.outgoing.push_back(message);
        }
        shared.wake_driver();
        Ok(())
    }

    /// Ready once everything queued was written (or the socket closed).
    fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        let mut shared = self.0.borrow_mut();
        if shared.outgoing.is_empty() || shared.closed {
            return Poll::Ready(Ok(()));
        }
        shared.send_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Asks for a close with `frame` (unless one was asked for already); ready once the
    /// close handshake is over.
    fn poll_close(&self, cx: &mut Context<'_>, frame: &mut Option<CloseFrame>) -> Poll<()> {
        let mut shared = self.0.borrow_mut();
        if shared.closed {
            return Poll::Ready(());
        }
        if let Some(frame) = frame.take()
            && shared.close_request.is_none()
        {
            shared.close_request = Some(frame);
            shared.wake_driver();
        }
        shared.send_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    async fn close(&self, frame: CloseFrame) {
        let mut frame = Some(frame);
        std::future::poll_fn(|cx| self.poll_close(cx, &mut frame)).await;
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let mut shared = self.0.borrow_mut();
        shared.handles -= 1;
        if shared.handles == 0 {
            shared.wake_driver();
        }
    }
}

/// An open WebSocket, given to the callback of
/// [`WebSocketUpgrade::on_upgrade`](super::WebSocketUpgrade::on_upgrade). It lives on
/// the connection's loop (`!Send`).
///
/// Receiving: [`recv`](WebSocket::recv), or the [`Stream`] of messages; `None` once the
/// socket closed. Sending: [`send`](WebSocket::send), or the [`Sink`]; a send queues the
/// message and waits only while the queue is full. When every handle is dropped the
/// socket closes with 1000 (the handler is done); on a server shutdown it closes with
/// 1001 and the drain waits for it.
///
/// # Examples
///
/// ```
/// use keel_http::ws::{Message, WebSocket, WebSocketUpgrade};
/// use keel_http::{Response, Router};
///
/// async fn echo(ws: WebSocketUpgrade) -> Response {
///     ws.on_upgrade(|mut socket: WebSocket| async move {
///         while let Some(Ok(message)) = socket.recv().await {
///             if matches!(message, Message::Close(_)) || socket.send(message).await.is_err() {
///                 break;
///             }
///         }
///     })
/// }
/// let router = Router::new().get("/ws", echo);
/// # let _ = router;
/// ```
pub struct WebSocket {
    handle: Handle,
    protocol: Option<String>,
}

impl WebSocket {
    pub(crate) fn new(shared: Rc<RefCell<Shared>>, protocol: Option<String>) -> WebSocket {
        WebSocket {
            handle: Handle::new(shared),
            protocol,
        }
    }

    /// The next message: `Text` or `Binary`, or the peer's `Close` (then `None`). An
    /// error (a protocol violation, a message over the limit) comes once, then `None`.
    /// Cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<Message, WsError>> {
        std::future::poll_fn(|cx| self.handle.poll_recv(cx)).await
    }

    /// Queues `message` (waiting while the send queue is full). A `Close` message closes
    /// the socket with its code; [`WsError::Closed`] once the socket is closing.
    ///
    /// # Errors
    ///
    /// [`WsError::Closed`] when the socket is closed or closing.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), WsError> {
        std::future::poll_fn(|cx| self.handle.poll_ready(cx)).await?;
        self.handle.start_send(message.into())
    }

    /// Closes with `code` and `reason` and waits (within the close timeout) for the
    /// peer's answer.
    pub async fn close(self, code: u16, reason: &str) {
        self.handle.close(CloseFrame::new(code, reason)).await;
    }

    /// The subprotocol chosen in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Splits into a sending and a receiving half, for a handler that reads and writes
    /// from different tasks or branches of a `select`.
    pub fn split(self) -> (WsSender, WsReceiver) {
        let shared = self.handle.0.clone();
        (
            WsSender {
                handle: Handle::new(shared.clone()),
            },
            WsReceiver {
                handle: Handle::new(shared),
            },
        )
    }
}

impl fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl Stream for WebSocket {
    type Item = Result<Message, WsError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.handle.poll_recv(cx)
    }
}

impl Sink<Message> for WebSocket {
    type Error = WsError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        self.handle.poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), WsError> {
        self.handle.start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        self.handle.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        let mut frame = Some(CloseFrame::new(close_code::NORMAL, ""));
        self.handle.poll_close(cx, &mut frame).map(Ok)
    }
}

/// The sending half of a [`WebSocket`] ([`WebSocket::split`]).
pub struct WsSender {
    handle: Handle,
}

impl WsSender {
    /// As [`WebSocket::send`].
    ///
    /// # Errors
    ///
    /// [`WsError::Closed`] when the socket is closed or closing.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), WsError> {
        std::future::poll_fn(|cx| self.handle.poll_ready(cx)).await?;
        self.handle.start_send(message.into())
    }

    /// As [`WebSocket::close`].
    pub async fn close(self, code: u16, reason: &str) {
        self.handle.close(CloseFrame::new(code, reason)).await;
    }
}

impl fmt::Debug for WsSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WsSender")
    }
}

impl Sink<Message> for WsSender {
    type Error = WsError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        self.handle.poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), WsError> {
        self.handle.start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        self.handle.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        let mut frame = Some(CloseFrame::new(close_code::NORMAL, ""));
        self.handle.poll_close(cx, &mut frame).map(Ok)
    }
}

/// The receiving half of a [`WebSocket`] ([`WebSocket::split`]).
pub struct WsReceiver {
    handle: Handle,
}

impl WsReceiver {
    /// As [`WebSocket::recv`]. Cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<Message, WsError>> {
        std::future::poll_fn(|cx| self.handle.poll_recv(cx)).await
    }
}

impl fmt::Debug for WsReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WsReceiver")
    }
}

impl Stream for WsReceiver {
    type Item = Result<Message, WsError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.handle.poll_recv(cx)
    }
}
