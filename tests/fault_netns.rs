//! Faults across a real network. Keel runs as its own process inside a network namespace
//! (a test host of its own, [`NetNs`]) and reaches its three dependencies over a veth
//! link to the host: PostgreSQL and Redis (the machine's, on 127.0.0.1) and an upstream
//! HTTP service (Python's `http.server`), each through a [`Proxy`] bound on the host's
//! end of the link. The tests break that link and check what a user of Keel expects:
//!
//! - added latency: slower answers, all correct; latency past the configured timeouts
//!   fails requests at those timeouts;
//! - packet loss (10 %): every request answered within its deadline;
//! - a partition (every packet dropped): `503` with `Retry-After` within the pools' and
//!   the client's timeouts, never the kernel's; the circuit breaker opens and fails fast;
//!   readiness turns 503; other routes and liveness keep answering;
//! - a black hole (the peer vanishes without a RST): TCP keepalive closes the dead
//!   PostgreSQL connections by itself; requests fail within their timeouts;
//! - after each, the same process recovers by itself: every route answers 200 again,
//!   readiness is 200, and no connection or file descriptor is leaked.
//!
//! Latency is added by the proxies (each chunk held in each direction): this machine's
//! kernel has no `netem`. Loss and drops are nftables rules inside the namespace.
//! Needs root (namespaces); where `ip netns add` is refused, each test prints
//! `SKIPPED` with the error and passes. `scripts/test.sh` installs `ip`, `nft` and `ss`.
//!
//! The Keel process is this test binary run again inside the namespace, as the ignored
//! test [`keel_in_the_namespace`] with `KEEL_NETNS_CHILD` set.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, SocketAddrV4, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use keel::http::client::Client;
use keel::http::{AppError, Json, Ops, Response, Router, Server, State, StatusCode};
use keel::pool::postgres::{PgManager, tokio_postgres};
use keel::pool::redis::{RedisManager, Value};
use keel::pool::{PerLoop, Pool};
use keel::resilience::{CircuitBreaker, Retry};
use keel::runtime::Runtime;
use keel_testkit::eventually;
use keel_testkit::netns::{Fault, NetNs};
use keel_testkit::proxy::Proxy;
use serde_json::json;

/// Set in the Keel process's environment: the dependencies' addresses, `pg redis url`.
const CHILD_ENV: &str = "KEEL_NETNS_CHILD";
/// The line the Keel process prints once it listens, followed by its port.
const LISTENING: &str = "keel-netns-listening ";

// ----- the Keel process's settings (the deadlines the tests hold it to) -----

/// Pools: the longest `get()` may take in all.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// Pools: one connect attempt (and PostgreSQL's TCP connect and cancel request).
const CREATE_TIMEOUT: Duration = Duration::from_secs(1);
/// Pools: checking an idle connection before lending it.
const RECYCLE_TIMEOUT: Duration = Duration::from_millis(500);
/// PostgreSQL: one query (then a cancel request, bounded by `CREATE_TIMEOUT`).
const QUERY_TIMEOUT: Duration = Duration::from_secs(1);
/// Redis: one command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);
/// PostgreSQL's TCP keepalive: idle time, probe interval, probes.
const KEEPALIVE: (Duration, Duration, u32) = (Duration::from_secs(1), Duration::from_secs(1), 2);
/// The client: one attempt (connect, request, breaker call) and the attempts.
const CALL_TIMEOUT: Duration = Duration::from_secs(1);
const ATTEMPTS: u32 = 2;
/// The breaker: calls in its window before it may open, and its open time.
const BREAKER_VOLUME: u64 = 4;
const BREAKER_RESET: Duration = Duration::from_secs(2);
/// The most connections each pool (and the client, idle, per host) keeps.
const POOL_MAX: usize = 2;

/// What each route may take at most, by the settings above.
const DB_BUDGET: Duration = ACQUIRE_TIMEOUT
    .saturating_add(QUERY_TIMEOUT)
    .saturating_add(CREATE_TIMEOUT);
const CACHE_BUDGET: Duration = ACQUIRE_TIMEOUT.saturating_add(COMMAND_TIMEOUT);
const UPSTREAM_BUDGET: Duration = Duration::from_millis(
    (CALL_TIMEOUT.as_millis() as u64 + 2 * CALL_TIMEOUT.as_millis() as u64) * ATTEMPTS as u64 + 500,
);
/// Slack over a budget on this shared 2-core machine (timers, scheduling, the proxies).
const SLACK: Duration = Duration::from_millis(1500);
/// The outer bound of any one request the test makes: past it, it hung.
const HANG: Duration = Duration::from_secs(20);

