//! The per-request timeouts end to end: the request timeout (from a complete head to the
//! written response) answers 408 and closes, for a slow handler and for a body that stops
//! arriving; and the headers timeout starts afresh for every request, including the one
//! after a head the server refused but kept the connection for.

use std::thread;
use std::time::{Duration, Instant};

use keel_http::{Router, ServerConfig};
use keel_testkit::TestServer;

fn app() -> Router {
    Router::new()
        .get("/", || async { "root" })
        .get("/slow", || async {
            keel_runtime::time::sleep(Duration::from_secs(30)).await;
            "too late"
        })
        .post(
            "/len",
            |body: Vec<u8>| async move { format!("{}", body.len()) },
        )
}

// ===== request timeout =====

#[test]
fn slow_handler_gets_408_and_close() {
    let request_timeout = Duration::from_millis(500);
    let server = TestServer::start(
        ServerConfig::default().request_timeout(request_timeout),
        app,
    );
    let mut c = server.connect();
    let started = Instant::now();
    let res = c.get("/slow");
    let elapsed = started.elapsed();
    res.assert_error(408, "request_timeout");
    assert!(res.closes(), "{res:?}");
    assert!(
        elapsed >= request_timeout / 2,
        "408 after only {elapsed:?} (timeout {request_timeout:?})"
    );
    c.assert_closed();
    // Fast requests are untouched by the timeout.
    keel_testkit::assert_serves(&server, "/");
}

#[test]
fn body_that_stops_arriving_gets_408_and_close() {
    let request_timeout = Duration::from_millis(500);
    let server = TestServer::start(
        ServerConfig::default().request_timeout(request_timeout),
        app,
    );
    let mut c = server.connect();
    // 5 of the 10 declared bytes, then nothing.
    let res = c.request("POST /len HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhello");
    res.assert_error(408, "request_timeout");
    assert!(res.closes(), "{res:?}");
    c.assert_closed();
    keel_testkit::assert_serves(&server, "/");
}

#[test]
fn requests_within_the_request_timeout_are_served_on_one_connection() {
    let server = TestServer::start(
        ServerConfig::default().request_timeout(Duration::from_secs(5)),
        app,
    );
    let mut c = server.connect();
    c.send("POST /len HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhello");
    thread::sleep(Duration::from_millis(200));
    c.send("world");
    let res = c.read_response();
    assert_eq!((res.status, res.text()), (200, "10"));
    assert!(!res.closes(), "{res:?}");
    assert_eq!(c.get("/").text(), "root");
}

// ===== headers timeout across requests =====

/// A refused head the connection survives (no `Host` on a bodyless HTTP/1.1 request)
/// must not leave its headers deadline behind: the next head on the connection gets a
/// full headers timeout of its own.
#[test]
fn headers_timeout_restarts_after_a_refused_head() {
    let headers_timeout = Duration::from_secs(2);
    // Long enough for a pause inside a head to be read as a separate piece.
    let pause = Duration::from_millis(300);
    let server = TestServer::start(
        ServerConfig::default()
            .headers_timeout(headers_timeout)
            .keepalive_timeout(Duration::from_secs(30)),
        app,
    );
    let mut c = server.connect();
    // Sent in two pieces, so the server waits for the rest with a headers deadline set.
    c.send("GET / HTTP/1.1\r\n");
    thread::sleep(pause);
    c.send("\r\n");
    let res = c.read_response();
    res.assert_error(400, "bad_request");
    assert!(!res.closes(), "{res:?}");

    // Idle past the first head's deadline (idle time is the keep-alive timeout's).
    thread::sleep(headers_timeout + Duration::from_millis(500));

    // The next head, again in two pieces, well within its own headers timeout.
    c.send("GET / HTTP/1.1\r\n");
    thread::sleep(pause);
    c.send("Host: h\r\n\r\n");
    let res = c.read_response();
    assert_eq!((res.status, res.text()), (200, "root"), "{res:?}");
    assert!(!res.closes(), "{res:?}");
}
