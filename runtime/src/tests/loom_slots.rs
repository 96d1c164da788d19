//! Models of [`QueueSlots`], the bound behind both pools' `reserve`/submit back-pressure:
//! a task waiting for room racing with a slot being released, and with the pool's
//! shutdown closing the slots.

use std::future::poll_fn;

use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;

use crate::jobs::slots::{QueueSlots, SlotsClosed};

/// Waits for a slot the way `blocking::Reserve` does: `poll_acquire` until ready.
fn acquire(slots: &QueueSlots) -> Result<(), SlotsClosed> {
    let mut id = None;
    block_on(poll_fn(|cx| slots.poll_acquire(cx, &mut id)))
}

/// The queue is full; one thread waits for room while another releases the slot. The
/// waiter always gets it: a release that misses the waiter would leave it blocked
/// forever, which loom reports as a deadlock.
#[test]
fn waiter_races_with_release() {
    loom::model(|| {
        let slots = Arc::new(QueueSlots::new(1));
        assert!(slots.try_acquire());
        let waiter = {
            let slots = slots.clone();
            thread::spawn(move || acquire(&slots))
        };

        slots.release();

        assert!(waiter.join().unwrap().is_ok());
        assert_eq!(slots.used(), 1);
        assert_eq!(slots.waiting(), 0);
    });
}

/// The queue is full; one thread waits for room while shutdown closes the slots. The
/// waiter always learns of the close (it never waits forever) and leaves the line.
#[test]
fn waiter_races_with_close() {
    loom::model(|| {
        let slots = Arc::new(QueueSlots::new(1));
        assert!(slots.try_acquire());
        let waiter = {
            let slots = slots.clone();
            thread::spawn(move || acquire(&slots))
        };

        slots.close();

        assert!(matches!(waiter.join().unwrap(), Err(SlotsClosed)));
        assert_eq!(slots.waiting(), 0);
        assert_eq!(slots.used(), 1);
    });
}