// ================= the Keel process =================

/// One loop's state.
#[derive(Clone)]
struct App {
    db: Pool<PgManager>,
    cache: Pool<RedisManager>,
    client: Client,
    breaker: CircuitBreaker,
    upstream: String,
}

async fn fast() -> &'static str {
    "ok"
}

/// One query on this loop's PostgreSQL pool; a pool error converts with `?` (503).
async fn db(State(app): State<App>) -> Result<String, AppError> {
    let conn = app.db.get().await?;
    let row = conn
        .query_one("SELECT 40 + $1::int", &[&2i32])
        .await
        .map_err(|e| AppError::service_unavailable(format!("database: {e}")))?;
    Ok(row.get::<_, i32>(0).to_string())
}

/// One command on this loop's Redis pool.
async fn cache(State(app): State<App>) -> Result<String, AppError> {
    let mut conn = app.cache.get().await?;
    match conn.cmd(&["PING"]).await {
        Ok(Value::Simple(pong)) => Ok(pong),
        Ok(other) => Err(AppError::internal(format!("PING answered {other:?}"))),
        Err(e) => Err(AppError::service_unavailable(format!("redis: {e}"))),
    }
}

/// One call to the upstream through the client's retry policy and breaker; a call the
/// breaker refused is told apart (`x-upstream: rejected`) from one that failed.
async fn upstream(State(app): State<App>) -> Response {
    let unavailable = |how: &'static str, why: String| {
        let mut res = keel::http::IntoResponse::into_response(AppError::service_unavailable(why));
        res = res.with_header("x-upstream", how);
        res
    };
    match app
        .client
        .get(&format!("{}/items/7", app.upstream))
        .send()
        .await
    {
        Ok(res) if res.status().is_success() => match res.text().await {
            Ok(text) => Response::new(StatusCode::OK)
                .with_header("x-upstream", "ok")
                .with_body(text),
            Err(e) => unavailable("failed", e.to_string()),
        },
        Ok(res) => unavailable("failed", format!("upstream answered {}", res.status())),
        Err(e) if e.is_rejected() => unavailable("rejected", e.to_string()),
        Err(e) => unavailable("failed", e.to_string()),
    }
}

/// This loop's pools and the breaker, as JSON.
async fn state(State(app): State<App>) -> Json<serde_json::Value> {
    let (db, cache) = (app.db.status(), app.cache.status());
    Json(json!({
        "breaker": app.breaker.state().as_str(),
        "db": { "size": db.size, "idle": db.idle, "in_use": db.in_use },
        "cache": { "size": cache.size, "idle": cache.idle, "in_use": cache.in_use },
    }))
}

/// The Keel process of the other tests: they run this binary again inside a namespace
/// with `KEEL_NETNS_CHILD` set. One loop, so `/state` shows the only pools there are.
#[test]
#[ignore = "the Keel process the fault_netns tests run inside their namespace"]
fn keel_in_the_namespace() {
    let spec = std::env::var(CHILD_ENV).expect("run by the other tests of this file");
    let mut parts = spec.split(' ');
    let pg: SocketAddr = parts.next().unwrap().parse().unwrap();
    let redis: SocketAddr = parts.next().unwrap().parse().unwrap();
    let upstream_url = parts.next().unwrap().to_owned();

    let mut config = tokio_postgres::Config::new();
    config
        .host(pg.ip().to_string())
        .port(pg.port())
        .user("postgres")
        .dbname("test")
        .connect_timeout(CREATE_TIMEOUT)
        .keepalives_interval(KEEPALIVE.1)
        .keepalives_retries(KEEPALIVE.2);
    let pg_manager = PgManager::new(config)
        .query_timeout(QUERY_TIMEOUT)
        .keepalive(Some(KEEPALIVE.0));
    let db_pools = PerLoop::new(move || {
        Pool::builder(pg_manager.clone())
            .max(POOL_MAX)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .create_timeout(CREATE_TIMEOUT)
            .recycle_timeout(RECYCLE_TIMEOUT)
            .build()
    });
    let redis_manager = RedisManager::new(redis).command_timeout(Some(COMMAND_TIMEOUT));
    let cache_pools = PerLoop::new(move || {
        Pool::builder(redis_manager.clone())
            .max(POOL_MAX)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .create_timeout(CREATE_TIMEOUT)
            .recycle_timeout(RECYCLE_TIMEOUT)
            .build()
    });
    let retry = Retry::builder("upstream")
        .max_attempts(ATTEMPTS)
        .base_delay(Duration::from_millis(50))
        .build()
        .unwrap();
    let breaker = CircuitBreaker::builder("upstream")
        .volume_threshold(BREAKER_VOLUME)
        .error_threshold_percent(50)
        .reset_timeout(BREAKER_RESET)
        .timeout(Some(CALL_TIMEOUT))
        .build()
        .unwrap();

    let ops = Ops::new()
        .readiness_check("postgres", db_pools.health().readiness())
        .readiness_check("redis", cache_pools.health().readiness())
        .check_cache(Duration::from_millis(100));
    let server = Server::bind("0.0.0.0:0").unwrap().ops(ops);
    let runtime = Runtime::builder().loops(1).pin(false).build().unwrap();
    println!("{LISTENING}{}", server.local_addr().port());
    let report = server.serve(&runtime, move || {
        let app = App {
            db: db_pools.build(),
            cache: cache_pools.build(),
            client: Client::builder()
                .connect_timeout(CALL_TIMEOUT)
                .request_timeout(CALL_TIMEOUT)
                .max_idle_per_host(POOL_MAX)
                .retry(retry.clone())
                .circuit_breaker(breaker.clone())
                .build(),
            breaker: breaker.clone(),
            upstream: upstream_url.clone(),
        };
        Router::new()
            .get("/fast", fast)
            .get("/db", db)
            .get("/cache", cache)
            .get("/upstream", upstream)
            .get("/state", state)
            .with_state(app)
    });
    drop(runtime);
    report.unwrap();
}

