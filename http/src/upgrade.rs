//! The hand-over of a connection to another protocol (HTTP/1.1 `Upgrade`, RFC 9110
//! §7.8): a [`Response`](crate::Response) may carry an [`OnUpgrade`], the continuation
//! the HTTP/1.1 connection runs, after it wrote the `101 Switching Protocols`, with the
//! raw byte stream ([`Upgraded`]). The request went through the one dispatch (routing,
//! middleware, metrics, access log) like any other; only what follows the `101` is the
//! continuation's.
//!
//! This file names what both sides need and depends on nothing else of the crate, so
//! the response type, the server and the WebSocket module ([`crate::ws`]) all point at
//! it and not at each other: the server implements [`UpgradeHost`] and
//! [`UpgradedStream`], the continuation only uses them.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;

use crate::lifecycle::LocalDrain;

/// A boxed, loop-local future borrowing its stream.
pub(crate) type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// The byte stream of an upgraded connection (TCP, or TLS over TCP), object-safe: the
/// continuation does not know which it got. Each call boxes its future: an upgraded
/// protocol reads and writes in large batches, never per HTTP request.
pub(crate) trait UpgradedStream {
    /// Appends what arrives to `buf`, within its spare capacity (`Ok(0)`: the end of the
    /// stream). Cancel-safe: dropping the future loses no byte.
    fn read_buf<'a>(&'a mut self, buf: &'a mut Vec<u8>) -> LocalFuture<'a, io::Result<usize>>;
    /// Writes all of `buf`.
    fn write_all<'a>(&'a mut self, buf: &'a [u8]) -> LocalFuture<'a, io::Result<()>>;
    /// Says goodbye (a TLS session's `close_notify`) before the stream drops.
    fn close(&mut self) -> LocalFuture<'_, ()>;
}

/// What the connection's loop offers an upgraded connection.
pub(crate) trait UpgradeHost {
    /// The loop's drain: an upgraded connection ends (WebSocket close code 1001) when it
    /// starts, and the drain waits for it (within the shutdown deadline) because the
    /// connection still counts as open.
    fn drain(&self) -> &LocalDrain;
}

/// An upgraded connection, handed to its [`OnUpgrade`].
pub(crate) struct Upgraded {
    /// The byte stream.
    pub(crate) stream: Box<dyn UpgradedStream>,
    /// Bytes the HTTP/1.1 connection read past the upgrade request: the new protocol's
    /// first bytes, sent by a client that did not wait for the `101`.
    pub(crate) leftover: Vec<u8>,
    /// The loop's server.
    pub(crate) host: std::rc::Rc<dyn UpgradeHost>,
}

/// The continuation a `101 Switching Protocols` response carries: what runs on the
/// connection once the `101` is written. The connection's task runs it to its end, and
/// the connection counts as open until then.
pub(crate) struct OnUpgrade(Box<dyn FnOnce(Upgraded) -> LocalFuture<'static, ()>>);

impl OnUpgrade {
    /// The continuation `run`.
    pub(crate) fn new<F, Fut>(run: F) -> OnUpgrade
    where
        F: FnOnce(Upgraded) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        OnUpgrade(Box::new(move |upgraded| Box::pin(run(upgraded))))
    }

    /// Runs the continuation over `upgraded`.
    pub(crate) fn run(self, upgraded: Upgraded) -> LocalFuture<'static, ()> {
        (self.0)(upgraded)
    }
}

impl fmt::Debug for OnUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnUpgrade")
    }
}
