//! Server-sent events against a real `EventSource` (Node's `eventsource` package,
//! provisioned by `scripts/test.sh` into http/tests/node): named events with ids and
//! multi-line data, the `retry` field, a stream that ends and the client's reconnection
//! with `Last-Event-ID` (read by the handler, which resumes after it); keep-alive
//! comments on a quiet stream; and a server drain that ends an endless stream cleanly
//! (the last chunk, a clean report) instead of waiting for the deadline.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keel_http::sse::{self, Event, LastEventId, Sse};
use keel_http::{Router, ServerConfig, State};
use keel_testkit::TestServer;
use serde_json::Value;

type Seen = Arc<Mutex<Vec<Option<String>>>>;

/// Three events after the one the client last saw, then the end of the stream.
async fn ticks(State(seen): State<Seen>, LastEventId(last): LastEventId) -> Sse {
    seen.lock().unwrap().push(last.clone());
    let start = last
        .and_then(|id| id.parse::<u32>().ok())
        .map_or(0, |id| id + 1);
    let events = (start..start + 3).map(move |i| {
        let event = Event::new()
            .event("tick")
            .id(&i.to_string())
            .data(&format!("n={i}\nsecond line"));
        // Reconnect quickly once the stream ends.
        if i == start {
            event.retry(Duration::from_millis(50))
        } else {
            event
        }
    });
    Sse::new(sse::iter(events))
}

/// Nothing ever, kept alive by comments.
async fn quiet() -> Sse {
    Sse::new(sse::unfold((), |()| {
        std::future::pending::<Option<(Event, ())>>()
    }))
    .keep_alive(Duration::from_millis(100))
}

fn app(seen: Seen) -> Router {
    Router::new()
        .get("/ticks", ticks)
        .get("/quiet", quiet)
        .with_state(seen)
}

fn node_modules() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    let modules = dir.join("node_modules");
    if !modules.join("eventsource").exists() {
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefer-offline"])
            .current_dir(&dir)
            .status()
            .expect("npm (apt-get install npm; scripts/test.sh provisions it)");
        assert!(status.success(), "npm install in {}", dir.display());
    }
    modules
}

#[test]
fn eventsource_receives_named_events_and_resumes_with_last_event_id() {
    let seen = Seen::default();
    let state = seen.clone();
    let server = TestServer::start(ServerConfig::default(), move || app(state.clone()));
    let out = Command::new("node")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ws/eventsource.mjs"))
        .arg(format!("http://{}/ticks", server.addr))
        .arg("6")
        .env("KEEL_NODE_MODULES", node_modules())
        .output()
        .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out: Value = serde_json::from_str(stdout.trim()).unwrap();
    let events = out["events"].as_array().unwrap();
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event["type"], "tick", "{out}");
        assert_eq!(event["id"], i.to_string(), "{out}");
        assert_eq!(event["data"], format!("n={i}\nsecond line"), "{out}");
    }
    assert_eq!(events.len(), 6);
    assert!(out["opens"].as_u64().unwrap() >= 2, "{out}");
    // The second connection said where the first one stopped.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0], None);
    assert_eq!(seen[1].as_deref(), Some("2"), "{seen:?}");
}

/// Reads from `s` until `needle` arrived (or the limit); everything read.
fn read_until(s: &mut TcpStream, needle: &[u8], limit: Duration) -> Vec<u8> {
    let until = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    while !got.windows(needle.len()).any(|w| w == needle) {
        assert!(
            Instant::now() < until,
            "no {needle:?} in {:?}",
            String::from_utf8_lossy(&got)
        );
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    got
}

#[test]
fn a_quiet_stream_gets_keep_alive_comments_and_ends_on_drain() {
    let server = TestServer::start(
        ServerConfig::default().shutdown_timeout(Duration::from_secs(20)),
        || app(Seen::default()),
    );
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s.write_all(b"GET /quiet HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let head = read_until(&mut s, b"\r\n\r\n", Duration::from_secs(5));
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("content-type: text/event-stream\r\n"),
        "{head}"
    );
    assert!(head.contains("cache-control: no-cache\r\n"), "{head}");
    assert!(head.contains("transfer-encoding: chunked\r\n"), "{head}");
    // Two keep-alive comments (each a chunk of ":\n\n").
    let got = read_until(
        &mut s,
        b"3\r\n:\n\n\r\n3\r\n:\n\n\r\n",
        Duration::from_secs(5),
    );
    assert!(!got.is_empty());
    // The drain ends the endless stream with the last chunk, at once, not at the
    // deadline (20 s).
    let started = Instant::now();
    server.handle.shutdown();
    read_until(&mut s, b"0\r\n\r\n", Duration::from_secs(5));
    let report = server.stop().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
