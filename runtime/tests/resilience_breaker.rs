//! The circuit breaker: opens on error rate only with enough volume, fails fast while
//! open, half-opens after the reset timeout and closes on a good trial or reopens on a
//! bad one, limits concurrent trials, counts timeouts, and is shared across loops.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use keel_runtime::resilience::{CircuitBreaker, Error, State};
use keel_runtime::spawn_local;
use keel_runtime::task::yield_now;
use keel_runtime::time::sleep;
use util::{keel_test, oneshot, within};

/// The reset timeout of the breakers that tests move to half-open.
const RESET: Duration = Duration::from_millis(100);

/// A breaker that stays open for the whole test once opened (a loaded machine cannot
/// make it half-open between two lines).
fn breaker(volume: u64, percent: u32) -> CircuitBreaker {
    builder(volume, percent)
        .reset_timeout(Duration::from_secs(3600))
        .build()
        .unwrap()
}

/// A breaker that opens on one failure and half-opens after [`RESET`].
fn resetting() -> CircuitBreaker {
    builder(1, 50).reset_timeout(RESET).build().unwrap()
}

fn builder(volume: u64, percent: u32) -> keel_runtime::resilience::CircuitBreakerBuilder {
    CircuitBreaker::builder("upstream")
        .volume_threshold(volume)
        .error_threshold_percent(percent)
        .window(Duration::from_secs(60), 6)
}

async fn fail(b: &CircuitBreaker) -> Error<&'static str> {
    b.call(|| async { Err::<(), _>("boom") }).await.unwrap_err()
}

async fn succeed(b: &CircuitBreaker) -> Result<u32, Error<&'static str>> {
    b.call(|| async { Ok(1) }).await
}

/// Fails enough calls to open `b` (volume 1) and checks it did.
async fn open(b: &CircuitBreaker) {
    assert!(fail(b).await.is_inner());
    assert_eq!(b.state(), State::Open);
}

keel_test! {
    async fn does_not_open_below_the_volume_threshold(handle) {
        let b = breaker(5, 50);
        for _ in 0..4 {
            assert!(fail(&b).await.is_inner());
        }
        // 100 % failures, but only 4 calls of the 5 required.
        assert_eq!(b.state(), State::Closed);
        assert!(fail(&b).await.is_inner());
        assert_eq!(b.state(), State::Open);
        assert_eq!(b.metrics().opened, 1);
    }
}

keel_test! {
    async fn opens_when_the_error_rate_reaches_the_threshold(handle) {
        let b = breaker(4, 50);
        for _ in 0..3 {
            succeed(&b).await.unwrap();
        }
        fail(&b).await; // 1/4 = 25 %
        assert_eq!(b.state(), State::Closed);
        fail(&b).await; // 2/5 = 40 %
        assert_eq!(b.state(), State::Closed);
        fail(&b).await; // 3/6 = 50 %
        assert_eq!(b.state(), State::Open);
        let m = b.metrics();
        assert_eq!((m.window_successes, m.window_failures), (3, 3));
        assert_eq!((m.calls, m.successes, m.failures), (6, 3, 3));
    }
}

keel_test! {
    async fn fails_fast_while_open(handle) {
        let b = breaker(1, 50);
        open(&b).await;
        let ran = Cell::new(0);
        for _ in 0..3 {
            let err = b
                .call(|| {
                    ran.set(ran.get() + 1);
                    async { Ok::<_, &str>(()) }
                })
                .await
                .unwrap_err();
            assert!(err.is_open());
            assert_eq!(err.to_string(), "upstream: circuit breaker is open, call not attempted");
        }
        assert_eq!(ran.get(), 0, "the operation ran while the breaker was open");
        assert_eq!(b.metrics().rejected, 3);
    }
}

keel_test! {
    async fn runs_the_fallback_while_open(handle) {
        let b = breaker(1, 50);
        open(&b).await;
        let got = b
            .call_or_else(|| async { Ok::<_, &str>("live") }, |err| async move {
                assert!(err.is_open());
                "fallback"
            })
            .await;
        assert_eq!(got, "fallback");
        assert_eq!(b.metrics().fallbacks, 1);
    }
}

keel_test! {
    async fn half_opens_after_the_reset_timeout_and_closes_on_success(handle) {
        let b = resetting();
        let opened_at = Instant::now();
        open(&b).await;
        sleep(RESET).await;
        assert!(opened_at.elapsed() >= RESET);
        assert_eq!(b.state(), State::HalfOpen);
        assert_eq!(succeed(&b).await.unwrap(), 1);
        assert_eq!(b.state(), State::Closed);
        let m = b.metrics();
        assert_eq!((m.opened, m.half_opened, m.closed), (1, 1, 1));
        // A fresh window: the failure that opened it is forgotten.
        assert_eq!((m.window_successes, m.window_failures), (0, 0));
    }
}

keel_test! {
    async fn reopens_when_the_trial_fails(handle) {
        let b = resetting();
        open(&b).await;
        sleep(RESET).await;
        let reopened = Instant::now();
        assert!(fail(&b).await.is_inner());
        // A failing probe: refused while open. (Should this thread be descheduled past
        // the reset timeout, the probe is a trial instead, and fails, reopening it.)
        let probe = fail(&b).await;
        if reopened.elapsed() < RESET {
            assert!(probe.is_open());
        }
        let opened = if probe.is_open() { 2 } else { 3 };
        assert_eq!(b.metrics().opened, opened);
        // And it half-opens again after another reset timeout.
        sleep(RESET).await;
        assert_eq!(b.state(), State::HalfOpen);
        assert_eq!(b.metrics().half_opened, opened);
    }
}

