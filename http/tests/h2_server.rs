//! HTTP/2 end to end with real clients Keel did not write: curl
//! (`--http2-prior-knowledge`, h2c and HTTP/1.1 on one port), Python's httpx (HTTP/2 with
//! prior knowledge), Python's grpcio (unary calls, `grpc-status` in trailers), Node's
//! `http2` module (a gRPC-shaped unary call with trailers, a streamed body), and h2load (many streams on a few connections). Every
//! stream goes through the same dispatch as HTTP/1.1: routing and its 404, the JSON
//! errors, a panic's 500, the body limit's 413, the request timeout's 408, request ids,
//! the access log line (with `HTTP/2`) and the RED metrics. And the drain: `GOAWAY`, the
//! streams in flight finish, the report is clean.

use std::borrow::Cow;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use keel_http::{Body, BodyStream, H2Config, Request, Response, Router, ServerConfig, StatusCode};
use keel_testkit::TestServer;
use keel_testkit::logs::keel_log;

/// How many `/slow` requests started.
static SLOW_STARTED: AtomicUsize = AtomicUsize::new(0);

/// A streamed body: `n` chunks of `size` bytes, one per loop turn.
struct Chunks {
    left: usize,
    size: usize,
}

impl BodyStream for Chunks {
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Vec<u8>, std::io::Error>>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        self.left -= 1;
        std::task::Poll::Ready(Some(Ok(vec![b'x'; self.size])))
    }

    fn trailers(
        self: std::pin::Pin<&mut Self>,
    ) -> Option<Vec<(Cow<'static, str>, Cow<'static, str>)>> {
        Some(vec![("x-checksum".into(), "done".into())])
    }
}

fn app() -> Router {
    Router::new()
        .get("/hello", || async { "hello" })
        .post("/len", |body: Vec<u8>| async move {
            format!("{} bytes", body.len())
        })
        .get("/who", |req: Request| async move {
            format!(
                "{} {} host={} cookie={}",
                req.version(),
                req.path(),
                req.header("host").unwrap_or("-"),
                req.header("cookie").unwrap_or("-")
            )
        })
        .get("/panic", || async {
            if true {
                panic!("boom");
            }
            "never"
        })
        .get("/slow", || async {
            SLOW_STARTED.fetch_add(1, Ordering::SeqCst);
            keel_runtime::time::sleep(Duration::from_millis(800)).await;
            "slow done"
        })
        .get("/stuck", || async {
            keel_runtime::time::sleep(Duration::from_secs(30)).await;
            "never"
        })
        .get("/stream", || async {
            Response::new(StatusCode::OK).with_body(Body::stream(Chunks {
                left: 64,
                size: 16 * 1024,
            }))
        })
        .post("/keel.Echo/Fail", || async {
            // A gRPC error: no message, the status in trailers.
            Response::new(StatusCode::OK)
                .with_header("content-type", "application/grpc")
                .with_body(Body::with_trailers(
                    Vec::new(),
                    vec![
                        ("grpc-status".into(), "5".into()),
                        ("grpc-message".into(), "no such echo".into()),
                    ],
                ))
        })
        .post("/keel.Echo/Say", |body: Vec<u8>| async move {
            Response::new(StatusCode::OK)
                .with_header("content-type", "application/grpc")
                .with_body(Body::with_trailers(
                    body,
                    vec![("grpc-status".into(), "0".into())],
                ))
        })
        .post("/grpc", |body: Vec<u8>| async move {
            // A gRPC unary answer: the request's message echoed in a length-prefixed
            // frame, the status in the trailers.
            Response::new(StatusCode::OK)
                .with_header("content-type", "application/grpc")
                .with_body(Body::with_trailers(
                    body,
                    vec![
                        ("grpc-status".into(), "0".into()),
                        ("grpc-message".into(), "ok".into()),
                    ],
                ))
        })
}

fn config() -> ServerConfig {
    ServerConfig::default()
        .request_timeout(Duration::from_secs(2))
        .max_body_size(64 * 1024)
}

fn start() -> TestServer {
    TestServer::start(config(), app)
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.stdin(Stdio::null()).output().expect("the command runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn curl(args: &[&str]) -> String {
    text(&run(Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)))
}

fn python(script: &str, args: &[&str]) -> String {
    text(&run(Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)))
}

fn node(script: &str, args: &[&str]) -> String {
    text(&run(Command::new("node")
        .arg("-e")
        .arg(script)
        .arg("--")
        .args(args)))
}

