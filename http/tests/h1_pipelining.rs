//! Pipelining: requests sent back to back in one write (GETs and POSTs with bodies,
//! mixed) are answered in order, and the answers to one read go out together in one
//! write.

use keel_http::{Path, Router, ServerConfig};
use keel_testkit::TestServer;

fn app() -> Router {
    Router::new()
        .get(
            "/n/:n",
            |Path(n): Path<u32>| async move { format!("get {n}") },
        )
        .post(
            "/echo",
            |body: String| async move { format!("post {body}") },
        )
}

fn get(n: u32) -> String {
    format!("GET /n/{n} HTTP/1.1\r\nHost: t\r\n\r\n")
}

fn post(body: &str) -> String {
    format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn mixed_pipelined_requests_are_answered_in_order() {
    let server = TestServer::start(ServerConfig::default(), app);
    let mut c = server.connect();
    let mut batch = String::new();
    let mut expected = Vec::new();
    for i in 0..20 {
        if i % 3 == 0 {
            let body = format!("body-{i}");
            batch.push_str(&post(&body));
            expected.push(format!("post {body}"));
        } else {
            batch.push_str(&get(i));
            expected.push(format!("get {i}"));
        }
    }
    c.send(batch.as_bytes());
    for want in &expected {
        let res = c.read_response();
        assert_eq!(res.status, 200);
        assert_eq!(res.text(), want);
    }
    // Still in sync afterwards.
    assert_eq!(c.get("/n/99").text(), "get 99");
}

#[test]
fn pipelined_requests_split_at_awkward_points_are_answered_in_order() {
    let server = TestServer::start(ServerConfig::default(), app);
    let mut c = server.connect();
    let batch = format!("{}{}{}{}", get(1), post("abcdef"), get(2), post(""));
    // Cut inside a head, inside a body and between requests.
    c.send_slowly(batch.as_bytes(), 7, std::time::Duration::from_millis(1));
    for want in ["get 1", "post abcdef", "get 2", "post "] {
        assert_eq!(c.read_response().text(), want);
    }
}

#[test]
fn responses_to_one_read_arrive_together() {
    let server = TestServer::start(ServerConfig::default(), app);
    let mut c = server.connect();
    // Warm up, so the connection is idle in a read when the batch lands.
    assert_eq!(c.get("/n/0").status, 200);
    let batch = format!("{}{}{}", get(1), post("x"), get(2));
    c.send(batch.as_bytes());
    // One read: the server writes every answer to one read with a single write, so the
    // first bytes to arrive already hold all three responses.
    let got = c.read_once();
    let text = String::from_utf8_lossy(&got);
    assert_eq!(
        text.matches("HTTP/1.1 200 OK\r\n").count(),
        3,
        "one read got: {text:?}"
    );
    c.unread(got);
    for want in ["get 1", "post x", "get 2"] {
        assert_eq!(c.read_response().text(), want);
    }
}

#[test]
fn pipelined_close_stops_after_that_response() {
    let server = TestServer::start(ServerConfig::default(), app);
    let mut c = server.connect();
    let batch = format!(
        "{}GET /n/2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n{}",
        get(1),
        get(3)
    );
    c.send(batch.as_bytes());
    assert_eq!(c.read_response().text(), "get 1");
    let res = c.read_response();
    assert_eq!(res.text(), "get 2");
    assert!(res.closes());
    // The request after `close` is never answered.
    c.assert_closed();
}
