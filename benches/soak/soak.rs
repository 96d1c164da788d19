//! Soak: `examples/hello` as a child process under a mixed load for a bounded time —
//! keep-alive clients, a new connection per request, pipelined batches, large request
//! bodies (sized and chunked) and error responses (404, 405, 413, 400). After a warm-up
//! it samples the process's RSS (`/proc/PID/status`), open fds (`/proc/PID/fd`) and, when
//! the process tracks its heap (`keel_heap_tracked 1` on `/metrics`), the heap in use,
//! and asserts:
//!
//! * RSS (and heap) stay flat: the median of the last third of the samples is within a
//!   margin (10 %, at least 4 MiB) of the median of the first third;
//! * open fds return to the pre-load baseline once the clients are gone;
//! * no request failed that should not have: every one got its expected status, and no
//!   connection broke where none should.
//!
//! Run by `cargo test` as the short version (`SOAK_SECONDS`, default 25); the long one
//! is `benches/soak/run.sh` (see `benches/soak/README.md`). Only 127.0.0.1 is used, and
//! every loop is bounded in time.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Default length of the run, warm-up included, in seconds.
const DEFAULT_SECONDS: u64 = 25;
/// Allowed growth of RSS and heap after the warm-up: this fraction...
const GROWTH_FRACTION: f64 = 0.10;
/// ...or this many bytes, whichever is larger.
const GROWTH_FLOOR: u64 = 4 << 20;
/// The large request bodies.
const LARGE_BODY: usize = 256 << 10;
/// Requests in one pipelined batch.
const PIPELINE_DEPTH: usize = 16;

/// The kinds of traffic, each a client thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    KeepAlive,
    NewConnection,
    Pipelined,
    LargeBody,
    Errors,
}

const EACH_KIND: [Kind; 5] = [
    Kind::KeepAlive,
    Kind::NewConnection,
    Kind::Pipelined,
    Kind::LargeBody,
    Kind::Errors,
];

/// The client threads: three keep-alive ones, one of each other kind.
const KINDS: [Kind; 7] = [
    Kind::KeepAlive,
    Kind::KeepAlive,
    Kind::KeepAlive,
    Kind::NewConnection,
    Kind::Pipelined,
    Kind::LargeBody,
    Kind::Errors,
];

/// What the load saw.
#[derive(Debug, Default)]
struct Tally {
    /// Answered as expected, per [`Kind`] (its discriminant).
    requests: [AtomicU64; 5],
    failures: Mutex<Vec<String>>,
}

impl Tally {
    fn ok(&self, kind: Kind, n: u64) {
        self.requests[kind as usize].fetch_add(n, Ordering::Relaxed);
    }

    fn total(&self) -> u64 {
        self.requests.iter().map(|n| n.load(Ordering::SeqCst)).sum()
    }

    fn fail(&self, kind: Kind, what: String) {
        let mut failures = self.failures.lock().unwrap();
        if failures.len() < 20 {
            failures.push(format!("{kind:?}: {what}"));
        }
    }
}

/// A parsed response: status, whether it closes the connection.
#[derive(Debug)]
struct Reply {
    status: u16,
    close: bool,
}

