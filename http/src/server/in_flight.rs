//! [`InFlight`]: the requests one loop is answering right now (method, route pattern,
//! peer, start time), so that a drain that runs past its deadline can say what it
//! abandoned; and [`InFlightRequest`], the `Send` record of one of them in the report.

use std::cell::RefCell;
use std::fmt;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use keel_runtime::time::CoarseInstant;

use slab::Slab;

use crate::proto::method::Method;

/// A request still being answered when the drain deadline passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlightRequest {
    /// The request method.
    pub method: String,
    /// The route pattern it matched (`/users/:id`), never the raw path; `<unmatched>`
    /// for a request that matched no route.
    pub route: String,
    /// The client's address.
    pub peer: SocketAddr,
    /// How long it had been running at the deadline.
    pub running_for: Duration,
    /// The loop that was serving it.
    pub loop_index: usize,
}

impl fmt::Display for InFlightRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} from {} on loop {}, running for {:.1?}",
            self.method, self.route, self.peer, self.loop_index, self.running_for
        )
    }
}

struct Entry {
    method: Method,
    route: Option<Rc<str>>,
    peer: SocketAddr,
    since: CoarseInstant,
}

/// One loop's requests in flight. A slab insert and remove per request, no allocation
/// once the slab has grown.
#[derive(Default)]
pub(crate) struct InFlight {
    entries: RefCell<Slab<Entry>>,
}

impl InFlight {
    /// Records a request that started at `since`; the key removes it again.
    pub(crate) fn enter(
        &self,
        method: &Method,
        route: Option<Rc<str>>,
        peer: SocketAddr,
        since: CoarseInstant,
    ) -> usize {
        self.entries.borrow_mut().insert(Entry {
            method: method.clone(),
            route,
            peer,
            since,
        })
    }

    pub(crate) fn leave(&self, key: usize) {
        self.entries.borrow_mut().try_remove(key);
    }

    /// The requests in flight now, oldest first.
    pub(crate) fn snapshot(&self, loop_index: usize) -> Vec<InFlightRequest> {
        let now = CoarseInstant::now();
        let mut out: Vec<InFlightRequest> = self
            .entries
            .borrow()
            .iter()
            .map(|(_, e)| InFlightRequest {
                method: e.method.as_str().to_owned(),
                route: e.route.as_deref().unwrap_or("<unmatched>").to_owned(),
                peer: e.peer,
                running_for: now.duration_since(e.since),
                loop_index,
            })
            .collect();
        out.sort_by_key(|r| std::cmp::Reverse(r.running_for));
        out
    }
}
