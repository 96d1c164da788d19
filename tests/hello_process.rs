//! `examples/hello` as a real process: SIGTERM drains it and it exits 0; a handler hung
//! past `KEEL_SHUTDOWN_TIMEOUT` makes it exit 1 naming the request; a second SIGINT exits
//! at once; a bad variable stops it at startup naming the variable. The example binary is
//! the one `cargo test` builds next to this test (a plain `cargo test -p keel` rebuilds
//! it; with `--test hello_process` alone, run `cargo build --example hello` first).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(30);

fn hello_path() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/hello_process-<hash> → target/<profile>/examples/hello
    let profile = exe.parent().and_then(|d| d.parent()).expect("target dir");
    profile.join("examples").join("hello")
}

struct Hello {
    child: Child,
    addr: SocketAddr,
    stderr: mpsc::Receiver<String>,
    stdout: mpsc::Receiver<String>,
}

fn start(envs: &[(&str, &str)]) -> Hello {
    let mut cmd = Command::new(hello_path());
    cmd.env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .env("KEEL_LOOPS", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .expect("run examples/hello (built by cargo test)");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = stdout.lines();
    // The JSON log lines (`keel::log`, on stdout too) come before and after it.
    let first = lines
        .by_ref()
        .map(|l| l.expect("stdout"))
        .find(|l| !l.starts_with('{'))
        .expect("hello printed no address");
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    let (out_tx, out_rx) = mpsc::channel();
    thread::spawn(move || {
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        let _ = out_tx.send(rest.join("\n"));
    });
    let mut stderr = child.stderr.take().unwrap();
    let (err_tx, err_rx) = mpsc::channel();
    thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        let _ = err_tx.send(s);
    });
    Hello {
        child,
        addr,
        stderr: err_rx,
        stdout: out_rx,
    }
}

impl Hello {
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("hello did not exit within {limit:?}");
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn output(&self) -> (String, String) {
        (
            self.stdout.recv_timeout(LIMIT).unwrap_or_default(),
            self.stderr.recv_timeout(LIMIT).unwrap_or_default(),
        )
    }
}

impl Drop for Hello {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One GET on a fresh connection: (status, body).
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, LIMIT).expect("connect");
    s.set_read_timeout(Some(LIMIT)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let status = text[9..12].parse().expect("status");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

#[test]
fn sigterm_drains_and_exits_0() {
    let mut hello = start(&[]);
    assert_eq!(get(hello.addr, "/plaintext"), (200, "Hello, World!".into()));
    assert_eq!(get(hello.addr, "/json").0, 200);
    let ready = (0..200).find_map(|_| {
        let (status, body) = get(hello.addr, "/health/ready");
        if status == 200 {
            Some(body)
        } else {
            thread::sleep(Duration::from_millis(25));
            None
        }
    });
    assert!(ready.expect("never ready").contains("\"status\":\"ready\""));
    assert_eq!(get(hello.addr, "/health/live").0, 200);
    assert_eq!(get(hello.addr, "/health/startup").0, 200);

    hello.signal("TERM");
    let status = hello.wait(LIMIT);
    let (stdout, stderr) = hello.output();
    assert_eq!(status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("drained"), "{stdout}");
    // The access log, flushed before exit: one JSON line per request, with its route.
    let access: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("a JSON log line"))
        .filter(|l: &serde_json::Value| l["target"] == "keel_http::access")
        .collect();
    let plaintext = access
        .iter()
        .find(|l| l["route"] == "/plaintext")
        .unwrap_or_else(|| panic!("no access line for /plaintext in {stdout}"));
    assert_eq!(plaintext["status"], 200);
    assert_eq!(plaintext["request_id"].as_str().map(str::len), Some(32));
}

#[test]
fn a_handler_hung_past_the_deadline_exits_1_and_is_named() {
    let mut hello = start(&[
        ("HELLO_SLOW_ROUTE", "1"),
        ("KEEL_SHUTDOWN_TIMEOUT", "300ms"),
    ]);
    let mut stuck = TcpStream::connect_timeout(&hello.addr, LIMIT).expect("connect");
    stuck
        .write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    // Let the request reach its handler (there is no signal for it from outside).
    thread::sleep(Duration::from_millis(500));
    hello.signal("TERM");
    let status = hello.wait(LIMIT);
    let (stdout, stderr) = hello.output();
    assert_eq!(status.code(), Some(1), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stderr.contains("abandoned at the shutdown deadline: GET /slow"),
        "{stderr}"
    );
}

#[test]
fn a_second_sigint_exits_at_once() {
    let mut hello = start(&[("HELLO_SLOW_ROUTE", "1"), ("KEEL_SHUTDOWN_TIMEOUT", "1h")]);
    let mut stuck = TcpStream::connect_timeout(&hello.addr, LIMIT).expect("connect");
    stuck
        .write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    thread::sleep(Duration::from_millis(500));
    hello.signal("INT");
    thread::sleep(Duration::from_millis(300));
    assert!(
        hello.child.try_wait().unwrap().is_none(),
        "exited on the first SIGINT despite a request in flight"
    );
    hello.signal("INT");
    let status = hello.wait(LIMIT);
    assert_eq!(status.code(), Some(130));
}

#[test]
fn a_bad_variable_stops_startup_naming_it() {
    let mut cmd = Command::new(hello_path());
    let out = cmd
        .env("PORT", "0")
        .env("KEEL_MAX_BODY", "big")
        .output()
        .expect("run hello");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("KEEL_MAX_BODY"), "{stderr}");
    assert!(stderr.contains("\"big\""), "{stderr}");

    let out = Command::new(hello_path())
        .env("PORT", "0")
        .env("LOG_LEVEL", "verbose")
        .output()
        .expect("run hello");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("LOG_LEVEL"), "{stderr}");
}