/// A keep-alive connection with a read buffer.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn open(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        stream.set_read_timeout(Some(support::LIMIT))?;
        stream.set_write_timeout(Some(support::LIMIT))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::new(),
        })
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads one response (`Content-Length` or chunked body).
    fn read(&mut self) -> io::Result<Reply> {
        let mut chunk = [0u8; 16 << 10];
        loop {
            if let Some((reply, used)) = parse(&self.buf)? {
                self.buf.drain(..used);
                return Ok(reply);
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed mid-response",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// A complete response at the start of `buf` and its length, if there is one.
fn parse(buf: &[u8]) -> io::Result<Option<(Reply, usize)>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line: {head:?}")))?;
    let close = head.contains("\r\nconnection: close");
    let body = &buf[end + 4..];
    if head.contains("\r\ntransfer-encoding: chunked") {
        let mut at = 0;
        loop {
            let Some(eol) = body[at..].windows(2).position(|w| w == b"\r\n") else {
                return Ok(None);
            };
            let size = std::str::from_utf8(&body[at..at + eol])
                .ok()
                .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
                .ok_or_else(|| io::Error::other("bad chunk size"))?;
            at += eol + 2 + size + 2;
            if body.len() < at {
                return Ok(None);
            }
            if size == 0 {
                return Ok(Some((Reply { status, close }, end + 4 + at)));
            }
        }
    }
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    if body.len() < length {
        return Ok(None);
    }
    Ok(Some((Reply { status, close }, end + 4 + length)))
}

/// Sends `request` on `conn` (opening one if needed) and checks the answer's status;
/// drops the connection when the server closes it. Returns whether it went as expected.
fn exchange(
    addr: SocketAddr,
    conn: &mut Option<Conn>,
    request: &[u8],
    expect: u16,
) -> Result<(), String> {
    let c = match conn {
        Some(c) => c,
        None => conn.insert(Conn::open(addr).map_err(|e| format!("connect: {e}"))?),
    };
    let reply = c
        .send(request)
        .and_then(|()| c.read())
        .map_err(|e| format!("{e}"));
    let reply = match reply {
        Ok(r) => r,
        Err(e) => {
            *conn = None;
            return Err(e);
        }
    };
    if reply.close {
        *conn = None;
    }
    if reply.status == expect {
        Ok(())
    } else {
        Err(format!(
            "status {} where {expect} was expected",
            reply.status
        ))
    }
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: soak\r\n\r\n").into_bytes()
}

/// One client thread of `kind` until `stop`.
fn drive(addr: SocketAddr, kind: Kind, stop: &AtomicBool, tally: &Tally) {
    let mut conn: Option<Conn> = None;
    let mut i = 0u64;
    let body = vec![b'x'; LARGE_BODY];
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let result = match kind {
            Kind::KeepAlive => {
                let path = if i.is_multiple_of(2) {
                    "/plaintext"
                } else {
                    "/json"
                };
                exchange(addr, &mut conn, &get(path), 200).map(|()| 1)
            }
            Kind::NewConnection => {
                conn = None;
                let request = b"GET /json HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n";
                exchange(addr, &mut conn, request, 200).map(|()| 1)
            }
            Kind::Pipelined => pipelined(addr, &mut conn),
            Kind::LargeBody => {
                // hello has no route that takes a body: it is read in full, then 405.
                let mut request = if i.is_multiple_of(2) {
                    format!(
                        "POST /plaintext HTTP/1.1\r\nHost: soak\r\nContent-Length: {LARGE_BODY}\r\n\r\n"
                    )
                    .into_bytes()
                } else {
                    b"POST /json HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n\r\n"
                        .to_vec()
                };
                if i.is_multiple_of(2) {
                    request.extend_from_slice(&body);
                } else {
                    for piece in body.chunks(8 << 10) {
                        request.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                        request.extend_from_slice(piece);
                        request.extend_from_slice(b"\r\n");
                    }
                    request.extend_from_slice(b"0\r\n\r\n");
                }
                exchange(addr, &mut conn, &request, 405).map(|()| 1)
            }
            Kind::Errors => {
                let (request, expect): (Vec<u8>, u16) = match i % 3 {
                    0 => (get("/no/such/route"), 404),
                    // Over the 1 MiB default limit: refused from the head, connection closed.
                    1 => (
                        b"POST /json HTTP/1.1\r\nHost: soak\r\nContent-Length: 4194304\r\n\r\n"
                            .to_vec(),
                        413,
                    ),
                    _ => (
                        b"GET /json HTTP/1.1\r\nHost: soak\r\nno colon here\r\n\r\n".to_vec(),
                        400,
                    ),
                };
                exchange(addr, &mut conn, &request, expect).map(|()| 1)
            }
        };
        match result {
            Ok(n) => tally.ok(kind, n),
            Err(e) => tally.fail(kind, e),
        }
    }
}

/// A batch of pipelined GETs written at once, then all the answers read.
fn pipelined(addr: SocketAddr, conn: &mut Option<Conn>) -> Result<u64, String> {
    let c = match conn {
        Some(c) => c,
        None => conn.insert(Conn::open(addr).map_err(|e| format!("connect: {e}"))?),
    };
    let batch: Vec<u8> = (0..PIPELINE_DEPTH)
        .flat_map(|_| get("/plaintext"))
        .collect();
    let mut result = c.send(&batch).map_err(|e| e.to_string());
    for _ in 0..PIPELINE_DEPTH {
        if result.is_err() {
            break;
        }
        result = match c.read() {
            Ok(r) if r.status == 200 && !r.close => Ok(()),
            Ok(r) => Err(format!("pipelined answer {r:?}")),
            Err(e) => Err(e.to_string()),
        };
    }
    match result {
        Ok(()) => Ok(PIPELINE_DEPTH as u64),
        Err(e) => {
            *conn = None;
            Err(e)
        }
    }
}

/// The process's resident set, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

/// The process's open fds.
fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("proc fd")
        .count()
}

