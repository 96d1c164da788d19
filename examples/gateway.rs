//! An API gateway: `GET /items/:id` proxies to an upstream service and
//! `GET /summary?ids=1,2,3` aggregates several upstream calls made concurrently — all
//! through Keel's client with a retry policy (backoff with jitter, a retry budget,
//! `Retry-After` honoured), a circuit breaker and a bulkhead, shared by every loop. When
//! the upstream fails or the breaker is open, the gateway answers with a fallback
//! (`x-source: fallback`) instead of an error. `/metrics` shows the breaker's state
//! (`keel_breaker_state{dependency="upstream"}`) and the bulkhead's. With
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set, every request is traced: an incoming `traceparent`
//! is continued, and each upstream call carries the trace on.
//!
//! Without `UPSTREAM_URL`, the gateway calls a slow, flaky demo upstream it serves itself
//! under `/upstream` (every 4th call answers 503, each takes `UPSTREAM_DEMO_DELAY`).
//!
//! ```text
//! cargo run --release --example gateway
//! curl -i localhost:3000/items/7
//! curl 'localhost:3000/summary?ids=1,2,3,4'
//! curl -s localhost:3000/metrics | grep -E 'keel_(breaker|bulkhead)'
//! # with a collector (e.g. the OpenTelemetry Collector or Jaeger on 4318):
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 OTEL_SERVICE_NAME=gateway \
//!   cargo run --release --example gateway
//! ```
//!
//! Variables, besides every `KEEL_*` and `OTEL_*` one: `UPSTREAM_URL` (the demo
//! upstream), `UPSTREAM_TIMEOUT` (`2s`, per request), `UPSTREAM_ATTEMPTS` (3),
//! `UPSTREAM_MAX_CONCURRENT` (64, the bulkhead), `BREAKER_VOLUME` (10 calls before it
//! may open), `BREAKER_RESET_TIMEOUT` (`10s`), `UPSTREAM_DEMO_DELAY` (`50ms`).

use std::cell::Cell;
use std::process::ExitCode;
use std::time::Duration;

use keel::Config;
use keel::http::client::Client;
use keel::http::config::{parse_duration, parse_number};
use keel::http::{IntoResponse, Json, Path, Query, Response, Router, State, StatusCode};
use keel::resilience::{Bulkhead, CircuitBreaker, Retry, RetryBudget};
use keel::runtime::env::EnvError;
use serde::Deserialize;
use serde_json::{Value, json};

/// The most ids one `/summary` call fans out to.
const MAX_SUMMARY_IDS: usize = 20;

/// One loop's state: its client (with the shared tools), the breaker (to count the
/// fallbacks served) and the upstream's base URL.
#[derive(Clone)]
struct Gateway {
    client: Client,
    breaker: CircuitBreaker,
    upstream: String,
}

/// What an upstream call gave.
enum Fetched {
    /// The upstream's answer (2xx–4xx): status and JSON body.
    Upstream(StatusCode, Vec<u8>),
    /// No usable answer: why.
    Fallback(String),
}

async fn fetch(gw: &Gateway, id: u64) -> Fetched {
    let url = format!("{}/items/{id}", gw.upstream);
    match gw
        .client
        .get(&url)
        .header("accept", "application/json")
        .send()
        .await
    {
        Ok(res) if !res.status().is_server_error() => {
            let status = res.status();
            match res.bytes().await {
                Ok(body) => Fetched::Upstream(status, body),
                Err(e) => Fetched::Fallback(e.to_string()),
            }
        }
        Ok(res) => {
            gw.breaker.record_fallback();
            Fetched::Fallback(format!("upstream answered {}", res.status()))
        }
        // An open breaker or a full bulkhead (`e.is_rejected()`) lands here too: the
        // request was not even sent.
        Err(e) => {
            gw.breaker.record_fallback();
            Fetched::Fallback(e.to_string())
        }
    }
}

fn fallback(id: u64, reason: &str) -> Value {
    json!({ "id": id, "name": null, "fallback": true, "reason": reason })
}

/// `GET /items/:id`: the upstream's answer, or a fallback.
async fn item(State(gw): State<Gateway>, Path(id): Path<u64>) -> Response {
    match fetch(&gw, id).await {
        Fetched::Upstream(status, body) => Response::new(status)
            .with_header("content-type", "application/json")
            .with_header("x-source", "upstream")
            .with_body(body),
        Fetched::Fallback(reason) => Json(fallback(id, &reason))
            .into_response()
            .with_header("x-source", "fallback"),
    }
}

#[derive(Deserialize)]
struct SummaryQuery {
    ids: String,
}

