//! Hostile clients against a running server, over raw sockets: a slowloris that trickles
//! a declared body (408 and close, however steadily the bytes come); a slow reader that
//! pipelines requests and never reads the answers (dropped after the write timeout); ten
//! thousand connections at once past a small connection cap (established clients keep
//! being served); a pipelining flood of thousands of requests in one write (answered in
//! order); a chunked body that goes over the limit midway while the client is still
//! sending (413 and close); random bytes on hundreds of connections; and handler panics
//! under concurrent load (500s, every other request answered 200). After each, the server
//! still serves a well-formed client.
//!
//! The existing files cover the single cases these build on: the headers slowloris and
//! the connection cap at 2 in `h1_limits.rs`, a body that stops arriving in
//! `h1_timeouts.rs`, a chunked body over the limit sent whole in `h1_chunked.rs`, panics
//! and resets one at a time in `h1_resilience.rs`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Once;
use std::thread;
use std::time::{Duration, Instant};

use keel_http::{Path, Router, ServerConfig};
use keel_testkit::{Client, IO_TIMEOUT, TestServer};

/// The size of the body `/big` answers.
const BIG: usize = 64 * 1024;

/// Marks the panics the handlers raise on purpose, so the panic hook keeps them quiet.
const PLANNED_PANIC: &str = "planned panic";

fn app() -> Router {
    Router::new()
        .get("/", || async { "root" })
        .get("/n/:n", |Path(n): Path<u64>| async move { n.to_string() })
        .get("/big", || async { vec![b'x'; BIG] })
        .get("/panic/:n", planned_panic)
        .post(
            "/len",
            |body: Vec<u8>| async move { body.len().to_string() },
        )
}

async fn planned_panic(Path(n): Path<u64>) -> &'static str {
    panic!("{PLANNED_PANIC} {n}")
}

/// Reads everything until the server closes (EOF or reset), within [`IO_TIMEOUT`] per
/// read; the bytes, and whether it ended in a close rather than a read timeout.
fn read_to_close(stream: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if keel_testkit::is_reset(&e) => return (out, true),
            Err(_) => return (out, false),
        }
    }
}

/// How many times `needle` occurs in `haystack`.
fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| w == &needle)
        .count()
}

// ===== slowloris on the body =====