#[test]
fn curl_speaks_h2c_and_http11_on_one_port() {
    let server = start();
    let url = format!("http://127.0.0.1:{}/hello", server.addr.port());
    let h2 = curl(&["--http2-prior-knowledge", "-i", &url]);
    assert!(h2.starts_with("HTTP/2 200"), "{h2}");
    assert!(h2.contains("x-request-id: "), "{h2}");
    assert!(h2.contains("x-content-type-options: nosniff"), "{h2}");
    assert!(h2.ends_with("hello"), "{h2}");
    let h1 = curl(&["-i", &url]);
    assert!(h1.starts_with("HTTP/1.1 200"), "{h1}");
    assert!(h1.ends_with("hello"), "{h1}");
    // A POST body over h2c. (One URL per curl: curl 7.88 fails a second request on a
    // reused prior-knowledge connection, against any server.)
    let post = format!("http://127.0.0.1:{}/len", server.addr.port());
    let body = std::env::temp_dir().join(format!("keel-h2-body-{}", std::process::id()));
    std::fs::write(&body, "y".repeat(50_000)).unwrap();
    let data = format!("@{}", body.display());
    let posted = curl(&[
        "--http2-prior-knowledge",
        "-w",
        "|%{http_version}",
        "--data-binary",
        &data,
        &post,
    ]);
    // A body the route does not take: 405, read and answered.
    let refused = curl(&["--http2-prior-knowledge", "--data-binary", &data, &url]);
    let _ = std::fs::remove_file(&body);
    assert_eq!(posted, "50000 bytes|2");
    assert!(refused.contains("method_not_allowed"), "{refused}");
}

#[test]
fn the_dispatch_is_the_same_over_h2c() {
    let log = keel_log();
    let server = start();
    let base = format!("http://127.0.0.1:{}", server.addr.port());
    let script = r#"
import httpx, json, sys
base = sys.argv[1]
out = {}
with httpx.Client(http1=False, http2=True, timeout=20) as c:
    r = c.get(base + "/who", headers={"cookie": "a=1", "x-request-id": "client-id-42"})
    out["who"] = [r.http_version, r.status_code, r.text, r.headers.get("x-request-id")]
    r = c.get(base + "/missing")
    out["missing"] = [r.status_code, r.json()]
    r = c.get(base + "/panic")
    out["panic"] = [r.status_code, r.json()]
    r = c.post(base + "/len", content=b"z" * 100000)
    out["too_big"] = [r.status_code, r.json()]
    r = c.get(base + "/stuck")
    out["stuck"] = [r.status_code, r.json()]
    r = c.get(base + "/stream")
    out["stream"] = [r.status_code, len(r.content)]
    r = c.head(base + "/hello")
    out["head"] = [r.status_code, r.headers.get("content-length"), len(r.content)]
print(json.dumps(out))
"#;
    let result: serde_json::Value =
        serde_json::from_str(&python(script, &[&base])).expect("the script's JSON");
    assert_eq!(
        result["who"],
        serde_json::json!([
            "HTTP/2",
            200,
            format!(
                "HTTP/2 /who host=127.0.0.1:{} cookie=a=1",
                server.addr.port()
            ),
            "client-id-42"
        ])
    );
    assert_eq!(result["missing"][0], 404);
    assert_eq!(result["missing"][1]["code"], "not_found");
    assert!(result["missing"][1]["requestId"].is_string());
    assert_eq!(result["panic"][0], 500);
    assert_eq!(result["panic"][1]["code"], "internal");
    assert_eq!(result["too_big"][0], 413);
    assert_eq!(result["too_big"][1]["code"], "payload_too_large");
    assert_eq!(result["stuck"][0], 408);
    assert_eq!(result["stuck"][1]["code"], "request_timeout");
    assert_eq!(result["stream"], serde_json::json!([200, 64 * 16 * 1024]));
    assert_eq!(result["head"], serde_json::json!([200, "5", 0]));

    // The access log says HTTP/2; the RED metrics counted the route.
    let lines = log.lines().0;
    assert!(
        lines
            .iter()
            .any(|l| l["route"] == "/who" && l["protocol"] == "HTTP/2" && l["status"] == 200),
        "no HTTP/2 access line for /who: {lines:?}"
    );
    let metrics = curl(&[&format!("{base}/metrics")]);
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("http_requests_total{") && l.contains("route=\"/who\"")),
        "{metrics}"
    );
}

