//! Fault: the database goes away under load and comes back. A server whose route runs a
//! query through a per-loop PostgreSQL pool (`fail_fast`) answers `503` with
//! `Retry-After` at once while the database is unreachable — well under the pool's
//! acquire timeout, through `From<keel_pool::Error<_>> for AppError` — keeps serving its
//! probes, and answers 200 again once the database is back, with no restart.
//!
//! The real PostgreSQL on 127.0.0.1:5432 is shared with other tests, so it is never
//! stopped: the pool connects through a TCP forwarder (`keel_testkit::proxy`) that the test
//! stops (cutting every connection, refusing new ones) and restarts.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use keel::http::{AppError, Router, Server, State};
use keel::pool::Pool;
use keel::pool::postgres::{PgManager, tokio_postgres};
use keel::runtime::Runtime;
use keel_testkit::proxy::Proxy;

/// The pool's acquire timeout: a 503 must come much sooner than this.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(20);
/// What "fast" means here (half the acquire timeout: generous on a loaded machine).
const FAST: Duration = Duration::from_secs(10);
/// Load threads.
const CLIENTS: usize = 4;

/// `GET /db`: one query on this loop's pool. A pool that cannot hand out a connection
/// converts with `?`; a query on a connection that died is the same outage.
async fn db(State(pool): State<Pool<PgManager>>) -> Result<String, AppError> {
    let conn = pool.get().await?;
    let row = conn
        .query_one("SELECT 40 + $1::int", &[&2i32])
        .await
        .map_err(|e| AppError::service_unavailable(format!("database: {e}")))?;
    Ok(row.get::<_, i32>(0).to_string())
}

fn pg_config(addr: SocketAddr) -> tokio_postgres::Config {
    let mut config = tokio_postgres::Config::new();
    config
        .host(addr.ip().to_string())
        .port(addr.port())
        .user("postgres")
        .dbname("test")
        .connect_timeout(Duration::from_secs(5));
    config
}

/// One answered request: when it was sent, how long it took, status, `Retry-After`.
#[derive(Debug, Clone)]
struct Sample {
    sent: Instant,
    took: Duration,
    status: u16,
    retry_after: Option<String>,
}

/// `GET path` on a fresh connection; the status and `Retry-After` header.
fn get(addr: SocketAddr, path: &str) -> Result<(u16, Option<String>), String> {
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(30)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut text = String::new();
    s.read_to_string(&mut text).map_err(|e| e.to_string())?;
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status line: {text:?}"))?;
    let retry_after = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case("retry-after"))
        .map(|(_, v)| v.trim().to_owned());
    Ok((status, retry_after))
}

/// Waits until `samples` holds at least `n` samples sent after `since` with `status`.
fn wait_for(samples: &Mutex<Vec<Sample>>, since: Instant, status: u16, n: usize) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let count = samples
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.sent >= since && s.status == status)
            .count();
        if count >= n {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn requests_fail_fast_with_503_while_the_database_is_down_and_recover_after() {
    let proxy = Proxy::start("127.0.0.1:5432".parse().unwrap());
    let manager = PgManager::new(pg_config(proxy.addr()));

    let server = Server::bind("127.0.0.1:0").unwrap().handle_signals(false);
    let addr = server.local_addr();
    let shutdown = server.shutdown_handle();
    let runtime = Runtime::builder().loops(2).pin(false).build().unwrap();
    let (done_tx, done) = mpsc::channel();
    let serving = thread::spawn(move || {
        let report = server.serve(&runtime, move || {
            let pool = Pool::builder(manager.clone())
                .max(4)
                .fail_fast(true)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .build();
            Router::new().get("/db", db).with_state(pool)
        });
        drop(runtime);
        let _ = done_tx.send(report.map(|r| r.is_clean()));
    });

    // Load: CLIENTS threads, each a request after another on fresh connections.
    let samples = Arc::new(Mutex::new(Vec::new()));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (samples, failures, stop) = (samples.clone(), failures.clone(), stop.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let sent = Instant::now();
                    match get(addr, "/db") {
                        Ok((status, retry_after)) => samples.lock().unwrap().push(Sample {
                            sent,
                            took: sent.elapsed(),
                            status,
                            retry_after,
                        }),
                        Err(e) => failures.lock().unwrap().push(e),
                    }
                    thread::sleep(Duration::from_millis(2));
                }
            })
        })
        .collect();

    let start = Instant::now();
    assert!(
        wait_for(&samples, start, 200, 20),
        "no 200s while the database is up"
    );

    // Down: every connection cut, connects refused.
    proxy.stop();
    let down = Instant::now();
    assert!(
        wait_for(&samples, down, 503, 40),
        "no 503s while the database is down"
    );
    // An outage of a second at least, under the same load.
    if let Some(rest) = Duration::from_secs(1).checked_sub(down.elapsed()) {
        thread::sleep(rest);
    }
    // The probes do not depend on the database.
    assert_eq!(get(addr, "/health/live").unwrap().0, 200);
    // Nothing got through to the database meanwhile.
    let accepted_while_down = proxy.accepted();

    // Back up: the pool connects again by itself.
    let up_started = Instant::now();
    assert_eq!(proxy.accepted(), accepted_while_down);
    proxy.restart();
    let up = Instant::now();
    assert!(
        wait_for(&samples, up, 200, 40),
        "no recovery after the database came back"
    );
    // Past the recovery, every request succeeds again.
    let settled = Instant::now();
    assert!(
        wait_for(&samples, settled, 200, 40),
        "no 200s after recovery"
    );
    stop.store(true, Ordering::SeqCst);
    for t in load {
        t.join().unwrap();
    }

    let samples = samples.lock().unwrap().clone();
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "requests without an answer: {failures:?}"
    );
    for s in &samples {
        assert!(
            s.status == 200 || s.status == 503,
            "unexpected status: {s:?}"
        );
        if s.status == 503 {
            assert_eq!(s.retry_after.as_deref(), Some("1"), "{s:?}");
            assert!(
                s.took < FAST,
                "a 503 took {:?} (acquire timeout {ACQUIRE_TIMEOUT:?})",
                s.took
            );
        }
    }
    // Sent after the cut and answered before the restart began: the database was
    // unreachable the whole time, so each one is a 503.
    let during: Vec<_> = samples
        .iter()
        .filter(|s| s.sent >= down && s.sent + s.took < up_started)
        .collect();
    assert!(
        during.len() >= 40,
        "{} requests during the outage",
        during.len()
    );
    assert!(
        during.iter().all(|s| s.status == 503),
        "a request succeeded while the database was down: {:?}",
        during.iter().find(|s| s.status != 503)
    );
    let after: Vec<_> = samples.iter().filter(|s| s.sent >= settled).collect();
    assert!(
        after.iter().all(|s| s.status == 200),
        "a request failed after recovery: {:?}",
        after.iter().find(|s| s.status != 200)
    );
    eprintln!(
        "{} requests: {} during the outage (all 503), {} after recovery (all 200)",
        samples.len(),
        during.len(),
        after.len()
    );

    shutdown.shutdown();
    let clean = done
        .recv_timeout(Duration::from_secs(60))
        .expect("serve returned")
        .expect("serve succeeded");
    assert!(clean, "the drain was not clean");
    serving.join().unwrap();
}
