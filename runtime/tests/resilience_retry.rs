//! Retries: only transient errors, at most `max_attempts`, within the total delay, within
//! the budget, waiting at least the `Retry-After` hint; jitter stays in `[0, ceiling]`.

mod util;

use std::cell::Cell;
use std::io;
use std::time::{Duration, Instant};

use keel_runtime::resilience::{
    Backoff, CircuitBreaker, Error, Retry, RetryBudget, State, Transient,
};
use util::keel_test;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Unavailable,
    SlowDown(Duration),
    BadRequest,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl Transient for Failure {
    fn is_transient(&self) -> bool {
        !matches!(self, Failure::BadRequest)
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::SlowDown(hint) => Some(*hint),
            _ => None,
        }
    }
}

fn retry(max_attempts: u32) -> Retry {
    Retry::builder("orders")
        .max_attempts(max_attempts)
        .base_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(5))
        .build()
        .unwrap()
}

/// Runs `policy` over an operation failing with `errors[i]` on attempt `i` (and
/// succeeding once they run out); returns the result and the number of attempts.
async fn run(policy: &Retry, errors: &[Failure]) -> (Result<usize, Error<Failure>>, usize) {
    let attempts = Cell::new(0);
    let result = policy
        .run(|| {
            let n = attempts.get();
            attempts.set(n + 1);
            let outcome = errors.get(n).map_or(Ok(n), |e| Err(*e));
            async move { outcome }
        })
        .await;
    (result, attempts.get())
}

keel_test! {
    async fn retries_transient_errors_until_success(handle) {
        let (result, attempts) = run(&retry(5), &[Failure::Unavailable; 3]).await;
        assert_eq!(result.unwrap(), 3);
        assert_eq!(attempts, 4);
    }
}

keel_test! {
    async fn does_not_retry_a_permanent_error(handle) {
        let (result, attempts) = run(&retry(5), &[Failure::Unavailable, Failure::BadRequest]).await;
        let err = result.unwrap_err();
        assert!(err.is_inner());
        assert_eq!(err.into_inner(), Some(Failure::BadRequest));
        assert_eq!(attempts, 2);
    }
}

keel_test! {
    async fn stops_at_max_attempts(handle) {
        let (result, attempts) = run(&retry(3), &[Failure::Unavailable; 10]).await;
        let err = result.unwrap_err();
        assert_eq!(err.into_inner(), Some(Failure::Unavailable));
        assert_eq!(attempts, 3);
        let (_, attempts) = run(&retry(1), &[Failure::Unavailable; 10]).await;
        assert_eq!(attempts, 1);
    }
}

keel_test! {
    async fn waits_at_least_the_retry_after_hint(handle) {
        let hint = Duration::from_millis(40);
        let started = Instant::now();
        let (result, attempts) = run(&retry(5), &[Failure::SlowDown(hint); 2]).await;
        assert_eq!(result.unwrap(), 2);
        assert_eq!(attempts, 3);
        // Two waits of the hint; the backoff alone would have waited at most 2 x 5 ms.
        assert!(started.elapsed() >= hint * 2, "waited only {:?}", started.elapsed());
    }
}

keel_test! {
    async fn stops_before_the_total_delay_is_exceeded(handle) {
        let policy = Retry::builder("orders")
            .max_attempts(10)
            .max_total_delay(Duration::from_millis(120))
            .build()
            .unwrap();
        // Waits of 50 ms: 50, 100, and a third would make 150 > 120.
        let (result, attempts) = run(&policy, &[Failure::SlowDown(Duration::from_millis(50)); 10]).await;
        assert!(result.unwrap_err().is_inner());
        assert_eq!(attempts, 3);
        // A hint longer than the whole allowance is not waited for at all.
        let started = Instant::now();
        let (_, attempts) = run(&policy, &[Failure::SlowDown(Duration::from_secs(3600)); 2]).await;
        assert_eq!(attempts, 1);
        assert!(started.elapsed() < Duration::from_secs(3600));
    }
}

keel_test! {
    async fn the_budget_caps_retries_across_calls(handle) {
        let budget = RetryBudget::builder()
            .ratio(0.5)
            .min_per_sec(0)
            .window(Duration::from_secs(600))
            .build()
            .unwrap();
        let policy = Retry::builder("orders")
            .max_attempts(10)
            .base_delay(Duration::from_millis(1))
            .budget(budget.clone())
            .build()
            .unwrap();
        let mut attempts = 0;
        let mut exhausted = 0;
        for _ in 0..10 {
            let (result, n) = run(&policy, &[Failure::Unavailable; 100]).await;
            attempts += n;
            let err = result.unwrap_err();
            if err.is_budget_exhausted() {
                exhausted += 1;
                assert_eq!(err.inner(), Some(&Failure::Unavailable));
                assert!(err.to_string().starts_with("orders: retry budget exhausted"));
            }
        }
        // 10 first attempts earn 0.5 x 10 = 5 retries, no more — not 10 x 9.
        assert_eq!(attempts, 10 + 5);
        assert_eq!(exhausted, 10);
        assert_eq!(budget.remaining(), 0);
    }
}

