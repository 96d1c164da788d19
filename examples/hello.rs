//! The newcomer's first server and the benchmark target: `GET /plaintext` and `GET /json`
//! on `HOST:PORT` (default `0.0.0.0:3000`), one loop per core, configured and validated by
//! [`keel::Config`] (every `KEEL_*` variable), with the health probes `/health/live`,
//! `/health/ready` and `/health/startup` (on `KEEL_OPS_ADDR` when set), and the graceful
//! shutdown on SIGTERM/SIGINT: exit 0 when the drain was clean, 1 when it ran past
//! `KEEL_SHUTDOWN_TIMEOUT` (naming what was still in flight) or a bad variable stopped it.
//!
//! ```text
//! cargo run --release --example hello
//! curl localhost:3000/plaintext
//! curl localhost:3000/health/ready
//! ```
//!
//! The heap is tracked (`keel::runtime::heap::Tracked`), so `/metrics` reports the heap
//! per loop and `KEEL_HEAP_LIMIT` is measured on it rather than on the resident memory.
//!
//! Responses carry `Server: keel` unless `KEEL_SERVER_HEADER` says otherwise (a
//! benchmark entry names itself; Keel's default is no `Server` header).
//!
//! `HELLO_SLOW_ROUTE=1` adds `GET /slow`, which never answers: the way to see (and test)
//! a drain that runs past its deadline.

use std::process::ExitCode;
use std::time::Duration;

use keel::Config;
use keel::http::config::parse_switch;
use keel::http::{Json, Router};
use keel::runtime::heap::Tracked;

/// Counts the heap per thread, without shared contention (`heap::Tracked`'s docs).
#[global_allocator]
static ALLOC: Tracked = Tracked::system();
use serde::Serialize;

async fn plaintext() -> &'static str {
    "Hello, World!"
}

/// The `/json` body: a struct serialized per request, as TechEmpower's rules ask (no map
/// built at run time).
#[derive(Serialize)]
struct Message {
    message: &'static str,
}

async fn json_message() -> Json<Message> {
    Json(Message {
        message: "Hello, World!",
    })
}

async fn never() -> &'static str {
    keel::runtime::time::sleep(Duration::from_secs(24 * 3600)).await;
    "too late"
}

fn app(slow_route: bool) -> Router {
    let router = Router::new()
        .get("/plaintext", plaintext)
        .get("/json", json_message);
    if slow_route {
        router.get("/slow", never)
    } else {
        router
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hello: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode, Box<dyn std::error::Error>> {
    // JSON lines on stdout (LOG_FORMAT, LOG_LEVEL); flushed when `_log` drops.
    let _log = keel::log::init_from_env()?;
    let config = Config::from_env()?;
    let slow_route = Config::var("HELLO_SLOW_ROUTE", parse_switch)?.unwrap_or(false);
    let runtime = config.runtime().build()?;
    let mut server = config.server_bind()?;
    if std::env::var_os("KEEL_SERVER_HEADER").is_none() {
        // A benchmark target names itself, as TechEmpower's rules (and the peers) do.
        server = server.config(config.server().clone().server_header(Some("keel")));
    }
    let ops = server
        .ops_addr()
        .map_or_else(|| "the same address".to_owned(), |a| a.to_string());
    println!(
        "hello: listening on http://{} with {} loop(s); try /plaintext and /json; health probes on {ops}",
        server.local_addr(),
        runtime.handle().loops()
    );
    let report = server.serve(&runtime, move || app(slow_route))?;
    for request in report.abandoned() {
        eprintln!("hello: abandoned at the shutdown deadline: {request}");
    }
    for hook in report.hooks() {
        eprintln!("hello: shutdown hook {}: {:?}", hook.name, hook.outcome);
    }
    if report.is_clean() {
        println!("hello: drained, bye");
    } else {
        eprintln!("hello: shutdown was not clean: {:?}", report.outcome());
    }
    Ok(report.exit_code())
}

/// The routes in memory (`TestClient`: the server's own HTTP/1.1 code, no socket); the
/// process, its signals and its exit codes are `tests/hello_process.rs`'s.
#[cfg(test)]
mod tests {
    use keel::http::{Ops, StatusCode, TestClient};

    use super::app;

    #[test]
    fn plaintext_json_and_the_probes() {
        let client = TestClient::builder(app(false)).ops(Ops::new()).build();
        let res = client.get("/plaintext").send_blocking();
        assert_eq!(res.text(), "Hello, World!");
        assert_eq!(
            res.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        let res = client.get("/json").send_blocking();
        assert_eq!(res.header("content-type"), Some("application/json"));
        assert_eq!(res.text(), r#"{"message":"Hello, World!"}"#);
        assert_eq!(
            client.get("/health/ready").send_blocking().status(),
            StatusCode::OK
        );
        // The slow route exists only when asked for.
        assert_eq!(
            client.get("/slow").send_blocking().status(),
            StatusCode::NOT_FOUND
        );
    }
}
