//! The header and state extractors over raw sockets: [`Headers`] before a body extractor,
//! [`Header<T>`] and its 400s naming the header, `Option<Header<T>>`, [`State`] shared by
//! every loop behind an `Arc` and per loop behind an `Rc`, and a server that refuses to
//! start when a route's state is missing.

use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use keel_http::{FromHeader, Header, Headers, Json, Router, ServerConfig, State};
use keel_testkit::TestServer;
use serde_json::{Value, json};

/// `X-Tenant-Id: <u64>`.
struct TenantId(u64);

impl FromHeader for TenantId {
    const NAME: &'static str = "X-Tenant-Id";

    fn from_header(value: &str) -> Result<Self, String> {
        value.parse().map(TenantId).map_err(|e| e.to_string())
    }
}

async fn with_headers(headers: Headers, Json(body): Json<Value>) -> Json<Value> {
    Json(json!({
        "agent": headers.get("USER-AGENT"),
        "tags": headers.get_all("x-tag").collect::<Vec<_>>(),
        "body": body,
    }))
}

async fn tenant(Header(TenantId(id)): Header<TenantId>, body: String) -> String {
    format!("tenant {id}: {body}")
}

async fn maybe_tenant(tenant: Option<Header<TenantId>>) -> String {
    match tenant {
        Some(Header(TenantId(id))) => format!("tenant {id}"),
        None => "no tenant".to_owned(),
    }
}

fn header_app() -> Router {
    Router::new()
        .post("/headers", with_headers)
        .post("/tenant", tenant)
        .get("/maybe", maybe_tenant)
}

#[test]
fn headers_extractor_comes_before_the_body_extractor() {
    let server = TestServer::start(ServerConfig::default(), header_app);
    let mut c = server.connect();
    let body = r#"{"a":1}"#;
    let res = c.request(format!(
        "POST /headers HTTP/1.1\r\nHost: h\r\nuser-agent: probe/1\r\nX-Tag: x\r\n\
         Content-Type: application/json\r\nx-TAG: y\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(
        res.json(),
        json!({ "agent": "probe/1", "tags": ["x", "y"], "body": { "a": 1 } })
    );
}

#[test]
fn typed_header_is_parsed_or_a_400_naming_it() {
    let server = TestServer::start(ServerConfig::default(), header_app);
    let mut c = server.connect();
    let post = |headers: &str| {
        format!("POST /tenant HTTP/1.1\r\nHost: h\r\n{headers}Content-Length: 2\r\n\r\nhi")
    };

    let res = c.request(post("x-tenant-id: 42\r\n"));
    assert_eq!((res.status, res.text()), (200, "tenant 42: hi"));

    for (headers, code) in [
        ("", "missing_header"),
        ("X-Tenant-Id: forty-two\r\n", "invalid_header"),
        ("X-Tenant-Id: 1\r\nX-Tenant-Id: 2\r\n", "invalid_header"),
    ] {
        let res = c.request(post(headers));
        let json = res.assert_error(400, code);
        let message = json["error"].as_str().unwrap();
        assert!(message.contains("X-Tenant-Id"), "{message}");
        // An extractor error does not cost the connection.
        assert!(!res.closes(), "{res:?}");
    }

    let get = |headers: &str| format!("GET /maybe HTTP/1.1\r\nHost: h\r\n{headers}\r\n");
    assert_eq!(c.request(get("X-Tenant-Id: 7\r\n")).text(), "tenant 7");
    assert_eq!(c.request(get("")).text(), "no tenant");
    c.request(get("X-Tenant-Id: x\r\n"))
        .assert_error(400, "invalid_header");
}

// ===== State =====

async fn hit(State(hits): State<Arc<AtomicU64>>) -> String {
    (hits.fetch_add(1, Ordering::SeqCst) + 1).to_string()
}

async fn loop_hit(State(hits): State<Rc<Cell<u64>>>) -> String {
    hits.set(hits.get() + 1);
    hits.get().to_string()
}

#[test]
fn state_behind_an_arc_is_shared_by_every_loop() {
    let hits = Arc::new(AtomicU64::new(0));
    let shared = hits.clone();
    let server = TestServer::start_with_loops(2, ServerConfig::default(), move || {
        Router::new().get("/hit", hit).with_state(shared.clone())
    });
    // Fresh connections, spread by the kernel over both loops.
    let mut seen: Vec<u64> = (0..20)
        .map(|_| server.connect().get("/hit").text().parse().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=20).collect::<Vec<_>>());
    // The handlers counted in the very value the test holds.
    assert_eq!(hits.load(Ordering::SeqCst), 20);
}

#[test]
fn state_built_in_the_factory_is_per_loop_and_several_types_coexist() {
    let hits = Arc::new(AtomicU64::new(0));
    let shared = hits.clone();
    let server = TestServer::start_with_loops(1, ServerConfig::default(), move || {
        Router::new()
            .with_state(Rc::new(Cell::new(100u64)))
            .get("/loop", loop_hit)
            .get("/hit", hit)
            .with_state(shared.clone())
    });
    let mut c = server.connect();
    assert_eq!(c.get("/loop").text(), "101");
    assert_eq!(c.get("/hit").text(), "1");
    assert_eq!(server.connect().get("/loop").text(), "102");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[test]
fn missing_state_stops_the_server_at_startup_naming_the_route() {
    let mut server = TestServer::start(ServerConfig::default(), || {
        Router::new()
            .get("/fine", || async { "ok" })
            .get("/hit", hit)
            .with_state(Rc::new(Cell::new(0u64)))
    });
    let result = server
        .wait_stopped(Duration::from_secs(30))
        .expect("serve returns on its own when a state is missing");
    let err = result.expect_err("serve must fail");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    let message = err.to_string();
    assert!(message.contains("GET /hit"), "{message}");
    assert!(message.contains("AtomicU64"), "{message}");
}
