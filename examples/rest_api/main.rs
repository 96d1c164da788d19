//! A users CRUD API on PostgreSQL in the layered shape of a Node service — the seed's
//! routes → controllers → services → repositories, one file each, plus `errors.rs`:
//!
//! * `routes.rs` — the route table, built once per loop, with the seed's rate limit on
//!   the auth route (10 per 15 minutes per client IP, JSON 429 with `Retry-After`) and
//!   CORS for an explicit list of origins (`CORS_ORIGINS`);
//! * `controllers.rs` — typed, validated input (garde rules, 422 with the failing
//!   fields) and the response shapes;
//! * `services.rs` — the rules: 404 for a missing user, 409 for a taken email;
//! * `repositories.rs` — the SQL, parameterized, through the loop's connection pool;
//! * `errors.rs` — database errors and how they become `AppError`s;
//! * `tests.rs` — the route table tested in memory (`TestClient`), without a database.
//!
//! The seed's whole security set: the security headers (Helmet's defaults, on every
//! response without code; `KEEL_SECURITY_HEADERS`), CORS with an explicit origin list,
//! the auth rate limit, validated input, and body limits (`KEEL_MAX_BODY`, 1 MiB; a JSON
//! body over it is refused before it is parsed).
//!
//! Each loop owns a keel-pool of PostgreSQL connections (so the process opens up to
//! `loops × APP_DB_POOL_MAX` of them), registered on `/metrics`; `/health/ready` is tied
//! to the pool by a readiness check. The table (`keel_example_users`) is created at
//! startup.
//!
//! ```text
//! cargo run --release --example rest_api
//! curl -XPOST localhost:3000/users -H 'content-type: application/json' \
//!      -d '{"name":"Ada","email":"ada@example.com"}'
//! curl localhost:3000/users/1
//! curl -XPOST localhost:3000/auth/login -H 'content-type: application/json' \
//!      -d '{"email":"ada@example.com"}'
//! curl 'localhost:3000/users?after=0&limit=10'
//! curl -XPATCH localhost:3000/users/1 -H 'content-type: application/json' -d '{"name":"Ada L."}'
//! curl -XDELETE localhost:3000/users/1
//! curl localhost:3000/health/ready
//! curl localhost:3000/metrics | grep keel_pool
//! ```
//!
//! Variables, besides every `KEEL_*` one (docs/configuration.md): `PGHOST` (127.0.0.1),
//! `PGPORT` (5432), `PGUSER` (postgres), `PGPASSWORD` (none), `PGDATABASE` (test) and
//! `APP_DB_POOL_MAX` (5 connections per loop), `CORS_ORIGINS` (the origins allowed to
//! call the API from a browser, comma-separated; default `http://localhost:5173`).
//!
//! Logs are JSON lines on stdout (`keel::log`; `LOG_LEVEL`, `LOG_FORMAT`): the access log
//! and every event of a request carry its `request_id`, which is also the response's
//! `X-Request-ID` and the `requestId` of its error bodies.

mod controllers;
mod errors;
mod repositories;
mod routes;
mod services;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::process::ExitCode;
use std::time::Duration;

use keel::Config;
use keel::http::config::{parse_number, parse_port};
use keel::http::middleware::{Cors, MemoryStore};
use keel::pool::Pool;
use keel::pool::postgres::{PgManager, tokio_postgres};

use self::repositories::UserRepository;
use self::services::UserService;

thread_local! {
    /// This loop's pool, for the readiness check (which runs on the loop answering the
    /// probe, and must not reach into another loop's `!Send` pool).
    static LOOP_POOL: RefCell<Option<Pool<PgManager>>> = const { RefCell::new(None) };
}

