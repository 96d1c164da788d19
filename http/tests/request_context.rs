//! Request context and logging end to end: a handler's request id reaches a task it
//! spawns and its blocking and worker jobs; a valid incoming `X-Request-ID` is echoed,
//! an invalid one replaced; log lines (a worker job's, the access log's) carry the id;
//! the access log names the route pattern and can be switched off.

use keel_http::{Path, Router, ServerConfig};
use keel_runtime::task_context;
use keel_testkit::logs::keel_log;
use keel_testkit::{IO_TIMEOUT, TestServer, eventually};
use serde_json::Value;

/// The JSON lines logged so far with `request_id`.
fn lines_of(request_id: &str) -> Vec<Value> {
    let (lines, _) = keel_log().lines();
    lines
        .into_iter()
        .filter(|l| l["request_id"] == request_id)
        .collect()
}

async fn ids(Path(name): Path<String>) -> String {
    let mine = task_context::request_id().unwrap_or_default();
    let task = keel_runtime::spawn_local(async { task_context::request_id() })
        .await
        .unwrap()
        .unwrap_or_default();
    let blocking = keel_runtime::blocking::spawn(task_context::request_id)
        .unwrap()
        .await
        .unwrap()
        .unwrap_or_default();
    let worker = keel_runtime::workers::spawn(move || {
        tracing::info!(name = %name, "worker job");
        task_context::request_id()
    })
    .unwrap()
    .await
    .unwrap()
    .unwrap_or_default();
    format!("{mine} {task} {blocking} {worker}")
}

fn app() -> Router {
    Router::new().get("/ids/:name", ids)
}

#[test]
fn request_id_propagates_and_is_echoed() {
    keel_log();
    let server = TestServer::start(ServerConfig::default(), app);
    let mut c = server.connect();

    let res = c.request("GET /ids/ann HTTP/1.1\r\nHost: t\r\nX-Request-ID: trace-abc.1\r\n\r\n");
    assert_eq!(res.status, 200);
    assert_eq!(res.header("x-request-id"), Some("trace-abc.1"));
    assert_eq!(
        res.text(),
        "trace-abc.1 trace-abc.1 trace-abc.1 trace-abc.1"
    );

    let res = c.request("GET /ids/bob HTTP/1.1\r\nHost: t\r\nX-Request-ID: no good!\r\n\r\n");
    assert_eq!(res.status, 200);
    let id = res.header("x-request-id").unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert_eq!(res.text(), format!("{id} {id} {id} {id}"));

    // The worker job's line and the access line carry the request's id.
    let lines = eventually(IO_TIMEOUT, || {
        let lines = lines_of("trace-abc.1");
        (lines.len() >= 2).then_some(lines)
    })
    .expect("log lines for trace-abc.1");
    let job = lines.iter().find(|l| l["msg"] == "worker job").unwrap();
    assert_eq!(job["name"], "ann");
    let access = lines
        .iter()
        .find(|l| l["target"] == "keel_http::access")
        .unwrap();
    assert_eq!(access["method"], "GET");
    assert_eq!(access["route"], "/ids/:name");
    assert_eq!(access["status"], 200);
    assert_eq!(
        access["bytes"],
        "trace-abc.1 trace-abc.1 trace-abc.1 trace-abc.1".len()
    );
    assert!(access["duration_ms"].as_f64().unwrap() >= 0.0);
    assert!(access["remote"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(access["loop"].is_u64());
    server.stop().unwrap();
}

#[test]
fn unmatched_requests_are_logged_by_path_and_the_access_log_switches_off() {
    keel_log();
    let server = TestServer::start(ServerConfig::default(), app);
    let res = server
        .connect()
        .request("GET /missing HTTP/1.1\r\nHost: t\r\nX-Request-ID: miss-1\r\n\r\n");
    assert_eq!(res.status, 404);
    assert_eq!(res.header("x-request-id"), Some("miss-1"));
    let access = eventually(IO_TIMEOUT, || lines_of("miss-1").into_iter().next())
        .expect("access line for miss-1");
    assert_eq!(access["status"], 404);
    assert_eq!(access["path"], "/missing");
    assert!(access.get("route").is_none());
    server.stop().unwrap();

    let quiet = TestServer::start(ServerConfig::default().access_log(false), app);
    let mut c = quiet.connect();
    let res = c.request("GET /ids/q HTTP/1.1\r\nHost: t\r\nX-Request-ID: quiet-1\r\n\r\n");
    assert_eq!(res.status, 200);
    // A connection logs a request's access line before it reads the next request: once
    // the second is answered, the first's line would have been handed to the logger.
    let res = c.request("GET /ids/q HTTP/1.1\r\nHost: t\r\nX-Request-ID: quiet-2\r\n\r\n");
    assert_eq!(res.status, 200);
    let lines = lines_of("quiet-1");
    assert!(lines.iter().any(|l| l["msg"] == "worker job"), "{lines:?}");
    assert!(
        lines.iter().all(|l| l["target"] != "keel_http::access"),
        "{lines:?}"
    );
    quiet.stop().unwrap();
}
