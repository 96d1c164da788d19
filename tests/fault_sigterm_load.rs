//! Fault: SIGTERM under load. `examples/graceful` runs as a child process while 32
//! keep-alive clients send requests back to back (fast `/hit`s, some `/slow?ms=150` in
//! flight, and some clients pipelining four at a time), and the test sends SIGTERM
//! mid-load. Checked:
//!
//! * every request a client fully wrote got a full 200 response, before the signal and
//!   after it: none written and never answered (during the drain a connection's next
//!   answer says `Connection: close` and the client reconnects — into a closed listener
//!   once every loop stopped accepting, so the connect fails and nothing is written);
//! * no request got a partial response;
//! * nothing the server handled was lost on the way out: the hit counter the example
//!   writes in its shutdown hook equals the `/hit` responses the clients received;
//! * the process exits 0 well within its shutdown timeout.

mod support;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use support::{LIMIT, start, unique};

/// Client threads, one keep-alive connection each at a time.
const CLIENTS: usize = 32;
/// Requests a pipelining client writes at once.
const DEPTH: usize = 4;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// A complete response with this status; `close` when it said `Connection: close`.
    Answered { status: u16, close: bool },
    /// The connection ended before any byte of the response.
    Closed,
    /// The connection ended in the middle of the response.
    Partial,
}

/// One request as the client saw it.
#[derive(Debug, Clone)]
struct Record {
    path: &'static str,
    /// The request was fully written before the test sent SIGTERM.
    before_signal: bool,
    outcome: Outcome,
}

/// Reads one response (`Content-Length` bodies only: all the example sends); `buf` keeps
/// what arrived past it (the next pipelined responses).
fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> Outcome {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
                let close = head.contains("\r\nconnection: close");
                buf.drain(..end + 4 + length);
                return Outcome::Answered { status, close };
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) if buf.is_empty() => return Outcome::Closed,
            Ok(0) | Err(_) => return Outcome::Partial,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    s.set_read_timeout(Some(LIMIT))?;
    s.set_write_timeout(Some(LIMIT))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// One client: requests on a keep-alive connection, reconnecting when it is closed,
/// until connecting fails (the server stopped listening) or `exited` is set.
fn client(addr: SocketAddr, n: usize, signalled: &AtomicBool, exited: &AtomicBool) -> Vec<Record> {
    let mut records = Vec::new();
    let mut conn: Option<TcpStream> = None;
    let mut received = Vec::new();
    let mut i = 0usize;
    let deadline = Instant::now() + LIMIT;
    while !exited.load(Ordering::SeqCst) && Instant::now() < deadline {
        let s = match conn.as_mut() {
            Some(s) => s,
            None => match connect(addr) {
                Ok(s) => {
                    received.clear();
                    conn.insert(s)
                }
                Err(_) if signalled.load(Ordering::SeqCst) => break,
                Err(e) => panic!("connect before the signal: {e}"),
            },
        };
        i += 1;
        // A quarter of the clients have slow requests in flight now and then; one in
        // eight pipelines; the others keep their connections busy with fast ones.
        let path = if n.is_multiple_of(4) && i.is_multiple_of(4) {
            "/slow?ms=150"
        } else {
            "/hit"
        };
        let depth = if n % 8 == 1 { DEPTH } else { 1 };
        let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").repeat(depth);
        if s.write_all(request.as_bytes()).is_err() {
            // Not fully sent: the server had closed the connection.
            assert!(
                signalled.load(Ordering::SeqCst),
                "a write failed before the signal"
            );
            conn = None;
            continue;
        }
        let before_signal = !signalled.load(Ordering::SeqCst);
        for _ in 0..depth {
            let outcome = read_response(s, &mut received);
            records.push(Record {
                path,
                before_signal,
                outcome,
            });
            if !matches!(outcome, Outcome::Answered { close: false, .. }) {
                conn = None;
                break;
            }
        }
    }
    records
}

#[test]
fn sigterm_under_load_answers_every_accepted_request_and_exits_0() {
    let file = std::env::temp_dir().join(format!("keel-sigterm-load-{}.txt", unique()));
    let mut app = start(
        "graceful",
        &[("GRACEFUL_COUNTER_FILE", file.to_str().unwrap())],
    );
    let addr = app.addr;
    let signalled = Arc::new(AtomicBool::new(false));
    let exited = Arc::new(AtomicBool::new(false));
    let records = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let (signalled, exited, records) = (signalled.clone(), exited.clone(), records.clone());
            thread::spawn(move || {
                let mine = client(addr, n, &signalled, &exited);
                records.lock().unwrap().extend(mine);
            })
        })
        .collect();

    // Let the load run, then signal in the middle of it.
    thread::sleep(Duration::from_millis(1500));
    signalled.store(true, Ordering::SeqCst);
    let signal_at = Instant::now();
    app.signal("TERM");
    let status = app.wait(LIMIT);
    let took = signal_at.elapsed();
    exited.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().expect("client thread");
    }
    let (stdout, stderr) = app.output();
    assert_eq!(
        status.code(),
        Some(0),
        "exit status; stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        took < Duration::from_secs(25),
        "exit took {took:?}, past the 30 s shutdown timeout's margin"
    );

    let records = records.lock().unwrap().clone();
    let before: Vec<_> = records.iter().filter(|r| r.before_signal).collect();
    assert!(
        before.len() >= 100,
        "only {} requests before the signal",
        before.len()
    );
    for r in &before {
        assert!(
            matches!(r.outcome, Outcome::Answered { status: 200, .. }),
            "a request sent before SIGTERM was not answered: {r:?}"
        );
    }
    // Every request written was answered, after the signal too.
    for r in &records {
        assert!(
            matches!(r.outcome, Outcome::Answered { status: 200, .. }),
            "a request written {} SIGTERM was not answered: {r:?}",
            if r.before_signal { "before" } else { "after" }
        );
    }
    let hits = records
        .iter()
        .filter(|r| r.path == "/hit" && matches!(r.outcome, Outcome::Answered { .. }))
        .count();
    let counted = std::fs::read_to_string(&file).expect("the counter file");
    let _ = std::fs::remove_file(&file);
    assert_eq!(
        counted.trim(),
        format!("hits {hits}"),
        "the server counted /hit requests whose answers never arrived"
    );
    let slow_in_flight = records
        .iter()
        .filter(|r| {
            r.before_signal
                && r.path.starts_with("/slow")
                && matches!(r.outcome, Outcome::Answered { close: true, .. })
        })
        .count();
    let told_to_close = records
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Answered { close: true, .. }))
        .count();
    eprintln!(
        "{} requests, all answered: {} sent before SIGTERM, {} slow ones finishing during \
         the drain, {told_to_close} answers with Connection: close; exit in {took:?}",
        records.len(),
        before.len(),
        slow_in_flight
    );
}
