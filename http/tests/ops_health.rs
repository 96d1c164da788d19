//! The health probes over real sockets: readiness goes 503 → 200 → 503 across startup
//! (an explicit `ready()`) and shutdown (during the pre-stop delay, while the server still
//! serves); a failing, timing-out or panicking readiness check shows in the JSON and the
//! status; check results are cached; `/health/live` never runs a check; the probes skip
//! the application's middleware; and a separate ops address serves them instead of the
//! main listener.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use keel_http::{Next, Ops, Phase, Request, Response, Router, Server, ServerConfig, StatusCode};
use keel_testkit::TestServer;

fn app() -> Router {
    Router::new().get("/", || async { "root" })
}

fn server(config: ServerConfig, ops: Ops) -> Server {
    Server::bind("127.0.0.1:0")
        .expect("bind")
        .handle_signals(false)
        .config(config)
        .ops(ops)
}

/// A check that counts its runs and passes while `up` is set.
fn counted_check(
    up: Arc<AtomicBool>,
    runs: Arc<AtomicUsize>,
) -> impl Fn() -> std::future::Ready<Result<(), String>> + Send + Sync + 'static {
    move || {
        runs.fetch_add(1, Ordering::SeqCst);
        std::future::ready(if up.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err("connection refused".to_owned())
        })
    }
}

#[test]
fn readiness_goes_503_then_200_then_503_across_startup_and_shutdown() {
    let ops = Ops::new().wait_for_ready(true);
    let config = ServerConfig::default().shutdown_delay(Duration::from_secs(2));
    let mut s = TestServer::start_server(2, server(config, ops), app);

    // Startup completes (every loop listens), but the app has not said it is ready.
    let started = keel_testkit::eventually(Duration::from_secs(10), || {
        let res = s.connect().get("/health/startup");
        (res.status == 200).then_some(res)
    })
    .expect("startup never completed");
    assert_eq!(started.json()["status"], "started");
    let mut c = s.connect();
    let res = c.get("/health/ready");
    assert_eq!(res.status, 503, "{res:?}");
    let json = res.json();
    assert_eq!(json["status"], "unavailable");
    assert_eq!(json["phase"], "running");
    assert!(
        json["reasons"][0].as_str().unwrap().contains("ready"),
        "{json}"
    );

    s.health.ready();
    let res = c.get("/health/ready");
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.json()["status"], "ready");
    assert_eq!(res.header("cache-control"), Some("no-store"));

    // Shutdown: readiness flips at once, while the pre-stop delay keeps serving, on
    // existing and new connections alike.
    s.handle.shutdown();
    assert_eq!(s.handle.phase(), Phase::Draining);
    let res = c.get("/health/ready");
    assert_eq!(res.status, 503, "{res:?}");
    let json = res.json();
    assert_eq!(json["phase"], "draining");
    assert_eq!(json["reasons"][0], "shutting down", "{json}");
    assert_eq!(c.get("/").text(), "root");
    let mut fresh = s.connect();
    assert_eq!(fresh.get("/health/ready").status, 503);
    assert_eq!(fresh.get("/").text(), "root");
    // Liveness and startup are unaffected by the drain.
    assert_eq!(fresh.get("/health/live").status, 200);
    assert_eq!(fresh.get("/health/startup").status, 200);

    let report = s
        .wait_stopped(Duration::from_secs(30))
        .expect("serve did not return")
        .expect("serve failed");
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(s.handle.phase(), Phase::Stopped);
}

#[test]
fn failing_checks_show_in_the_json_and_the_status() {
    let up = Arc::new(AtomicBool::new(false));
    let runs = Arc::new(AtomicUsize::new(0));
    let ops = Ops::new()
        .readiness_check("db", counted_check(up.clone(), runs.clone()))
        .readiness_check("cache", || async { Ok(()) })
        .readiness_check("hangs", || async {
            keel_runtime::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        })
        .readiness_check("panics", || async { panic!("check exploded") })
        .check_timeout(Duration::from_millis(200))
        .check_cache(Duration::ZERO);
    let s = TestServer::start_server(2, server(ServerConfig::default(), ops), app);
    keel_testkit::eventually(Duration::from_secs(10), || {
        (s.connect().get("/health/startup").status == 200).then_some(())
    })
    .expect("startup never completed");

    let mut c = s.connect();
    let asked = Instant::now();
    let res = c.get("/health/ready");
    // The checks run concurrently: one round takes about one timeout, not the sum.
    assert!(
        asked.elapsed() < Duration::from_secs(8),
        "{:?}",
        asked.elapsed()
    );
    assert_eq!(res.status, 503, "{res:?}");
    let json = res.json();
    let checks = &json["checks"];
    assert_eq!(checks["db"]["state"], "down", "{json}");
    assert_eq!(checks["db"]["reason"], "connection refused", "{json}");
    assert_eq!(checks["cache"]["state"], "up", "{json}");
    assert_eq!(checks["hangs"]["state"], "timeout", "{json}");
    assert_eq!(checks["panics"]["state"], "panicked", "{json}");
    assert!(
        checks["panics"]["reason"]
            .as_str()
            .unwrap()
            .contains("check exploded")
    );
    let reasons = json["reasons"].as_array().unwrap();
    assert!(reasons.iter().any(|r| r == "check db is down"), "{json}");
    assert_eq!(reasons.len(), 3, "{json}");

    // The server and its loop survived the panicking check.
    assert_eq!(c.get("/").text(), "root");
}

