//! The client's resilience tools against real Keel servers: retries until a flaky
//! server answers, `Retry-After` honoured, 4xx and 500 not retried, a POST not retried
//! on an ambiguous failure, the last response returned when attempts run out; against a
//! server that is down, the breaker opens and the caller's fallback serves; the breaker
//! half-opens after its reset timeout and closes on success; a full bulkhead rejects; an
//! empty retry budget stops retries.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use keel_http::client::{Client, ClientError};
use keel_http::{Response, Router, ServerConfig, StatusCode};
use keel_runtime::resilience::{Bulkhead, CircuitBreaker, Retry, RetryBudget, State};
use keel_testkit::TestServer;

/// Requests seen per route.
#[derive(Default)]
struct Hits {
    flaky: AtomicUsize,
    busy: AtomicUsize,
    bad: AtomicUsize,
    boom: AtomicUsize,
    down: AtomicUsize,
    gateway: AtomicUsize,
}

fn count(hits: &AtomicUsize) -> usize {
    hits.fetch_add(1, Ordering::SeqCst) + 1
}

fn app(hits: Arc<Hits>) -> Router {
    let (h1, h2, h3, h4, h5, h6) = (
        hits.clone(),
        hits.clone(),
        hits.clone(),
        hits.clone(),
        hits.clone(),
        hits,
    );
    Router::new()
        // 503 twice (asking to retry at once), then 200.
        .get("/flaky", move || {
            let n = count(&h1.flaky);
            async move {
                if n <= 2 {
                    Response::new(StatusCode::SERVICE_UNAVAILABLE).with_header("retry-after", "0")
                } else {
                    Response::new(StatusCode::OK).with_body("recovered")
                }
            }
        })
        // 429 with `Retry-After: 1` once, then 200.
        .get("/busy", move || {
            let n = count(&h2.busy);
            async move {
                if n == 1 {
                    Response::new(StatusCode::TOO_MANY_REQUESTS).with_header("retry-after", "1")
                } else {
                    Response::new(StatusCode::OK).with_body("served")
                }
            }
        })
        .get("/bad", move || {
            count(&h3.bad);
            async { Response::new(StatusCode::BAD_REQUEST) }
        })
        .get("/boom", move || {
            count(&h4.boom);
            async { Response::new(StatusCode::INTERNAL_SERVER_ERROR) }
        })
        .get("/down", move || {
            count(&h5.down);
            async { Response::new(StatusCode::SERVICE_UNAVAILABLE) }
        })
        .post("/gateway", move || {
            count(&h6.gateway);
            async { Response::new(StatusCode::BAD_GATEWAY) }
        })
        .get("/slow", || async {
            keel_runtime::time::sleep(Duration::from_millis(500)).await;
            "slow"
        })
}

fn server() -> (TestServer, Arc<Hits>) {
    let hits = Arc::new(Hits::default());
    let shared = hits.clone();
    let server = TestServer::start(ServerConfig::default(), move || app(shared.clone()));
    (server, hits)
}

fn retry(attempts: u32) -> Retry {
    Retry::builder("upstream")
        .max_attempts(attempts)
        .base_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(5))
        .build()
        .unwrap()
}

#[test]
fn retries_until_the_flaky_server_answers() {
    let (server, hits) = server();
    let url = format!("http://{}/flaky", server.addr);
    keel_runtime::block_on(async {
        let client = Client::builder().retry(retry(4)).build();
        let res = client.get(&url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.text().await.unwrap(), "recovered");
    });
    assert_eq!(
        hits.flaky.load(Ordering::SeqCst),
        3,
        "two 503s, then the answer"
    );
}

#[test]
fn retry_after_is_honoured() {
    let (server, hits) = server();
    let url = format!("http://{}/busy", server.addr);
    let started = Instant::now();
    keel_runtime::block_on(async {
        let client = Client::builder().retry(retry(3)).build();
        let res = client.get(&url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    });
    assert_eq!(hits.busy.load(Ordering::SeqCst), 2);
    // The backoff alone would wait at most 5 ms; the server asked for 1 s.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited only {:?}",
        started.elapsed()
    );
}

