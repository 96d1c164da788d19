//! `timeout`: a slow future gives `Elapsed` (and is dropped), a fast one passes through,
//! and a future woken from another thread before the deadline wins.

mod util;

use std::future::pending;
use std::time::{Duration, Instant};

use keel_runtime::time::{Elapsed, sleep, timeout, timeout_at};
use util::{drop_probe, keel_test, oneshot};

keel_test! {
    async fn slow_future_elapses_and_is_dropped(handle) {
        let (probe, watch) = drop_probe();
        let start = Instant::now();
        let result = timeout(Duration::from_millis(20), async move {
            let _probe = probe;
            pending::<()>().await
        })
        .await;
        let _elapsed: Elapsed = result.unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert!(watch.is_dropped(), "the timed-out future is dropped");
    }
}

keel_test! {
    async fn fast_future_passes_through(handle) {
        assert_eq!(timeout(Duration::from_secs(30), async { 5 }).await, Ok(5));
        let start = Instant::now();
        assert_eq!(timeout(Duration::from_secs(30), sleep(Duration::from_millis(5))).await, Ok(()));
        assert!(start.elapsed() < Duration::from_secs(20), "waited for the deadline");
    }
}

keel_test! {
    async fn ready_future_wins_even_past_the_deadline(handle) {
        let past = Instant::now() - Duration::from_secs(1);
        assert_eq!(timeout_at(past, async { 1 }).await, Ok(1));
        assert!(timeout_at(past, pending::<()>()).await.is_err());
    }
}

keel_test! {
    async fn future_woken_from_another_thread_beats_the_deadline(handle) {
        let (tx, rx) = oneshot::<u32>();
        let sender = std::thread::spawn(move || tx.send(3));
        let got = timeout(util::WAIT, rx).await;
        util::join_thread("the sender", sender);
        assert_eq!(got, Ok(Some(3)));
    }
}

keel_test! {
    async fn elapsed_is_a_displayable_error(handle) {
        let err = timeout(Duration::from_millis(1), pending::<()>()).await.unwrap_err();
        let as_error: &dyn std::error::Error = &err;
        assert_eq!(as_error.to_string(), "deadline has elapsed");
    }
}
