//! The newcomer's first server and the benchmark target: `GET /plaintext` and `GET /json`
//! on `HOST:PORT` (default `0.0.0.0:3000`), one loop per core, configured by the `KEEL_*`
//! variables, draining cleanly on SIGTERM.
//!
//! ```text
//! cargo run --release --example hello
//! curl localhost:3000/plaintext
//! ```

use std::process::ExitCode;

use keel::http::{Json, Router, Server, ServerConfig};
use keel::runtime::Runtime;
use keel::runtime::env::{self, EnvError};
use serde_json::json;

async fn plaintext() -> &'static str {
    "Hello, World!"
}

async fn json_message() -> Json<serde_json::Value> {
    Json(json!({ "message": "Hello, World!" }))
}

fn app() -> Router {
    Router::new()
        .get("/plaintext", plaintext)
        .get("/json", json_message)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hello: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let host = env::var("HOST", |_, v| Ok(v.to_owned()))?.unwrap_or_else(|| "0.0.0.0".to_owned());
    let port: u16 = env::var("PORT", |name, v| {
        v.parse()
            .map_err(|_| EnvError::new(name, v, "a port number from 0 to 65535"))
    })?
    .unwrap_or(3000);
    let config = ServerConfig::from_env()?;
    let runtime = Runtime::new()?;
    let server = Server::bind((host.as_str(), port))?.config(config);
    println!(
        "hello: listening on http://{} with {} loop(s); try /plaintext and /json",
        server.local_addr(),
        runtime.handle().loops()
    );
    let report = server.serve(&runtime, app)?;
    println!("hello: drained, bye");
    if !report.is_clean() {
        return Err(format!("shutdown: {:?}", report.outcome()).into());
    }
    Ok(())
}
