//! When an HTTP/1.x connection stays open after an exchange, decided in one place:
//!
//! * the client asks for it (HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with
//!   `Connection: keep-alive`);
//! * the server is not draining — or, draining, more of the client's requests are
//!   already here (pipelined, or in the socket): those are answered too, and the last
//!   answer says `Connection: close`;
//! * nothing broke the framing: a refused head whose end the parser could not find, a
//!   body refused or cut short, a request past its timeout all close;
//! * the response can be framed on it: a streamed body on HTTP/1.0 is delimited by the
//!   close.
//!
//! An idle connection of a draining server is closed by the read loop once nothing of a
//! next request has arrived within a short grace ([`super::DRAIN_IDLE_GRACE`]): a
//! request a client wrote is answered, never cut off.

use crate::proto::encode::Connection;
use crate::proto::error::ParseError;
use crate::proto::{RequestHead, Version};

/// Whether to keep serving after an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    KeepAlive,
    Close,
}

/// The keep-alive decision for one exchange, narrowed as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeepAlive(bool);

impl KeepAlive {
    /// The connection closes after this exchange.
    pub(crate) const CLOSE: KeepAlive = KeepAlive(false);

    /// A `101 Switching Protocols`: no `Connection: close` beside the response's own
    /// `Connection: upgrade` (the HTTP/1.1 exchange loop ends all the same).
    pub(crate) const SWITCHING: KeepAlive = KeepAlive(true);

    /// What `head` asks for.
    pub(crate) fn for_request(head: &RequestHead) -> KeepAlive {
        KeepAlive(head.keep_alive())
    }

    /// After a refused head: kept only when the parser found where the head ends, the
    /// error does not taint the connection, the client allows it, and the server is not
    /// draining.
    pub(crate) fn for_refused_head(e: &ParseError, draining: bool) -> KeepAlive {
        KeepAlive(!e.must_close() && e.head_len().is_some() && e.keep_alive() && !draining)
    }

    /// The connection must close after this exchange.
    pub(crate) fn close(&mut self) {
        self.0 = false;
    }

    /// While the server drains, the connection closes after this answer unless more of
    /// the client's requests are already here (`more_received`, asked only then).
    pub(crate) fn while_draining(&mut self, draining: bool, more_received: impl FnOnce() -> bool) {
        if draining && !more_received() {
            self.0 = false;
        }
    }

    /// The `Connection` header of a response on `version` (`streamed`: with a body of
    /// unknown length), and whether the connection goes on after it.
    pub(crate) fn framing(self, version: Version, streamed: bool) -> (Connection, After) {
        let keep = self.0 && !(streamed && version == Version::Http10);
        if !keep {
            (Connection::Close, After::Close)
        } else if version == Version::Http10 {
            (Connection::KeepAlive, After::KeepAlive)
        } else {
            (Connection::Default, After::KeepAlive)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_follows_the_decision_and_the_version() {
        let keep = KeepAlive(true);
        assert_eq!(
            keep.framing(Version::Http11, false),
            (Connection::Default, After::KeepAlive)
        );
        assert_eq!(
            keep.framing(Version::Http10, false),
            (Connection::KeepAlive, After::KeepAlive)
        );
        // A streamed body on HTTP/1.0 ends with the connection.
        assert_eq!(
            keep.framing(Version::Http10, true),
            (Connection::Close, After::Close)
        );
        assert_eq!(
            KeepAlive::CLOSE.framing(Version::Http11, false),
            (Connection::Close, After::Close)
        );
        let mut closing = keep;
        closing.close();
        assert_eq!(closing, KeepAlive::CLOSE);
    }
}
