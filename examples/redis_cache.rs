//! A read-through cache on Redis, with Keel's Redis pool (one per loop, on `/metrics`):
//! `GET /items/:id` looks the item up in Redis; on a miss it loads it from the slow
//! source (here a computation that takes `ITEM_LOAD_DELAY`) and stores it with `SET …
//! EX ttl`. The `x-cache` header says `hit` or `miss` (or `bypass` when Redis failed: a
//! cache outage slows the service down but does not fail its requests).
//! `DELETE /items/:id` invalidates the entry. `/health/ready` PINGs Redis.
//!
//! The item routes are rate limited per client IP with the Redis-backed store, so every
//! instance sharing the Redis shares the counts: `RATE_LIMIT` requests per
//! `RATE_LIMIT_WINDOW`, then a JSON 429 with `Retry-After`; every limited response
//! carries `RateLimit` and `RateLimit-Policy` headers. When Redis is down the limiter
//! lets requests through (fail-open), like the cache.
//!
//! ```text
//! cargo run --release --example redis_cache
//! curl -i localhost:3000/items/42     # x-cache: miss (after ITEM_LOAD_DELAY)
//! curl -i localhost:3000/items/42     # x-cache: hit
//! curl -XDELETE localhost:3000/items/42
//! ```
//!
//! Variables, besides every `KEEL_*` one: `REDIS_ADDR` (`127.0.0.1:6379`), `REDIS_DB`
//! (0), `CACHE_TTL` (`60s`), `ITEM_LOAD_DELAY` (`50ms`), `APP_REDIS_POOL_MAX` (4 per loop),
//! `RATE_LIMIT` (100), `RATE_LIMIT_WINDOW` (`60s`), `RATE_LIMIT_PREFIX`
//! (`keel_example:rl:`, the limiter's Redis keys).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keel::Config;
use keel::http::config::{parse_duration, parse_number};
use keel::http::middleware::{RateLimit, RedisStore};
use keel::http::{AppError, IntoResponse, Path, Response, Router, State};
use keel::pool::Pool;
use keel::pool::redis::{RedisManager, Value};
use keel::runtime::env::EnvError;
use serde_json::json;

/// Every cache key starts with this, so the example's keys are easy to find and clear.
const PREFIX: &str = "keel_example:item:";

thread_local! {
    /// This loop's pool, for the readiness check (run on the loop answering the probe).
    static LOOP_POOL: RefCell<Option<Pool<RedisManager>>> = const { RefCell::new(None) };
}

/// One loop's state: its pool and the settings.
#[derive(Clone)]
struct Cache {
    pool: Pool<RedisManager>,
    ttl: Duration,
    load_delay: Duration,
}

/// The slow source of truth: an item for every id but 0.
async fn load(id: u64, delay: Duration) -> Result<serde_json::Value, AppError> {
    keel::runtime::time::sleep(delay).await;
    if id == 0 {
        return Err(AppError::not_found("item 0 does not exist"));
    }
    let loaded_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Ok(json!({ "id": id, "name": format!("item {id}"), "loadedAtMs": loaded_at }))
}

