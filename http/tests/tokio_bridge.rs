//! The tokio bridge from inside Keel handlers served by a real `Server`: reqwest calling
//! a local HTTP server, an sqlx query against the real PostgreSQL (127.0.0.1:5432, user
//! postgres, database `test`) and a redis-rs command against the real Redis
//! (127.0.0.1:6379) all work unchanged, one at a time and under concurrent requests;
//! `keel_runtime::tokio::spawn`ed work sees the request id; a handler awaiting a bridged
//! call when the server shuts down still answers, or is named by the drain's report.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::Duration;

use keel_http::{Router, ServerConfig};
use keel_runtime::task_context;
use keel_testkit::TestServer;

const DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const REDIS_URL: &str = "redis://127.0.0.1:6379/";

/// The peer reqwest calls: a plain Keel server on loopback.
fn upstream() -> TestServer {
    TestServer::start_with_loops(1, ServerConfig::default(), || {
        Router::new().get("/hello", || async { "hello from upstream" })
    })
}

/// Why a bridged call failed, as the response body (the test asserts the success text).
fn failed(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what} failed: {e}")
}

async fn via_reqwest(upstream: SocketAddr) -> String {
    match reqwest::get(format!("http://{upstream}/hello")).await {
        Ok(res) => res.text().await.unwrap_or_else(|e| failed("body", e)),
        Err(e) => failed("reqwest", e),
    }
}

/// One pool per server, for all its loops: its connections' I/O runs on the bridge's
/// reactor, so any loop may await it. Made on first use, on a loop of the server whose
/// bridge it then belongs to (a pool made under another runtime's bridge would die
/// with that runtime).
type SharedPool = Arc<OnceLock<sqlx::PgPool>>;

async fn via_sqlx(pool: SharedPool) -> String {
    let pool = pool.get_or_init(|| {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect_lazy(DATABASE_URL)
            .expect("a valid database URL")
    });
    let one: Result<i32, _> = sqlx::query_scalar("SELECT 1").fetch_one(pool).await;
    let sum: Result<i64, _> = sqlx::query_scalar("SELECT $1::int8 + 1")
        .bind(41_i64)
        .fetch_one(pool)
        .await;
    match (one, sum) {
        (Ok(one), Ok(sum)) => format!("sql {one} {sum}"),
        (Err(e), _) | (_, Err(e)) => failed("sqlx", e),
    }
}

async fn via_redis() -> String {
    let client = match redis::Client::open(REDIS_URL) {
        Ok(client) => client,
        Err(e) => return failed("redis open", e),
    };
    let mut con = match client.get_multiplexed_async_connection().await {
        Ok(con) => con,
        Err(e) => return failed("redis connect", e),
    };
    let key = format!(
        "keel:tokio-bridge:{}",
        task_context::request_id().unwrap_or_default()
    );
    let pong: Result<String, _> = redis::cmd("PING").query_async(&mut con).await;
    let set: Result<(), _> = redis::cmd("SET")
        .arg(&key)
        .arg("stored")
        .arg("EX")
        .arg(60)
        .query_async(&mut con)
        .await;
    let got: Result<String, _> = redis::cmd("GET").arg(&key).query_async(&mut con).await;
    match (pong, set, got) {
        (Ok(pong), Ok(()), Ok(got)) => format!("redis {pong} {got}"),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => failed("redis", e),
    }
}

/// The request id as the handler sees it and as work spawned on the bridge sees it,
/// with the thread that work ran on.
async fn spawned_ids() -> String {
    let mine = task_context::request_id().unwrap_or_default();
    let (theirs, thread) = keel_runtime::tokio::spawn(async {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let thread = thread::current().name().unwrap_or("").to_owned();
        (task_context::request_id().unwrap_or_default(), thread)
    })
    .await
    .expect("the spawned work ran");
    format!("{mine} {theirs} {thread}")
}

fn app(
    upstream: SocketAddr,
    pool: SharedPool,
    started: Arc<AtomicUsize>,
    slow: Duration,
) -> Router {
    Router::new()
        .get("/reqwest", move || via_reqwest(upstream))
        .get("/sqlx", move || via_sqlx(pool.clone()))
        .get("/redis", via_redis)
        .get("/spawn", spawned_ids)
        .get("/slow", move || {
            started.fetch_add(1, Ordering::SeqCst);
            async move {
                // A bridged timer, then a bridged call: both in flight during the drain.
                tokio::time::sleep(slow).await;
                via_reqwest(upstream).await
            }
        })
}

