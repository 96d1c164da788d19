//! The bulkhead: never more calls in flight than its cap, whatever the number of tasks
//! and loops; rejects at once when the wait queue is full and after the maximum wait;
//! a caller that gives up leaves the queue; slots go to waiters in order.

mod util;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use keel_runtime::resilience::{Bulkhead, Error};
use keel_runtime::spawn_local;
use keel_runtime::task::yield_now;
use keel_runtime::time::{sleep, timeout};
use util::{keel_test, oneshot, within};

type Res = Result<(), Error<&'static str>>;

/// Yields until `bulkhead` has `in_flight` calls running and `queued` waiting.
async fn until(bulkhead: &Bulkhead, in_flight: usize, queued: usize) {
    within("the bulkhead to reach the expected occupancy", async {
        loop {
            let m = bulkhead.metrics();
            if (m.in_flight, m.queued) == (in_flight, queued) {
                return;
            }
            yield_now().await;
        }
    })
    .await;
}

keel_test! {
    async fn never_exceeds_its_cap_across_tasks_and_loops(handle) {
        const CAP: usize = 3;
        const TASKS: usize = 40;
        let bulkhead = Bulkhead::builder("renderer")
            .max_concurrent(CAP)
            .max_queue(TASKS)
            .max_wait(util::WAIT)
            .build()
            .unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..TASKS {
            let (bulkhead, running, peak) = (bulkhead.clone(), running.clone(), peak.clone());
            tasks.push(handle.spawn_on(i % handle.loops(), async move {
                bulkhead
                    .call(|| async {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        sleep(Duration::from_millis(2)).await;
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, &str>(())
                    })
                    .await
            }));
        }
        for task in tasks {
            within("a bulkheaded task", task).await.unwrap().unwrap();
        }
        let peak = peak.load(Ordering::SeqCst);
        assert!((1..=CAP).contains(&peak), "peak concurrency {peak} with a cap of {CAP}");
        let m = bulkhead.metrics();
        assert_eq!((m.in_flight, m.queued, m.admitted, m.rejected), (0, 0, TASKS as u64, 0));
    }
}

keel_test! {
    async fn rejects_at_once_when_the_queue_is_full(handle) {
        let bulkhead = Bulkhead::builder("renderer")
            .max_concurrent(1)
            .max_queue(1)
            .max_wait(util::WAIT)
            .build()
            .unwrap();
        let (release, hold) = oneshot::<()>();
        let holder = {
            let b = bulkhead.clone();
            spawn_local(async move { b.call(|| async { hold.await; Ok(()) }).await as Res })
        };
        until(&bulkhead, 1, 0).await;
        let waiter = {
            let b = bulkhead.clone();
            spawn_local(async move { b.call(|| async { Ok(()) }).await as Res })
        };
        until(&bulkhead, 1, 1).await;
        let ran = Rc::new(RefCell::new(false));
        let r = ran.clone();
        let started = Instant::now();
        let err = bulkhead
            .call(|| async move { *r.borrow_mut() = true; Ok::<_, &str>(()) })
            .await
            .unwrap_err();
        assert!(err.is_full());
        assert_eq!(err.dependency(), "renderer");
        assert!(err.to_string().starts_with("renderer: bulkhead full"));
        assert!(!*ran.borrow(), "a rejected call ran");
        assert!(started.elapsed() < util::WAIT, "the rejection waited");
        release.send(());
        within("the holder", holder).await.unwrap().unwrap();
        within("the waiter", waiter).await.unwrap().unwrap();
        let m = bulkhead.metrics();
        assert_eq!((m.in_flight, m.queued, m.admitted, m.rejected), (0, 0, 2, 1));
    }
}

keel_test! {
    async fn rejects_after_the_maximum_wait(handle) {
        let max_wait = Duration::from_millis(30);
        let bulkhead = Bulkhead::builder("renderer")
            .max_concurrent(1)
            .max_queue(4)
            .max_wait(max_wait)
            .build()
            .unwrap();
        let (release, hold) = oneshot::<()>();
        let holder = {
            let b = bulkhead.clone();
            spawn_local(async move { b.call(|| async { hold.await; Ok(()) }).await as Res })
        };
        until(&bulkhead, 1, 0).await;
        let started = Instant::now();
        let err = bulkhead.call(|| async { Ok::<_, &str>(()) }).await.unwrap_err();
        assert!(err.is_full());
        assert!(started.elapsed() >= max_wait);
        // The timed-out waiter left the queue.
        assert_eq!(bulkhead.metrics().queued, 0);
        release.send(());
        within("the holder", holder).await.unwrap().unwrap();
        assert_eq!(bulkhead.metrics().in_flight, 0);
    }
}

