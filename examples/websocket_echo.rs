//! WebSocket and server-sent events, with a page that uses both: `GET /` serves a page
//! (and `/app.js`) that opens a WebSocket to `/ws` (an echo), sends a line, listens to
//! `/events` (a server-sent tick every half second, resumable with `Last-Event-ID`),
//! and reports what it saw to `POST /report` (`GET /report` shows the last report).
//!
//! ```text
//! cargo run --example websocket_echo
//! open http://localhost:3000/                    # or:
//! python3 -m websockets ws://localhost:3000/ws   # type lines, get them back
//! curl -N localhost:3000/events                  # the ticks
//! ```
//!
//! SIGTERM drains: open sockets get close code 1001 ("going away"), event streams end
//! (browsers reconnect elsewhere), and the process exits 0 once they are closed.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keel::Config;
use keel::http::sse::{self, Event, LastEventId, Sse};
use keel::http::ws::{Message, WebSocket, WebSocketUpgrade};
use keel::http::{Response, Router, State, StatusCode};

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>Keel: WebSocket echo and server-sent events</title>
<pre id="log"></pre>
<script src="/app.js"></script>
</html>
"#;

/// The page's script (a file of its own: the default Content-Security-Policy allows
/// scripts from the same origin only).
const SCRIPT: &str = r#"
const log = (line) => { document.getElementById('log').textContent += line + '\n'; };
const report = {};
let sent = false;
const maybeReport = () => {
  if (sent || !('echo' in report) || !('close' in report) || !('events' in report)) return;
  sent = true;
  fetch('/report', { method: 'POST', body: JSON.stringify(report) });
  document.title = 'done';
};
const ws = new WebSocket(location.origin.replace(/^http/, 'ws') + '/ws');
ws.onopen = () => ws.send('hello from the browser');
ws.onmessage = (e) => { log('echo: ' + e.data); report.echo = e.data; ws.close(1000, 'thanks'); };
ws.onclose = (e) => { log('closed: ' + e.code); report.close = e.code; maybeReport(); };
const ids = [];
const events = new EventSource('/events');
events.addEventListener('tick', (e) => {
  log('tick ' + e.lastEventId + ': ' + e.data);
  ids.push(e.lastEventId);
  if (ids.length === 2) { events.close(); report.events = ids; maybeReport(); }
});
"#;

/// Echoes every text and binary message until the peer closes.
async fn echo(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        if matches!(message, Message::Close(_)) || socket.send(message).await.is_err() {
            break;
        }
    }
}

async fn ws(upgrade: WebSocketUpgrade) -> Response {
    upgrade.max_message_size(64 * 1024).on_upgrade(echo)
}

/// A tick every half second, numbered; a reconnecting browser resumes after the last
/// one it saw.
async fn events(LastEventId(last): LastEventId) -> Sse {
    let next = last
        .and_then(|id| id.parse::<u64>().ok())
        .map_or(0, |id| id + 1);
    Sse::new(sse::unfold(next, |n| async move {
        keel::runtime::time::sleep(Duration::from_millis(500)).await;
        let event = Event::new()
            .event("tick")
            .id(&n.to_string())
            .data(&format!("tick number {n}"));
        Some((event, n + 1))
    }))
}

/// The last report a page posted.
type Reports = Arc<Mutex<Option<String>>>;

async fn post_report(State(reports): State<Reports>, body: String) -> &'static str {
    *reports.lock().unwrap_or_else(|p| p.into_inner()) = Some(body);
    "thanks"
}

async fn get_report(State(reports): State<Reports>) -> Response {
    let report = reports.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Response::new(StatusCode::OK)
        .with_header("content-type", "application/json")
        .with_body(report.unwrap_or_default())
}

/// A static file of the page.
fn page(content_type: &'static str, body: &'static str) -> Response {
    Response::new(StatusCode::OK)
        .with_header("content-type", content_type)
        .with_body(body)
}

fn app(reports: Reports) -> Router {
    Router::new()
        .get("/", || async { page("text/html; charset=utf-8", PAGE) })
        .get("/app.js", || async { page("text/javascript", SCRIPT) })
        .get("/ws", ws)
        .get("/events", events)
        .post("/report", post_report)
        .get("/report", get_report)
        .with_state(reports)
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("websocket_echo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let _log = keel::log::init_from_env()?;
    let config = Config::from_env()?;
    let runtime = config.runtime().build()?;
    let server = config.server_bind()?;
    println!(
        "websocket_echo: listening on http://{} with {} loop(s); open / in a browser, or a WebSocket to /ws",
        server.local_addr(),
        runtime.handle().loops()
    );
    // One report slot for every loop: a page's POST may land on any of them.
    let reports = Reports::default();
    let report = server.serve(&runtime, move || app(reports.clone()))?;
    if report.is_clean() {
        println!("websocket_echo: drained, bye");
    } else {
        eprintln!(
            "websocket_echo: shutdown was not clean: {:?}",
            report.outcome()
        );
    }
    Ok(report.exit_code())
}
