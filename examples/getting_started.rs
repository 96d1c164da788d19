//! The service of `docs/getting-started.md`, line for line below this header (a test,
//! `tests/getting_started_doc.rs`, checks that the two match, runs it, and runs the
//! guide's `curl` commands against it): `GET /` and `GET /users/:id` with a typed path
//! parameter and an `AppError`, the probes, `/metrics` and the drain on SIGTERM.

use std::process::ExitCode;

use keel::Config;
use keel::http::{AppError, Json, Path, Router};
use serde_json::{Value, json};

async fn hello() -> &'static str {
    "Hello, World!"
}

async fn user(Path(id): Path<u64>) -> Result<Json<Value>, AppError> {
    if id == 0 {
        return Err(AppError::not_found("user 0 does not exist"));
    }
    Ok(Json(json!({ "id": id, "name": format!("user {id}") })))
}

fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let config = Config::from_env()?; // every KEEL_* variable, validated
    let runtime = config.runtime().build()?; // one loop per core
    let server = config.server_bind()?; // HOST:PORT, probes, /metrics
    println!("listening on http://{}", server.local_addr());
    let report = server.serve(&runtime, || {
        // Runs once per loop.
        Router::new().get("/", hello).get("/users/:id", user)
    })?;
    Ok(report.exit_code()) // 0 after a clean drain on SIGTERM
}