#[test]
fn node_makes_a_grpc_shaped_call_and_reads_the_trailers() {
    let server = start();
    let script = r#"
const http2 = require('http2');
const url = process.argv[process.argv.length - 1];
const client = http2.connect(url);
client.on('error', (e) => { console.error(e); process.exit(1); });
const message = Buffer.from([0, 0, 0, 0, 3, 1, 2, 3]);
const req = client.request({ ':method': 'POST', ':path': '/grpc', 'content-type': 'application/grpc', 'te': 'trailers' });
let status, body = [], trailers;
req.on('response', (h) => { status = h[':status']; });
req.on('trailers', (t) => { trailers = t; });
req.on('data', (d) => body.push(d));
req.on('end', () => {
  const s = client.request({ ':path': '/stream' });
  let n = 0, st;
  s.on('trailers', (t) => { st = t; });
  s.on('data', (d) => { n += d.length; });
  s.on('end', () => {
    console.log(JSON.stringify({ status, body: [...Buffer.concat(body)], grpcStatus: trailers['grpc-status'], grpcMessage: trailers['grpc-message'], streamed: n, streamTrailer: st['x-checksum'] }));
    client.close();
  });
  s.end();
});
req.end(message);
"#;
    let url = format!("http://127.0.0.1:{}", server.addr.port());
    let out: serde_json::Value = serde_json::from_str(&node(script, &[&url])).expect("JSON");
    assert_eq!(
        out,
        serde_json::json!({
            "status": 200,
            "body": [0, 0, 0, 0, 3, 1, 2, 3],
            "grpcStatus": "0",
            "grpcMessage": "ok",
            "streamed": 64 * 16 * 1024,
            "streamTrailer": "done",
        })
    );
}

#[test]
fn grpcio_makes_unary_calls_and_reads_grpc_status() {
    let server = start();
    // A real gRPC client (Python's grpcio) with raw bytes for messages (no protobuf
    // needed): the handler echoes the length-prefixed message back.
    let script = r#"
import grpc, json, sys
with grpc.insecure_channel("127.0.0.1:" + sys.argv[1]) as ch:
    say = ch.unary_unary("/keel.Echo/Say", request_serializer=lambda b: b, response_deserializer=lambda b: b)
    fail = ch.unary_unary("/keel.Echo/Fail", request_serializer=lambda b: b, response_deserializer=lambda b: b)
    reply, call = say.with_call(b"hello over grpc", timeout=10)
    out = {"reply": reply.decode(), "code": call.code().name}
    try:
        fail(b"x", timeout=10)
        out["fail"] = "no error"
    except grpc.RpcError as e:
        out["fail"] = [e.code().name, e.details()]
print(json.dumps(out))
"#;
    let out: serde_json::Value =
        serde_json::from_str(&python(script, &[&server.addr.port().to_string()])).expect("JSON");
    assert_eq!(
        out,
        serde_json::json!({
            "reply": "hello over grpc",
            "code": "OK",
            "fail": ["NOT_FOUND", "no such echo"],
        })
    );
}

#[test]
fn h2load_many_streams_on_few_connections() {
    let server = start();
    let url = format!("http://127.0.0.1:{}/hello", server.addr.port());
    let out = text(&run(
        Command::new("h2load").args(["-n", "4000", "-c", "4", "-m", "16", &url])
    ));
    assert!(
        out.contains("4000 total, 4000 started, 4000 done, 4000 succeeded, 0 failed, 0 errored"),
        "{out}"
    );
    assert!(out.contains("status codes: 4000 2xx"), "{out}");
}

#[test]
fn h2_off_answers_the_preface_505() {
    let server = TestServer::start(config().h2(H2Config::default().enabled(false)), app);
    let url = format!("http://127.0.0.1:{}/hello", server.addr.port());
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--http2-prior-knowledge", &url])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(curl(&[&url]), "hello");
}

#[test]
fn the_drain_says_goaway_and_lets_streams_in_flight_finish() {
    let server = start();
    // Node opens a stream to /slow, then the drain starts while it runs.
    let script = r#"
const http2 = require('http2');
const url = process.argv[process.argv.length - 1];
const client = http2.connect(url);
let goaway = null;
client.on('goaway', (code, last) => { goaway = { code, last }; });
client.on('error', () => {});
const req = client.request({ ':path': '/slow' });
let status, body = '';
req.on('response', (h) => { status = h[':status']; });
req.setEncoding('utf8');
req.on('data', (d) => body += d);
req.on('end', () => {
  setTimeout(() => { console.log(JSON.stringify({ status, body, goaway })); client.close(); }, 100);
});
req.end();
"#;
    let url = format!("http://127.0.0.1:{}", server.addr.port());
    let child = Command::new("node")
        .arg("-e")
        .arg(script)
        .arg("--")
        .arg(&url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let waited = std::time::Instant::now();
    while SLOW_STARTED.load(Ordering::SeqCst) == 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "node's request never arrived"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    server.handle.shutdown();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], 200, "{result}");
    assert_eq!(result["body"], "slow done", "{result}");
    assert_eq!(result["goaway"]["code"], 0, "{result}");
    assert_eq!(result["goaway"]["last"], 1, "{result}");
    let report = server.stop().unwrap();
    assert!(report.is_clean(), "{report:?}");
}