/// The heap in use from `/metrics`, when the process tracks it.
fn heap(addr: SocketAddr) -> Option<u64> {
    let text = support::request(addr, "GET", "/metrics", None).body;
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    (value("keel_heap_tracked")? == 1.0)
        .then(|| value("keel_heap_used_bytes"))
        .flatten()
        .map(|v| v as u64)
}

fn median(values: &[u64]) -> u64 {
    let mut v = values.to_vec();
    v.sort_unstable();
    v[v.len() / 2]
}

/// Asserts `samples` (taken after the warm-up) did not grow past the margin.
fn assert_flat(what: &str, samples: &[u64]) {
    let third = (samples.len() / 3).max(1);
    let first = median(&samples[..third]);
    let last = median(&samples[samples.len() - third..]);
    let allowed = ((first as f64 * GROWTH_FRACTION) as u64).max(GROWTH_FLOOR);
    eprintln!(
        "soak: {what}: {:.1} MiB → {:.1} MiB (allowed growth {:.1} MiB)",
        mib(first),
        mib(last),
        mib(allowed)
    );
    assert!(
        last <= first + allowed,
        "{what} grew from {first} to {last} bytes (allowed {allowed}): {samples:?}"
    );
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

fn seconds(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v:?}: not seconds"))
        })
        .unwrap_or(default)
}

#[test]
fn soak_mixed_load_keeps_memory_and_fds_flat() {
    let total = Duration::from_secs(seconds("SOAK_SECONDS", DEFAULT_SECONDS).max(6));
    let warmup = Duration::from_secs(seconds("SOAK_WARMUP", (total.as_secs() / 5).max(5)));
    assert!(
        warmup < total,
        "SOAK_WARMUP must be shorter than SOAK_SECONDS"
    );
    let mut app = support::start("hello", &[("LOG_LEVEL", "warn")]);
    let (addr, pid) = (app.addr, app.child.id());
    // One scrape first, so whatever `/metrics` opens lazily is in the baseline.
    let _ = heap(addr);
    let fds_before = fds(pid);
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = KINDS
        .iter()
        .map(|&kind| {
            let (tally, stop) = (tally.clone(), stop.clone());
            thread::spawn(move || drive(addr, kind, &stop, &tally))
        })
        .collect();

    let started = Instant::now();
    thread::sleep(warmup);
    let (mut rss_samples, mut heap_samples, mut fd_max) = (Vec::new(), Vec::new(), 0);
    while started.elapsed() < total {
        rss_samples.push(rss(pid));
        heap_samples.extend(heap(addr));
        fd_max = fd_max.max(fds(pid));
        thread::sleep(Duration::from_secs(1));
    }
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().expect("load thread");
    }
    let requests = tally.total();
    let per_kind: Vec<String> = EACH_KIND
        .iter()
        .map(|&k| {
            format!(
                "{k:?} {}",
                tally.requests[k as usize].load(Ordering::SeqCst)
            )
        })
        .collect();
    eprintln!(
        "soak: {requests} requests in {:?} ({}), fds {fds_before} before, {fd_max} at most under load",
        started.elapsed(),
        per_kind.join(", ")
    );

    let failures = tally.failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "unexpected failures: {failures:#?}");
    for kind in EACH_KIND {
        let n = tally.requests[kind as usize].load(Ordering::SeqCst);
        assert!(n > 0, "no {kind:?} request went through");
    }
    assert!(rss_samples.len() >= 3, "too few samples: {rss_samples:?}");
    assert_flat("RSS", &rss_samples);
    if heap_samples.len() >= 3 {
        assert_flat("heap", &heap_samples);
    } else {
        eprintln!("soak: heap not tracked by this binary; RSS only");
    }
    // The clients are gone: the server closes their connections, back to the baseline.
    let deadline = Instant::now() + support::LIMIT;
    let mut now = fds(pid);
    while now > fds_before && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
        now = fds(pid);
    }
    assert!(
        now <= fds_before,
        "open fds did not return to the baseline: {fds_before} before, {now} after"
    );
    let (status, stdout, stderr) = app.stop();
    assert_eq!(status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
}
