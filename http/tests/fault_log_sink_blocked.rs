//! Fault: the log sink blocks (a full pipe, a stuck disk). Keel's logger writes through
//! a bounded buffer on the `keel-log` thread, so requests are answered as usual while the
//! access-log lines that do not fit are dropped, and counted in
//! `keel_log_dropped_lines_total` on `/metrics`; once the sink moves again, the buffered
//! lines are written.

use std::io::{self, Write};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use keel_http::{Router, ServerConfig};
use keel_runtime::log;
use keel_testkit::{Client, TestServer};

/// Lines the logger buffers before dropping.
const BUFFER: usize = 16;
/// Requests made while the sink is blocked.
const REQUESTS: usize = 400;
/// How long the writer blocks at most (so a failed test never hangs).
const BLOCK_LIMIT: Duration = Duration::from_secs(300);

/// A writer that blocks in its first write until released, then keeps what it is given.
struct BlockedSink {
    entered: Option<mpsc::Sender<()>>,
    release: mpsc::Receiver<()>,
    out: Arc<Mutex<Vec<u8>>>,
}

impl Write for BlockedSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(entered) = self.entered.take() {
            let _ = entered.send(());
            let _ = self.release.recv_timeout(BLOCK_LIMIT);
        }
        self.out.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The value of the unlabelled sample `name` in a Prometheus text exposition.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

fn dropped(client: &mut Client) -> f64 {
    let res = client.get("/metrics");
    assert_eq!(res.status, 200, "{res:?}");
    sample(res.text(), "keel_log_dropped_lines_total")
}

#[test]
fn a_blocked_log_sink_drops_and_counts_lines_and_requests_go_on() {
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let out = Arc::new(Mutex::new(Vec::new()));
    let sink = BlockedSink {
        entered: Some(entered_tx),
        release: release_rx,
        out: out.clone(),
    };
    let guard = log::init(log::Config::new().buffer(BUFFER).writer(sink)).expect("install logger");

    let server = TestServer::start(ServerConfig::default(), || {
        Router::new().get("/", || async { "ok" })
    });
    // The first line (the server's own, or this one) reaches the writer, which blocks.
    tracing::info!("blocking the sink");
    entered
        .recv_timeout(Duration::from_secs(60))
        .expect("the log thread reached the writer");

    let mut probe = server.connect();
    let before = dropped(&mut probe);

    // Keep-alive clients on their own threads: every request is answered.
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let mut client = server.connect();
            thread::spawn(move || {
                for _ in 0..REQUESTS / 4 {
                    let res = client.get("/");
                    assert_eq!(res.status, 200, "{res:?}");
                    assert_eq!(res.text(), "ok");
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("a client saw a failed request");
    }

    // One access line per request; at most BUFFER of them fit behind the blocked writer.
    let after = dropped(&mut probe);
    let lost = after - before;
    assert!(
        lost >= (REQUESTS - BUFFER) as f64,
        "only {lost} lines counted as dropped for {REQUESTS} requests"
    );
    assert_eq!(probe.get("/health/live").status, 200);

    // The sink moves again: what was buffered is written, and new lines get through.
    release.send(()).unwrap();
    assert!(
        guard.flush(Duration::from_secs(60)),
        "the log did not flush"
    );
    let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
    let access = text
        .lines()
        .filter(|l| l.contains("keel_http::access"))
        .count();
    assert!(
        (1..=BUFFER + 2).contains(&access),
        "{access} access lines written after the release"
    );
    eprintln!(
        "{REQUESTS} requests answered while the sink was blocked; {lost} lines dropped and \
         counted; {access} buffered access lines written after the release"
    );
    server.stop().expect("clean stop");
}
