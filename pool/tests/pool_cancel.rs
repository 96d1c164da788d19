//! Cancellation safety of [`Pool::get`], deterministically: a `get()` future is polled by
//! hand to each of its await points — queued, queued and then handed a connection or a
//! slot, creating, backing off after a failed create, recycling — and dropped there.
//! Every time, the pool's counts come out exact (no slot, connection or queue place
//! leaked), whatever had been handed to the dropped future goes on to the next waiter,
//! and the pool still serves.
//!
//! The manager's `create` and `recycle` wait on gates the test opens, so nothing here
//! depends on timing: no sleeps, no timeouts, no server. (The pool is `!Send` and runs
//! on one loop, so there is no thread interleaving to explore; see `permits.rs`.)

use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use keel_pool::{Manager, Pool, Pooled};

/// Connections are numbers; `create` and `recycle` wait while their gate is shut, and
/// `create` fails while `failures` is above zero.
#[derive(Default, Clone)]
struct Gated {
    create_shut: Rc<Cell<bool>>,
    recycle_shut: Rc<Cell<bool>>,
    failures: Rc<Cell<u32>>,
    made: Rc<Cell<u32>>,
    detached: Rc<Cell<u32>>,
}

/// Pending while `shut` is set. Polled by hand, so it needs no waker.
async fn gate(shut: &Cell<bool>) {
    poll_fn(|_| {
        if shut.get() {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
}

impl Manager for Gated {
    type Connection = u32;
    type Error = io::Error;

    async fn create(&self) -> Result<u32, io::Error> {
        gate(&self.create_shut).await;
        if self.failures.get() > 0 {
            self.failures.set(self.failures.get() - 1);
            return Err(io::Error::new(io::ErrorKind::ConnectionRefused, "refused"));
        }
        self.made.set(self.made.get() + 1);
        Ok(self.made.get())
    }

    async fn recycle(&self, _conn: &mut u32) -> Result<(), io::Error> {
        gate(&self.recycle_shut).await;
        Ok(())
    }

    fn detach(&self, _conn: &mut u32) {
        self.detached.set(self.detached.get() + 1);
    }
}

type Get = Pin<Box<dyn Future<Output = Result<Pooled<Gated>, keel_pool::Error<io::Error>>>>>;

/// A `get()` future, not yet polled.
fn get(pool: &Pool<Gated>) -> Get {
    Box::pin(pool.get())
}

/// Polls once, by hand.
fn poll(get: &mut Get) -> Poll<Result<Pooled<Gated>, keel_pool::Error<io::Error>>> {
    get.as_mut().poll(&mut Context::from_waker(Waker::noop()))
}

/// Polls once and expects a connection.
fn ready(get: &mut Get) -> Pooled<Gated> {
    match poll(get) {
        Poll::Ready(Ok(conn)) => conn,
        Poll::Ready(Err(e)) => panic!("get failed: {e}"),
        Poll::Pending => panic!("get still pending"),
    }
}

/// `(size, idle, in_use, waiting)`.
fn counts(pool: &Pool<Gated>) -> (usize, usize, usize, usize) {
    let s = pool.status();
    (s.size, s.idle, s.in_use, s.waiting)
}

fn pool(manager: &Gated) -> Pool<Gated> {
    Pool::builder(manager.clone()).max(1).build()
}

#[test]
fn dropped_while_queued() {
    keel_runtime::block_on(async {
        let pool = pool(&Gated::default());
        let held = ready(&mut get(&pool));
        let mut queued = get(&pool);
        assert!(poll(&mut queued).is_pending());
        assert_eq!(counts(&pool), (1, 0, 1, 1));

        drop(queued);
        assert_eq!(counts(&pool), (1, 0, 1, 0), "the queue place leaked");
        drop(held);
        assert_eq!(counts(&pool), (1, 1, 0, 0));
        assert_eq!(*ready(&mut get(&pool)), 1);
    });
}

#[test]
fn dropped_after_being_handed_a_connection() {
    keel_runtime::block_on(async {
        let pool = pool(&Gated::default());
        let held = ready(&mut get(&pool));
        let mut first = get(&pool);
        let mut second = get(&pool);
        assert!(poll(&mut first).is_pending());
        assert!(poll(&mut second).is_pending());

        drop(held); // handed to `first`, which is dropped before it runs
        drop(first);
        assert_eq!(counts(&pool), (1, 0, 0, 0), "in transit to `second`");
        let conn = ready(&mut second);
        assert_eq!(*conn, 1, "the connection was passed on");
        assert_eq!(counts(&pool), (1, 0, 1, 0));
    });
}

#[test]
fn dropped_after_being_handed_a_slot() {
    keel_runtime::block_on(async {
        let manager = Gated::default();
        let pool = pool(&manager);
        let held = ready(&mut get(&pool));
        let mut first = get(&pool);
        let mut second = get(&pool);
        assert!(poll(&mut first).is_pending());
        assert!(poll(&mut second).is_pending());

        Pooled::detach(held); // its slot goes to `first`, which is dropped before it runs
        drop(first);
        assert_eq!(
            counts(&pool),
            (1, 0, 0, 0),
            "the slot is on its way to `second`"
        );
        let conn = ready(&mut second);
        assert_eq!(*conn, 2, "`second` got the slot and created");
        assert_eq!(counts(&pool), (1, 0, 1, 0));
        assert_eq!(manager.detached.get(), 1);
    });
}

#[test]
fn dropped_while_creating() {
    keel_runtime::block_on(async {
        let manager = Gated::default();
        let pool = pool(&manager);
        manager.create_shut.set(true);
        let mut creating = get(&pool);
        let mut queued = get(&pool);
        assert!(poll(&mut creating).is_pending());
        assert!(poll(&mut queued).is_pending());
        assert_eq!(counts(&pool), (1, 0, 0, 1));

        drop(creating); // its slot goes to `queued`
        assert_eq!(counts(&pool), (1, 0, 0, 0));
        manager.create_shut.set(false);
        assert_eq!(*ready(&mut queued), 1);

        // Alone: the slot is freed.
        let pool = Pool::builder(manager.clone()).max(1).build();
        manager.create_shut.set(true);
        let mut creating = get(&pool);
        assert!(poll(&mut creating).is_pending());
        drop(creating);
        assert_eq!(counts(&pool), (0, 0, 0, 0), "the slot leaked");
        assert_eq!(pool.metrics().creates, 0);
        manager.create_shut.set(false);
        assert_eq!(*ready(&mut get(&pool)), 2);
    });
}

#[test]
fn dropped_while_backing_off_after_a_failed_create() {
    keel_runtime::block_on(async {
        let manager = Gated::default();
        let pool = pool(&manager);
        manager.failures.set(1);
        let mut backing_off = get(&pool);
        assert!(poll(&mut backing_off).is_pending());
        assert_eq!(manager.failures.get(), 0, "the create failed");
        assert_eq!(pool.metrics().create_errors, 1);
        assert_eq!(counts(&pool), (1, 0, 0, 0));

        drop(backing_off);
        assert_eq!(counts(&pool), (0, 0, 0, 0), "the slot leaked");
        assert_eq!(*ready(&mut get(&pool)), 1);
    });
}

#[test]
fn dropped_while_recycling() {
    keel_runtime::block_on(async {
        let manager = Gated::default();
        let pool = Pool::builder(manager.clone())
            .max(1)
            .validation_window(std::time::Duration::ZERO)
            .build();
        drop(ready(&mut get(&pool)));
        // Idle past the (zero) validation window, so the next checkout recycles.
        std::thread::sleep(std::time::Duration::from_millis(1));
        manager.recycle_shut.set(true);
        let mut recycling = get(&pool);
        let mut queued = get(&pool);
        assert!(poll(&mut recycling).is_pending());
        assert!(poll(&mut queued).is_pending());
        assert_eq!(counts(&pool), (1, 0, 0, 1));

        drop(recycling); // the connection closes; its slot goes to `queued`
        assert_eq!(manager.detached.get(), 1);
        assert_eq!(pool.metrics().closed.recycle_cancelled, 1);
        assert_eq!(counts(&pool), (1, 0, 0, 0));
        assert_eq!(*ready(&mut queued), 2, "`queued` got the slot and created");
    });
}
