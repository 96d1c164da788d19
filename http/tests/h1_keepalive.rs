//! Connection persistence: HTTP/1.1 keeps the connection by default and closes on
//! `Connection: close`; HTTP/1.0 closes by default and keeps it on
//! `Connection: keep-alive`; an idle keep-alive connection is closed silently after the
//! keep-alive timeout.

use std::time::{Duration, Instant};

use keel_http::{Router, ServerConfig};
use keel_testkit::TestServer;

fn app() -> Router {
    Router::new()
        .get("/hello", || async { "hello" })
        .post("/echo", |body: Vec<u8>| async move { body })
}

fn server() -> TestServer {
    TestServer::start(ServerConfig::default(), app)
}

#[test]
fn http11_keeps_the_connection_by_default() {
    let server = server();
    let mut c = server.connect();
    for i in 0..5 {
        let res = c.get("/hello");
        assert_eq!((res.status, res.text()), (200, "hello"), "request {i}");
        assert!(res.header("connection").is_none(), "{res:?}");
    }
    let res = c.request("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(res.body, b"abc");
    assert_eq!(c.get("/hello").status, 200);
}

#[test]
fn http11_connection_close_closes_after_the_response() {
    let server = server();
    let mut c = server.connect();
    assert_eq!(c.get("/hello").status, 200);
    let res = c.request("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!((res.status, res.text()), (200, "hello"));
    assert!(res.closes(), "{res:?}");
    c.assert_closed();
}

#[test]
fn http11_connection_close_among_other_tokens() {
    let server = server();
    let mut c = server.connect();
    let res = c.request("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: TE, Close\r\n\r\n");
    assert_eq!(res.status, 200);
    assert!(res.closes(), "{res:?}");
    c.assert_closed();
}

#[test]
fn http10_closes_by_default() {
    let server = server();
    let mut c = server.connect();
    let res = c.request("GET /hello HTTP/1.0\r\n\r\n");
    assert_eq!((res.status, res.text()), (200, "hello"));
    assert!(res.closes(), "{res:?}");
    c.assert_closed();
}

#[test]
fn http10_keeps_alive_when_asked() {
    let server = server();
    let mut c = server.connect();
    for _ in 0..3 {
        let res = c.request("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert_eq!((res.status, res.text()), (200, "hello"));
        assert_eq!(res.header("connection"), Some("keep-alive"), "{res:?}");
    }
    let res =
        c.request("POST /echo HTTP/1.0\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nhi");
    assert_eq!(res.body, b"hi");
    assert_eq!(res.header("connection"), Some("keep-alive"));
    // A later request without the token ends the connection.
    let res = c.request("GET /hello HTTP/1.0\r\n\r\n");
    assert!(res.closes(), "{res:?}");
    c.assert_closed();
}

#[test]
fn idle_keepalive_connection_is_closed_after_the_timeout() {
    let timeout = Duration::from_millis(300);
    let server = TestServer::start(ServerConfig::default().keepalive_timeout(timeout), app);
    let mut c = server.connect();
    // Requests spaced well inside the timeout keep the connection.
    for _ in 0..3 {
        assert_eq!(c.get("/hello").status, 200);
        std::thread::sleep(Duration::from_millis(50));
    }
    let idle_from = Instant::now();
    // Closed silently (no 408 bytes), within the generous I/O bound.
    c.assert_closed();
    let idle = idle_from.elapsed();
    assert!(
        idle >= timeout / 2,
        "closed after {idle:?}, well before the {timeout:?} timeout"
    );
    // Other connections are unaffected.
    assert_eq!(server.connect().get("/hello").status, 200);
}

#[test]
fn connection_that_never_sends_is_closed_after_the_keepalive_timeout() {
    let server = TestServer::start(
        ServerConfig::default().keepalive_timeout(Duration::from_millis(200)),
        app,
    );
    let mut c = server.connect();
    c.assert_closed();
}
