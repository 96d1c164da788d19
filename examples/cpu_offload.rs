//! CPU-bound work off the event loop: argon2id password hashing on Keel's worker pool
//! (`keel::runtime::workers::spawn`, Node's worker_threads/piscina) at `POST /hash`,
//! against the same hashing on the loop at `POST /hash-inline`. Offloaded, the loop
//! keeps answering (`/health/live`, other requests) while hashes run; inline, every
//! request on that loop waits for each hash, and the loop lag shows it.
//!
//! `GET /lag` prints and returns the loop lag (p99 and max of the loops' busy stretches,
//! from keel's runtime metrics) since the previous `/lag` call and since start, with how
//! many hashes of each kind ran in the window:
//!
//! ```text
//! cargo run --release --example cpu_offload &
//! curl -s localhost:3000/lag > /dev/null        # start a window
//! for i in $(seq 20); do curl -s -XPOST localhost:3000/hash -d '{"password":"hunter2"}' \
//!     -H 'content-type: application/json' > /dev/null & done; wait
//! curl -s localhost:3000/lag                    # offloaded: lag stays low
//! for i in $(seq 20); do curl -s -XPOST localhost:3000/hash-inline -d '{"password":"hunter2"}' \
//!     -H 'content-type: application/json' > /dev/null & done; wait
//! curl -s localhost:3000/lag                    # inline: lag p99 ≈ one hash
//! ```
//!
//! Body: `{"password": "...", "salt": "<hex, optional, 8 to 64 bytes>"}`; answer:
//! `{"algorithm": "argon2id", "salt": hex, "hash": hex, "offloaded": bool}`. Costs:
//! `HASH_MEMORY_KIB` (19456, argon2's default) and `HASH_ITERATIONS` (2); the worker
//! pool's size is `KEEL_WORKER_THREADS` (cores − 1).

use std::io::Read;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, Version};
use keel::Config;
use keel::http::config::parse_number;
use keel::http::garde::Validate;
use keel::http::{AppError, Json, Router, State, Valid};
use keel::runtime::metrics::{LoopMetrics, RuntimeMetrics};
use keel::runtime::workers;
use serde::Deserialize;
use serde_json::{Value, json};

/// The hashing parameters, checked at startup.
#[derive(Debug, Clone, Copy)]
struct Cost {
    memory_kib: u32,
    iterations: u32,
}

impl Cost {
    fn params(self) -> Params {
        Params::new(self.memory_kib, self.iterations, 1, Some(32)).expect("checked at startup")
    }
}

/// What every loop shares: the cost, the hash counters and the last `/lag` snapshot.
#[derive(Debug)]
struct App {
    cost: Cost,
    offloaded: AtomicU64,
    inline: AtomicU64,
    in_flight: AtomicU64,
    last: Mutex<(Instant, RuntimeMetrics, u64, u64)>,
}

#[derive(Debug, Deserialize, Validate)]
struct HashRequest {
    #[garde(length(min = 1, max = 1024))]
    password: String,
    #[garde(inner(length(min = 16, max = 128)))]
    salt: Option<String>,
}

/// The argon2id hash of `password` with `salt` (or 16 fresh random bytes).
fn hash(cost: Cost, password: &str, salt: Option<Vec<u8>>) -> Result<Value, String> {
    let salt = match salt {
        Some(salt) => salt,
        None => {
            let mut salt = vec![0; 16];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut salt))
                .map_err(|e| format!("no random salt: {e}"))?;
            salt
        }
    };
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, cost.params())
        .hash_password_into(password.as_bytes(), &salt, &mut out)
        .map_err(|e| e.to_string())?;
    Ok(json!({ "algorithm": "argon2id", "salt": hex(&salt), "hash": hex(&out) }))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Result<Vec<u8>, AppError> {
    let bad = || {
        AppError::validation(
            "request validation failed",
            json!({ "salt": ["not an even-length hex string"] }),
        )
    };
    if !text.len().is_multiple_of(2) {
        return Err(bad());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad()))
        .collect()
}

/// `POST /hash`: on the worker pool; the loop is free meanwhile.
async fn hash_offloaded(
    State(app): State<Arc<App>>,
    Valid(Json(req)): Valid<Json<HashRequest>>,
) -> Result<Json<Value>, AppError> {
    let salt = req.salt.as_deref().map(unhex).transpose()?;
    let cost = app.cost;
    // A full worker queue sheds the load: `?` makes it 503 with `Retry-After`.
    let handle = workers::spawn(move || hash(cost, &req.password, salt))?;
    app.in_flight.fetch_add(1, Ordering::SeqCst);
    let result = handle.await;
    app.in_flight.fetch_sub(1, Ordering::SeqCst);
    app.offloaded.fetch_add(1, Ordering::Relaxed);
    let mut body = result?.map_err(AppError::internal)?;
    body["offloaded"] = json!(true);
    Ok(Json(body))
}

/// `POST /hash-inline`: on the loop, which can do nothing else until it is done.
async fn hash_inline(
    State(app): State<Arc<App>>,
    Valid(Json(req)): Valid<Json<HashRequest>>,
) -> Result<Json<Value>, AppError> {
    let salt = req.salt.as_deref().map(unhex).transpose()?;
    let mut body = hash(app.cost, &req.password, salt).map_err(AppError::internal)?;
    app.inline.fetch_add(1, Ordering::Relaxed);
    body["offloaded"] = json!(false);
    Ok(Json(body))
}

