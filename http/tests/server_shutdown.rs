//! [`ShutdownHandle::shutdown`](keel_http::ShutdownHandle::shutdown), the drain: idle
//! keep-alive connections are closed, an in-flight request still gets its whole response
//! with `Connection: close`, `serve` returns, and the port stops accepting. Also: the
//! shutdown timeout bounds a request that never finishes, and starting and stopping a
//! server over and over always returns.

use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use keel_http::{Router, ServerConfig};
use keel_testkit::TestServer;

/// `/slow` sleeps `delay` on the loop's timer (counting how many started), `/` answers
/// at once.
fn app(started: Arc<AtomicUsize>, delay: Duration) -> Router {
    Router::new()
        .get("/", || async { "root" })
        .get("/slow", move || {
            started.fetch_add(1, Ordering::SeqCst);
            async move {
                keel_runtime::time::sleep(delay).await;
                "slow done"
            }
        })
}

fn start(config: ServerConfig, delay: Duration) -> (TestServer, Arc<AtomicUsize>) {
    let started = Arc::new(AtomicUsize::new(0));
    let counter = started.clone();
    let server = TestServer::start(config, move || app(counter.clone(), delay));
    (server, started)
}

#[test]
fn drain_closes_idle_connections_finishes_in_flight_ones_and_returns() {
    let (mut server, started) = start(ServerConfig::default(), Duration::from_millis(300));

    // An idle keep-alive connection that has been used.
    let mut idle = server.connect();
    assert_eq!(idle.get("/").text(), "root");
    // A connection that has not sent anything yet.
    let mut silent = server.connect();
    // A request in flight.
    let mut busy = server.connect();
    busy.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n");
    let running = keel_testkit::eventually(Duration::from_secs(10), || {
        (started.load(Ordering::SeqCst) == 1).then_some(())
    });
    assert!(running.is_some(), "the slow handler never started");

    server.handle.shutdown();
    assert!(server.handle.is_shutting_down());

    // The in-flight request completes, told that the connection ends.
    let res = busy.read_response();
    assert_eq!((res.status, res.text()), (200, "slow done"));
    assert!(res.closes(), "{res:?}");
    busy.assert_closed();

    // The idle ones are closed without a response.
    idle.assert_closed();
    silent.assert_closed();

    // `serve` returns, successfully, with a clean report.
    let result = server
        .wait_stopped(Duration::from_secs(10))
        .expect("serve did not return after the drain");
    let report = result.expect("serve returned an error");
    assert!(report.is_clean(), "{report:?}");
    assert!(report.abandoned().is_empty());

    // Nothing listens any more.
    match TcpStream::connect_timeout(&server.addr, keel_testkit::IO_TIMEOUT) {
        Err(_) => {}
        Ok(stream) => {
            let mut c = keel_testkit::Client::from_stream(stream);
            assert!(
                c.is_refused(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
                "served after shutdown"
            );
        }
    }
}

#[test]
fn shutdown_timeout_bounds_a_request_that_never_finishes() {
    let (mut server, started) = start(
        ServerConfig::default().shutdown_timeout(Duration::from_millis(300)),
        Duration::from_secs(3600),
    );
    let mut stuck = server.connect();
    stuck.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n");
    let running = keel_testkit::eventually(Duration::from_secs(10), || {
        (started.load(Ordering::SeqCst) == 1).then_some(())
    });
    assert!(running.is_some(), "the slow handler never started");

    let asked = Instant::now();
    server.handle.shutdown();
    let result = server
        .wait_stopped(Duration::from_secs(20))
        .expect("serve did not return at the shutdown timeout");
    let report = result.expect("serve returned an error");
    let took = asked.elapsed();
    // The failure outcome, naming the abandoned request by its route.
    assert_eq!(report.outcome(), keel_http::Outcome::DeadlineExceeded);
    assert!(!report.is_clean());
    assert_eq!(report.exit_code(), std::process::ExitCode::FAILURE);
    assert_eq!(report.open_at_deadline(), 1, "{report:?}");
    let abandoned = report.abandoned();
    assert_eq!(abandoned.len(), 1, "{report:?}");
    assert_eq!(
        (abandoned[0].method.as_str(), abandoned[0].route.as_str()),
        ("GET", "/slow")
    );
    assert!(
        abandoned[0].running_for >= Duration::from_millis(150),
        "{report:?}"
    );
    assert!(
        took >= Duration::from_millis(150),
        "returned after only {took:?}"
    );
    // The abandoned connection is closed when its runtime goes, with no response.
    stuck.assert_closed();
}

#[test]
fn shutdown_before_any_connection_returns() {
    let (server, _) = start(ServerConfig::default(), Duration::ZERO);
    server.stop().expect("serve returned an error");
}

#[test]
fn repeated_start_and_shutdown_always_returns() {
    // Regression: a loop could miss the runtime's shutdown wake and sleep forever in
    // epoll, so dropping the runtime after `serve` hung now and then.
    for i in 0..50 {
        let (server, _) = start(ServerConfig::default(), Duration::ZERO);
        if i % 2 == 0 {
            assert_eq!(server.connect().get("/").text(), "root");
        }
        server.stop().expect("serve returned an error");
    }
}

#[test]
fn shutdown_is_idempotent_and_visible_on_every_handle() {
    let (server, _) = start(ServerConfig::default(), Duration::ZERO);
    let other = server.handle.clone();
    assert!(!other.is_shutting_down());
    server.handle.shutdown();
    other.shutdown();
    assert!(other.is_shutting_down());
    server.stop().expect("serve returned an error");
}
