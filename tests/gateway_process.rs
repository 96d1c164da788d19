//! `examples/gateway` as a real process, with tracing on, in front of a test upstream
//! (a std `TcpListener` that answers 503 twice, then 200 with the `traceparent` it got)
//! and a test OTLP collector: the retries hide the flaky upstream; the incoming trace
//! reaches the upstream through the client span and the collector through the gateway's
//! server span; `/metrics` shows the breaker. With the upstream down, the breaker opens
//! and the gateway serves fallbacks. SIGTERM then drains it (exit 0).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{LIMIT, start};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

/// A request line, its headers (names lower-cased) and body.
type Received = (String, Vec<(String, String)>, Vec<u8>);

/// One HTTP request read from `stream`.
fn read_request(stream: &TcpStream) -> Option<Received> {
    stream.set_read_timeout(Some(LIMIT)).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':')?;
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let len = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap_or(0));
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some((line, headers, body))
}

/// The upstream: 503 (`Retry-After: 0`) to its first two requests, then the item with
/// the `traceparent` it received. Stops listening (connections refused) when `stop`.
fn upstream(stop: Arc<AtomicBool>, hits: Arc<AtomicUsize>) -> (SocketAddr, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let thread = thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            let Ok((mut stream, _)) = listener.accept() else {
                thread::sleep(Duration::from_millis(5));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            let Some((line, headers, _)) = read_request(&stream) else {
                continue;
            };
            let n = hits.fetch_add(1, Ordering::SeqCst) + 1;
            let reply = if n <= 2 {
                "HTTP/1.1 503 Service Unavailable\r\nretry-after: 0\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned()
            } else {
                let id = line
                    .split(' ')
                    .nth(1)
                    .unwrap_or("")
                    .rsplit('/')
                    .next()
                    .unwrap_or("");
                let tp = headers
                    .iter()
                    .find(|(n, _)| n == "traceparent")
                    .map_or("", |(_, v)| v.as_str());
                let body = format!(r#"{{"id":{id},"traceparent":"{tp}"}}"#);
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
            };
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    (addr, thread)
}

/// An OTLP collector: answers 200 and hands over each export's JSON.
fn collector() -> (SocketAddr, mpsc::Receiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            if let Some((_, _, body)) = read_request(&stream) {
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
                if let Ok(json) = serde_json::from_slice(&body) {
                    let _ = tx.send(json);
                }
            }
        }
    });
    (addr, rx)
}

/// `GET path` with extra header lines; the status, `x-source` and body.
fn get(addr: SocketAddr, path: &str, extra: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect_timeout(&addr, LIMIT).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    let source = head
        .lines()
        .find_map(|l| l.strip_prefix("x-source: "))
        .unwrap_or("")
        .to_owned();
    (status, source, body.to_owned())
}

#[test]
fn proxies_through_retries_traces_and_falls_back_when_the_upstream_is_down() {
    let stop = Arc::new(AtomicBool::new(false));
    let hits = Arc::new(AtomicUsize::new(0));
    let (up_addr, up_thread) = upstream(stop.clone(), hits.clone());
    let (otlp_addr, exports) = collector();
    let upstream_url = format!("http://{up_addr}");
    let otlp_url = format!("http://{otlp_addr}");
    let mut gw = start(
        "gateway",
        &[
            ("UPSTREAM_URL", &upstream_url),
            ("UPSTREAM_ATTEMPTS", "4"),
            ("BREAKER_VOLUME", "3"),
            ("BREAKER_RESET_TIMEOUT", "600s"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp_url),
            ("OTEL_SERVICE_NAME", "gateway-test"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    );

    // Two 503s, retried, then the item; the trace went along.
    let (status, source, body) = get(
        gw.addr,
        "/items/5",
        &format!("traceparent: 00-{TRACE}-{PARENT}-01\r\n"),
    );
    assert_eq!((status, source.as_str()), (200, "upstream"), "{body}");
    let item: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(item["id"], 5);
    let tp: Vec<&str> = item["traceparent"].as_str().unwrap().split('-').collect();
    assert_eq!((tp[0], tp[1], tp[3]), ("00", TRACE, "01"), "{item}");
    assert_ne!(
        tp[2], PARENT,
        "the upstream's parent is the gateway's client span"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 3);

    let metrics = gw.request("GET", "/metrics", None).body;
    assert!(
        metrics.contains("keel_breaker_state{dependency=\"upstream\",state=\"closed\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("keel_breaker_calls_total{dependency=\"upstream\",outcome=\"failure\"} 2\n")
    );
    assert!(metrics.contains("keel_bulkhead_max{dependency=\"upstream\"} 64\n"));

    // The gateway's server span reached the collector, child of the incoming parent.
    let deadline = Instant::now() + LIMIT;
    let server_span = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let export = exports.recv_timeout(left).expect("no server span exported");
        let rs = &export["resourceSpans"][0];
        let service = rs["resource"]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == "service.name")
            .map(|a| a["value"]["stringValue"].clone());
        assert_eq!(service, Some(Value::from("gateway-test")));
        let found = rs["scopeSpans"][0]["spans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["kind"] == 2 && s["traceId"] == TRACE)
            .cloned();
        if let Some(span) = found {
            break span;
        }
    };
    assert_eq!(server_span["name"], "GET /items/:id");
    assert_eq!(server_span["parentSpanId"], PARENT);

    // The upstream goes away: connections are refused, the breaker opens, the
    // gateway answers with fallbacks.
    stop.store(true, Ordering::SeqCst);
    up_thread.join().unwrap();
    let mut last = String::new();
    for _ in 0..3 {
        let (status, source, body) = get(gw.addr, "/items/6", "");
        assert_eq!((status, source.as_str()), (200, "fallback"), "{body}");
        let fallback: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(fallback["fallback"], true);
        last = fallback["reason"].as_str().unwrap().to_owned();
    }
    assert!(last.contains("circuit breaker is open"), "{last}");
    let metrics = gw.request("GET", "/metrics", None).body;
    assert!(
        metrics.contains("keel_breaker_state{dependency=\"upstream\",state=\"open\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("keel_breaker_transitions_total{dependency=\"upstream\",to=\"open\"} 1\n")
    );

    let (status, stdout, stderr) = gw.stop();
    assert!(status.success(), "{status:?}\n{stdout}\n{stderr}");
    assert!(stdout.contains("circuit breaker opened"), "{stdout}");
}
