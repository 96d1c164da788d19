//! Every reject rule of the request parser, end to end: the status, the JSON error, and
//! whether the connection closes. After each 4xx that does not require a close, the same
//! connection still serves a good request; after every case the server keeps serving
//! other connections.

use keel_http::{Router, ServerConfig};
use keel_testkit::TestServer;

fn app() -> Router {
    Router::new()
        .get("/", || async { "root" })
        .post("/echo", |body: Vec<u8>| async move { body })
}

const GOOD: &str = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";

/// Sends `request` on a fresh connection and expects `status` with `code`, then a close.
#[track_caller]
fn assert_rejected_and_closed(server: &TestServer, request: &[u8], status: u16, code: &str) {
    let mut c = server.connect();
    let res = c.request(request);
    res.assert_error(status, code);
    assert!(
        res.closes(),
        "{:?} must close: {res:?}",
        String::from_utf8_lossy(request)
    );
    c.assert_closed();
    keel_testkit::assert_serves(server, "/");
}

/// Sends `request` then a good request in the same write, and expects `status` with
/// `code` and then the good request's answer on the same connection.
#[track_caller]
fn assert_rejected_and_kept(server: &TestServer, request: &[u8], status: u16, code: &str) {
    let mut c = server.connect();
    let mut batch = request.to_vec();
    batch.extend_from_slice(GOOD.as_bytes());
    c.send(&batch);
    let res = c.read_response();
    res.assert_error(status, code);
    assert!(!res.closes(), "{res:?}");
    let res = c.read_response();
    assert_eq!((res.status, res.text()), (200, "root"));
    // And again with the good request sent separately.
    let res = c.request(request);
    res.assert_error(status, code);
    assert_eq!(c.get("/").text(), "root");
    keel_testkit::assert_serves(server, "/");
}

fn server() -> TestServer {
    TestServer::start(ServerConfig::default(), app)
}

#[test]
fn missing_host_on_http11_is_400_and_the_connection_lives() {
    let server = server();
    assert_rejected_and_kept(&server, b"GET / HTTP/1.1\r\n\r\n", 400, "bad_request");
    // HTTP/1.0 needs no Host.
    let res = server.connect().request("GET / HTTP/1.0\r\n\r\n");
    assert_eq!(res.status, 200);
}

#[test]
fn refused_head_that_asked_to_close_is_answered_and_closed() {
    let server = server();
    assert_rejected_and_closed(
        &server,
        b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
        400,
        "bad_request",
    );
    // HTTP/1.0 closes by default, after an error too.
    assert_rejected_and_closed(
        &server,
        b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
        400,
        "bad_request",
    );
}

#[test]
fn refused_http10_keep_alive_head_keeps_the_connection_the_http10_way() {
    let server = server();
    let mut c = server.connect();
    for _ in 0..2 {
        let res =
            c.request("GET / HTTP/1.0\r\nConnection: keep-alive\r\nHost: a\r\nHost: b\r\n\r\n");
        res.assert_error(400, "bad_request");
        // An HTTP/1.0 client assumes a close unless told otherwise.
        assert_eq!(res.header("connection"), Some("keep-alive"), "{res:?}");
    }
    let res = c.request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!((res.status, res.text()), (200, "root"));
}

#[test]
fn missing_host_with_a_body_is_400_and_close() {
    let server = server();
    assert_rejected_and_closed(
        &server,
        b"POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
        400,
        "bad_request",
    );
}

#[test]
fn two_hosts_is_400_and_the_connection_lives() {
    let server = server();
    assert_rejected_and_kept(
        &server,
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        400,
        "bad_request",
    );
}

#[test]
fn content_length_with_transfer_encoding_is_400_and_close() {
    let server = server();
    assert_rejected_and_closed(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        "bad_request",
    );
    // Order does not matter.
    assert_rejected_and_closed(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        400,
        "bad_request",
    );
}

