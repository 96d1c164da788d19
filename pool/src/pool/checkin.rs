//! The return: a connection comes back from a dropped [`Pooled`](crate::Pooled) —
//! closed when the pool is closed, it is past its lifetime or [`Manager::check`] finds
//! it broken, else handed to the oldest waiter or made idle — or leaves for good
//! through [`Pooled::detach`](crate::Pooled::detach).

use std::time::Instant;

use super::state::{Conn, Inner};
use crate::manager::Manager;
use crate::metrics::Reason;

impl<M: Manager> Inner<M> {
    /// A connection comes back from a [`Pooled`](crate::Pooled) dropped.
    pub(crate) fn checkin(&self, mut conn: Conn<M::Connection>, lease: usize) {
        let now = Instant::now();
        let (lease, closed) = {
            let mut st = self.state.borrow_mut();
            st.in_use -= 1;
            (st.leases.remove(lease), st.closed)
        };
        let held = now - lease.taken;
        self.counters.returned(held);
        if lease.warned {
            tracing::info!(
                held_ms = held.as_millis() as u64,
                taken_at = %lease.location,
                "keel-pool: connection reported as a possible leak was returned"
            );
        }
        let reason = if closed {
            Some(Reason::PoolClosed)
        } else {
            self.inspect(&mut conn, now)
        };
        match reason {
            Some(reason) => {
                self.discard(conn, reason);
                self.release_slot();
            }
            None => {
                conn.idle_since = now;
                self.dispatch(conn);
            }
        }
    }

    /// A connection leaves the pool for good through [`Pooled::detach`](crate::Pooled::detach).
    pub(crate) fn detach(&self, conn: &mut M::Connection, lease: usize) {
        {
            let mut st = self.state.borrow_mut();
            st.in_use -= 1;
            st.leases.remove(lease);
        }
        self.counters.closed(Reason::Detached);
        self.manager.detach(conn);
        self.release_slot();
    }
}
