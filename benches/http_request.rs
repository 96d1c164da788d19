//! One full HTTP/1.1 exchange in memory, no sockets: a client's bytes go into a
//! connection, which parses the head, routes it, runs two middleware layers and the
//! handler, and encodes the response into its write buffer — the code a TCP connection
//! runs (`keel_http::_benchable::MemoryConnection`), only the socket replaced by memory.
//!
//! * `plaintext`: `GET /plaintext` → `Hello, World!`.
//! * `json_param`: `GET /users/:id` with a `Path<u64>` extractor → a JSON body.
//! * `not_found`: an unknown path → the central JSON 404 (with a fresh request id).
//! * `pipelined_16`: sixteen `plaintext` requests in one read, answered in one write.
//!
//! Each iteration is one connection whose client sends its bytes at once and then
//! half-closes; the connection's buffers are reused. Every response is checked: status
//! line, the middleware's header, `Content-Length` and the body.

// This bench has no peer to print a ratio against.
#[allow(dead_code)]
mod common;

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use keel::runtime;
use keel_http::_benchable::MemoryConnection;
use keel_http::{
    AppError, IntoResponse, Json, Next, Path, Request, Response, Router, ServerConfig, StatusCode,
};

const GROUP: &str = "http_request";

/// A wrk-style head, as in `h1_parse.rs`, with the API key the middleware wants.
const PLAINTEXT: &[u8] = b"GET /plaintext HTTP/1.1\r\n\
Host: localhost:8080\r\n\
Accept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7\r\n\
X-Api-Key: bench\r\n\
Connection: keep-alive\r\n\
\r\n";

const JSON_PARAM: &[u8] = b"GET /users/42 HTTP/1.1\r\n\
Host: localhost:8080\r\n\
Accept: application/json\r\n\
X-Api-Key: bench\r\n\
\r\n";

const NOT_FOUND: &[u8] = b"GET /nope HTTP/1.1\r\n\
Host: localhost:8080\r\n\
X-Api-Key: bench\r\n\
\r\n";

/// A bench case: its name, the client's bytes, the requests in them, the response check.
type Case<'a> = (&'static str, &'a [u8], u64, fn(&[u8]));

/// Requests in the pipelined batch.
const DEPTH: usize = 16;

/// Outer layer: stamps every response.
async fn server_header(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    res.set_header("server", "keel");
    res
}

/// Inner layer: refuses requests without the API key.
async fn api_key(req: Request, next: Next) -> Response {
    if req.header("x-api-key") != Some("bench") {
        return AppError::new(StatusCode::UNAUTHORIZED, "unauthorized", "no API key")
            .into_response();
    }
    next.run(req).await
}

async fn user(Path(id): Path<u64>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "id": id, "name": format!("user-{id}") }))
}

fn app() -> Router {
    Router::new()
        .get("/plaintext", || async { "Hello, World!" })
        .get("/json", || async {
            Json(serde_json::json!({ "message": "Hello, World!" }))
        })
        .get("/users/:id", user)
        .post(
            "/users",
            |body: Vec<u8>| async move { body.len().to_string() },
        )
        .get("/static/*file", |p: keel_http::Params| async move {
            p.get("file").unwrap_or_default().to_owned()
        })
        .layer(server_header)
        .layer(api_key)
}

/// Checks one response at the front of `out` and returns its length.
fn check_response(out: &[u8], status_line: &[u8], body: &[u8]) -> usize {
    assert!(
        out.starts_with(status_line),
        "{:?}",
        String::from_utf8_lossy(out)
    );
    let head_end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head")
        + 4;
    let head = std::str::from_utf8(&out[..head_end]).expect("an ASCII head");
    assert!(head.contains("\r\nserver: keel\r\n"), "{head}");
    let length = format!("\r\ncontent-length: {}\r\n", body.len());
    assert!(head.to_ascii_lowercase().contains(&length), "{head}");
    assert_eq!(&out[head_end..head_end + body.len()], body);
    head_end + body.len()
}

/// Serves `input` `iters` times on one connection, checking each answer with `check`.
fn run(conn: &mut MemoryConnection, input: &[u8], iters: u64, check: fn(&[u8])) -> Duration {
    runtime::block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            let out = conn.serve(input).await.expect("serve in memory");
            check(out);
        }
        start.elapsed()
    })
}

fn plaintext(out: &[u8]) {
    let len = check_response(out, b"HTTP/1.1 200 OK\r\n", b"Hello, World!");
    assert_eq!(len, out.len());
}

fn json_param(out: &[u8]) {
    let len = check_response(
        out,
        b"HTTP/1.1 200 OK\r\n",
        br#"{"id":42,"name":"user-42"}"#,
    );
    assert_eq!(len, out.len());
}

fn not_found(out: &[u8]) {
    let body_start = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    let body: serde_json::Value = serde_json::from_slice(&out[body_start..]).expect("JSON");
    assert_eq!(body["code"], "not_found", "{body}");
    assert_eq!(body["requestId"].as_str().map(str::len), Some(32), "{body}");
    let len = check_response(out, b"HTTP/1.1 404 Not Found\r\n", &out[body_start..]);
    assert_eq!(len, out.len());
}

fn pipelined(out: &[u8]) {
    let mut rest = out;
    for _ in 0..DEPTH {
        let len = check_response(rest, b"HTTP/1.1 200 OK\r\n", b"Hello, World!");
        rest = &rest[len..];
    }
    assert!(
        rest.is_empty(),
        "{} bytes past the last response",
        rest.len()
    );
}

fn bench_request(c: &mut Criterion) {
    let mut conn = MemoryConnection::new(app(), ServerConfig::default());
    let batch = PLAINTEXT.repeat(DEPTH);
    let cases: [Case<'_>; 4] = [
        ("plaintext", PLAINTEXT, 1, plaintext),
        ("json_param", JSON_PARAM, 1, json_param),
        ("not_found", NOT_FOUND, 1, not_found),
        ("pipelined_16", &batch, DEPTH as u64, pipelined),
    ];
    let mut group = c.benchmark_group(GROUP);
    common::configure(&mut group);
    for (name, input, requests, check) in cases {
        group.throughput(Throughput::Elements(requests));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let elapsed = run(&mut conn, input, iters, check);
                common::record(GROUP, name, iters, elapsed)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_request);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