/// `GET /summary?ids=1,2,3`: every item, fetched concurrently (each call a task on this
/// loop, carrying the request's context and trace).
async fn summary(
    State(gw): State<Gateway>,
    Query(q): Query<SummaryQuery>,
) -> Result<Json<Value>, keel::http::AppError> {
    let ids: Vec<u64> = q
        .ids
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()
        .map_err(|_| keel::http::AppError::bad_request("ids: numbers separated by commas"))?;
    if ids.is_empty() || ids.len() > MAX_SUMMARY_IDS {
        return Err(keel::http::AppError::bad_request(format!(
            "ids: 1 to {MAX_SUMMARY_IDS} of them"
        )));
    }
    let calls: Vec<_> = ids
        .iter()
        .map(|&id| {
            let gw = gw.clone();
            keel::runtime::spawn_local(async move { (id, fetch(&gw, id).await) })
        })
        .collect();
    let mut items = Vec::with_capacity(calls.len());
    let mut degraded = 0;
    for call in calls {
        let (id, fetched) = call
            .await
            .map_err(|e| keel::http::AppError::internal(e.to_string()))?;
        items.push(match fetched {
            Fetched::Upstream(status, body) if status.is_success() => {
                serde_json::from_slice(&body).unwrap_or_else(|_| fallback(id, "not JSON"))
            }
            Fetched::Upstream(status, _) => json!({ "id": id, "status": status.as_u16() }),
            Fetched::Fallback(reason) => {
                degraded += 1;
                fallback(id, &reason)
            }
        });
    }
    Ok(Json(json!({ "items": items, "degraded": degraded })))
}

thread_local! {
    /// Calls the demo upstream answered on this loop.
    static DEMO_CALLS: Cell<u64> = const { Cell::new(0) };
}

/// The demo upstream's `GET /upstream/items/:id`: slow, and every 4th call on a loop
/// fails with 503.
async fn demo_upstream(Path(id): Path<u64>, State(delay): State<Duration>) -> Response {
    keel::runtime::time::sleep(delay).await;
    let n = DEMO_CALLS.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    if n.is_multiple_of(4) {
        return Response::new(StatusCode::SERVICE_UNAVAILABLE).with_header("retry-after", "0");
    }
    if id == 0 {
        return (StatusCode::NOT_FOUND, "no item 0").into_response();
    }
    Json(json!({ "id": id, "name": format!("item {id}") })).into_response()
}

fn parse_http_url(name: &str, value: &str) -> Result<String, EnvError> {
    if value.starts_with("http://") {
        Ok(value.trim_end_matches('/').to_owned())
    } else {
        Err(EnvError::new(name, value, "an http:// URL"))
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gateway: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let upstream = Config::var("UPSTREAM_URL", parse_http_url)?;
    let timeout =
        Config::var("UPSTREAM_TIMEOUT", parse_duration)?.unwrap_or(Duration::from_secs(2));
    let attempts: u32 = Config::var("UPSTREAM_ATTEMPTS", parse_number)?.unwrap_or(3);
    let max_concurrent: usize = Config::var("UPSTREAM_MAX_CONCURRENT", parse_number)?.unwrap_or(64);
    let volume: u64 = Config::var("BREAKER_VOLUME", parse_number)?.unwrap_or(10);
    let reset =
        Config::var("BREAKER_RESET_TIMEOUT", parse_duration)?.unwrap_or(Duration::from_secs(10));
    let demo_delay =
        Config::var("UPSTREAM_DEMO_DELAY", parse_duration)?.unwrap_or(Duration::from_millis(50));
    let otel = keel::otlp::OtlpConfig::from_env()?;

    // One set of tools for the dependency, shared by every loop.
    let retry = Retry::builder("upstream")
        .max_attempts(attempts)
        .base_delay(Duration::from_millis(20))
        .max_delay(Duration::from_millis(500))
        .budget(RetryBudget::new())
        .build()?;
    let breaker = CircuitBreaker::builder("upstream")
        .volume_threshold(volume)
        .error_threshold_percent(50)
        .reset_timeout(reset)
        .timeout(Some(timeout))
        .build()?;
    let bulkhead = Bulkhead::builder("upstream")
        .max_concurrent(max_concurrent)
        .build()?;
    keel::metrics::register_breaker(&breaker);
    keel::metrics::register_bulkhead(&bulkhead);

    let runtime = config.runtime().build()?;
    let server = config.server_bind()?;
    let addr = server.local_addr();
    let upstream = upstream.unwrap_or_else(|| format!("http://127.0.0.1:{}/upstream", addr.port()));
    println!(
        "gateway: listening on http://{addr} with {} loop(s), upstream {upstream}; try /items/7 and /summary?ids=1,2,3",
        runtime.handle().loops(),
    );
    // JSON logs (breaker transitions are logged) and traces, once the banner is out.
    let _log = keel::log::init_from_env()?;
    let _tracing = otel.map(keel::otlp::init).transpose()?;

    let report = server.serve(&runtime, move || {
        let client = Client::builder()
            .connect_timeout(timeout)
            .request_timeout(timeout)
            .retry(retry.clone())
            .circuit_breaker(breaker.clone())
            .bulkhead(bulkhead.clone())
            .build();
        Router::new()
            .get("/items/:id", item)
            .get("/summary", summary)
            .get("/upstream/items/:id", demo_upstream)
            .with_state(Gateway {
                client,
                breaker: breaker.clone(),
                upstream: upstream.clone(),
            })
            .with_state(demo_delay)
    })?;
    if report.is_clean() {
        println!("gateway: drained, bye");
    }
    Ok(report.exit_code())
}