// ================= the test's side =================

/// A child process killed (and reaped) when dropped.
struct Process {
    child: Child,
    /// What it wrote to stderr, shown when a test fails.
    stderr: Arc<Mutex<String>>,
    name: &'static str,
}

impl Process {
    /// Spawns `command` with piped output; returns it and the first stdout line that
    /// starts with `marker` (the rest of that line), within 60 s.
    fn spawn(name: &'static str, mut command: Command, marker: &'static str) -> (Process, String) {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // The test harness may print its own words before the marker.
                if let Some((_, rest)) = line.split_once(marker) {
                    let _ = tx.send(rest.to_owned());
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        thread::spawn(move || {
            let mut buf = [0; 4096];
            while let Ok(n @ 1..) = err.read(&mut buf) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let process = Process {
            child,
            stderr,
            name,
        };
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{name} did not start: {}", process.stderr()));
        (process, line)
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it still runs (it was not restarted, nor did it die).
    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Its open file descriptors.
    fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(Iterator::count)
            .unwrap_or(0)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            let text = self.stderr();
            let tail: String = text
                .lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            eprintln!("--- {} stderr (last lines) ---\n{tail}", self.name);
        }
    }
}

/// The upstream: Python's `http.server` (HTTP/1.1, keep-alive), on 127.0.0.1.
const UPSTREAM_PY: &str = r#"
import http.server, json
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print("upstream-port", server.server_address[1], flush=True)
server.serve_forever()
"#;

/// Keel in its namespace, and its dependencies behind proxies on the host's end of the
/// link. Fields drop in order: Keel first, then the namespace.
struct Rig {
    keel: Process,
    keel_addr: SocketAddr,
    pg: Proxy,
    redis: Proxy,
    upstream: Proxy,
    _upstream_server: Process,
    ns: NetNs,
}

impl Rig {
    /// `None` (after saying why) where namespaces cannot be made.
    fn start() -> Option<Rig> {
        let ns = match NetNs::create() {
            Ok(ns) => ns,
            Err(e) => {
                eprintln!("fault_netns: SKIPPED: {e}");
                return None;
            }
        };
        let host = ns.host_addr();
        let on_link = SocketAddr::V4(SocketAddrV4::new(host, 0));
        let pg = Proxy::start_on(on_link, "127.0.0.1:5432".parse().unwrap());
        let redis = Proxy::start_on(on_link, "127.0.0.1:6379".parse().unwrap());
        let mut python = Command::new("python3");
        python.args(["-c", UPSTREAM_PY]);
        let (upstream_server, port) = Process::spawn("upstream", python, "upstream-port ");
        let upstream_local: SocketAddr = format!("127.0.0.1:{}", port.trim()).parse().unwrap();
        let upstream = Proxy::start_on(on_link, upstream_local);

        let exe = std::env::current_exe().unwrap();
        let mut command = ns.command(exe);
        command
            .args([
                "--exact",
                "keel_in_the_namespace",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(
                CHILD_ENV,
                format!("{} {} http://{}", pg.addr(), redis.addr(), upstream.addr()),
            )
            .env("KEEL_ENV", "development")
            .env("LOG_LEVEL", "warn");
        let (keel, port) = Process::spawn("keel", command, LISTENING);
        let keel_addr = SocketAddr::V4(SocketAddrV4::new(
            ns.ns_addr(),
            port.trim().parse().unwrap(),
        ));
        let rig = Rig {
            keel,
            keel_addr,
            pg,
            redis,
            upstream,
            _upstream_server: upstream_server,
            ns,
        };
        rig.all_ok("at start");
        Some(rig)
    }

    fn ports(&self) -> [u16; 3] {
        [
            self.pg.addr().port(),
            self.redis.addr().port(),
            self.upstream.addr().port(),
        ]
    }

    /// Sets `fault` on the links to all three dependencies.
    fn fault_all(&self, fault: Option<Fault>) {
        for port in self.ports() {
            self.ns.set_fault(port, fault);
        }
    }

    fn latency_all(&self, one_way: Duration) {
        for proxy in [&self.pg, &self.redis, &self.upstream] {
            proxy.set_latency(one_way);
        }
    }

    fn get(&self, path: &str) -> Hit {
        hit(self.keel_addr, path)
    }

    /// Every dependency route answers 200 (within 15 s of retrying), and readiness too.
    fn all_ok(&self, when: &str) {
        for path in ["/db", "/cache", "/upstream", "/health/ready"] {
            let mut last = None;
            let ok = eventually(Duration::from_secs(15), || {
                let h = self.get(path);
                let ok = h.status == 200;
                last = Some(h);
                ok
            });
            assert!(ok.is_some(), "{path} not 200 {when}: {last:?}");
        }
    }

    /// Keel's `/state`.
    fn state(&self) -> serde_json::Value {
        let h = self.get("/state");
        assert_eq!(h.status, 200, "{h:?}");
        serde_json::from_str(&h.body).unwrap()
    }

    /// After recovery: the same process, and no more connections or descriptors than
    /// the pools and the client keep.
    fn assert_no_leak(&mut self, fds_before: usize, when: &str) {
        assert!(
            self.keel.running(),
            "Keel exited {when}: {}",
            self.keel.stderr()
        );
        for (name, port) in ["postgres", "redis", "upstream"]
            .into_iter()
            .zip(self.ports())
        {
            let open = self.ns.established_to(port);
            assert!(open <= POOL_MAX, "{open} connections open to {name} {when}");
        }
        // Each pool may hold a connection more than at the baseline, the client too.
        let fds = self.keel.fds();
        assert!(
            fds <= fds_before + 3,
            "Keel holds {fds} file descriptors {when}, {fds_before} before"
        );
    }
}

/// One answered request.
#[derive(Clone)]
struct Hit {
    path: String,
    status: u16,
    took: Duration,
    headers: String,
    body: String,
}

impl std::fmt::Debug for Hit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} in {:?} (x-upstream {:?}): {}",
            self.path,
            self.status,
            self.took,
            self.header("x-upstream"),
            self.body
        )
    }
}

