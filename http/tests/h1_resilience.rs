//! The server survives misbehaving handlers and clients: a handler panic is a JSON 500
//! and the connection and server live on; a thousand connections reset mid-request leave
//! the server serving (and leak no connection slots); a client that half-closes after
//! its request still gets the response; a streamed `Body::stream` response arrives
//! chunked (close-delimited for HTTP/1.0).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use keel_http::{
    AppError, Body, BodyStream, FromRequest, Next, Request, Response, Router, ServerConfig,
};
use keel_testkit::SlowChunks;
use keel_testkit::{Client, TestServer};
use socket2::SockRef;

/// A stream of fixed chunks, one per poll.
struct Chunks(VecDeque<Vec<u8>>);

impl BodyStream for Chunks {
    fn poll_next(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, std::io::Error>>> {
        Poll::Ready(self.0.pop_front().map(Ok))
    }
}

/// An extractor that panics.
struct Panicky;

impl FromRequest for Panicky {
    fn from_request(_req: &mut Request) -> Result<Self, AppError> {
        panic!("extractor exploded")
    }
}

fn chunks() -> VecDeque<Vec<u8>> {
    ["first,", "", "second,", "third"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect()
}

async fn panics() -> &'static str {
    panic!("handler exploded: secret detail")
}

fn app() -> Router {
    Router::new()
        .get("/", || async { "root" })
        .post("/echo", |body: Vec<u8>| async move { body })
        .get("/panic", panics)
        .get(
            "/panic-before-future",
            || -> std::future::Ready<&'static str> { panic!("panicked while building the future") },
        )
        .get("/stream", || async {
            Response::new(keel_http::StatusCode::OK)
                .with_header("content-type", "text/plain")
                .with_body(Body::stream(Chunks(chunks())))
        })
        .get("/slow-stream", || async {
            // A little wait before each chunk: the connection must await it.
            let chunks = SlowChunks::new(chunks(), Duration::from_millis(5));
            Response::new(keel_http::StatusCode::OK).with_body(Body::stream(chunks))
        })
        .get("/mw-panic", || async { "unreachable" })
        .layer(|req: Request, next: Next| async move {
            if req.path() == "/mw-panic" {
                panic!("middleware exploded");
            }
            next.run(req).await
        })
}

fn server(config: ServerConfig) -> TestServer {
    TestServer::start(config, app)
}

#[test]
fn handler_panic_is_a_json_500_and_the_connection_lives() {
    let server = server(ServerConfig::default());
    let mut c = server.connect();
    for path in ["/panic", "/mw-panic", "/panic-before-future"] {
        let res = c.get(path);
        let json = res.assert_error(500, "internal");
        assert_eq!(json["error"], "Internal Server Error", "{path}");
        assert!(!res.text().contains("secret"), "{path}: {}", res.text());
        assert!(!res.closes(), "{path}: {res:?}");
        // Same connection, next request.
        assert_eq!(c.get("/").text(), "root", "after {path}");
    }
    // Other connections, on every loop, are fine too.
    for _ in 0..8 {
        keel_testkit::assert_serves(&server, "/");
    }
}

#[test]
fn handler_panic_before_its_future_exists_is_a_json_500_without_middleware() {
    // Without layers the handler is called directly, so the panic happens while the
    // future is being built rather than while it is polled.
    let server = TestServer::start(ServerConfig::default(), || {
        Router::new()
            .get("/", || async { "root" })
            .get(
                "/panic-before-future",
                || -> std::future::Ready<&'static str> {
                    panic!("panicked while building the future")
                },
            )
            .get("/panic-in-extractor", |_: Panicky| async { "unreachable" })
    });
    let mut c = server.connect();
    for path in ["/panic-before-future", "/panic-in-extractor"] {
        let res = c.get(path);
        res.assert_error(500, "internal");
        assert_eq!(c.get("/").text(), "root", "after {path}");
    }
}

#[test]
fn handler_panic_message_is_shown_in_development() {
    let server = server(ServerConfig::default().environment(keel_http::Environment::Development));
    let json = server.connect().get("/panic").assert_error(500, "internal");
    let msg = json["error"].as_str().unwrap();
    assert!(msg.contains("handler exploded: secret detail"), "{msg}");
}