/// `GET /items/:id`.
async fn get_item(State(cache): State<Cache>, Path(id): Path<u64>) -> Result<Response, AppError> {
    let key = format!("{PREFIX}{id}");
    let cached = match cache.pool.get().await {
        Ok(mut conn) => conn
            .cmd(&["GET", key.as_str()])
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let outcome = match cached {
        Ok(Value::Bulk(bytes)) => {
            return Ok(json_bytes(bytes).with_header("x-cache", "hit"));
        }
        Ok(_) => "miss",
        Err(e) => {
            eprintln!("redis_cache: cache unavailable, reading through: {e}");
            "bypass"
        }
    };
    let item = load(id, cache.load_delay).await?;
    let bytes = serde_json::to_vec(&item)?;
    if outcome == "miss" {
        let ttl = cache.ttl.as_secs().max(1).to_string();
        let stored = match cache.pool.get().await {
            Ok(mut conn) => conn
                .cmd(&[&b"SET"[..], key.as_bytes(), &bytes, b"EX", ttl.as_bytes()])
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = stored {
            eprintln!("redis_cache: could not store {key}: {e}");
        }
    }
    Ok(json_bytes(bytes).with_header("x-cache", outcome))
}

/// `DELETE /items/:id`: 204 whether or not it was cached.
async fn forget_item(
    State(cache): State<Cache>,
    Path(id): Path<u64>,
) -> Result<Response, AppError> {
    let key = format!("{PREFIX}{id}");
    let mut conn = cache.pool.get().await.map_err(|e| {
        AppError::new(
            keel::http::StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        )
    })?;
    conn.cmd(&["DEL", key.as_str()])
        .await
        .map_err(|e| AppError::internal(e.to_string()))?;
    Ok(keel::http::StatusCode::NO_CONTENT.into_response())
}

fn json_bytes(bytes: Vec<u8>) -> Response {
    Response::new(keel::http::StatusCode::OK)
        .with_header("content-type", "application/json")
        .with_body(bytes)
}

/// The readiness check: this loop's pool lends a connection that answers PING.
async fn redis_ready() -> Result<(), String> {
    let pool = LOOP_POOL
        .with(|p| p.borrow().clone())
        .ok_or_else(|| "no pool on this loop".to_owned())?;
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    match conn.cmd(&["PING"]).await.map_err(|e| e.to_string())? {
        Value::Simple(s) if s == "PONG" => Ok(()),
        other => Err(format!("PING answered {other:?}")),
    }
}

fn parse_socket_addr(name: &str, value: &str) -> Result<SocketAddr, EnvError> {
    value
        .parse()
        .map_err(|_| EnvError::new(name, value, "an address such as 127.0.0.1:6379"))
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("redis_cache: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let addr = Config::var("REDIS_ADDR", parse_socket_addr)?
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 6379)));
    let db: u32 = Config::var("REDIS_DB", parse_number)?.unwrap_or(0);
    let ttl = Config::var("CACHE_TTL", parse_duration)?.unwrap_or(Duration::from_secs(60));
    let load_delay =
        Config::var("ITEM_LOAD_DELAY", parse_duration)?.unwrap_or(Duration::from_millis(50));
    let pool_max: usize = Config::var("APP_REDIS_POOL_MAX", parse_number)?.unwrap_or(4);
    let manager = RedisManager::new(addr).db(db);
    let rate_limit = Config::var("RATE_LIMIT", |name, v| {
        match parse_number::<u32>(name, v)? {
            0 => Err(EnvError::new(name, v, "a number of requests above zero")),
            n => Ok(n),
        }
    })?
    .unwrap_or(100);
    let rate_window = Config::var("RATE_LIMIT_WINDOW", |name, v| {
        match parse_duration(name, v)? {
            d if d < Duration::from_millis(1) => {
                Err(EnvError::new(name, v, "a duration of at least 1ms"))
            }
            d => Ok(d),
        }
    })?
    .unwrap_or(Duration::from_secs(60));
    let rate_prefix = Config::var("RATE_LIMIT_PREFIX", |_, v| Ok(v.to_owned()))?
        .unwrap_or_else(|| "keel_example:rl:".to_owned());

    let runtime = config.runtime().build()?;
    let ops = config.ops()?.readiness_check("redis", redis_ready);
    let server = config.server_bind()?.ops(ops);
    println!(
        "redis_cache: listening on http://{} with {} loop(s), Redis {addr} db {db}, TTL {ttl:?}; try /items/42 twice",
        server.local_addr(),
        runtime.handle().loops(),
    );
    let report = server.serve(&runtime, move || {
        // A cache is optional: when Redis is down, fail the acquire at once (and read
        // through) instead of retrying for the default 3 s acquire timeout.
        let pool = Pool::builder(manager.clone())
            .max(pool_max)
            .fail_fast(true)
            .acquire_timeout(Duration::from_millis(500))
            .build();
        keel::metrics::register_pool("redis", &pool);
        LOOP_POOL.with(|p| *p.borrow_mut() = Some(pool.clone()));
        // Counts shared by every instance through Redis (the same pool as the cache);
        // fail-open, with a short store timeout so an outage costs requests little.
        let limiter = RateLimit::builder(
            RedisStore::new(pool.clone(), rate_prefix.clone()),
            rate_limit,
            rate_window,
        )
        .store_timeout(Duration::from_millis(500))
        .build()
        .expect("RATE_LIMIT and RATE_LIMIT_WINDOW are checked at startup");
        Router::new()
            .get("/items/:id", get_item)
            .delete("/items/:id", forget_item)
            .with_state(Cache {
                pool,
                ttl,
                load_delay,
            })
            .layer(limiter)
    })?;
    if report.is_clean() {
        println!("redis_cache: drained, bye");
    }
    Ok(report.exit_code())
}