#[test]
fn slowloris_bodies_get_408_and_close_while_others_are_served() {
    let request_timeout = Duration::from_secs(1);
    let server = TestServer::start(
        ServerConfig::default().request_timeout(request_timeout),
        app,
    );
    // Twenty connections declare 1,000 bytes and send one every 100 ms: the body would
    // take 100 s, so steady progress must not keep the request alive.
    let mut clients: Vec<Client> = (0..20).map(|_| server.connect()).collect();
    let mut writers: Vec<TcpStream> = clients
        .iter()
        .map(|c| c.stream.try_clone().unwrap())
        .collect();
    let started = Instant::now();
    let trickle = thread::spawn(move || {
        for w in &mut writers {
            w.write_all(b"POST /len HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n")
                .unwrap();
        }
        for _ in 0..1000 {
            writers.retain_mut(|w| w.write_all(b"a").is_ok());
            if writers.is_empty() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
    });
    // Meanwhile the server serves others.
    for _ in 0..5 {
        keel_testkit::assert_serves(&server, "/");
    }
    for c in &mut clients {
        let res = c.read_response();
        res.assert_error(408, "request_timeout");
        assert!(res.closes(), "{res:?}");
        c.assert_closed();
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= request_timeout / 2,
        "408s after only {elapsed:?} (timeout {request_timeout:?})"
    );
    drop(clients);
    trickle.join().unwrap();
    keel_testkit::assert_serves(&server, "/");
}

// ===== slow reader =====

#[test]
fn slow_reader_that_pipelines_and_never_reads_is_dropped() {
    // The write timeout is the request timeout: `flush` gives up on a peer that takes
    // longer than it to accept one batch of output (at most 64 KiB plus one response).
    let request_timeout = Duration::from_millis(500);
    let server = TestServer::start(
        ServerConfig::default().request_timeout(request_timeout),
        app,
    );
    // A small receive buffer, set before connecting, so the kernel cannot soak up what
    // the server writes (loopback autotuning would allow tens of MB).
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    socket
        .connect_timeout(&server.addr.into(), IO_TIMEOUT)
        .unwrap();
    let mut stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();

    // 2,000 pipelined requests for 64 KiB each: 128 MiB of answers, never read.
    let requests = 2000;
    let mut writer = stream.try_clone().unwrap();
    let send = thread::spawn(move || {
        let one = b"GET /big HTTP/1.1\r\nHost: h\r\n\r\n";
        let all: Vec<u8> = one.repeat(requests);
        // The server may stop reading and drop the connection before taking it all.
        let _ = writer.write_all(&all);
    });

    // The server gives up after the write timeout; meanwhile it serves others.
    let started = Instant::now();
    while started.elapsed() < request_timeout * 6 {
        keel_testkit::assert_serves(&server, "/");
        thread::sleep(Duration::from_millis(100));
    }
    send.join().unwrap();

    // Now read: what the kernel buffered, then the close, far short of every answer.
    let (got, closed) = read_to_close(&mut stream);
    assert!(closed, "the server never dropped the slow reader");
    let answered = count(&got, b"HTTP/1.1 200");
    assert!(
        answered < requests,
        "all {requests} answers arrived: the slow reader was not dropped"
    );
    keel_testkit::assert_serves(&server, "/");
}

// ===== connections past the cap =====

/// The soft limit on open files, from `/proc/self/limits`.
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[test]
fn ten_thousand_connections_past_the_cap_leave_established_clients_served() {
    let cap = 100;
    let established = 50;
    // The client ends are held in this process (the server closes its ends of refused
    // connections at once): 10,000 when the open-files limit allows it with room for the
    // server and parallel tests, fewer otherwise.
    let limit = open_files_limit().unwrap_or(1024);
    let flood = 10_000.min(limit.saturating_sub(4_000));
    assert!(
        flood >= 500,
        "open-files limit {limit} is too low for this test"
    );
    if flood < 10_000 {
        eprintln!("open-files limit {limit}: flooding with {flood} connections, not 10,000");
    }

    // One loop, so the per-loop cap is the whole server's.
    let server = TestServer::start_with_loops(1, ServerConfig::default().max_connections(cap), app);
    let mut clients: Vec<Client> = (0..established).map(|_| server.connect()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(c.get(&format!("/n/{i}")).text(), i.to_string());
    }

    // Open them all at once and hold them.
    let mut held = Vec::with_capacity(flood);
    for _ in 0..flood {
        held.push(TcpStream::connect_timeout(&server.addr, IO_TIMEOUT).expect("connect"));
    }

    // The established clients are served while the flood is held open.
    for round in 0..3 {
        for (i, c) in clients.iter_mut().enumerate() {
            let n = round * 1000 + i;
            assert_eq!(c.get(&format!("/n/{n}")).text(), n.to_string());
        }
    }

    // At most the free slots of the flood were served; the rest were closed.
    let mut served = 0;
    for stream in held.drain(..) {
        let mut c = Client::from_stream(stream);
        if !c.is_refused(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n") {
            served += 1;
        }
    }
    assert!(
        served <= cap - established,
        "{served} of the flood served with {} free slots",
        cap - established
    );

    // With the flood gone, its slots come back.
    let back = keel_testkit::eventually(Duration::from_secs(20), || {
        let mut c = server.connect();
        (!c.is_refused(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")).then_some(())
    });
    assert!(back.is_some(), "no slot was freed after the flood closed");
    for c in &mut clients {
        assert_eq!(c.get("/").text(), "root");
    }
}

// ===== pipelining flood =====

#[test]
fn pipelining_flood_in_one_write_is_answered_in_order() {
    let server = TestServer::start(ServerConfig::default(), app);
    let c = server.connect();
    let requests = 5000;
    let mut all = Vec::new();
    for i in 0..requests {
        all.extend_from_slice(format!("GET /n/{i} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes());
    }
    let mut writer = c.stream.try_clone().unwrap();
    // One write of everything, on its own thread so answers are read while it goes out.
    let send = thread::spawn(move || writer.write_all(&all));
    let mut c = c;
    for i in 0..requests {
        let res = c.read_response();
        assert_eq!(res.status, 200, "request {i}: {res:?}");
        assert_eq!(res.text(), i.to_string(), "answers out of order at {i}");
    }
    send.join().unwrap().expect("the flood was written");
    // The connection is still good for one more.
    assert_eq!(c.get("/").text(), "root");
}

// ===== chunked body over the limit midway =====

#[test]
fn chunked_body_over_the_limit_midway_is_413_and_close_while_still_sending() {
    let limit = 64 * 1024;
    let server = TestServer::start(ServerConfig::default().max_body_size(limit), app);
    let mut c = server.connect();
    let mut writer = c.stream.try_clone().unwrap();
    // 4 MiB in 4 KiB chunks, written one by one: the limit is crossed at the 17th.
    let total_chunks = 1024;
    let send = thread::spawn(move || -> usize {
        let head = b"POST /len HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
        if writer.write_all(head).is_err() {
            return 0;
        }
        let mut chunk = b"1000\r\n".to_vec();
        chunk.extend_from_slice(&[b'a'; 4096]);
        chunk.extend_from_slice(b"\r\n");
        for sent in 0..total_chunks {
            if writer.write_all(&chunk).is_err() {
                return sent;
            }
            thread::sleep(Duration::from_millis(2));
        }
        total_chunks
    });
    let res = c.read_response();
    res.assert_error(413, "payload_too_large");
    assert!(res.closes(), "{res:?}");
    let (rest, closed) = read_to_close(&mut c.stream);
    assert!(closed, "the connection stayed open after the 413");
    assert!(rest.is_empty(), "bytes after the 413: {rest:?}");
    let sent = send.join().unwrap();
    assert!(
        sent < total_chunks,
        "the server took all {total_chunks} chunks after refusing the body"
    );
    keel_testkit::assert_serves(&server, "/");
}

// ===== random bytes =====

/// xorshift64*: a fixed seed gives the same garbage on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random bytes, sometimes after a plausible start so the parser gets past the first line.
fn garbage(rng: &mut Rng) -> Vec<u8> {
    const STARTS: [&[u8]; 5] = [
        b"",
        b"GET / HTTP/1.1\r\n",
        b"POST /len HTTP/1.1\r\nHost: h\r\n",
        b"GET /n/1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST /len HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n",
    ];
    let mut out = STARTS[rng.below(STARTS.len() as u64) as usize].to_vec();
    let len = 1 + rng.below(4096) as usize;
    out.extend((0..len).map(|_| rng.next() as u8));
    out
}

#[test]
fn random_bytes_on_hundreds_of_connections_never_stop_the_server() {
    let server = TestServer::start(
        ServerConfig::default()
            .headers_timeout(Duration::from_secs(2))
            .request_timeout(Duration::from_secs(2)),
        app,
    );
    let mut rng = Rng(0x5eed_cafe_f00d_beef);
    for batch in 0..6 {
        // 50 connections at once, each sends garbage and half-closes; what comes back is
        // HTTP/1.1 responses (a garbage body after a valid head may even be a 200, and
        // the bytes after it an error), or nothing, and then the server closes.
        let mut conns: Vec<TcpStream> = (0..50)
            .map(|_| {
                let s = TcpStream::connect_timeout(&server.addr, IO_TIMEOUT).unwrap();
                s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
                s
            })
            .collect();
        for s in &mut conns {
            // The server may close before taking it all.
            let _ = s.write_all(&garbage(&mut rng));
            let _ = s.shutdown(std::net::Shutdown::Write);
        }
        for (i, s) in conns.iter_mut().enumerate() {
            let (got, closed) = read_to_close(s);
            assert!(closed, "batch {batch} connection {i}: never closed");
            if !got.is_empty() {
                assert!(
                    got.starts_with(b"HTTP/1.1 "),
                    "batch {batch} connection {i}: {:?}",
                    String::from_utf8_lossy(&got[..got.len().min(200)])
                );
            }
        }
        keel_testkit::assert_serves(&server, "/");
    }
    let mut c = server.connect();
    assert_eq!(c.get("/n/7").text(), "7");
}

// ===== handler panics under load =====

/// Keeps the planned panics out of the test output; every other panic is reported as usual.
fn quiet_planned_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let planned = info
                .payload()
                .downcast_ref::<String>()
                .is_some_and(|m| m.starts_with(PLANNED_PANIC));
            if !planned {
                default(info);
            }
        }));
    });
}