/// p99 and max of the lag samples recorded between two snapshots, over every loop, read
/// off the histograms' cumulative counts on a grid of bounds 12.5% apart (twice the
/// histogram's own resolution of 1/16).
fn lag_between(before: &[LoopMetrics], after: &[LoopMetrics]) -> (u64, Duration, Duration) {
    let at_most = |b: Duration| -> u64 {
        after
            .iter()
            .map(|a| {
                let earlier = before
                    .iter()
                    .find(|l| l.index == a.index)
                    .map_or(0, |l| l.lag.count_at_most(b));
                a.lag.count_at_most(b).saturating_sub(earlier)
            })
            .sum()
    };
    let total = at_most(Duration::MAX);
    if total == 0 {
        return (0, Duration::ZERO, Duration::ZERO);
    }
    let rank = total.saturating_mul(99).div_ceil(100);
    let mut bound = Duration::from_micros(1);
    let mut p99 = None;
    while bound < Duration::from_secs(120) {
        let n = at_most(bound);
        if p99.is_none() && n >= rank {
            p99 = Some(bound);
        }
        if n >= total {
            return (total, p99.unwrap_or(bound), bound);
        }
        bound = bound.mul_f64(1.125);
    }
    (total, p99.unwrap_or(bound), bound)
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

/// `GET /lag`: the lag since the previous call and since start.
async fn lag(State(app): State<Arc<App>>) -> Json<Value> {
    let now = keel::runtime::metrics();
    let offloaded = app.offloaded.load(Ordering::Relaxed);
    let inline = app.inline.load(Ordering::Relaxed);
    let mut last = app.last.lock().unwrap_or_else(|e| e.into_inner());
    let (since, before, off_before, in_before) = &*last;
    let (turns, p99, max) = lag_between(&before.loops, &now.loops);
    let window = json!({
        "seconds": since.elapsed().as_secs_f64(),
        "turns": turns,
        "p99Ms": ms(p99),
        "maxMs": ms(max),
        "hashesOffloaded": offloaded - off_before,
        "hashesInline": inline - in_before,
    });
    println!(
        "cpu_offload: loop lag over the last {:.1} s: p99 {:.2} ms, max {:.2} ms ({} hashes offloaded, {} inline)",
        since.elapsed().as_secs_f64(),
        ms(p99),
        ms(max),
        offloaded - off_before,
        inline - in_before
    );
    *last = (Instant::now(), now.clone(), offloaded, inline);
    drop(last);
    let (_, p99_all, max_all) = lag_between(&[], &now.loops);
    Json(json!({
        "sinceLastCall": window,
        "sinceStart": { "p99Ms": ms(p99_all), "maxMs": ms(max_all) },
        "hashesInFlight": app.in_flight.load(Ordering::SeqCst),
    }))
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cpu_offload: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let memory_kib = Config::var("HASH_MEMORY_KIB", |name, v| {
        let n: u32 = parse_number(name, v)?;
        if n < Params::MIN_M_COST {
            return Err(keel::runtime::env::EnvError::new(
                name,
                v,
                "at least 8 (KiB)",
            ));
        }
        Ok(n)
    })?
    .unwrap_or(Params::DEFAULT_M_COST);
    let iterations = Config::var("HASH_ITERATIONS", |name, v| match parse_number(name, v)? {
        0 => Err(keel::runtime::env::EnvError::new(name, v, "at least 1")),
        n => Ok(n),
    })?
    .unwrap_or(Params::DEFAULT_T_COST);
    let cost = Cost {
        memory_kib,
        iterations,
    };
    // Fail now, naming the variable, rather than on the first hash.
    workers::init()?;
    let runtime = config.runtime().build()?;
    let app = Arc::new(App {
        cost,
        offloaded: AtomicU64::new(0),
        inline: AtomicU64::new(0),
        in_flight: AtomicU64::new(0),
        last: Mutex::new((Instant::now(), keel::runtime::metrics(), 0, 0)),
    });
    let server = config.server_bind()?;
    println!(
        "cpu_offload: listening on http://{} with {} loop(s) and {} worker thread(s); argon2id {} KiB × {} passes; POST /hash or /hash-inline, then GET /lag",
        server.local_addr(),
        runtime.handle().loops(),
        workers::pool()?.threads(),
        memory_kib,
        iterations,
    );
    let shared = app.clone();
    let report = server.serve(&runtime, move || {
        Router::new()
            .post("/hash", hash_offloaded)
            .post("/hash-inline", hash_inline)
            .get("/lag", lag)
            .with_state(shared.clone())
    })?;
    let (_, p99, max) = lag_between(&[], &runtime.handle().metrics().loops);
    println!(
        "cpu_offload: loop lag since start: p99 {:.2} ms, max {:.2} ms ({} hashes offloaded, {} inline)",
        ms(p99),
        ms(max),
        app.offloaded.load(Ordering::Relaxed),
        app.inline.load(Ordering::Relaxed)
    );
    if report.is_clean() {
        println!("cpu_offload: drained, bye");
    }
    Ok(report.exit_code())
}
