//! `examples/websocket_echo` as a real process: Python's `websockets` gets its lines
//! echoed; a headless Chromium (behind `KEEL_TEST_CHROMIUM=1`: Debian's `chromium` is
//! ~300 MB, which `scripts/test.sh` installs only then) loads the page, whose script
//! opens a WebSocket and an EventSource and reports what it saw; SIGTERM with a socket
//! open closes it with 1001 and the process exits 0. The example binary is the one
//! `cargo test` builds next to this test (with `--test websocket_echo_process` alone,
//! run `cargo build --example websocket_echo` first).

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::start;

/// Python `websockets`: echo, then a socket left open through a SIGTERM.
const PYTHON: &str = r#"
import asyncio, json, sys, os, signal
import websockets
from websockets.exceptions import ConnectionClosed

async def main():
    out = {}
    async with websockets.connect(sys.argv[1] + "/ws") as ws:
        await ws.send("one line")
        out["echo"] = await ws.recv()
    ws = await websockets.connect(sys.argv[1] + "/ws")
    os.kill(int(sys.argv[2]), signal.SIGTERM)
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    except ConnectionClosed as e:
        out["drain_code"] = e.rcvd.code if e.rcvd else None
    print(json.dumps(out))

asyncio.run(asyncio.wait_for(main(), 30))
"#;

#[test]
fn python_echo_and_sigterm_closes_sockets_with_1001() {
    let mut example = start("websocket_echo", &[]);
    let out = Command::new("python3")
        .args(["-c", PYTHON])
        .arg(format!("ws://{}", example.addr))
        .arg(example.child.id().to_string())
        .output()
        .expect("python3 with websockets (scripts/test.sh provisions it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(out["echo"], "one line");
    assert_eq!(out["drain_code"], 1001);
    let status = example.wait(support::LIMIT);
    let (stdout, stderr) = example.output();
    assert_eq!(status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("drained"), "{stdout}");
}

#[test]
fn chromium_page_echoes_and_receives_events() {
    if std::env::var_os("KEEL_TEST_CHROMIUM").is_none() {
        eprintln!("skipped: set KEEL_TEST_CHROMIUM=1 (scripts/test.sh then installs chromium)");
        return;
    }
    let mut example = start("websocket_echo", &[]);
    let profile = std::env::temp_dir().join(format!("keel-chromium-{}", std::process::id()));
    let mut browser = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("http://{}/", example.addr))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium (apt-get install chromium; scripts/test.sh with KEEL_TEST_CHROMIUM=1)");
    let until = Instant::now() + Duration::from_secs(60);
    let report = loop {
        let reply = example.request("GET", "/report", None);
        if !reply.body.is_empty() {
            break reply.json();
        }
        if Instant::now() > until {
            let _ = browser.kill();
            panic!("the page reported nothing within 60 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = browser.kill();
    let _ = browser.wait();
    let _ = std::fs::remove_dir_all(&profile);
    assert_eq!(report["echo"], "hello from the browser", "{report}");
    assert_eq!(report["close"], 1000, "{report}");
    assert_eq!(report["events"], serde_json::json!(["0", "1"]), "{report}");
    let (status, stdout, stderr) = example.stop();
    assert_eq!(status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
}
