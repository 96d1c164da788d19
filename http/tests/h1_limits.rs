//! Every request limit at limit − 1, limit and limit + 1: head size and header count
//! (431), URI length (414), body size by `Content-Length` (413 before the body is sent)
//! and per-route `body_limit`; the headers timeout (408 and close for a slowloris
//! client); and the per-loop connection cap (connections past it are closed while the
//! established ones keep working).

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use keel_http::{
    DEFAULT_MAX_HEAD_SIZE, DEFAULT_MAX_HEADERS, DEFAULT_MAX_URI_LEN, Limits, Request, Router,
    ServerConfig,
};
use keel_testkit::{Client, TestServer};

fn app() -> Router {
    Router::new()
        .get("/", || async { "root" })
        .get("/q", |req: Request| async move {
            format!("{}", req.query().unwrap_or("").len())
        })
        .post(
            "/len",
            |body: Vec<u8>| async move { format!("{}", body.len()) },
        )
        .post("/small", |body: Vec<u8>| async move {
            format!("{}", body.len())
        })
        .post(
            "/big",
            |body: Vec<u8>| async move { format!("{}", body.len()) },
        )
        .body_limit("/small", 10)
        .body_limit("/big", 4096)
}

fn server(config: ServerConfig) -> TestServer {
    TestServer::start(config, app)
}

// ===== head size =====

/// A complete `GET /` head of exactly `len` bytes.
fn head_of_len(len: usize) -> Vec<u8> {
    let mut v = b"GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ".to_vec();
    v.resize(len - 4, b'p');
    v.extend_from_slice(b"\r\n\r\n");
    assert_eq!(v.len(), len);
    v
}

fn check_head_size(config: ServerConfig, max: usize) {
    let server = server(config);
    // limit − 1 and limit are served, on the same connection.
    let mut c = server.connect();
    for len in [max - 1, max] {
        let res = c.request(head_of_len(len));
        assert_eq!(
            (res.status, res.text()),
            (200, "root"),
            "head of {len} bytes"
        );
    }
    // limit + 1: 431, then close.
    let mut c = server.connect();
    let res = c.request(head_of_len(max + 1));
    res.assert_error(431, "header_fields_too_large");
    assert!(res.closes());
    c.assert_closed();
    keel_testkit::assert_serves(&server, "/");
}

#[test]
fn head_size_limit_default() {
    check_head_size(ServerConfig::default(), DEFAULT_MAX_HEAD_SIZE);
}

#[test]
fn head_size_limit_configured() {
    let limits = Limits {
        max_head_size: 1024,
        ..Limits::DEFAULT
    };
    check_head_size(ServerConfig::default().with_limits(limits), 1024);
}

#[test]
fn head_at_the_limit_after_a_pipelined_request() {
    // The second head starts mid-buffer: the buffer must make room for a whole limit's
    // worth behind the first request.
    let server = server(ServerConfig::default());
    let mut c = server.connect();
    let mut batch = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n".to_vec();
    batch.extend_from_slice(&head_of_len(DEFAULT_MAX_HEAD_SIZE));
    c.send(&batch);
    assert_eq!(c.read_response().status, 200);
    assert_eq!(c.read_response().status, 200);
}

#[test]
fn head_sent_slowly_is_still_limited() {
    let limits = Limits {
        max_head_size: 1024,
        ..Limits::DEFAULT
    };
    let server = server(ServerConfig::default().with_limits(limits));
    let mut c = server.connect();
    // A head that never ends: refused once it passes the limit, without waiting for it.
    let mut head = b"GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ".to_vec();
    head.resize(1100, b'p');
    c.send_slowly(&head, 100, Duration::from_millis(2));
    let res = c.read_response();
    res.assert_error(431, "header_fields_too_large");
    c.assert_closed();
}

// ===== header count =====

/// A `GET /` head with `n` fields, `Host` included.
fn with_headers(n: usize) -> Vec<u8> {
    let mut v = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
    for i in 1..n {
        v.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
    }
    v.extend_from_slice(b"\r\n");
    v
}

fn check_header_count(config: ServerConfig, max: usize) {
    let server = server(config);
    let mut c = server.connect();
    for n in [max - 1, max] {
        let res = c.request(with_headers(n));
        assert_eq!(res.status, 200, "{n} headers: {res:?}");
    }
    let mut c = server.connect();
    let res = c.request(with_headers(max + 1));
    res.assert_error(431, "header_fields_too_large");
    assert!(res.closes());
    c.assert_closed();
    keel_testkit::assert_serves(&server, "/");
}