#[test]
fn client_errors_and_plain_500s_are_not_retried() {
    let (server, hits) = server();
    let base = format!("http://{}", server.addr);
    keel_runtime::block_on(async {
        let client = Client::builder().retry(retry(4)).build();
        let res = client.get(&format!("{base}/bad")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let res = client.get(&format!("{base}/boom")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        // A POST answered 502 may have been processed: not sent again.
        let res = client
            .post(&format!("{base}/gateway"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    });
    assert_eq!(hits.bad.load(Ordering::SeqCst), 1);
    assert_eq!(hits.boom.load(Ordering::SeqCst), 1);
    assert_eq!(hits.gateway.load(Ordering::SeqCst), 1);
}

#[test]
fn when_attempts_run_out_the_last_response_is_returned() {
    let (server, hits) = server();
    let url = format!("http://{}/down", server.addr);
    keel_runtime::block_on(async {
        let client = Client::builder().retry(retry(3)).build();
        let res = client.get(&url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    });
    assert_eq!(hits.down.load(Ordering::SeqCst), 3);
}

#[test]
fn an_empty_retry_budget_stops_retries() {
    let (server, hits) = server();
    let url = format!("http://{}/down", server.addr);
    // No floor, and no share of first attempts: no retry is ever allowed.
    let budget = RetryBudget::builder()
        .ratio(0.0)
        .min_per_sec(0)
        .build()
        .unwrap();
    let retry = Retry::builder("upstream")
        .max_attempts(5)
        .base_delay(Duration::from_millis(1))
        .budget(budget)
        .build()
        .unwrap();
    keel_runtime::block_on(async {
        let client = Client::builder().retry(retry).build();
        let res = client.get(&url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    });
    assert_eq!(
        hits.down.load(Ordering::SeqCst),
        1,
        "the budget refused every retry"
    );
}

#[test]
fn a_down_dependency_opens_the_breaker_and_the_fallback_serves() {
    // A port nobody listens on: every connect is refused.
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let breaker = CircuitBreaker::builder("upstream")
        .volume_threshold(3)
        .error_threshold_percent(50)
        .reset_timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    let url = format!("http://{down}/items/1");
    let mut errors = Vec::new();
    let served: Vec<String> = keel_runtime::block_on(async {
        let client = Client::builder()
            .retry(retry(2))
            .circuit_breaker(breaker.clone())
            .build();
        let mut served = Vec::new();
        for _ in 0..5 {
            let value = match client.get(&url).send().await {
                Ok(res) => res.text().await.unwrap(),
                Err(e) => {
                    let fallback = if e.is_rejected() { "cached" } else { "error" };
                    errors.push(e);
                    fallback.to_owned()
                }
            };
            served.push(value);
        }
        served
    });
    assert_eq!(breaker.state(), State::Open);
    assert!(errors[0].is_connect(), "{:?}", errors[0]);
    assert!(
        matches!(errors.last(), Some(ClientError::CircuitOpen(dep)) if &**dep == "upstream"),
        "{errors:?}"
    );
    assert_eq!(served.last().map(String::as_str), Some("cached"));
    let m = breaker.metrics();
    assert_eq!(m.failures, 3, "attempts until it opened: {m:?}");
    assert!(m.rejected >= 2, "{m:?}");
}

#[test]
fn the_breaker_half_opens_and_closes_on_success() {
    let (server, hits) = server();
    let breaker = CircuitBreaker::builder("upstream")
        .volume_threshold(2)
        .reset_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let base = format!("http://{}", server.addr);
    keel_runtime::block_on(async {
        let client = Client::builder().circuit_breaker(breaker.clone()).build();
        for _ in 0..2 {
            let res = client.get(&format!("{base}/down")).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        }
        assert_eq!(breaker.state(), State::Open);
        let refused = client.get(&format!("{base}/bad")).send().await.unwrap_err();
        assert!(refused.is_rejected());
        keel_runtime::time::sleep(Duration::from_millis(300)).await;
        // A 400 is the dependency answering: the trial call closes the breaker.
        let res = client.get(&format!("{base}/bad")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(breaker.state(), State::Closed);
    });
    assert_eq!(hits.down.load(Ordering::SeqCst), 2);
    assert_eq!(
        hits.bad.load(Ordering::SeqCst),
        1,
        "the refused call was not sent"
    );
}

#[test]
fn a_full_bulkhead_rejects_without_sending() {
    let (server, _hits) = server();
    let bulkhead = Bulkhead::builder("upstream")
        .max_concurrent(1)
        .build()
        .unwrap();
    let url = format!("http://{}/slow", server.addr);
    keel_runtime::block_on(async {
        let client = Client::builder().bulkhead(bulkhead.clone()).build();
        let first = {
            let client = client.clone();
            let url = url.clone();
            keel_runtime::spawn_local(
                async move { client.get(&url).send().await.map(|r| r.status()) },
            )
        };
        // Let the first request take the only slot.
        while bulkhead.metrics().in_flight == 0 {
            keel_runtime::time::sleep(Duration::from_millis(5)).await;
        }
        let second = client.get(&url).send().await.unwrap_err();
        assert!(matches!(second, ClientError::BulkheadFull(_)), "{second:?}");
        assert_eq!(first.await.unwrap().unwrap(), StatusCode::OK);
    });
    assert_eq!(bulkhead.metrics().rejected, 1);
}
