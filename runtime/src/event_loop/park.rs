//! [`IoDriver`]: the loop's `mio::Poll`, its reserved tokens and the slab of registered
//! sources. `park` blocks in `epoll_wait` (or just peeks, with a zero timeout) and turns
//! events into wakes.
//!
//! Token layout: [`WAKER`] is token 0; a registered source with slab key `k` uses token
//! `k + 1`. So reserved tokens can never collide with sources.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use mio::{Events, Interest, Poll, Registry, Token};
use slab::Slab;

use crate::net::scheduled_io::ScheduledIo;

/// The token of the loop's `mio::Waker` (cross-thread wake-ups).
pub(crate) const WAKER: Token = Token(0);

/// Keys of registered sources start after the reserved tokens.
const FIRST_SOURCE: usize = 1;

/// How many events one `epoll_wait` returns at most.
pub(crate) const EVENTS_CAPACITY: usize = 1024;

/// The loop's I/O driver.
pub(crate) struct IoDriver {
    poll: RefCell<Poll>,
    events: RefCell<Events>,
    registry: Registry,
    sources: RefCell<Slab<Rc<ScheduledIo>>>,
}

impl IoDriver {
    pub(crate) fn new(poll: Poll) -> io::Result<IoDriver> {
        let registry = poll.registry().try_clone()?;
        Ok(IoDriver {
            poll: RefCell::new(poll),
            events: RefCell::new(Events::with_capacity(EVENTS_CAPACITY)),
            registry,
            sources: RefCell::new(Slab::new()),
        })
    }

    /// Registers `source` for read and write readiness (edge-triggered).
    pub(crate) fn register(
        &self,
        source: &mut impl mio::event::Source,
    ) -> io::Result<(usize, Rc<ScheduledIo>)> {
        let mut sources = self.sources.borrow_mut();
        let entry = sources.vacant_entry();
        let key = entry.key();
        self.registry.register(
            source,
            Token(key + FIRST_SOURCE),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let io = Rc::new(ScheduledIo::default());
        entry.insert(io.clone());
        Ok((key, io))
    }

    /// Deregisters `source` and frees its slot.
    pub(crate) fn deregister(&self, key: usize, source: &mut impl mio::event::Source) {
        let _ = self.registry.deregister(source);
        self.sources.borrow_mut().try_remove(key);
    }

    /// Polls the OS for events, waiting at most `timeout` (`None`: until an event), and
    /// wakes the tasks waiting on ready sources. Returns how many events arrived.
    pub(crate) fn park(&self, timeout: Option<Duration>) -> io::Result<usize> {
        let mut events = self.events.borrow_mut();
        match self.poll.borrow_mut().poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(0),
            Err(e) => return Err(e),
        }
        let mut n = 0;
        for event in events.iter() {
            n += 1;
            if event.token() == WAKER {
                continue;
            }
            let key = event.token().0 - FIRST_SOURCE;
            // Clone out of the slab so waking (which may drop sockets) cannot re-enter
            // the borrow.
            let io = self.sources.borrow().get(key).cloned();
            if let Some(io) = io {
                io.set_ready(event);
            }
        }
        Ok(n)
    }

    /// The epoll instance, for a successor driver (`Core::into_poll`).
    pub(crate) fn into_poll(self) -> Poll {
        self.poll.into_inner()
    }

    /// Wakes every task waiting on a source (shutdown).
    pub(crate) fn wake_all(&self) {
        let all: Vec<_> = self
            .sources
            .borrow()
            .iter()
            .map(|(_, io)| io.clone())
            .collect();
        for io in all {
            io.wake_all();
        }
    }
}

impl std::fmt::Debug for IoDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoDriver")
            .field("sources", &self.sources.borrow().len())
            .finish()
    }
}