keel_test! {
    async fn a_caller_that_gives_up_frees_its_queue_place(handle) {
        let bulkhead = Bulkhead::builder("renderer")
            .max_concurrent(1)
            .max_queue(1)
            .max_wait(util::WAIT)
            .build()
            .unwrap();
        let (release, hold) = oneshot::<()>();
        let holder = {
            let b = bulkhead.clone();
            spawn_local(async move { b.call(|| async { hold.await; Ok(()) }).await as Res })
        };
        until(&bulkhead, 1, 0).await;
        // Queue, then give up after 5 ms (the caller's own timeout drops the call).
        let gave_up = timeout(Duration::from_millis(5), bulkhead.call(|| async { Ok::<_, &str>(()) })).await;
        assert!(gave_up.is_err());
        assert_eq!(bulkhead.metrics().queued, 0);
        // Its place is free again: the next caller queues and gets the slot.
        let next = {
            let b = bulkhead.clone();
            spawn_local(async move { b.call(|| async { Ok(()) }).await as Res })
        };
        until(&bulkhead, 1, 1).await;
        release.send(());
        within("the holder", holder).await.unwrap().unwrap();
        within("the next caller", next).await.unwrap().unwrap();
        assert_eq!(bulkhead.metrics().in_flight, 0);
    }
}

keel_test! {
    async fn slots_go_to_waiters_in_arrival_order(handle) {
        let bulkhead = Bulkhead::builder("renderer")
            .max_concurrent(1)
            .max_queue(8)
            .max_wait(util::WAIT)
            .build()
            .unwrap();
        let (release, hold) = oneshot::<()>();
        let holder = {
            let b = bulkhead.clone();
            spawn_local(async move { b.call(|| async { hold.await; Ok(()) }).await as Res })
        };
        until(&bulkhead, 1, 0).await;
        let order = Rc::new(RefCell::new(Vec::new()));
        let mut waiters = Vec::new();
        for i in 0..5 {
            let (b, order) = (bulkhead.clone(), order.clone());
            waiters.push(spawn_local(async move {
                b.call(|| async move { order.borrow_mut().push(i); Ok(()) }).await as Res
            }));
            until(&bulkhead, 1, i + 1).await;
        }
        release.send(());
        within("the holder", holder).await.unwrap().unwrap();
        for w in waiters {
            within("a waiter", w).await.unwrap().unwrap();
        }
        assert_eq!(*order.borrow(), [0, 1, 2, 3, 4]);
    }
}

keel_test! {
    async fn a_waiter_dropped_after_being_handed_the_slot_passes_it_on(handle) {
        let bulkhead = Bulkhead::builder("renderer")
            .max_concurrent(1)
            .max_queue(2)
            .max_wait(util::WAIT)
            .build()
            .unwrap();
        let (release, hold) = oneshot::<()>();
        let holder = {
            let b = bulkhead.clone();
            spawn_local(async move { b.call(|| async { hold.await; Ok(()) }).await as Res })
        };
        until(&bulkhead, 1, 0).await;
        // A waiter polled once (so it is queued), then never polled again.
        let mut first = Box::pin(bulkhead.call(|| async { Ok::<_, &str>(()) }));
        let polled = std::future::poll_fn(|cx| Poll::Ready(first.as_mut().poll(cx).is_pending())).await;
        assert!(polled);
        let second = {
            let b = bulkhead.clone();
            spawn_local(async move { b.call(|| async { Ok(()) }).await as Res })
        };
        until(&bulkhead, 1, 2).await;
        release.send(());
        within("the holder", holder).await.unwrap().unwrap();
        // The slot now belongs to `first`; dropping it unpolled must hand it to `second`.
        until(&bulkhead, 1, 1).await;
        drop(first);
        within("the second waiter", second).await.unwrap().unwrap();
        assert_eq!(bulkhead.metrics().in_flight, 0);
    }
}

#[test]
fn zero_slots_is_an_error_naming_the_setting() {
    let err = Bulkhead::builder("x")
        .max_concurrent(0)
        .build()
        .unwrap_err();
    assert!(err.is_invalid_value());
    assert!(err.to_string().contains("max_concurrent"), "{err}");
}

#[test]
fn a_bulkhead_and_its_call_future_are_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let b = Bulkhead::builder("x").build().unwrap();
    send_sync(&b);
    send(&b.call(|| async { Ok::<_, std::io::Error>(()) }));
}
