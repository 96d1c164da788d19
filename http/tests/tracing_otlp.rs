//! Tracing end to end, in one process with tracing on (it is process-wide, so this file
//! holds one test): a request with a W3C `traceparent` reaches a Keel server whose
//! handler calls a second Keel server through the client; a test-local OTLP collector
//! (a std `TcpListener`) receives the export. Checked: the OTLP/HTTP JSON shape, the
//! incoming `traceparent` as the server span's parent, the client span as the server
//! span's child and the called server's parent (and its `traceparent` on the wire),
//! `tracestate` carried along, the pool acquire span, an invalid `traceparent` ignored
//! (a new trace), an unsampled trace propagated but not exported, probes not traced.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use keel_http::client::Client;
use keel_http::otlp::{self, OtlpConfig};
use keel_http::{Request, Router, ServerConfig};
use keel_pool::{Manager, Pool};
use keel_testkit::TestServer;
use serde_json::Value;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";
const UNSAMPLED: &str = "0af7651916cd43dd8448eb211c80319c";

/// A collector: answers every POST 200 and hands over `(path, content-type, body)`.
fn collector() -> (SocketAddr, mpsc::Receiver<(String, String, Value)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let path = line.split(' ').nth(1).unwrap_or("").to_owned();
            let mut headers = HashMap::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (n, v) = h.split_once(':').unwrap();
                headers.insert(n.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
            let len: usize = headers["content-length"].parse().unwrap();
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
                .unwrap();
            let json = serde_json::from_slice(&body).expect("an OTLP JSON body");
            let _ = tx.send((path, headers["content-type"].clone(), json));
        }
    });
    (addr, rx)
}

/// A pool of nothing, to see the acquire span.
struct Unit;

impl Manager for Unit {
    type Connection = ();
    type Error = Infallible;
    async fn create(&self) -> Result<(), Infallible> {
        Ok(())
    }
    async fn recycle(&self, _: &mut ()) -> Result<(), Infallible> {
        Ok(())
    }
}

/// The called service: answers with the trace headers it received, after a pool acquire.
fn upstream() -> Router {
    let pool = Pool::new(Unit);
    Router::new().get("/leaf", move |req: Request| {
        let pool = pool.clone();
        async move {
            drop(pool.get().await.unwrap());
            format!(
                "{}|{}",
                req.header("traceparent").unwrap_or("-"),
                req.header("tracestate").unwrap_or("-")
            )
        }
    })
}

/// The service under test: calls the upstream and returns what it saw.
fn front(upstream: SocketAddr) -> Router {
    Router::new().get("/front", move || async move {
        let res = Client::new()
            .get(&format!("http://{upstream}/leaf"))
            .send()
            .await
            .unwrap();
        res.text().await.unwrap()
    })
}

fn spans_of(export: &Value) -> Vec<Value> {
    export["resourceSpans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|rs| rs["scopeSpans"].as_array().unwrap().iter())
        .flat_map(|ss| ss["spans"].as_array().unwrap().iter().cloned())
        .collect()
}

fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}

