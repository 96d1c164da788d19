//! Fault: the blocking and worker pools' queues are full. A handler that offloads with
//! `blocking::spawn(..)?` or `workers::spawn(..)?` answers at once with `503` and
//! `Retry-After: 1` (through `From<JobError> for AppError`), instead of hanging; the
//! probes and other routes keep being served meanwhile, and the requests that were
//! accepted into the pools are answered once the jobs can run.
//!
//! Both process-wide pools are installed with one thread and a one-job queue, so two
//! held requests fill each: one job running (held on a gate), one queued.

use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::Duration;

use keel_http::{AppError, Router, ServerConfig};
use keel_runtime::{blocking, workers};
use keel_testkit::{Client, TestServer, eventually};

/// How long a held job waits for the gate at most (so a failed test never hangs).
const HOLD_LIMIT: Duration = Duration::from_secs(120);

/// Jobs wait here until the test opens it.
struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
}

static GATE: Gate = Gate {
    open: Mutex::new(false),
    cv: Condvar::new(),
};

impl Gate {
    fn wait(&self) -> &'static str {
        let open = self.open.lock().unwrap();
        let (open, _) = self
            .cv
            .wait_timeout_while(open, HOLD_LIMIT, |o| !*o)
            .unwrap();
        if *open { "done" } else { "gate never opened" }
    }

    fn set(&self, open: bool) {
        *self.open.lock().unwrap() = open;
        self.cv.notify_all();
    }
}

async fn on_blocking() -> Result<&'static str, AppError> {
    Ok(blocking::spawn(|| GATE.wait())?.await?)
}

async fn on_workers() -> Result<&'static str, AppError> {
    Ok(workers::spawn(|| GATE.wait())?.await?)
}

fn app() -> Router {
    Router::new()
        .get("/blocking", on_blocking)
        .get("/workers", on_workers)
        .get("/other", || async { "still here" })
}

/// A request on its own connection and thread, answered (or not) after the gate opens.
fn held(server: &TestServer, path: &'static str) -> thread::JoinHandle<keel_testkit::Response> {
    let mut client = server.connect();
    client
        .stream
        .set_read_timeout(Some(HOLD_LIMIT + Duration::from_secs(30)))
        .unwrap();
    thread::spawn(move || client.get(path))
}

/// Asserts a fresh request to `path` is refused at once with 503 and `Retry-After`.
fn assert_shed(server: &TestServer, path: &str) {
    let mut client = Client::connect(server.addr);
    let res = client.get(path);
    let json = res.assert_error(503, "overloaded");
    assert_eq!(res.header("retry-after"), Some("1"), "{res:?}");
    // Production hides the internal message (which names the pool).
    assert_eq!(json["error"], "Service Unavailable", "{json}");
    // The connection lives on: the next request on it is served.
    assert_eq!(client.get("/other").status, 200);
}

/// Holds two requests on `path`, checks the pool is full (`full` reads running and
/// queued jobs), sheds a third with 503 while the probes are served, then opens the gate
/// and checks the held ones and a new one succeed.
fn fill_and_recover(server: &TestServer, path: &'static str, full: impl Fn() -> (usize, usize)) {
    GATE.set(false);
    let first = held(server, path);
    eventually(Duration::from_secs(60), || (full().0 == 1).then_some(()))
        .unwrap_or_else(|| panic!("{path}: the first job never started: {:?}", full()));
    let second = held(server, path);
    eventually(Duration::from_secs(60), || (full() == (1, 1)).then_some(()))
        .unwrap_or_else(|| panic!("{path}: the second job never queued: {:?}", full()));

    for _ in 0..5 {
        assert_shed(server, path);
    }
    let mut probe = server.connect();
    assert_eq!(probe.get("/health/live").status, 200);
    assert_eq!(probe.get("/other").text(), "still here");
    assert_eq!(full(), (1, 1), "{path}: the shed requests changed the pool");

    GATE.set(true);
    for handle in [first, second] {
        let res = handle.join().expect("held request thread");
        assert_eq!(res.status, 200, "{path}: {res:?}");
        assert_eq!(res.text(), "done");
    }
    let res = server.connect().get(path);
    assert_eq!(res.status, 200, "{path} after the queue drained: {res:?}");
}

#[test]
fn full_pool_queues_answer_503_with_retry_after_and_the_server_keeps_serving() {
    blocking::Builder::new()
        .threads(1)
        .queue_capacity(1)
        .install()
        .expect("install the blocking pool");
    workers::Builder::new()
        .threads(1)
        .queue_capacity(1)
        .install()
        .expect("install the worker pool");
    let server = TestServer::start(ServerConfig::default(), app);

    fill_and_recover(&server, "/blocking", || {
        let m = blocking::metrics().expect("the blocking pool is installed");
        (m.busy, m.queue_depth)
    });
    fill_and_recover(&server, "/workers", || {
        let m = workers::metrics().expect("the worker pool is installed");
        (m.busy, m.queue_depth)
    });

    let rejected = blocking::metrics().unwrap().rejected() + workers::metrics().unwrap().rejected;
    assert_eq!(rejected, 10, "every shed request was a refused submission");
    server.stop().expect("clean stop");
}