/// One client's share of the load: `requests` requests, every fourth one to a panicking
/// route, on one keep-alive connection or a new connection each. Returns (200s, 500s).
fn load(addr: SocketAddr, id: u64, requests: u64, keep_alive: bool) -> (u64, u64) {
    let (mut ok, mut failed) = (0, 0);
    let mut conn = Client::connect(addr);
    for i in 0..requests {
        if !keep_alive {
            conn = Client::connect(addr);
        }
        let n = id * 1_000_000 + i;
        if i % 4 == 3 {
            let res = conn.get(&format!("/panic/{n}"));
            res.assert_error(500, "internal");
            assert!(!res.closes(), "a panic closed the connection: {res:?}");
            failed += 1;
        } else {
            let res = conn.get(&format!("/n/{n}"));
            assert_eq!(res.status, 200, "{res:?}");
            assert_eq!(res.text(), n.to_string());
            ok += 1;
        }
    }
    (ok, failed)
}

#[test]
fn handler_panics_under_load_are_500s_and_every_other_request_is_answered() {
    quiet_planned_panics();
    let server = TestServer::start(ServerConfig::default(), app);
    let clients = 16;
    let requests = 100;
    let threads: Vec<_> = (0..clients)
        .map(|id| {
            let addr = server.addr;
            thread::spawn(move || load(addr, id, requests, id % 2 == 0))
        })
        .collect();
    let (mut ok, mut failed) = (0, 0);
    for t in threads {
        let (o, f) = t.join().expect("a client saw a wrong answer");
        ok += o;
        failed += f;
    }
    assert_eq!(ok, clients * requests * 3 / 4);
    assert_eq!(failed, clients * requests / 4);
    keel_testkit::assert_serves(&server, "/");
}