#[test]
fn header_count_limit_default() {
    check_header_count(ServerConfig::default(), DEFAULT_MAX_HEADERS);
}

#[test]
fn header_count_limit_configured() {
    let limits = Limits {
        max_headers: 8,
        ..Limits::DEFAULT
    };
    check_header_count(ServerConfig::default().with_limits(limits), 8);
}

// ===== URI length =====

/// `GET /q?aaa…` whose request-target is exactly `len` bytes.
fn with_uri(len: usize) -> Vec<u8> {
    let mut v = b"GET /q?".to_vec();
    v.resize(4 + len, b'a');
    v.extend_from_slice(b" HTTP/1.1\r\nHost: h\r\n\r\n");
    v
}

#[test]
fn uri_length_limit() {
    let max = 200;
    let limits = Limits {
        max_uri_len: max,
        ..Limits::DEFAULT
    };
    let server = server(ServerConfig::default().with_limits(limits));
    let mut c = server.connect();
    for len in [max - 1, max] {
        let res = c.request(with_uri(len));
        assert_eq!(res.status, 200, "{res:?}");
        // The handler saw the whole query: target length minus "/q?".
        assert_eq!(res.text(), (len - 3).to_string());
    }
    let mut c = server.connect();
    let res = c.request(with_uri(max + 1));
    res.assert_error(414, "uri_too_long");
    assert!(res.closes());
    c.assert_closed();
    keel_testkit::assert_serves(&server, "/");
}

#[test]
fn uri_length_limit_default() {
    // The default head limit (16 KiB) holds a request line with an 8 KiB target, so the
    // URI limit is what answers.
    let max = DEFAULT_MAX_URI_LEN;
    assert_eq!(max, 8 * 1024);
    let server = server(ServerConfig::default());
    let mut c = server.connect();
    for len in [max - 1, max] {
        let res = c.request(with_uri(len));
        assert_eq!(res.status, 200, "target of {len} bytes: {res:?}");
        assert_eq!(res.text(), (len - 3).to_string());
    }
    let mut c = server.connect();
    let res = c.request(with_uri(max + 1));
    res.assert_error(414, "uri_too_long");
    assert!(res.closes());
    c.assert_closed();
    keel_testkit::assert_serves(&server, "/");
}

// ===== body size =====

fn post_head(path: &str, len: u64) -> String {
    format!("POST {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {len}\r\n\r\n")
}

/// Sends a body of `len` bytes to `path` and expects it counted.
#[track_caller]
fn assert_body_accepted(c: &mut Client, path: &str, len: u64) {
    c.send(post_head(path, len));
    c.send(vec![b'b'; len as usize]);
    let res = c.read_response();
    assert_eq!(res.status, 200, "{len} bytes to {path}: {res:?}");
    assert_eq!(res.text(), len.to_string());
}

/// Sends only the head declaring `len` bytes and expects a 413 and a close, without
/// the body ever being sent.
#[track_caller]
fn assert_body_refused_up_front(server: &TestServer, path: &str, len: u64) {
    let mut c = server.connect();
    let res = c.request(post_head(path, len));
    res.assert_error(413, "payload_too_large");
    assert!(res.closes(), "{res:?}");
    c.assert_closed();
}

#[test]
fn body_size_limit_by_content_length() {
    let max = 2048;
    let server = server(ServerConfig::default().max_body_size(max));
    let mut c = server.connect();
    assert_body_accepted(&mut c, "/len", max - 1);
    assert_body_accepted(&mut c, "/len", max);
    assert_body_refused_up_front(&server, "/len", max + 1);
    assert_body_refused_up_front(&server, "/len", u64::MAX);
    keel_testkit::assert_serves(&server, "/");
}

#[test]
fn per_route_body_limit_below_the_default() {
    let server = server(ServerConfig::default().max_body_size(1024));
    let mut c = server.connect();
    assert_body_accepted(&mut c, "/small", 9);
    assert_body_accepted(&mut c, "/small", 10);
    assert_body_refused_up_front(&server, "/small", 11);
    // Other routes keep the server default.
    assert_body_accepted(&mut c, "/len", 1024);

    // Chunked bodies are held to the route limit too.
    let mut c = server.connect();
    let res = c.request(
        "POST /small HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\
         a\r\n0123456789\r\n1\r\nx\r\n0\r\n\r\n",
    );
    res.assert_error(413, "payload_too_large");
    c.assert_closed();
}

