//! The shutdown drains work spawned on the tokio bridge (`keel_runtime::tokio::spawn`):
//! it waits for it within what is left of the shutdown timeout, and names what still
//! runs past it in the report. Bridged tasks are tracked process-wide, so this binary
//! holds one test, whose servers run one after the other.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use keel_http::{Outcome, Router, ServerConfig};
use keel_testkit::TestServer;

/// `/spawn` answers at once and leaves work on the bridge that sleeps `work` on tokio's
/// timer, then sets `finished`.
fn app(work: Duration, finished: Arc<AtomicBool>) -> Router {
    Router::new().get("/spawn", move || {
        let finished = finished.clone();
        keel_runtime::tokio::spawn(async move {
            tokio::time::sleep(work).await;
            finished.store(true, Ordering::SeqCst);
        });
        async { "spawned" }
    })
}

fn spawn_work(config: ServerConfig, work: Duration) -> (TestServer, Arc<AtomicBool>) {
    let finished = Arc::new(AtomicBool::new(false));
    let flag = finished.clone();
    let server = TestServer::start(config, move || app(work, flag.clone()));
    let res = server
        .connect()
        .request("GET /spawn HTTP/1.1\r\nHost: t\r\nX-Request-ID: bridged-work-1\r\n\r\n");
    assert_eq!((res.status, res.text()), (200, "spawned"));
    (server, finished)
}

#[test]
fn shutdown_waits_for_bridged_work_and_names_the_stragglers() {
    // Work that ends within the shutdown timeout: serve returns after it, cleanly.
    let (server, finished) = spawn_work(ServerConfig::default(), Duration::from_millis(300));
    let report = server.stop().expect("serve returned an error");
    assert!(
        finished.load(Ordering::SeqCst),
        "serve returned before the bridged work ended"
    );
    assert!(report.is_clean(), "{report:?}");
    assert!(report.bridged_stragglers().is_empty());

    // Work that outlives it: named in the report, by request id and spawn site.
    let (mut server, finished) = spawn_work(
        ServerConfig::default().shutdown_timeout(Duration::from_millis(300)),
        Duration::from_secs(3600),
    );
    let asked = Instant::now();
    server.handle.shutdown();
    let report = server
        .wait_stopped(Duration::from_secs(20))
        .expect("serve did not return at the shutdown timeout")
        .expect("serve returned an error");
    let took = asked.elapsed();
    assert!(!finished.load(Ordering::SeqCst));
    assert_eq!(report.outcome(), Outcome::DeadlineExceeded, "{report:?}");
    assert_eq!(report.open_at_deadline(), 0, "{report:?}");
    let stragglers = report.bridged_stragglers();
    assert_eq!(stragglers.len(), 1, "{report:?}");
    assert_eq!(stragglers[0].request_id.as_deref(), Some("bridged-work-1"));
    assert!(
        stragglers[0]
            .spawned_at
            .file()
            .ends_with("tokio_bridge_drain.rs"),
        "{:?}",
        stragglers[0]
    );
    assert!(
        took >= Duration::from_millis(250),
        "returned after only {took:?}"
    );
    // Cancelled with the runtime (the test server drops it when serve returns).
    assert!(keel_runtime::tokio::in_flight().is_empty());
}