#[test]
fn a_trace_crosses_two_services_and_reaches_the_collector() {
    let (collector, exports) = collector();
    let endpoint = format!("http://{collector}");
    let vars = move |name: &str| match name {
        "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(endpoint.clone()),
        "OTEL_SERVICE_NAME" => Some("trace-test".to_owned()),
        "OTEL_BSP_SCHEDULE_DELAY" => Some("100".to_owned()),
        _ => None,
    };
    let guard = otlp::init(OtlpConfig::from_vars(vars).unwrap().unwrap()).unwrap();
    assert!(keel_runtime::trace::enabled());

    let upstream_server = TestServer::start(ServerConfig::default(), upstream);
    let upstream_addr = upstream_server.addr;
    let front_server = TestServer::start(ServerConfig::default(), move || front(upstream_addr));

    // 1. A sampled incoming trace, with a tracestate.
    let mut conn = front_server.connect();
    let res = conn.request(format!(
        "GET /front HTTP/1.1\r\nHost: t\r\ntraceparent: 00-{TRACE}-{PARENT}-01\r\ntracestate: vendor=abc\r\n\r\n"
    ));
    assert_eq!(res.status, 200, "{}", res.text());
    let (seen_parent, seen_state) = res.text().split_once('|').unwrap();
    assert_eq!(seen_state, "vendor=abc");
    let seen: Vec<&str> = seen_parent.split('-').collect();
    assert_eq!(
        (seen[0], seen[1], seen[3]),
        ("00", TRACE, "01"),
        "{seen_parent}"
    );
    let client_span_id = seen[2].to_owned();
    assert_ne!(
        client_span_id, PARENT,
        "the upstream's parent is the client span"
    );

    // 2. An invalid traceparent (uppercase hex): ignored, a new trace starts.
    let res = upstream_server.connect().request(format!(
        "GET /leaf HTTP/1.1\r\nHost: t\r\nX-Request-ID: bad-traceparent\r\ntraceparent: 00-{}-{PARENT}-01\r\n\r\n",
        TRACE.to_uppercase()
    ));
    assert_eq!(res.status, 200);

    // 3. An unsampled trace: propagated with its flag, not exported.
    let res = conn.request(format!(
        "GET /front HTTP/1.1\r\nHost: t\r\ntraceparent: 00-{UNSAMPLED}-{PARENT}-00\r\n\r\n"
    ));
    let (seen_parent, _) = res.text().split_once('|').unwrap();
    assert!(
        seen_parent.starts_with(&format!("00-{UNSAMPLED}-")) && seen_parent.ends_with("-00"),
        "{seen_parent}"
    );

    // 4. A probe: not traced.
    assert_eq!(upstream_server.connect().get("/health/live").status, 200);

    // Collect until the spans of requests 1 and 2 arrived (1: front server, client,
    // pool acquire, upstream server; 2: upstream server, pool acquire).
    assert!(keel_runtime::trace::flush(Duration::from_secs(20)));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut spans = Vec::new();
    while spans.len() < 6 {
        let left = deadline.saturating_duration_since(Instant::now());
        let (path, content_type, export) = exports
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("only {} spans exported: {spans:#?}", spans.len()));
        assert_eq!(path, "/v1/traces");
        assert_eq!(content_type, "application/json");
        let rs = &export["resourceSpans"][0];
        let service = rs["resource"]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == "service.name")
            .unwrap();
        assert_eq!(service["value"]["stringValue"], "trace-test");
        assert_eq!(rs["scopeSpans"][0]["scope"]["name"], "keel");
        spans.extend(spans_of(&export));
    }

    // The shape of every span.
    for s in &spans {
        assert_eq!(s["traceId"].as_str().unwrap().len(), 32, "{s}");
        assert_eq!(s["spanId"].as_str().unwrap().len(), 16, "{s}");
        let start: u64 = s["startTimeUnixNano"].as_str().unwrap().parse().unwrap();
        let end: u64 = s["endTimeUnixNano"].as_str().unwrap().parse().unwrap();
        assert!(start > 1_600_000_000_000_000_000 && end >= start, "{s}");
        assert!(s["kind"].is_u64(), "{s}");
        assert_ne!(
            s["traceId"], UNSAMPLED,
            "an unsampled trace was exported: {s}"
        );
    }

    let find = |pred: &dyn Fn(&Value) -> bool| -> Value {
        spans
            .iter()
            .find(|s| pred(s))
            .cloned()
            .unwrap_or_else(|| panic!("no such span in {spans:#?}"))
    };
    let in_trace = |s: &Value| s["traceId"] == TRACE;
    let front_span = find(&|s| in_trace(s) && s["name"] == "GET /front");
    assert_eq!(front_span["kind"], 2);
    assert_eq!(
        front_span["parentSpanId"], PARENT,
        "the incoming traceparent is the parent"
    );
    assert_eq!(front_span["traceState"], "vendor=abc");
    assert_eq!(
        attr(&front_span, "http.route").unwrap()["stringValue"],
        "/front"
    );
    assert_eq!(
        attr(&front_span, "http.response.status_code").unwrap()["intValue"],
        "200"
    );
    assert_eq!(
        attr(&front_span, "http.request.method").unwrap()["stringValue"],
        "GET"
    );

    let client_span = find(&|s| in_trace(s) && s["kind"] == 3);
    assert_eq!(client_span["spanId"], client_span_id.as_str());
    assert_eq!(
        client_span["parentSpanId"], front_span["spanId"],
        "client span ⊂ server span"
    );
    assert_eq!(client_span["name"], "GET");
    assert_eq!(
        attr(&client_span, "url.full").unwrap()["stringValue"],
        format!("http://{upstream_addr}/leaf")
    );

    let leaf_span = find(&|s| in_trace(s) && s["name"] == "GET /leaf");
    assert_eq!(leaf_span["kind"], 2);
    assert_eq!(leaf_span["parentSpanId"], client_span["spanId"]);

    let acquire = find(&|s| in_trace(s) && s["name"] == "pool.acquire");
    assert_eq!(acquire["kind"], 1);
    assert_eq!(acquire["parentSpanId"], leaf_span["spanId"]);

    let fresh = find(&|s| {
        attr(s, "keel.request_id").is_some_and(|v| v["stringValue"] == "bad-traceparent")
    });
    assert_ne!(
        fresh["traceId"], TRACE,
        "an invalid traceparent starts a new trace"
    );
    assert!(fresh.get("parentSpanId").is_none(), "{fresh}");

    let text = keel_http::metrics::gather_local().render();
    assert!(
        text.contains("keel_trace_spans_total{outcome=\"dropped\"} 0\n"),
        "{text}"
    );
    assert!(text.contains("keel_trace_spans_total{outcome=\"exported\"}"));
    assert!(
        spans
            .iter()
            .all(|s| attr(s, "url.path").is_none_or(|p| p["stringValue"] != "/health/live")),
        "probes are not traced"
    );

    assert!(guard.shutdown(Duration::from_secs(10)));
    assert!(!keel_runtime::trace::enabled());
    let stats = keel_runtime::trace::stats();
    assert_eq!(stats.dropped, 0);
    assert!(stats.exported >= 6, "{stats:?}");
    drop(front_server);
    drop(upstream_server);
}
