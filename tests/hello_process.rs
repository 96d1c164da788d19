//! `examples/hello` as a real process: SIGTERM drains it and it exits 0; a handler hung
//! past `KEEL_SHUTDOWN_TIMEOUT` makes it exit 1 naming the request; a second SIGINT exits
//! at once; a bad variable stops it at startup naming the variable. The example binary is
//! the one `cargo test` builds next to this test (a plain `cargo test -p keel` rebuilds
//! it; with `--test hello_process` alone, run `cargo build --example hello` first).

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use support::{Example, LIMIT, access_log, run_to_exit, start};

/// Sends `GET /slow` (a handler that never finishes, with `HELLO_SLOW_ROUTE=1`) on a
/// fresh connection; the connection stays open as long as the returned stream lives.
fn request_slow(hello: &Example) -> TcpStream {
    let mut stuck = TcpStream::connect_timeout(&hello.addr, LIMIT).expect("connect");
    stuck
        .write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    stuck
}

#[test]
fn sigterm_drains_and_exits_0() {
    let mut hello = start("hello", &[]);
    let hi = hello.request("GET", "/plaintext", None);
    assert_eq!((hi.status, hi.body.as_str()), (200, "Hello, World!"));
    // The benchmark target names itself, as the peers and TechEmpower's rules do.
    assert_eq!(hi.header("server"), Some("keel"));
    let json = hello.request("GET", "/json", None);
    assert_eq!(json.status, 200);
    assert_eq!(
        json.json(),
        serde_json::json!({ "message": "Hello, World!" })
    );
    let ready = hello.wait_ready();
    assert!(
        ready.body.contains("\"status\":\"ready\""),
        "{}",
        ready.body
    );
    assert_eq!(hello.request("GET", "/health/live", None).status, 200);
    assert_eq!(hello.request("GET", "/health/startup", None).status, 200);

    let (status, stdout, stderr) = hello.stop();
    assert_eq!(status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("drained"), "{stdout}");
    // The access log, flushed before exit: one JSON line per request, with its route.
    let access = access_log(&stdout);
    let plaintext = access
        .iter()
        .find(|l| l["route"] == "/plaintext")
        .unwrap_or_else(|| panic!("no access line for /plaintext in {stdout}"));
    assert_eq!(plaintext["status"], 200);
    assert_eq!(plaintext["request_id"].as_str().map(str::len), Some(32));
    // The shutdown line carries the drain's duration as a number of milliseconds.
    let complete = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON log line"))
        .find(|l| l["msg"] == "shutdown complete")
        .unwrap_or_else(|| panic!("no shutdown line in {stdout}"));
    assert!(complete["took_ms"].is_f64(), "{complete}");
}

#[test]
fn a_handler_hung_past_the_deadline_exits_1_and_is_named() {
    let mut hello = start(
        "hello",
        &[
            ("HELLO_SLOW_ROUTE", "1"),
            ("KEEL_SHUTDOWN_TIMEOUT", "300ms"),
        ],
    );
    let _stuck = request_slow(&hello);
    // Let the request reach its handler (there is no signal for it from outside).
    thread::sleep(Duration::from_millis(500));
    let (status, stdout, stderr) = hello.stop();
    assert_eq!(status.code(), Some(1), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stderr.contains("abandoned at the shutdown deadline: GET /slow"),
        "{stderr}"
    );
}

#[test]
fn a_second_sigint_exits_at_once() {
    let mut hello = start(
        "hello",
        &[("HELLO_SLOW_ROUTE", "1"), ("KEEL_SHUTDOWN_TIMEOUT", "1h")],
    );
    let _stuck = request_slow(&hello);
    thread::sleep(Duration::from_millis(500));
    hello.signal("INT");
    thread::sleep(Duration::from_millis(300));
    assert!(
        hello.child.try_wait().unwrap().is_none(),
        "exited on the first SIGINT despite a request in flight"
    );
    hello.signal("INT");
    let status = hello.wait(LIMIT);
    assert_eq!(status.code(), Some(130));
}

#[test]
fn a_bad_variable_stops_startup_naming_it() {
    let (code, stderr) = run_to_exit("hello", &[("KEEL_MAX_BODY", "big")]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("KEEL_MAX_BODY"), "{stderr}");
    assert!(stderr.contains("\"big\""), "{stderr}");

    // A secret is named, never shown.
    let (code, stderr) = run_to_exit("hello", &[("KEEL_COOKIE_KEY", "too-short-a-secret")]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("KEEL_COOKIE_KEY"), "{stderr}");
    assert!(!stderr.contains("too-short-a-secret"), "{stderr}");

    let (code, stderr) = run_to_exit("hello", &[("LOG_LEVEL", "verbose")]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("LOG_LEVEL"), "{stderr}");
}
