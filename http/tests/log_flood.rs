//! A log flood from handlers while the log sink is blocked: handlers that log hundreds of
//! lines per request keep answering while the `keel-log` thread's writer is stuck and its
//! buffer is full; the lines past the buffer are dropped and counted
//! (`keel_log_dropped_lines_total` rises), and no loop ever blocks on the sink (no poll
//! reaches the stall threshold: `keel_loop_stalls_total` does not move, and no loop turn
//! lags 1 s or more). One test in this binary: the logger is process-wide.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use keel_http::{Router, Server, ServerConfig};
use keel_runtime::Runtime;
use keel_runtime::log::{self, Config};
use keel_testkit::Client;

/// Lines each `/flood` request logs.
const LINES_PER_REQUEST: usize = 200;
/// Client threads, and requests each sends on its keep-alive connection.
const CLIENTS: usize = 4;
const REQUESTS_PER_CLIENT: usize = 25;
/// The `keel-log` thread's buffer, in lines.
const BUFFER: usize = 64;
/// How long the whole flood may take (it takes well under a second unloaded).
const FLOOD_DEADLINE: Duration = Duration::from_secs(120);

/// A writer that blocks every write until the gate opens: standard output piped to a
/// consumer that stopped reading.
#[derive(Clone, Default)]
struct BlockedSink {
    gate: Arc<(Mutex<bool>, Condvar)>,
    written: Arc<Mutex<usize>>,
}

impl BlockedSink {
    fn open(&self) {
        let (open, cv) = &*self.gate;
        *open.lock().unwrap() = true;
        cv.notify_all();
    }
}

impl Write for BlockedSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (open, cv) = &*self.gate;
        let mut guard = open.lock().unwrap();
        while !*guard {
            guard = cv.wait(guard).unwrap();
        }
        *self.written.lock().unwrap() += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

async fn flood() -> &'static str {
    for i in 0..LINES_PER_REQUEST {
        tracing::info!(
            line = i,
            user = "alice",
            password = "hunter2",
            "flooding the log"
        );
    }
    "logged"
}

/// The sum over every series of `name` in a Prometheus text page.
fn metric(page: &str, name: &str) -> f64 {
    page.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Loop turns longer than 1 s so far (every loop): the lag histogram's count above its
/// top bucket.
fn slow_turns(page: &str) -> f64 {
    let bucket = |le: &str| -> f64 {
        page.lines()
            .filter(|l| l.starts_with("keel_loop_lag_seconds_bucket{") && l.contains(le))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    bucket("le=\"+Inf\"") - bucket("le=\"1\"")
}

fn metrics_page(client: &mut Client) -> String {
    let res = client.get("/metrics");
    assert_eq!(res.status, 200);
    res.text().to_owned()
}

#[test]
fn a_log_flood_into_a_blocked_sink_drops_lines_and_never_blocks_a_loop() {
    let sink = BlockedSink::default();
    let guard = log::init(Config::new().buffer(BUFFER).writer(sink.clone())).unwrap();

    // A generous stall threshold: only a poll that really waits on the sink (which is
    // blocked for the whole flood) reaches it, not a slow poll on a loaded machine.
    let rt = Runtime::builder()
        .loops(2)
        .pin(false)
        .stall_threshold(Duration::from_secs(2))
        .build()
        .expect("runtime");
    let server = Server::bind("127.0.0.1:0")
        .expect("bind")
        .handle_signals(false)
        .config(ServerConfig::default());
    let addr = server.local_addr();
    let shutdown = server.shutdown_handle();
    let serving = thread::spawn(move || {
        let report = server.serve(&rt, || Router::new().get("/flood", flood));
        drop(rt);
        report
    });

    let mut probe = Client::connect(addr);
    let before = metrics_page(&mut probe);
    let dropped_before = metric(&before, "keel_log_dropped_lines_total");
    let stalls_before = metric(&before, "keel_loop_stalls_total");
    let slow_before = slow_turns(&before);
    assert!(
        before.contains("keel_loop_stalls_total"),
        "no stall counter: {before}"
    );

    // The flood: every request must be answered while the sink stays blocked.
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            thread::spawn(move || {
                let mut c = Client::connect(addr);
                for _ in 0..REQUESTS_PER_CLIENT {
                    let res = c.get("/flood");
                    assert_eq!(res.status, 200);
                    assert_eq!(res.text(), "logged");
                }
            })
        })
        .collect();
    // Bounded: should a loop block on the sink, fail (after unblocking it) rather than
    // hang.
    let deadline = Instant::now() + FLOOD_DEADLINE;
    while !clients.iter().all(|c| c.is_finished()) {
        if Instant::now() > deadline {
            sink.open();
            panic!("the flood's requests did not complete in {FLOOD_DEADLINE:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
    for client in clients {
        client.join().expect("a client failed");
    }

    // Let the loops park, which publishes their counters.
    thread::sleep(Duration::from_millis(300));
    let after = metrics_page(&mut probe);
    let dropped = metric(&after, "keel_log_dropped_lines_total") - dropped_before;
    let stalls = metric(&after, "keel_loop_stalls_total") - stalls_before;
    let total = (CLIENTS * REQUESTS_PER_CLIENT * LINES_PER_REQUEST) as f64;
    // Everything past the buffer (and the few lines the blocked writer holds) is
    // dropped: nearly the whole flood.
    assert!(
        dropped >= total - 1_000.0,
        "only {dropped} of {total} lines dropped"
    );
    assert_eq!(stalls, 0.0, "a loop blocked: {after}");
    // Nor did the loop lag reach 1 s.
    assert!(
        metric(&after, "keel_loop_lag_seconds_count") > 0.0,
        "no lag samples: {after}"
    );
    assert_eq!(
        slow_turns(&after) - slow_before,
        0.0,
        "a loop lagged: {after}"
    );
    assert_eq!(
        *sink.written.lock().unwrap(),
        0,
        "the sink was blocked throughout"
    );

    // Unblocked, the logger writes again.
    sink.open();
    tracing::info!("after the flood");
    assert!(
        guard.flush(Duration::from_secs(30)),
        "the logger never drained"
    );
    assert!(*sink.written.lock().unwrap() > 0);

    shutdown.shutdown();
    serving
        .join()
        .expect("server thread")
        .expect("serve returned an error");
}
