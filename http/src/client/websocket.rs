//! [`Client::websocket`]: the client's side of a WebSocket — the handshake (a `GET` with
//! `Upgrade: websocket` and a random key, the `101` and its `Sec-WebSocket-Accept`
//! checked), then the same [`WebSocket`] handle and driver as the server's, in the
//! client's role (its frames masked), driven by a task on the caller's loop.

use std::io;
use std::rc::Rc;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use keel_runtime::time::timeout_at;

use super::Client;
use super::connection::Connection;
use super::error::{ClientError, TimeoutPhase};
use super::stream::Stream;
use super::url::{Scheme, Url};
use crate::lifecycle::LocalDrain;
use crate::upgrade::{LocalFuture, UpgradeHost, Upgraded, UpgradedStream};
use crate::ws::driver::{self, Role};
use crate::ws::settings::Settings;
use crate::ws::socket::{Shared, WebSocket};
use crate::ws::upgrade::accept_key;

impl Client {
    /// Opens a WebSocket to `url` (`ws://`, `wss://`, or the `http`/`https` forms) on a
    /// new connection (never a pooled one), offering `protocols` (may be empty). The
    /// handshake runs within the connect and request timeouts; the socket then lives on
    /// the calling loop (a task drives it: keep-alive pings every 30 s, closed after 60 s
    /// without a frame, limits of 1 MiB, as the server's defaults), until it is closed or
    /// every handle dropped.
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidUrl`], [`ClientError::Connect`], [`ClientError::Tls`],
    /// [`ClientError::Timeout`]; [`ClientError::InvalidResponse`] when the server did not
    /// answer `101` with the right `Sec-WebSocket-Accept` (its status is in the message).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use keel_http::client::Client;
    /// use keel_http::ws::Message;
    ///
    /// # keel_runtime::block_on(async {
    /// let client = Client::new();
    /// let mut socket = client.websocket("ws://127.0.0.1:3000/ws", &[]).await?;
    /// socket.send(Message::text("hello")).await?;
    /// let echo = socket.recv().await;
    /// println!("{echo:?}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn websocket(&self, url: &str, protocols: &[&str]) -> Result<WebSocket, ClientError> {
        let url = Url::parse(&http_form(url))?;
        let inner = &self.inner;
        let tls = match url.scheme {
            Scheme::Http => None,
            Scheme::Https => Some(inner.tls.as_ref().map_err(|reason| ClientError::Tls {
                host: url.host.clone(),
                reason: reason.clone(),
            })?),
        };
        let config = &inner.config;
        let connect = Instant::now() + config.connect_timeout;
        let mut conn = timeout_at(connect, Connection::connect(&url.host, url.port, tls))
            .await
            .map_err(|_| ClientError::Timeout(TimeoutPhase::Connect))??;
        let key = BASE64.encode(rand::random::<[u8; 16]>());
        let mut request = format!(
            "GET {} HTTP/1.1\r\nhost: {}\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-key: {key}\r\nsec-websocket-version: 13\r\n",
            url.target, url.authority
        );
        if !protocols.is_empty() {
            request.push_str(&format!(
                "sec-websocket-protocol: {}\r\n",
                protocols.join(", ")
            ));
        }
        request.push_str("\r\n");
        if request.contains(|c: char| c.is_ascii_control() && c != '\r' && c != '\n') {
            return Err(ClientError::InvalidRequest(
                "control characters in the WebSocket handshake".into(),
            ));
        }
        let deadline = Instant::now() + config.request_timeout;
        let exchange = async {
            conn.write_all(request.as_bytes()).await?;
            conn.read_head(config.max_head_size, config.max_headers, false, true)
                .await
        };
        let head = timeout_at(deadline, exchange)
            .await
            .map_err(|_| ClientError::Timeout(TimeoutPhase::Request))??;
        let header = |name: &str| {
            head.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| std::str::from_utf8(v).ok())
                .map(str::trim)
        };
        let refused = |why: String| ClientError::InvalidResponse(why);
        if head.status != 101 {
            return Err(refused(format!(
                "the server answered {} to a WebSocket handshake",
                head.status
            )));
        }
        if !header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
            return Err(refused("a 101 without Upgrade: websocket".into()));
        }
        if header("sec-websocket-accept") != Some(accept_key(&key).as_str()) {
            return Err(refused("a wrong Sec-WebSocket-Accept".into()));
        }
        let protocol = header("sec-websocket-protocol").map(str::to_owned);
        if let Some(chosen) = &protocol
            && !protocols.contains(&chosen.as_str())
        {
            return Err(refused(format!("a subprotocol not offered: {chosen}")));
        }
        if header("sec-websocket-extensions").is_some() {
            return Err(refused("an extension not offered".into()));
        }
        let (stream, leftover) = conn.into_parts();
        let settings = Settings::default();
        let shared = Rc::new(std::cell::RefCell::new(Shared {
            send_queue: settings.send_queue,
            ..Shared::default()
        }));
        let socket = WebSocket::new(shared.clone(), protocol);
        let upgraded = Upgraded {
            stream: Box::new(ClientStream(stream)),
            leftover,
            host: Rc::new(NeverDrains::default()),
        };
        keel_runtime::spawn_local(driver::run(upgraded, Role::Client, settings, shared));
        Ok(socket)
    }
}

/// `ws://` and `wss://` as the `http://` and `https://` the URL parser knows.
fn http_form(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("ws") => format!("http://{rest}"),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("wss") => format!("https://{rest}"),
        _ => url.to_owned(),
    }
}

/// A client connection's stream, handed to the driver.
struct ClientStream(Stream);

impl UpgradedStream for ClientStream {
    fn read_buf<'a>(&'a mut self, buf: &'a mut Vec<u8>) -> LocalFuture<'a, io::Result<usize>> {
        Box::pin(self.0.read_buf(buf))
    }

    fn write_all<'a>(&'a mut self, buf: &'a [u8]) -> LocalFuture<'a, io::Result<()>> {
        Box::pin(self.0.write_all(buf))
    }

    fn close(&mut self) -> LocalFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// A client's socket is not part of a server's drain.
#[derive(Default)]
struct NeverDrains(LocalDrain);

impl UpgradeHost for NeverDrains {
    fn drain(&self) -> &LocalDrain {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_schemes_are_http_ones() {
        assert_eq!(http_form("ws://a:1/x"), "http://a:1/x");
        assert_eq!(http_form("WSS://a/x"), "https://a/x");
        assert_eq!(http_form("https://a/x"), "https://a/x");
    }
}
