//! Uploads of any size, streamed to disk: `PUT /files/:name` (or `POST`) writes the
//! request body to `UPLOAD_DIR/name` through `keel::runtime::fs` as it arrives. The
//! route is marked `streaming_body`, so the server reads from the client only as fast
//! as the file is written and the process holds a few hundred KiB per upload whatever
//! the body's size (`UPLOAD_LIMIT`, default 4 GiB, is the route's body limit: a larger
//! body is refused with 413, mid-stream when its size was not declared).
//!
//! ```text
//! UPLOAD_DIR=/tmp/uploads cargo run --release --example upload
//! curl -T big.iso localhost:3000/files/big.iso
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

use keel::Config;
use keel::http::{AppError, Json, Path, RequestBody, Router, State};
use keel::runtime::fs::File;
use serde::Serialize;

/// Bytes gathered before one write to the file (fewer trips to the blocking pool than
/// one per network read).
const WRITE_BATCH: usize = 256 * 1024;

#[derive(Serialize)]
struct Stored {
    name: String,
    bytes: u64,
}

/// Where uploads go.
#[derive(Clone)]
struct UploadDir(Rc<PathBuf>);

async fn store(
    State(dir): State<UploadDir>,
    Path(name): Path<String>,
    mut body: RequestBody,
) -> Result<Json<Stored>, AppError> {
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !valid {
        return Err(AppError::bad_request(
            "a file name is [A-Za-z0-9._-], not starting with a dot",
        ));
    }
    let path = dir.0.join(&name);
    let file = File::create(&path).await?;
    let mut offset = 0u64;
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    let written: Result<(), AppError> = async {
        while let Some(chunk) = body.chunk().await? {
            batch.extend_from_slice(&chunk);
            if batch.len() >= WRITE_BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(WRITE_BATCH));
                let len = full.len() as u64;
                file.write_at(full, offset).await?;
                offset += len;
            }
        }
        let len = batch.len() as u64;
        file.write_at(batch, offset).await?;
        offset += len;
        Ok(())
    }
    .await;
    if let Err(err) = written {
        // A body over the limit, or cut short: no half file left behind.
        let _ = keel::runtime::fs::remove_file(&path).await;
        return Err(err);
    }
    Ok(Json(Stored {
        name,
        bytes: offset,
    }))
}

fn app(dir: UploadDir, limit: u64) -> Router {
    Router::new()
        .put("/files/:name", store)
        .post("/files/:name", store)
        .streaming_body("/files/:name")
        .body_limit("/files/:name", limit)
        .with_state(dir)
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("upload: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let _log = keel::log::init_from_env()?;
    let config = Config::from_env()?;
    let dir = std::env::var_os("UPLOAD_DIR")
        .map_or_else(|| std::env::temp_dir().join("keel-uploads"), PathBuf::from);
    std::fs::create_dir_all(&dir)?;
    let limit = Config::var("UPLOAD_LIMIT", keel::http::config::parse_size)?.unwrap_or(4 << 30);
    let runtime = config.runtime().build()?;
    let server = config.server_bind()?;
    println!(
        "upload: listening on http://{}, storing in {}",
        server.local_addr(),
        dir.display()
    );
    let report = server.serve(&runtime, move || {
        app(UploadDir(Rc::new(dir.clone())), limit)
    })?;
    Ok(report.exit_code())
}