#[test]
fn differing_content_lengths_are_400_and_close() {
    let server = server();
    assert_rejected_and_closed(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        400,
        "bad_request",
    );
    assert_rejected_and_closed(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\nhello!",
        400,
        "bad_request",
    );
    // Equal repeated values are one length.
    let res = server.connect().request(
        "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!((res.status, res.text()), (200, "hello"));
}

#[test]
fn invalid_content_length_is_400_and_close() {
    let server = server();
    for cl in ["-1", "+5", "5a", "0x5", "", "99999999999999999999999"] {
        let req = format!("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: {cl}\r\n\r\n");
        assert_rejected_and_closed(&server, req.as_bytes(), 400, "bad_request");
    }
}

#[test]
fn transfer_coding_other_than_chunked_is_501() {
    let server = server();
    assert_rejected_and_closed(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
        501,
        "not_implemented",
    );
    assert_rejected_and_closed(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        501,
        "not_implemented",
    );
}

#[test]
fn chunked_not_last_is_400() {
    let server = server();
    assert_rejected_and_closed(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        400,
        "bad_request",
    );
    assert_rejected_and_closed(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        400,
        "bad_request",
    );
}

#[test]
fn transfer_encoding_on_http10_is_400() {
    let server = server();
    assert_rejected_and_closed(
        &server,
        b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        "bad_request",
    );
}

#[test]
fn space_before_colon_is_400() {
    let server = server();
    assert_rejected_and_closed(
        &server,
        b"GET / HTTP/1.1\r\nHost: h\r\nX-Thing : v\r\n\r\n",
        400,
        "bad_request",
    );
    // The smuggling classic: a space-padded Content-Length must not be taken as a length.
    assert_rejected_and_closed(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length : 3\r\n\r\nabc",
        400,
        "bad_request",
    );
}

#[test]
fn obs_fold_is_400() {
    let server = server();
    assert_rejected_and_closed(
        &server,
        b"GET / HTTP/1.1\r\nHost: h\r\nX-Long: part one\r\n  part two\r\n\r\n",
        400,
        "bad_request",
    );
    assert_rejected_and_closed(
        &server,
        b"GET / HTTP/1.1\r\nHost: h\r\nX-Long: a\r\n\tb\r\n\r\n",
        400,
        "bad_request",
    );
}

#[test]
fn control_characters_in_values_are_400() {
    let server = server();
    for ctl in [0x00u8, 0x01, 0x0b, 0x1f, 0x7f] {
        let mut req = b"GET / HTTP/1.1\r\nHost: h\r\nX-V: a".to_vec();
        req.push(ctl);
        req.extend_from_slice(b"b\r\n\r\n");
        assert_rejected_and_closed(&server, &req, 400, "bad_request");
    }
    // A bare CR or LF inside the head.
    assert_rejected_and_closed(
        &server,
        b"GET / HTTP/1.1\r\nHost: h\r\nX-V: a\rb\r\n\r\n",
        400,
        "bad_request",
    );
    assert_rejected_and_closed(&server, b"GET / HTTP/1.1\nHost: h\n\n", 400, "bad_request");
    // A tab and obs-text are fine.
    let res = server
        .connect()
        .request(b"GET / HTTP/1.1\r\nHost: h\r\nX-V: a\tb \xe9\r\n\r\n");
    assert_eq!(res.status, 200);
}

#[test]
fn bad_method_token_is_400() {
    let server = server();
    for method in ["G(ET", "GE T", "GET\x01", "{GET}", "\"GET\""] {
        let req = format!("{method} / HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_rejected_and_closed(&server, req.as_bytes(), 400, "bad_request");
    }
    // A valid but unknown token is routed (and answered 405 on a known path).
    let mut c = server.connect();
    let res = c.request("BREW / HTTP/1.1\r\nHost: h\r\n\r\n");
    res.assert_error(405, "method_not_allowed");
    assert_eq!(c.get("/").status, 200);
}

#[test]
fn bad_header_name_is_400() {
    let server = server();
    for name in ["X(Y", "X Y", "", "X\"Y"] {
        let req = format!("GET / HTTP/1.1\r\nHost: h\r\n{name}: v\r\n\r\n");
        assert_rejected_and_closed(&server, req.as_bytes(), 400, "bad_request");
    }
}

#[test]
fn unsupported_versions() {
    let server = server();
    assert_rejected_and_closed(
        &server,
        b"GET / HTTP/2.0\r\nHost: h\r\n\r\n",
        505,
        "http_version_not_supported",
    );
    assert_rejected_and_closed(
        &server,
        b"GET / HTTP/1.2\r\nHost: h\r\n\r\n",
        505,
        "http_version_not_supported",
    );
    // Not a version at all.
    for version in ["HTTP/1", "HTTX/1.1", "http/1.1", "HTTP/1.1x"] {
        let req = format!("GET / {version}\r\nHost: h\r\n\r\n");
        assert_rejected_and_closed(&server, req.as_bytes(), 400, "bad_request");
    }
}

#[test]
fn bad_request_targets_are_400() {
    let server = server();
    // A target form the method does not allow, on a complete bodyless head: the
    // connection can go on.
    assert_rejected_and_kept(
        &server,
        b"GET * HTTP/1.1\r\nHost: h\r\n\r\n",
        400,
        "bad_request",
    );
    assert_rejected_and_kept(
        &server,
        b"GET example.com:80 HTTP/1.1\r\nHost: h\r\n\r\n",
        400,
        "bad_request",
    );
    // Bytes no target may hold: the line itself is broken.
    assert_rejected_and_closed(
        &server,
        b"GET /a\x7fb HTTP/1.1\r\nHost: h\r\n\r\n",
        400,
        "bad_request",
    );
}

#[test]
fn server_keeps_serving_after_a_storm_of_bad_requests() {
    let server = server();
    let bad: &[&[u8]] = &[
        b"GET / HTTP/2.0\r\n\r\n",
        b"\x00\x01\x02\x03\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX : y\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX: \x01\r\n\r\n",
    ];
    let mut good = server.connect();
    for round in 0..20 {
        for req in bad {
            let mut c = server.connect();
            let res = c.request(req);
            assert!(res.status >= 400, "{res:?}");
            c.assert_closed();
        }
        assert_eq!(good.get("/").text(), "root", "round {round}");
    }
}

#[test]
fn a_host_that_is_not_a_valid_authority_is_400_and_close() {
    let server = server();
    for host in [
        "user@h",      // userinfo
        "user:pw@h",   // userinfo with a password
        "h/path",      // a path
        "h?q",         // a query
        "h#f",         // a fragment
        "h:",          // an empty port
        "h:80a",       // a port with letters
        "h:65536",     // a port past 65535
        "h:80:80",     // two ports
        ":80",         // a port without a host
        "::1",         // IPv6 without brackets
        "[::1",        // an unclosed bracket
        "[::g]",       // an invalid IPv6 literal
        "[::1]x",      // bytes after the literal
        "%zz.example", // a bad percent-encoding
        "exa mple",    // a space
        "{h}",         // a byte outside the grammar
    ] {
        let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert_rejected_and_closed(&server, request.as_bytes(), 400, "bad_request");
    }
    // Valid authorities of each form are served.
    for host in ["h", "h:8080", "127.0.0.1:3000", "[::1]:3000", "[v1.x]", ""] {
        let mut c = server.connect();
        let res = c.request(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n"));
        assert_eq!(res.status, 200, "Host: {host:?}: {res:?}");
    }
}