impl Hit {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

/// `GET path` on a new connection; a request that gets no answer within [`HANG`] (or
/// none at all) fails the test.
fn hit(addr: SocketAddr, path: &str) -> Hit {
    let sent = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, HANG).expect("connect to Keel");
    s.set_read_timeout(Some(HANG)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: keel\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    if let Err(e) = s.read_to_string(&mut text) {
        panic!("GET {path}: no answer after {:?}: {e}", sent.elapsed());
    }
    let took = sent.elapsed();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("GET {path}: no status line in {text:?}"));
    Hit {
        path: path.to_owned(),
        status,
        took,
        headers: head.to_owned(),
        body: body.to_owned(),
    }
}

/// The most a dependency route may take.
fn budget(path: &str) -> Duration {
    match path {
        "/db" => DB_BUDGET,
        "/cache" => CACHE_BUDGET,
        "/upstream" => UPSTREAM_BUDGET,
        _ => Duration::from_millis(500),
    }
}

/// Sends `per_route` requests to each path, one after another per path and the paths
/// concurrently; every answer is checked against its route's budget.
fn load(addr: SocketAddr, paths: &[&str], per_route: usize) -> Vec<Hit> {
    let threads: Vec<_> = paths
        .iter()
        .map(|&path| {
            let path = path.to_owned();
            thread::spawn(move || (0..per_route).map(|_| hit(addr, &path)).collect::<Vec<_>>())
        })
        .collect();
    let hits: Vec<Hit> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    for h in &hits {
        assert!(
            h.took <= budget(&h.path) + SLACK,
            "{} took {:?}, past its budget {:?}: {h:?}",
            h.path,
            h.took,
            budget(&h.path)
        );
        assert!(
            h.status == 200 || h.status == 503,
            "{} answered {}: {h:?}",
            h.path,
            h.status
        );
        if h.status == 503 {
            assert_eq!(h.header("retry-after"), Some("1"), "{h:?}");
        }
    }
    hits
}

