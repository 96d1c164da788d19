//! [`ScheduledIo`]: the readiness bits and the parked reader/writer wakers of one
//! registered socket. Lives on its loop only (`Cell`s, no atomics): the loop sets bits
//! from epoll events, the socket's owner clears them when an operation hits `WouldBlock`
//! or comes back short (the kernel had no more to give or take, so the next attempt
//! would only hit `WouldBlock`: tokio's short-read rule, one syscall saved per wait).
//!
//! A hang-up or an error is final, so it is kept in bits of its own that only a
//! `WouldBlock` clears: a short read that ended just before the peer's FIN, whose edge
//! the loop has already consumed, must not leave the reader waiting for another edge.

use std::cell::Cell;
use std::task::{Context, Poll, Waker};

/// Which half of a socket an operation waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Reading, accepting.
    Read,
    /// Writing, connecting.
    Write,
}

impl Direction {
    /// The half's readiness bit.
    fn bit(self) -> u8 {
        match self {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        }
    }

    /// The half's readiness bits, final ones included.
    fn bits(self) -> u8 {
        match self {
            Direction::Read => READABLE | READ_CLOSED,
            Direction::Write => WRITABLE | WRITE_CLOSED,
        }
    }
}

const READABLE: u8 = 1 << 0;
const WRITABLE: u8 = 1 << 1;
/// The read half hung up or failed: a final state a short read does not clear.
const READ_CLOSED: u8 = 1 << 2;
/// The write half hung up or failed: a final state a short write does not clear.
const WRITE_CLOSED: u8 = 1 << 3;

/// Readiness and waiters of one registered source.
#[derive(Default)]
pub(crate) struct ScheduledIo {
    readiness: Cell<u8>,
    reader: Cell<Option<Waker>>,
    writer: Cell<Option<Waker>>,
}

impl ScheduledIo {
    /// Loop side: records an epoll event and wakes whoever waits on the ready halves.
    /// Errors and hang-ups count as ready for both halves so the next operation sees them.
    pub(crate) fn set_ready(&self, event: &mio::event::Event) {
        let mut bits = 0;
        if event.is_readable() {
            bits |= READABLE;
        }
        if event.is_read_closed() || event.is_error() {
            bits |= READABLE | READ_CLOSED;
        }
        if event.is_writable() {
            bits |= WRITABLE;
        }
        if event.is_write_closed() || event.is_error() {
            bits |= WRITABLE | WRITE_CLOSED;
        }
        self.readiness.set(self.readiness.get() | bits);
        if bits & Direction::Read.bits() != 0
            && let Some(waker) = self.reader.take()
        {
            waker.wake();
        }
        if bits & Direction::Write.bits() != 0
            && let Some(waker) = self.writer.take()
        {
            waker.wake();
        }
    }

    /// Ready when the last event said so and no operation has hit `WouldBlock` (or,
    /// unless the half is closed, come back short) since; otherwise parks the task's
    /// waker for that half.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<()> {
        if self.readiness.get() & dir.bits() != 0 {
            return Poll::Ready(());
        }
        let slot = match dir {
            Direction::Read => &self.reader,
            Direction::Write => &self.writer,
        };
        let waker = match slot.take() {
            Some(w) if w.will_wake(cx.waker()) => w,
            _ => cx.waker().clone(),
        };
        slot.set(Some(waker));
        Poll::Pending
    }

    /// An operation on that half hit `WouldBlock`: wait for the next edge.
    pub(crate) fn clear_ready(&self, dir: Direction) {
        self.readiness.set(self.readiness.get() & !dir.bits());
    }

    /// An operation on that half came back short: the kernel's buffer is drained (or
    /// full), so wait for the next edge, unless the half is already closed.
    pub(crate) fn clear_after_short(&self, dir: Direction) {
        self.readiness.set(self.readiness.get() & !dir.bit());
    }

    /// Wakes both halves (the loop is shutting the source down).
    pub(crate) fn wake_all(&self) {
        for slot in [&self.reader, &self.writer] {
            if let Some(waker) = slot.take() {
                waker.wake();
            }
        }
    }
}

impl std::fmt::Debug for ScheduledIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScheduledIo")
            .field("readiness", &self.readiness.get())
            .finish()
    }
}