/// The PostgreSQL connection settings from the libpq variables.
fn pg_manager() -> Result<(PgManager, String), keel::runtime::env::EnvError> {
    let text = |name: &str, default: &str| -> Result<String, keel::runtime::env::EnvError> {
        Ok(Config::var(name, |_, v| Ok(v.to_owned()))?.unwrap_or_else(|| default.to_owned()))
    };
    let host = text("PGHOST", "127.0.0.1")?;
    let port = Config::var("PGPORT", parse_port)?.unwrap_or(5432);
    let user = text("PGUSER", "postgres")?;
    let dbname = text("PGDATABASE", "test")?;
    let password = Config::var("PGPASSWORD", |_, v| Ok(v.to_owned()))?;
    let mut config = tokio_postgres::Config::new();
    config
        .host(&host)
        .port(port)
        .user(&user)
        .dbname(&dbname)
        .connect_timeout(Duration::from_secs(3));
    if let Some(password) = password {
        config.password(password);
    }
    let manager = PgManager::new(config)
        .application_name("keel-rest-api")
        .statement_timeout(Duration::from_secs(5))
        .query_timeout(Duration::from_secs(10));
    Ok((manager, format!("{user}@{host}:{port}/{dbname}")))
}

/// The readiness check: this loop's pool can lend a connection that answers, and when
/// not, what the pool knows about the database (from its connection attempts).
async fn database_ready() -> Result<(), String> {
    let pool = LOOP_POOL
        .with(|p| p.borrow().clone())
        .ok_or_else(|| "no pool on this loop".to_owned())?;
    let down = |e: String| {
        let health = pool.health();
        match (health.healthy, health.down_since) {
            (false, Some(since)) => format!(
                "{e} (down for {:?}, {} failed connects)",
                since.elapsed(),
                health.consecutive_failures
            ),
            _ => e,
        }
    };
    let conn = pool.get().await.map_err(|e| down(e.to_string()))?;
    conn.execute("SELECT 1", &[])
        .await
        .map_err(|e| down(e.to_string()))?;
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rest_api: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode, Box<dyn std::error::Error>> {
    // JSON lines on stdout, each request's with its request id; flushed when `_log` drops.
    let _log = keel::log::init_from_env()?;
    let config = Config::from_env()?;
    let (manager, target) = pg_manager()?;
    let pool_max: usize = Config::var("APP_DB_POOL_MAX", parse_number)?.unwrap_or(5);
    let origins = Config::var("CORS_ORIGINS", |_, v| {
        Ok(v.split(',')
            .map(|o| o.trim().to_owned())
            .collect::<Vec<_>>())
    })?
    .unwrap_or_else(|| vec!["http://localhost:5173".to_owned()]);
    // Checked now: a bad origin stops startup naming the variable.
    let cors = Cors::builder()
        .allow_origins(&origins)
        .build()
        .map_err(|e| format!("CORS_ORIGINS: {e}"))?;

    // The schema, once, before serving: a failure here stops the process.
    let setup = manager.clone();
    keel::runtime::block_on(async move {
        let pool = Pool::builder(setup).max(1).fail_fast(true).build();
        let done = repositories::migrate(&pool).await;
        pool.close();
        done
    })
    .map_err(|e| format!("creating the schema on {target}: {e}"))?;

    let runtime = config.runtime().build()?;
    let ops = config
        .ops()?
        .readiness_check("postgres", database_ready)
        .check_timeout(Duration::from_secs(2));
    let server = config.server_bind()?.ops(ops);
    println!(
        "rest_api: listening on http://{} with {} loop(s), PostgreSQL {target} (table {}); try /users",
        server.local_addr(),
        runtime.handle().loops(),
        repositories::TABLE,
    );
    let auth_store = MemoryStore::new(); // one for every loop: the limit is per process
    let report = server.serve(&runtime, move || {
        // Once per loop: this loop's pool, its metrics, its service.
        let pool = Pool::builder(manager.clone()).max(pool_max).build();
        keel::metrics::register_pool("postgres", &pool);
        LOOP_POOL.with(|p| *p.borrow_mut() = Some(pool.clone()));
        routes::router(
            UserService::new(UserRepository::new(pool)),
            auth_store.clone(),
            cors.clone(),
        )
    })?;
    for request in report.abandoned() {
        eprintln!("rest_api: abandoned at the shutdown deadline: {request}");
    }
    if report.is_clean() {
        println!("rest_api: drained, bye");
    } else {
        eprintln!("rest_api: shutdown was not clean: {:?}", report.outcome());
    }
    Ok(report.exit_code())
}