#[test]
fn per_route_body_limit_above_the_default() {
    let server = server(ServerConfig::default().max_body_size(1024));
    let mut c = server.connect();
    assert_body_accepted(&mut c, "/big", 4095);
    assert_body_accepted(&mut c, "/big", 4096);
    assert_body_refused_up_front(&server, "/big", 4097);
    // The default still applies elsewhere.
    assert_body_refused_up_front(&server, "/len", 1025);
}

// ===== headers timeout =====

#[test]
fn slowloris_head_gets_408_and_close() {
    let headers_timeout = Duration::from_millis(500);
    let server = server(ServerConfig::default().headers_timeout(headers_timeout));
    let mut c = server.connect();
    let mut writer = c.stream.try_clone().unwrap();
    let started = Instant::now();
    // One header line every 100 ms, never the blank line; stops when the server closes
    // (or after 10 s).
    let trickle = thread::spawn(move || {
        if writer.write_all(b"GET / HTTP/1.1\r\nHost: h\r\n").is_err() {
            return;
        }
        for i in 0..100 {
            thread::sleep(Duration::from_millis(100));
            if writer
                .write_all(format!("X-{i}: v\r\n").as_bytes())
                .is_err()
            {
                return;
            }
        }
    });
    let res = c.read_response();
    let elapsed = started.elapsed();
    res.assert_error(408, "request_timeout");
    assert!(res.closes(), "{res:?}");
    assert!(
        elapsed >= headers_timeout / 2,
        "408 after only {elapsed:?} (timeout {headers_timeout:?})"
    );
    assert!(
        elapsed < Duration::from_secs(8),
        "408 only after {elapsed:?}"
    );
    c.assert_closed();
    trickle.join().unwrap();
    keel_testkit::assert_serves(&server, "/");
}

#[test]
fn slow_head_within_the_timeout_is_served() {
    let server = server(ServerConfig::default().headers_timeout(Duration::from_secs(5)));
    let mut c = server.connect();
    c.send_slowly(
        b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\n",
        4,
        Duration::from_millis(10),
    );
    assert_eq!(c.read_response().text(), "root");
}

// ===== connection cap =====

fn probe() -> &'static [u8] {
    b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
}

#[test]
fn connections_past_the_cap_are_closed_and_established_ones_keep_working() {
    // One loop, so the per-loop cap is the whole server's.
    let server = TestServer::start_with_loops(1, ServerConfig::default().max_connections(2), app);
    let mut a = server.connect();
    assert_eq!(a.get("/").status, 200);
    let mut b = server.connect();
    assert_eq!(b.get("/").status, 200);

    // Over the cap: accepted by the kernel, closed by the server at once.
    for _ in 0..3 {
        let mut over = server.connect();
        assert!(over.is_refused(probe()), "a third connection was served");
    }

    // The established ones are untouched.
    for _ in 0..3 {
        assert_eq!(a.get("/").status, 200);
        assert_eq!(b.get("/").status, 200);
    }

    // Closing one frees its slot (once the server has noticed).
    drop(a);
    let served = keel_testkit::eventually(Duration::from_secs(10), || {
        let mut c = server.connect();
        (!c.is_refused(probe())).then_some(c)
    });
    let mut c = served.expect("a freed slot was never reused");
    assert_eq!(c.get("/").status, 200);
    assert_eq!(b.get("/").status, 200);
}

#[test]
fn connection_cap_is_per_loop() {
    let loops = 2;
    let cap = 2;
    let server =
        TestServer::start_with_loops(loops, ServerConfig::default().max_connections(cap), app);
    // Hold many connections at once; the kernel spreads them over the loops, each of
    // which serves at most `cap`.
    let mut served = Vec::new();
    for _ in 0..16 {
        let mut c = server.connect();
        if !c.is_refused(probe()) {
            served.push(c);
        }
    }
    assert!(!served.is_empty());
    assert!(
        served.len() <= loops * cap,
        "{} connections served at once with {loops} loops × {cap}",
        served.len()
    );
    for c in &mut served {
        assert_eq!(c.get("/").status, 200);
    }
}