/// Prints, per path, the answers and the slowest one (the figures in
/// docs/reliability.md).
fn report(what: &str, hits: &[Hit]) {
    for path in ["/db", "/cache", "/upstream", "/fast"] {
        let n = of(hits, path).count();
        if n == 0 {
            continue;
        }
        let ok = of(hits, path).filter(|h| h.status == 200).count();
        let slowest = of(hits, path).map(|h| h.took).max().unwrap_or_default();
        eprintln!(
            "{what}: {path}: {n} requests, {ok} × 200, {} × 503, slowest {slowest:?}",
            n - ok
        );
    }
}

fn of<'a>(hits: &'a [Hit], path: &'a str) -> impl Iterator<Item = &'a Hit> + 'a {
    hits.iter().filter(move |h| h.path == path)
}

fn share_ok(hits: &[Hit], path: &str) -> f64 {
    let all = of(hits, path).count().max(1) as f64;
    of(hits, path).filter(|h| h.status == 200).count() as f64 / all
}

const ROUTES: [&str; 3] = ["/db", "/cache", "/upstream"];

#[test]
fn added_latency_slows_answers_and_past_the_timeouts_fails_them_at_the_timeouts() {
    let Some(mut rig) = Rig::start() else { return };
    let fds_before = rig.keel.fds();

    // 100 ms each way: every round trip to a dependency takes 200 ms more.
    rig.latency_all(Duration::from_millis(100));
    let hits = load(rig.keel_addr, &["/db", "/cache", "/upstream", "/fast"], 6);
    report("latency 200 ms", &hits);
    for path in ROUTES {
        assert!(of(&hits, path).all(|h| h.status == 200), "{path}: {hits:?}");
        assert!(
            of(&hits, path).all(|h| h.took >= Duration::from_millis(200)),
            "{path} answered faster than one round trip: {hits:?}"
        );
    }
    let mut fast: Vec<_> = of(&hits, "/fast").map(|h| h.took).collect();
    fast.sort();
    assert!(
        fast[fast.len() / 2] < Duration::from_millis(100),
        "/fast slowed down by the dependencies' latency: {fast:?}"
    );
    assert_eq!(rig.get("/health/ready").status, 200);

    // 1.5 s each way: past every timeout. Each route fails at its own.
    rig.latency_all(Duration::from_millis(1500));
    let hits = load(rig.keel_addr, &["/db", "/cache", "/upstream", "/fast"], 3);
    report("latency 3 s (1.5 s each way)", &hits);
    for path in ROUTES {
        assert!(of(&hits, path).all(|h| h.status == 503), "{path}: {hits:?}");
    }
    assert!(of(&hits, "/fast").all(|h| h.status == 200));

    rig.latency_all(Duration::ZERO);
    let back = Instant::now();
    rig.all_ok("after the latency went away");
    eprintln!("latency gone: all routes 200 after {:?}", back.elapsed());
    rig.assert_no_leak(fds_before, "after the latency went away");
}

#[test]
fn ten_percent_packet_loss_answers_every_request_within_its_deadline() {
    let Some(mut rig) = Rig::start() else { return };
    let fds_before = rig.keel.fds();

    rig.fault_all(Some(Fault::Loss(10)));
    let hits = load(rig.keel_addr, &["/db", "/cache", "/upstream", "/fast"], 25);
    report("loss 10 %", &hits);
    for path in ROUTES {
        let share = share_ok(&hits, path);
        assert!(
            share >= 0.7,
            "{path}: only {share:.2} answered 200 at 10 % loss"
        );
    }
    assert!(of(&hits, "/fast").all(|h| h.status == 200));

    rig.fault_all(None);
    let healed = Instant::now();
    rig.all_ok("after the loss stopped");
    eprintln!("loss stopped: all routes 200 after {:?}", healed.elapsed());
    rig.assert_no_leak(fds_before, "after the loss stopped");
}