#[test]
fn check_results_are_cached_and_liveness_never_runs_checks() {
    let up = Arc::new(AtomicBool::new(true));
    let runs = Arc::new(AtomicUsize::new(0));
    let ops = Ops::new()
        .readiness_check("db", counted_check(up.clone(), runs.clone()))
        .check_cache(Duration::from_secs(3600));
    let s = TestServer::start_server(2, server(ServerConfig::default(), ops), app);
    keel_testkit::eventually(Duration::from_secs(10), || {
        (s.connect().get("/health/startup").status == 200).then_some(())
    })
    .expect("startup never completed");

    // Liveness: pid and uptime, and no check runs however often it is asked.
    for _ in 0..10 {
        let res = s.connect().get("/health/live");
        assert_eq!(res.status, 200);
        let json = res.json();
        assert_eq!(json["status"], "alive");
        assert_eq!(json["pid"], u64::from(std::process::id()));
        assert!(json["uptimeSeconds"].as_f64().unwrap() >= 0.0);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 0, "/health/live ran a check");

    // Readiness: the first probe runs the check, the next ones (on every loop) reuse it,
    // even after the dependency went down.
    let res = s.connect().get("/health/ready");
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.json()["checks"]["db"]["state"], "up");
    up.store(false, Ordering::SeqCst);
    for _ in 0..10 {
        let res = s.connect().get("/health/ready");
        assert_eq!(
            res.status, 200,
            "the cached result should be served: {res:?}"
        );
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the check result was not cached"
    );
}

#[test]
fn without_a_cache_every_probe_runs_the_checks() {
    let up = Arc::new(AtomicBool::new(true));
    let runs = Arc::new(AtomicUsize::new(0));
    let ops = Ops::new()
        .readiness_check("db", counted_check(up.clone(), runs.clone()))
        .check_cache(Duration::ZERO);
    let s = TestServer::start_server(1, server(ServerConfig::default(), ops), app);
    keel_testkit::eventually(Duration::from_secs(10), || {
        (s.connect().get("/health/startup").status == 200).then_some(())
    })
    .expect("startup never completed");
    let mut c = s.connect();
    assert_eq!(c.get("/health/ready").status, 200);
    up.store(false, Ordering::SeqCst);
    assert_eq!(c.get("/health/ready").status, 503);
    up.store(true, Ordering::SeqCst);
    assert_eq!(c.get("/health/ready").status, 200);
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}

#[test]
fn probes_skip_the_application_middleware() {
    let deny_all = |_req: Request, _next: Next| async {
        Response::text("denied").with_status(StatusCode::UNAUTHORIZED)
    };
    let s = TestServer::start_server(1, server(ServerConfig::default(), Ops::new()), move || {
        app().layer(deny_all)
    });
    let mut c = s.connect();
    assert_eq!(c.get("/").status, 401, "the middleware runs for the app");
    assert_eq!(c.get("/health/live").status, 200);
}

#[test]
fn a_separate_ops_address_serves_the_probes_instead_of_the_main_listener() {
    let ops = Ops::new().listen("127.0.0.1:0").expect("bind ops");
    let ops_addr = ops.local_addr().expect("ops address");
    let s = TestServer::start_server(2, server(ServerConfig::default(), ops), app);
    assert_eq!(s.ops_addr, Some(ops_addr));
    assert_ne!(ops_addr, s.addr);

    let mut ops_client = keel_testkit::Client::connect(ops_addr);
    let ready = keel_testkit::eventually(Duration::from_secs(10), || {
        let res = ops_client.get("/health/ready");
        (res.status == 200).then_some(res)
    });
    assert!(ready.is_some(), "never ready on the ops address");
    assert_eq!(ops_client.get("/health/live").status, 200);
    // The application is not on the ops address, and the probes are not on the main one.
    assert_eq!(ops_client.get("/").status, 404);
    let mut main = s.connect();
    assert_eq!(main.get("/").text(), "root");
    assert_eq!(main.get("/health/live").status, 404);

    // The ops listener closes with the server.
    let report = s.stop().expect("serve failed");
    assert!(report.is_clean(), "{report:?}");
    let refused = match std::net::TcpStream::connect_timeout(&ops_addr, keel_testkit::IO_TIMEOUT) {
        Err(_) => true,
        Ok(stream) => keel_testkit::Client::from_stream(stream)
            .is_refused(b"GET /health/live HTTP/1.1\r\nHost: h\r\n\r\n"),
    };
    assert!(
        refused,
        "the ops address still answers after serve returned"
    );
}

#[test]
fn disabled_ops_leave_every_path_to_the_application() {
    let s = TestServer::start_server(1, server(ServerConfig::default(), Ops::disabled()), || {
        app().get("/health/live", || async { "mine" })
    });
    let mut c = s.connect();
    assert_eq!(c.get("/health/live").text(), "mine");
    assert_eq!(c.get("/health/ready").status, 404);
}