keel_test! {
    async fn the_budget_floor_allows_retries_without_traffic(handle) {
        let budget = RetryBudget::builder().ratio(0.0).min_per_sec(1).build().unwrap();
        // 1 per second over the default 10 s window: 10 retries.
        assert_eq!(budget.remaining(), 10);
        let policy = Retry::builder("orders")
            .max_attempts(100)
            .base_delay(Duration::from_millis(1))
            .budget(budget)
            .build()
            .unwrap();
        let (result, attempts) = run(&policy, &[Failure::Unavailable; 100]).await;
        assert!(result.unwrap_err().is_budget_exhausted());
        assert_eq!(attempts, 11);
    }
}

keel_test! {
    async fn run_if_uses_the_predicate(handle) {
        let policy = retry(4);
        let attempts = Cell::new(0);
        let result: Result<(), _> = policy
            .run_if(|e: &io::Error| e.kind() == io::ErrorKind::TimedOut, || {
                attempts.set(attempts.get() + 1);
                async { Err(io::Error::from(io::ErrorKind::TimedOut)) }
            })
            .await;
        assert_eq!(attempts.get(), 4);
        assert_eq!(result.unwrap_err().into_inner().unwrap().kind(), io::ErrorKind::TimedOut);
    }
}

keel_test! {
    async fn an_open_breaker_is_not_retried(handle) {
        let breaker = CircuitBreaker::builder("orders").volume_threshold(1).build().unwrap();
        let policy = retry(5);
        let attempts = Cell::new(0);
        let result: Result<(), Error<Failure>> = policy
            .run(|| {
                attempts.set(attempts.get() + 1);
                breaker.call(|| async { Err(Failure::Unavailable) })
            })
            .await
            .map_err(Error::flatten);
        // The first attempt fails and opens the breaker; the second is refused, and a
        // refusal is final.
        assert_eq!(attempts.get(), 2);
        assert!(result.unwrap_err().is_open());
        assert_eq!(breaker.state(), State::Open);
    }
}

#[test]
fn jitter_stays_within_zero_and_the_ceiling() {
    let backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(300));
    for attempt in 0..8 {
        let ceiling = backoff.ceiling(attempt);
        assert_eq!(
            ceiling,
            (Duration::from_millis(10) * (1 << attempt)).min(Duration::from_millis(300))
        );
        let draws: Vec<Duration> = (0..500).map(|_| backoff.delay(attempt)).collect();
        assert!(
            draws.iter().all(|d| *d <= ceiling),
            "attempt {attempt}: a delay above {ceiling:?}"
        );
        // Full jitter: spread over the interval, not clustered at the top.
        assert!(
            draws.iter().any(|d| *d < ceiling / 4),
            "attempt {attempt}: none in the lowest quarter"
        );
        assert!(
            draws.iter().any(|d| *d > ceiling * 3 / 4),
            "attempt {attempt}: none in the top quarter"
        );
    }
    assert_eq!(
        Backoff::new(Duration::ZERO, Duration::ZERO).delay(3),
        Duration::ZERO
    );
}

#[test]
fn io_errors_are_transient_by_kind() {
    assert!(io::Error::from(io::ErrorKind::ConnectionReset).is_transient());
    assert!(io::Error::from(io::ErrorKind::TimedOut).is_transient());
    assert!(!io::Error::from(io::ErrorKind::PermissionDenied).is_transient());
    assert!(!io::Error::from(io::ErrorKind::InvalidData).is_transient());
}

#[test]
fn bad_settings_are_errors_naming_the_setting() {
    let err = Retry::builder("x").max_attempts(0).build().unwrap_err();
    assert!(err.to_string().contains("max_attempts"), "{err}");
    let err = Retry::builder("x")
        .base_delay(Duration::from_secs(2))
        .max_delay(Duration::from_secs(1))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("base_delay"), "{err}");
    let err = RetryBudget::builder().ratio(-1.0).build().unwrap_err();
    assert!(err.to_string().contains("ratio"), "{err}");
    let err = RetryBudget::builder()
        .window(Duration::from_millis(10))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("window"), "{err}");
}
