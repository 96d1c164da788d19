//! Sleeping: timers fire in deadline order and never early, a dropped timer never fires,
//! `reset` moves the deadline, and many timers all complete.

mod util;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use keel_runtime::spawn_local;
use keel_runtime::time::{sleep, sleep_until};
use util::{counting_waker, keel_test, within};

keel_test! {
    async fn timers_fire_in_deadline_order(handle) {
        let base = Instant::now() + Duration::from_millis(20);
        let order = Rc::new(RefCell::new(Vec::new()));
        // Spawned out of order; deadlines fixed up front so load cannot reorder them.
        let joins: Vec<_> = [50u64, 10, 40, 0, 30, 20, 60]
            .into_iter()
            .map(|ms| {
                let order = order.clone();
                let timer = sleep_until(base + Duration::from_millis(ms));
                spawn_local(async move {
                    timer.await;
                    order.borrow_mut().push(ms);
                })
            })
            .collect();
        for join in joins {
            within("a timer task", join).await.unwrap();
        }
        assert_eq!(*order.borrow(), vec![0, 10, 20, 30, 40, 50, 60]);
    }
}

keel_test! {
    async fn sleep_never_completes_early(handle) {
        for ms in [1u64, 7, 25] {
            let start = Instant::now();
            within("a sleep", sleep(Duration::from_millis(ms))).await;
            let waited = start.elapsed();
            assert!(waited >= Duration::from_millis(ms), "{ms} ms sleep took {waited:?}");
            assert!(waited < Duration::from_secs(10), "{ms} ms sleep took {waited:?}");
        }
    }
}

keel_test! {
    async fn past_deadline_completes_at_once(handle) {
        let mut timer = std::pin::pin!(sleep_until(Instant::now() - Duration::from_secs(1)));
        let (waker, _) = counting_waker();
        let ready = timer.as_mut().poll(&mut Context::from_waker(&waker));
        assert_eq!(ready, Poll::Ready(()));
        assert!(sleep(Duration::ZERO).is_elapsed());
    }
}

keel_test! {
    async fn dropped_timer_never_fires(handle) {
        let deadline = Instant::now() + Duration::from_millis(10);
        let (dropped_waker, dropped_count) = counting_waker();
        let (kept_waker, kept_count) = counting_waker();
        let mut dropped = Box::pin(sleep_until(deadline));
        let mut kept = Box::pin(sleep_until(deadline));
        assert!(dropped.as_mut().poll(&mut Context::from_waker(&dropped_waker)).is_pending());
        assert!(kept.as_mut().poll(&mut Context::from_waker(&kept_waker)).is_pending());
        drop(dropped);
        // Well past the shared deadline; the loop has fired due timers since.
        sleep_until(deadline + Duration::from_millis(30)).await;
        assert!(kept_count.wakes() >= 1, "control timer was never fired");
        assert_eq!(dropped_count.wakes(), 0, "a dropped timer fired");
        drop(kept);
    }
}

keel_test! {
    async fn repolled_timer_wakes_only_the_latest_waker(handle) {
        let deadline = Instant::now() + Duration::from_millis(10);
        let (first, first_count) = counting_waker();
        let (second, second_count) = counting_waker();
        let mut timer = Box::pin(sleep_until(deadline));
        assert!(timer.as_mut().poll(&mut Context::from_waker(&first)).is_pending());
        assert!(timer.as_mut().poll(&mut Context::from_waker(&second)).is_pending());
        sleep_until(deadline + Duration::from_millis(30)).await;
        assert_eq!(first_count.wakes(), 0, "the replaced waker was woken");
        assert!(second_count.wakes() >= 1);
    }
}

keel_test! {
    async fn reset_moves_the_deadline(handle) {
        let start = Instant::now();
        let mut timer = Box::pin(sleep(Duration::from_secs(3600)));
        let (waker, _) = counting_waker();
        assert!(timer.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
        timer.as_mut().reset(start + Duration::from_millis(15));
        within("the reset sleep", timer.as_mut()).await;
        assert!(start.elapsed() >= Duration::from_millis(15));
        // A completed sleep may be reset and awaited again.
        let again = Instant::now() + Duration::from_millis(5);
        timer.as_mut().reset(again);
        assert_eq!(timer.deadline(), again);
        within("the sleep reset after completion", timer.as_mut()).await;
        assert!(Instant::now() >= again);
    }
}

keel_test! {
    async fn thousand_timers_all_fire(handle) {
        let base = Instant::now();
        let joins: Vec<_> = (0..1000u64)
            .map(|i| {
                let deadline = base + Duration::from_millis(i % 97);
                spawn_local(async move {
                    sleep_until(deadline).await;
                    Instant::now() >= deadline
                })
            })
            .collect();
        for join in joins {
            assert!(within("one of 1000 timers", join).await.unwrap(), "fired early");
        }
    }
}

keel_test! {
    async fn sleep_created_off_loop_runs_on_the_loop_that_polls_it(handle) {
        // Created on this loop, moved to the last loop and awaited there.
        let timer = sleep(Duration::from_millis(5));
        let join = handle.spawn_on(handle.loops() - 1, async move {
            timer.await;
            keel_runtime::current_loop()
        });
        assert_eq!(within("a moved sleep", join).await.unwrap(), Some(handle.loops() - 1));
    }
}