fn start(config: ServerConfig, slow: Duration) -> (TestServer, TestServer, Arc<AtomicUsize>) {
    let upstream = upstream();
    let addr = upstream.addr;
    let started = Arc::new(AtomicUsize::new(0));
    let counter = started.clone();
    let pool = SharedPool::default();
    let server = TestServer::start(config, move || {
        app(addr, pool.clone(), counter.clone(), slow)
    });
    (server, upstream, started)
}

#[test]
fn reqwest_sqlx_and_redis_work_in_handlers() {
    let (server, _upstream, _) = start(ServerConfig::default(), Duration::ZERO);
    let mut c = server.connect();
    let res = c.get("/reqwest");
    assert_eq!((res.status, res.text()), (200, "hello from upstream"));
    let res = c.get("/sqlx");
    assert_eq!((res.status, res.text()), (200, "sql 1 42"));
    let res = c.get("/redis");
    assert_eq!((res.status, res.text()), (200, "redis PONG stored"));
}

#[test]
fn bridged_calls_under_concurrent_requests() {
    let (server, _upstream, _) = start(ServerConfig::default(), Duration::ZERO);
    let addr = server.addr;
    let clients: Vec<_> = (0..8)
        .map(|_| {
            thread::spawn(move || {
                let mut c = keel_testkit::Client::connect(addr);
                for _ in 0..10 {
                    for (path, want) in [
                        ("/reqwest", "hello from upstream"),
                        ("/sqlx", "sql 1 42"),
                        ("/redis", "redis PONG stored"),
                    ] {
                        let res = c.get(path);
                        assert_eq!((res.status, res.text()), (200, want), "{path}");
                    }
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("a client saw a wrong answer");
    }
}

#[test]
fn bridge_spawned_work_sees_the_request_id() {
    let (server, _upstream, _) = start(ServerConfig::default(), Duration::ZERO);
    let mut c = server.connect();
    let res = c.request("GET /spawn HTTP/1.1\r\nHost: t\r\nX-Request-ID: bridged-7\r\n\r\n");
    assert_eq!(res.status, 200);
    let words: Vec<&str> = res.text().split(' ').collect();
    assert_eq!(words[..2], ["bridged-7", "bridged-7"], "{}", res.text());
    assert!(words[2].starts_with("keel-tokio-"), "{}", res.text());
}

fn wait_started(started: &AtomicUsize) {
    let running = keel_testkit::eventually(Duration::from_secs(10), || {
        (started.load(Ordering::SeqCst) == 1).then_some(())
    });
    assert!(running.is_some(), "the slow handler never started");
}

#[test]
fn a_bridged_call_in_flight_at_shutdown_still_answers() {
    let (mut server, _upstream, started) =
        start(ServerConfig::default(), Duration::from_millis(300));
    let mut busy = server.connect();
    busy.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n");
    wait_started(&started);

    server.handle.shutdown();
    let res = busy.read_response();
    assert_eq!((res.status, res.text()), (200, "hello from upstream"));
    assert!(res.closes(), "{res:?}");
    let report = server
        .wait_stopped(Duration::from_secs(20))
        .expect("serve did not return after the drain")
        .expect("serve returned an error");
    assert!(report.is_clean(), "{report:?}");
}

#[test]
fn a_bridged_call_past_the_shutdown_timeout_is_named_by_the_drain() {
    let (mut server, _upstream, started) = start(
        ServerConfig::default().shutdown_timeout(Duration::from_millis(300)),
        Duration::from_secs(3600),
    );
    let mut stuck = server.connect();
    stuck.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n");
    wait_started(&started);

    server.handle.shutdown();
    let report = server
        .wait_stopped(Duration::from_secs(20))
        .expect("serve did not return at the shutdown timeout")
        .expect("serve returned an error");
    assert_eq!(report.outcome(), keel_http::Outcome::DeadlineExceeded);
    let abandoned = report.abandoned();
    assert_eq!(abandoned.len(), 1, "{report:?}");
    assert_eq!(
        (abandoned[0].method.as_str(), abandoned[0].route.as_str()),
        ("GET", "/slow")
    );
    stuck.assert_closed();
}