#[test]
fn many_panics_in_a_row_do_not_wear_the_server_down() {
    let server = server(ServerConfig::default());
    let mut c = server.connect();
    for _ in 0..200 {
        c.get("/panic").assert_error(500, "internal");
    }
    assert_eq!(c.get("/").text(), "root");
}

/// Makes `client`'s close send a RST instead of a FIN.
fn reset_on_drop(client: Client) {
    SockRef::from(&client.stream)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER 0");
    drop(client);
}

#[test]
fn a_thousand_connections_reset_mid_request_leave_the_server_serving() {
    // A small cap makes leaked connection slots visible: if reset connections stayed
    // counted, new ones would be refused.
    let cap = 64;
    let server = server(ServerConfig::default().max_connections(cap));
    let partials: [&[u8]; 5] = [
        b"GET / HTT",
        b"GET / HTTP/1.1\r\nHost: h\r\nX-Half: ",
        b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nonly some",
        b"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
        b"",
    ];
    let mut keeper = server.connect();
    for i in 0..1000 {
        let mut c = server.connect();
        let partial = partials[i % partials.len()];
        if !partial.is_empty() {
            // A write may fail if the server already refused the connection over the
            // cap; either way the connection is then reset.
            let _ = std::io::Write::write_all(&mut c.stream, partial);
        }
        reset_on_drop(c);
        if i % 100 == 0 {
            assert_eq!(keeper.get("/").text(), "root", "after {i} resets");
        }
    }
    assert_eq!(keeper.get("/").text(), "root");
    // Every slot comes back: `cap - 2` connections held at once are all served (the
    // kernel may put them all on one loop).
    let all_served = keel_testkit::eventually(Duration::from_secs(10), || {
        let mut held = Vec::new();
        for _ in 0..cap - 2 {
            let mut c = server.connect();
            if c.is_refused(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n") {
                return None;
            }
            held.push(c);
        }
        Some(held)
    });
    assert!(
        all_served.is_some(),
        "connection slots leaked by reset connections"
    );
}

#[test]
fn reset_while_the_response_is_written_leaves_the_server_serving() {
    let server = server(ServerConfig::default());
    for _ in 0..50 {
        let mut c = server.connect();
        // Ask for several responses and leave without reading them.
        c.send("GET /stream HTTP/1.1\r\nHost: h\r\n\r\n".repeat(20));
        reset_on_drop(c);
    }
    keel_testkit::assert_serves(&server, "/");
}

#[test]
fn half_closed_client_still_gets_the_response() {
    let server = server(ServerConfig::default());
    let mut c = server.connect();
    c.send("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello");
    c.shutdown_write();
    let res = c.read_response();
    assert_eq!((res.status, res.text()), (200, "hello"));
    c.assert_closed();

    // Also with pipelined requests before the FIN: every one is answered.
    let mut c = server.connect();
    c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n".repeat(3));
    c.shutdown_write();
    for _ in 0..3 {
        assert_eq!(c.read_response().text(), "root");
    }
    c.assert_closed();
}

#[test]
fn streamed_body_arrives_chunked() {
    let server = server(ServerConfig::default());
    let mut c = server.connect();
    for path in ["/stream", "/slow-stream"] {
        let res = c.get(path);
        assert_eq!(res.status, 200);
        assert!(res.chunked, "{path}: {res:?}");
        assert_eq!(res.header("transfer-encoding"), Some("chunked"));
        assert!(res.header("content-length").is_none());
        assert_eq!(res.text(), "first,second,third");
        assert!(!res.closes());
    }
    // The connection is in sync after the last chunk.
    assert_eq!(c.get("/").text(), "root");

    // HEAD of a stream: framing announced, no body.
    c.send("HEAD /stream HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(c.read_head_response().status, 200);
    assert_eq!(c.read_response().text(), "root");
}

#[test]
fn streamed_body_to_http10_is_close_delimited() {
    let server = server(ServerConfig::default());
    let mut c = server.connect();
    let res = c.request("GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(res.status, 200);
    assert!(!res.chunked);
    assert!(res.header("content-length").is_none());
    assert!(res.closes());
    assert_eq!(res.text(), "first,second,third");
}