#[test]
fn a_partition_fails_fast_opens_the_breaker_and_heals_without_a_restart() {
    let Some(mut rig) = Rig::start() else { return };
    let fds_before = rig.keel.fds();
    let pid = rig.keel.pid();

    rig.fault_all(Some(Fault::Drop));
    let cut = Instant::now();
    let hits = load(rig.keel_addr, &["/db", "/cache", "/upstream", "/fast"], 8);
    report("partition", &hits);
    for path in ROUTES {
        let failed = of(&hits, path).filter(|h| h.status == 503).count();
        // A request in flight at the cut may still have made it; the rest fail.
        assert!(
            failed >= 7,
            "{path}: {failed} of 8 failed in a partition: {hits:?}"
        );
    }
    assert!(of(&hits, "/fast").all(|h| h.status == 200));
    // The breaker opened after its volume of failed calls; from then on calls fail at
    // once, without touching the network.
    let rejected: Vec<_> = of(&hits, "/upstream")
        .filter(|h| h.header("x-upstream") == Some("rejected"))
        .collect();
    // The first rejected request had an attempt fail before its retry met the open
    // breaker; the ones after it were refused at once.
    assert!(rejected.len() >= 2, "the breaker never opened: {hits:?}");
    assert!(
        rejected[1..]
            .iter()
            .all(|h| h.took < Duration::from_millis(500)),
        "an open breaker did not fail fast: {rejected:?}"
    );
    // Open, or half-open once its reset time passed (the load runs longer than that).
    assert_ne!(rig.state()["breaker"], "closed");
    // Readiness follows the pools' failed connects; liveness does not.
    let ready = eventually(Duration::from_secs(10), || {
        rig.get("/health/ready").status == 503
    });
    assert!(ready.is_some(), "readiness stayed 200 in a partition");
    assert_eq!(rig.get("/health/live").status, 200);
    eprintln!(
        "partition: {} requests failed in {:?}",
        hits.len(),
        cut.elapsed()
    );

    rig.fault_all(None);
    let healed = Instant::now();
    rig.all_ok("after the partition healed");
    eprintln!(
        "partition healed: all routes 200 after {:?}",
        healed.elapsed()
    );
    assert_eq!(rig.keel.pid(), pid);
    assert_eq!(rig.state()["breaker"], "closed");
    rig.assert_no_leak(fds_before, "after the partition healed");
}

#[test]
fn a_black_hole_is_noticed_by_keepalive_and_timeouts_and_a_returning_peer_is_used_again() {
    let Some(mut rig) = Rig::start() else { return };
    let fds_before = rig.keel.fds();
    let pg_port = rig.pg.addr().port();
    assert!(
        rig.ns.established_to(pg_port) >= 1,
        "no pooled PostgreSQL connection"
    );

    // The peers vanish: their ends are closed, and neither FIN nor RST arrives.
    rig.fault_all(Some(Fault::Drop));
    for proxy in [&rig.pg, &rig.redis, &rig.upstream] {
        proxy.stop();
    }
    let vanished = Instant::now();
    // With no request at all, TCP keepalive finds the pooled PostgreSQL connections dead
    // (idle 1 s, then 2 probes 1 s apart) and the kernel closes them.
    let closed = eventually(Duration::from_secs(15), || {
        rig.ns.established_to(pg_port) == 0
    });
    assert!(
        closed.is_some(),
        "keepalive did not close the dead PostgreSQL connections"
    );
    let noticed = vanished.elapsed();
    assert!(
        noticed >= KEEPALIVE.0,
        "closed before keepalive could: {noticed:?}"
    );
    eprintln!("black hole: keepalive closed the PostgreSQL connections after {noticed:?}");

    let hits = load(rig.keel_addr, &["/db", "/cache", "/upstream", "/fast"], 5);
    report("black hole", &hits);
    for path in ROUTES {
        assert!(of(&hits, path).all(|h| h.status == 503), "{path}: {hits:?}");
    }
    assert!(of(&hits, "/fast").all(|h| h.status == 200));

    // The peers come back (a new process behind the same address) and the link heals.
    for proxy in [&rig.pg, &rig.redis, &rig.upstream] {
        proxy.restart();
    }
    rig.fault_all(None);
    let back = Instant::now();
    rig.all_ok("after the peers came back");
    eprintln!("black hole over: all routes 200 after {:?}", back.elapsed());
    rig.assert_no_leak(fds_before, "after the peers came back");
}