keel_test! {
    async fn half_open_lets_only_the_allowed_trials_through(handle) {
        let b = resetting();
        open(&b).await;
        sleep(RESET).await;
        let (tx, rx) = oneshot::<()>();
        let started = Rc::new(Cell::new(false));
        let trial = {
            let b = b.clone();
            let started = started.clone();
            spawn_local(async move {
                b.call(|| async move {
                    started.set(true);
                    rx.await;
                    Ok::<_, &str>(())
                })
                .await
            })
        };
        // Let the trial start and take the only slot.
        within("the trial to start", async {
            while !started.get() {
                yield_now().await;
            }
        })
        .await;
        let ran = Cell::new(false);
        let second = b
            .call(|| {
                ran.set(true);
                async { Ok::<_, &str>(()) }
            })
            .await;
        assert!(second.unwrap_err().is_open());
        assert!(!ran.get(), "a second call ran while the trial held the only slot");
        assert_eq!(b.state(), State::HalfOpen);
        tx.send(());
        within("the trial", trial).await.unwrap().unwrap();
        assert_eq!(b.state(), State::Closed);
    }
}

keel_test! {
    async fn a_dropped_trial_frees_its_slot(handle) {
        let b = resetting();
        open(&b).await;
        sleep(RESET).await;
        // A trial that never finishes, cut short by the caller.
        let cut = keel_runtime::time::timeout(
            Duration::from_millis(5),
            b.call(std::future::pending::<Result<(), &str>>),
        )
        .await;
        assert!(cut.is_err());
        assert_eq!(b.state(), State::HalfOpen);
        assert_eq!(succeed(&b).await.unwrap(), 1);
        assert_eq!(b.state(), State::Closed);
    }
}

keel_test! {
    async fn a_timeout_counts_as_a_failure(handle) {
        let b = CircuitBreaker::builder("slow")
            .volume_threshold(1)
            .timeout(Some(Duration::from_millis(10)))
            .build()
            .unwrap();
        let started = Instant::now();
        let err = b
            .call(|| async {
                sleep(Duration::from_secs(60)).await;
                Ok::<_, &str>(())
            })
            .await
            .unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(10));
        assert!(err.is_timed_out());
        assert!(err.to_string().starts_with("slow: call timed out"));
        assert_eq!(b.state(), State::Open);
        assert_eq!(b.metrics().timeouts, 1);
    }
}

keel_test! {
    async fn errors_the_predicate_does_not_count_keep_it_closed(handle) {
        let b = breaker(1, 50);
        for _ in 0..5 {
            let r: Result<(), _> = b.call_filtered(|code: &u16| *code >= 500, || async { Err(404) }).await;
            assert_eq!(r.unwrap_err().into_inner(), Some(404));
        }
        assert_eq!(b.state(), State::Closed);
        let m = b.metrics();
        assert_eq!((m.successes, m.failures), (5, 0));
        // Counted as a success, the 404s dilute the 503s: 1 of 6 does not open it...
        assert!(fail_503(&b).await);
        assert_eq!(b.state(), State::Closed);
        // ...5 of 10 (50 %) does.
        for _ in 0..4 {
            assert!(fail_503(&b).await);
        }
        assert_eq!(b.state(), State::Open);
    }
}

async fn fail_503(b: &CircuitBreaker) -> bool {
    let r: Result<(), _> = b
        .call_filtered(|code: &u16| *code >= 500, || async { Err(503) })
        .await;
    r.unwrap_err().is_inner()
}

keel_test! {
    async fn one_breaker_is_shared_by_every_loop(handle) {
        let b = breaker(2, 50);
        let loops = handle.loops();
        for i in 0..2 {
            let b = b.clone();
            let task = handle.spawn_on(i % loops, async move {
                b.call(|| async { Err::<(), _>(std::io::Error::other("down")) }).await.is_err()
            });
            assert!(within("a failing call on another loop", task).await.unwrap());
        }
        assert_eq!(b.state(), State::Open);
    }
}

#[test]
fn a_breaker_and_its_call_future_are_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let b = breaker(1, 50);
    send_sync(&b);
    send(&b.call(|| async { Ok::<_, std::io::Error>(()) }));
}

#[test]
fn bad_settings_are_errors_naming_the_setting() {
    let cases = [
        (
            CircuitBreaker::builder("x").error_threshold_percent(101),
            "error_threshold_percent",
        ),
        (
            CircuitBreaker::builder("x").half_open_max_calls(0),
            "half_open_max_calls",
        ),
        (
            CircuitBreaker::builder("x").reset_timeout(Duration::ZERO),
            "reset_timeout",
        ),
        (
            CircuitBreaker::builder("x").window(Duration::from_secs(1), 0),
            "buckets",
        ),
        (
            CircuitBreaker::builder("x").timeout(Some(Duration::ZERO)),
            "timeout",
        ),
    ];
    for (builder, name) in cases {
        let err = builder.build().unwrap_err();
        assert!(err.is_invalid_value());
        assert!(err.to_string().contains(name), "{err} should name {name}");
    }
}
