//! [`Registered`]: a mio source registered with the current loop, plus the readiness
//! plumbing every socket operation goes through ([`Registered::poll_io`]).

use std::io;
use std::rc::Rc;
use std::task::{Context, Poll, ready};

use super::scheduled_io::{Direction, ScheduledIo};
use crate::current_loop;
use crate::executor::coop;

/// A source and its slot in the loop's I/O driver. Deregisters on drop.
#[derive(Debug)]
pub(crate) struct Registered<S: mio::event::Source> {
    source: S,
    key: usize,
    io: Rc<ScheduledIo>,
    /// The core it is registered with (checked on use).
    instance: u64,
}

impl<S: mio::event::Source> Registered<S> {
    /// Registers `source` with the calling thread's loop.
    pub(crate) fn new(mut source: S) -> io::Result<Registered<S>> {
        let (key, io, instance) = current_loop::with_core(|core| {
            core.io
                .register(&mut source)
                .map(|(key, io)| (key, io, core.instance))
        })
        .ok_or_else(not_on_loop)??;
        Ok(Registered {
            source,
            key,
            io,
            instance,
        })
    }

    /// The source, for operations that never block.
    pub(crate) fn get_ref(&self) -> &S {
        &self.source
    }

    /// Runs `op` when the `dir` half is ready, retrying on `WouldBlock` after the next
    /// readiness edge. Each completed operation takes one unit of the task's coop budget.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        debug_assert_eq!(
            current_loop::with_core(|core| core.instance),
            Some(self.instance),
            "a socket was used on a loop other than the one it was registered with"
        );
        ready!(coop::poll_proceed(cx));
        loop {
            ready!(self.io.poll_ready(cx, dir));
            match op(&self.source) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.io.clear_ready(dir),
                result => return Poll::Ready(result),
            }
        }
    }

    /// [`poll_io`](Self::poll_io) for a read or write of `len` bytes: a transfer that
    /// moved fewer (but some) bytes emptied the receive buffer or filled the send
    /// buffer, so the half waits for the next edge instead of paying a syscall to learn
    /// `WouldBlock`.
    pub(crate) fn poll_transfer(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        len: usize,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let result = ready!(self.poll_io(cx, dir, op));
        if let Ok(n) = result
            && n > 0
            && n < len
        {
            self.io.clear_after_short(dir);
        }
        Poll::Ready(result)
    }

    /// Waits until the `dir` half is ready without doing anything.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<()> {
        self.io.poll_ready(cx, dir)
    }

    /// Forgets readiness of the `dir` half (an operation hit `WouldBlock`).
    pub(crate) fn clear_ready(&self, dir: Direction) {
        self.io.clear_ready(dir);
    }

    /// Forgets readiness of the `dir` half unless it is closed (an operation came back
    /// short).
    pub(crate) fn clear_after_short(&self, dir: Direction) {
        self.io.clear_after_short(dir);
    }
}

impl<S: mio::event::Source> Drop for Registered<S> {
    fn drop(&mut self) {
        let (key, instance) = (self.key, self.instance);
        let source = &mut self.source;
        current_loop::with_core(|core| {
            if core.instance == instance {
                core.io.deregister(key, source);
            }
        });
    }
}

fn not_on_loop() -> io::Error {
    io::Error::other("sockets must be created on a Keel event loop (inside a task or block_on)")
}
