//! Switching protocols on an HTTP/1.1 connection: a response that carries an
//! [`OnUpgrade`] (a WebSocket handshake's `101`) is encoded like any other, ends the
//! HTTP/1.1 exchange loop, and once the `101` is written the connection's byte stream,
//! with the bytes already read past the request, goes to the continuation
//! ([`Conn::hand_over`]). The connection keeps its slot (and the drain waits for it)
//! until the continuation ends.
//!
//! The only cost on the HTTP/1.1 path is one test of a response field
//! ([`Response::is_upgrade`]) per request.

use std::rc::Rc;

use super::Conn;
use super::keep_alive::{After, KeepAlive};
use crate::lifecycle::LocalDrain;
use crate::proto::Version;
use crate::response::Response;
use crate::server::LoopServer;
use crate::server::transport::Transport;
use crate::status::StatusCode;
use crate::upgrade::{OnUpgrade, UpgradeHost, Upgraded};

impl<S: Transport> Conn<S> {
    /// Encodes a response that carries a continuation: a `101` on HTTP/1.1 keeps it for
    /// [`hand_over`](Self::hand_over); anything else (a middleware replaced the status)
    /// is answered as usual, without switching, and the connection closes.
    #[cold]
    pub(super) fn switch_protocols(&mut self, mut response: Response, version: Version) -> After {
        let on_upgrade = response.take_upgrade();
        let status = response.status();
        let switching = status == StatusCode::SWITCHING_PROTOCOLS && version == Version::Http11;
        // A `101` carries its own `Connection: upgrade`; the encoder adds no `close`.
        let keep_alive = if switching {
            KeepAlive::SWITCHING
        } else {
            KeepAlive::CLOSE
        };
        let (_, bytes, stream) = self.encode(response, false, version, keep_alive, None);
        // A streamed body here would be a handler's mistake: not written, the
        // connection closes.
        drop(stream);
        self.exchange.finish(status.as_u16(), bytes);
        if switching {
            self.upgrade = on_upgrade.map(Box::new);
        }
        After::Close
    }
}

impl<S: Transport + 'static> Conn<S> {
    /// Runs the continuation over the connection's stream, once its `101` is written.
    pub(super) async fn hand_over(self, on_upgrade: OnUpgrade) {
        let Conn {
            stream,
            peer: _,
            rbuf,
            start,
            wbuf,
            head,
            idle_timer,
            exchange,
            server,
            upgrade: _,
        } = self;
        let leftover = rbuf[start..].to_vec();
        // The HTTP/1.1 state goes now, not when the socket closes: its buffers, its
        // keep-alive timer, the exchange.
        drop((rbuf, wbuf, head, idle_timer, exchange));
        let host: Rc<dyn UpgradeHost> = server;
        let upgraded = Upgraded {
            stream: Box::new(stream),
            leftover,
            host,
        };
        on_upgrade.run(upgraded).await;
    }
}

impl UpgradeHost for LoopServer {
    fn drain(&self) -> &LocalDrain {
        &self.drain
    }
}
