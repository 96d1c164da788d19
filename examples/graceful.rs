//! The graceful shutdown, end to end: SIGTERM (or SIGINT) stops accepting, lets the
//! requests in flight finish within `KEEL_SHUTDOWN_TIMEOUT`, then runs the shutdown hooks
//! (last registered first, each within its budget), and `serve` returns the
//! [`ServeReport`](keel::http::ServeReport) this example prints before exiting with its
//! code (0 clean, 1 past the deadline or with a failed hook).
//!
//! * `GET /hit` counts a visit (in memory, shared by every loop);
//! * `GET /slow?ms=2000` answers after `ms` milliseconds (at most 60 s): send SIGTERM
//!   meanwhile and watch it finish before the process exits;
//! * `GET /in-flight` says how many `/slow` requests are running;
//! * the hook `flush counter` writes `hits N` to `GRACEFUL_COUNTER_FILE` (default
//!   `$TMPDIR/keel-graceful-counter.txt`) on the way out, through `keel::fs` (off the
//!   loop); if it cannot, it panics and the report says so (exit 1).
//!
//! ```text
//! cargo run --release --example graceful &
//! curl localhost:3000/hit; curl localhost:3000/hit
//! curl 'localhost:3000/slow?ms=3000' & sleep 0.5; kill -TERM %1; wait
//! cat /tmp/keel-graceful-counter.txt     # hits 2
//! ```
//!
//! With `KEEL_SHUTDOWN_DELAY=5s`, `/health/ready` answers 503 for five seconds before the
//! drain starts (the time a load balancer needs to stop sending traffic).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use keel::Config;
use keel::http::{HookOutcome, Query, Router, ServeReport, State};
use serde::Deserialize;

/// What every loop shares.
#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    slow_in_flight: AtomicU64,
}

#[derive(Debug, Deserialize)]
struct Slow {
    ms: Option<u64>,
}

async fn hit(State(counters): State<Arc<Counters>>) -> String {
    let n = counters.hits.fetch_add(1, Ordering::Relaxed) + 1;
    format!("hits {n}\n")
}

async fn slow(State(counters): State<Arc<Counters>>, Query(q): Query<Slow>) -> String {
    let ms = q.ms.unwrap_or(2000).min(60_000);
    counters.slow_in_flight.fetch_add(1, Ordering::SeqCst);
    keel::runtime::time::sleep(Duration::from_millis(ms)).await;
    counters.slow_in_flight.fetch_sub(1, Ordering::SeqCst);
    format!("done after {ms} ms\n")
}

async fn in_flight(State(counters): State<Arc<Counters>>) -> String {
    format!("{}\n", counters.slow_in_flight.load(Ordering::SeqCst))
}

/// Writes the counter next to its final place, then renames it there, so a reader never
/// sees half a file.
async fn flush(counters: Arc<Counters>, path: PathBuf) {
    let text = format!("hits {}\n", counters.hits.load(Ordering::Relaxed));
    let tmp = path.with_extension("tmp");
    let written = match keel::fs::write(&tmp, text).await {
        Ok(()) => keel::fs::rename(&tmp, &path).await,
        Err(e) => Err(e),
    };
    if let Err(e) = written {
        // A panic marks the hook (and the shutdown) as failed: exit code 1.
        panic!("cannot write {}: {e}", path.display());
    }
    println!("graceful: counter flushed to {}", path.display());
}

fn print_report(report: &ServeReport) {
    println!(
        "graceful: report: outcome {:?}, drain took {:?}, {} connection(s) open at the deadline",
        report.outcome(),
        report.took(),
        report.open_at_deadline()
    );
    for request in report.abandoned() {
        println!("graceful: report: abandoned {request}");
    }
    for hook in report.hooks() {
        let outcome = match &hook.outcome {
            HookOutcome::Done => "done".to_owned(),
            HookOutcome::TimedOut => "timed out".to_owned(),
            HookOutcome::Panicked(message) => format!("panicked: {message}"),
        };
        println!(
            "graceful: report: hook {:?} {outcome} in {:?}",
            hook.name, hook.took
        );
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("graceful: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let counter_file = Config::var("GRACEFUL_COUNTER_FILE", |_, v| Ok(PathBuf::from(v)))?
        .unwrap_or_else(|| std::env::temp_dir().join("keel-graceful-counter.txt"));
    let runtime = config.runtime().build()?;
    let counters = Arc::new(Counters::default());

    let flushed = counters.clone();
    let server = config
        .server_bind()?
        // Hooks run after the drain, last registered first: this one runs second.
        .on_shutdown("flush counter", Duration::from_secs(5), move || {
            flush(flushed, counter_file)
        })
        // ... and this one first.
        .on_shutdown("say goodbye", Duration::from_secs(1), || async {
            println!("graceful: drained; running the shutdown hooks");
        });
    println!(
        "graceful: listening on http://{}; try /hit and /slow?ms=3000, then SIGTERM",
        server.local_addr(),
    );
    let report = server.serve(&runtime, move || {
        Router::new()
            .get("/hit", hit)
            .get("/slow", slow)
            .get("/in-flight", in_flight)
            .with_state(counters.clone())
    })?;
    print_report(&report);
    Ok(report.exit_code())
}
