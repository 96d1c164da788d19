//! Chunked request bodies: extensions and trailers, bodies split across many small writes,
//! a bad chunk size (400), a body over the limit (413, then close), and
//! `Expect: 100-continue` (the interim `100 Continue` comes before the body is sent).

use std::time::Duration;

use keel_http::{Request, Router, ServerConfig};
use keel_testkit::TestServer;

const LIMIT: u64 = 1024;

fn app() -> Router {
    Router::new()
        .post("/echo", |body: Vec<u8>| async move { body })
        .post("/len", |req: Request| async move {
            format!("{}", req.body().len())
        })
}

fn server() -> TestServer {
    TestServer::start(ServerConfig::default().max_body_size(LIMIT), app)
}

const HEAD: &str = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";

/// `body` as chunks of `size` bytes, with the last chunk and no trailers.
fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in body.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// The server still answers a good chunked request on a fresh connection.
#[track_caller]
fn assert_serves_post(server: &TestServer) {
    let res = server
        .connect()
        .request(format!("{HEAD}2\r\nok\r\n0\r\n\r\n"));
    assert_eq!((res.status, res.text()), (200, "ok"));
}

#[test]
fn chunked_body_with_extensions_and_trailers() {
    let server = server();
    let mut c = server.connect();
    let res = c.request(format!(
        "{HEAD}5;name=value;flag\r\nhello\r\n6 ; quoted=\"a b\"\r\n world\r\n0;last\r\n\
         X-Checksum: abc\r\nX-Other: 1\r\n\r\n"
    ));
    assert_eq!(res.status, 200);
    assert_eq!(res.text(), "hello world");
    // The connection is in sync after the trailers.
    let res = c.request(format!("{HEAD}3\r\nabc\r\n0\r\n\r\n"));
    assert_eq!(res.text(), "abc");
}

#[test]
fn chunked_body_split_across_many_small_writes() {
    let server = server();
    let mut c = server.connect();
    let body: Vec<u8> = (0..600u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut request = HEAD.as_bytes().to_vec();
    request.extend_from_slice(&chunked(&body, 37));
    // Pieces of 1 to 5 bytes, cutting sizes, CRLFs and data everywhere.
    let mut rest = &request[..];
    let mut step = 0;
    while !rest.is_empty() {
        let n = (step % 5 + 1).min(rest.len());
        c.send(&rest[..n]);
        rest = &rest[n..];
        step += 1;
        if step % 16 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let res = c.read_response();
    assert_eq!(res.status, 200);
    assert_eq!(res.body, body);
}

#[test]
fn chunked_body_byte_by_byte_with_pauses() {
    let server = server();
    let mut c = server.connect();
    let mut request = HEAD.as_bytes().to_vec();
    request.extend_from_slice(b"4;x=y\r\nwiki\r\n5\r\npedia\r\n0\r\nT: v\r\n\r\n");
    c.send_slowly(&request, 1, Duration::from_millis(2));
    assert_eq!(c.read_response().text(), "wikipedia");
}

#[test]
fn chunked_body_at_the_limit_is_accepted() {
    let server = server();
    let mut c = server.connect();
    for len in [LIMIT - 1, LIMIT] {
        let body = vec![b'z'; len as usize];
        let mut request =
            b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        request.extend_from_slice(&chunked(&body, 100));
        let res = c.request(&request);
        assert_eq!((res.status, res.text()), (200, len.to_string().as_str()));
    }
}

#[test]
fn bad_chunk_size_is_a_400() {
    let server = server();
    for bad in [
        "zz\r\nhello\r\n0\r\n\r\n",
        "5x\r\nhello\r\n0\r\n\r\n",
        "\r\n",
    ] {
        let mut c = server.connect();
        let res = c.request(format!("{HEAD}{bad}"));
        res.assert_error(400, "bad_request");
        assert!(res.closes(), "{bad:?}: {res:?}");
        c.assert_closed();
    }
    assert_serves_post(&server);
}

#[test]
fn chunk_data_not_followed_by_crlf_is_a_400() {
    let server = server();
    let mut c = server.connect();
    let res = c.request(format!("{HEAD}3\r\nabcd\r\n0\r\n\r\n"));
    res.assert_error(400, "bad_request");
    c.assert_closed();
}

#[test]
fn chunked_body_over_the_limit_is_a_413_then_close() {
    let server = server();
    // One chunk declaring more than the limit: refused before its data is sent.
    let mut c = server.connect();
    let res = c.request(format!("{HEAD}{:x}\r\n", LIMIT + 1));
    let json = res.assert_error(413, "payload_too_large");
    assert!(json["error"].is_string());
    assert!(res.closes(), "{res:?}");
    c.assert_closed();

    // Chunks that add up to one byte more than the limit.
    let mut c = server.connect();
    let mut request = HEAD.as_bytes().to_vec();
    request.extend_from_slice(format!("{:x}\r\n", LIMIT).as_bytes());
    request.extend_from_slice(&vec![b'a'; LIMIT as usize]);
    request.extend_from_slice(b"\r\n1\r\n");
    let res = c.request(&request);
    res.assert_error(413, "payload_too_large");
    assert!(res.closes());
    c.assert_closed();

    assert_serves_post(&server);
}

#[test]
fn expect_100_continue_gets_continue_before_the_body() {
    let server = server();
    let mut c = server.connect();
    c.send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    // Nothing of the body is sent until the interim response arrives.
    let interim = c.read_response();
    assert_eq!(interim.status, 100, "{interim:?}");
    assert_eq!(interim.status_line, "HTTP/1.1 100 Continue");
    c.send("hello");
    let res = c.read_response();
    assert_eq!((res.status, res.text()), (200, "hello"));

    // The same with a chunked body.
    c.send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(c.read_response().status, 100);
    c.send("3\r\nabc\r\n0\r\n\r\n");
    assert_eq!(c.read_response().text(), "abc");
}

#[test]
fn expect_100_continue_over_the_limit_gets_413_and_no_continue() {
    let server = server();
    let mut c = server.connect();
    let res = c.request(format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        LIMIT + 1
    ));
    res.assert_error(413, "payload_too_large");
    assert!(res.closes());
    c.assert_closed();
}

#[test]
fn expect_100_continue_is_skipped_when_the_body_already_arrived() {
    let server = server();
    let mut c = server.connect();
    let res = c.request(
        "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
    );
    assert_eq!((res.status, res.text()), (200, "ok"));
    // The next response is the next request's, not a stray `100 Continue`.
    assert_eq!(c.request(format!("{HEAD}0\r\n\r\n")).status, 200);
}
