//! Shared by the `*_process` tests: runs an example binary as a child process on a
//! free port (`PORT=0`), reads the address from its first line of output, makes real
//! HTTP/1.1 requests to it, signals it and collects its exit status and output.
//!
//! The example binaries are the ones `cargo test` builds next to the tests (a plain
//! `cargo test -p keel` builds them; with `--test NAME` alone, run
//! `cargo build --examples` first).

#![allow(dead_code, unreachable_pub)] // each test file uses its own subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long any one step may take before the test fails (generous: the machine is
/// shared by several builds).
pub const LIMIT: Duration = Duration::from_secs(60);

/// The path of example `name` built by this `cargo test`.
pub fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test>-<hash> → target/<profile>/examples/<name>
    let profile = exe.parent().and_then(|d| d.parent()).expect("target dir");
    profile.join("examples").join(name)
}

/// A running example.
pub struct Example {
    pub name: String,
    pub child: Child,
    pub addr: SocketAddr,
    /// The first line it printed (the one naming the address).
    pub banner: String,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

/// Starts example `name` on `127.0.0.1:0` with two loops and `envs`, and waits for the
/// line naming its address.
pub fn start(name: &str, envs: &[(&str, &str)]) -> Example {
    let mut cmd = Command::new(example_path(name));
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
        .unwrap_or_else(|e| panic!("run examples/{name} (built by cargo test): {e}"));
    let mut stderr = child.stderr.take().unwrap();
    let (err_tx, err_rx) = mpsc::channel();
    thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        let _ = err_tx.send(s);
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // JSON log lines (`keel::log`, also on stdout) may come before the banner: kept for
    // `output`.
    let mut early = Vec::new();
    let first = loop {
        match lines.next() {
            Some(Ok(line)) if line.starts_with('{') => early.push(line),
            Some(Ok(line)) => break line,
            _ => {
                let _ = child.wait();
                let err = err_rx.recv_timeout(LIMIT).unwrap_or_default();
                panic!("{name} printed no address; stdout: {early:?}; stderr: {err}");
            }
        }
    };
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.trim_end_matches([';', ',', '.']).parse().ok())
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    let (out_tx, out_rx) = mpsc::channel();
    thread::spawn(move || {
        early.extend(lines.map_while(Result::ok));
        let _ = out_tx.send(early.join("\n"));
    });
    let example = Example {
        name: name.to_owned(),
        child,
        addr,
        banner: first,
        stdout: out_rx,
        stderr: err_rx,
    };
    example.wait_started();
    example
}

impl Example {
    /// Sends signal `name` (`TERM`, `INT`) to the process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the process to exit (killing it and failing after `limit`).
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("{} did not exit within {limit:?}", self.name);
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything printed but the banner line, and stderr (once it exited).
    pub fn output(&self) -> (String, String) {
        (
            self.stdout.recv_timeout(LIMIT).unwrap_or_default(),
            self.stderr.recv_timeout(LIMIT).unwrap_or_default(),
        )
    }

    /// SIGTERM, then the exit status and output.
    pub fn stop(&mut self) -> (ExitStatus, String, String) {
        self.signal("TERM");
        let status = self.wait(LIMIT);
        let (stdout, stderr) = self.output();
        (status, stdout, stderr)
    }

    /// One request on a fresh connection.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        request(self.addr, method, path, body)
    }

    /// Polls `/health/startup` until every loop listens: the banner is printed once the
    /// first listener is bound, and a request may reach the process before the others.
    fn wait_started(&self) {
        let deadline = Instant::now() + LIMIT;
        loop {
            let reply = self.request("GET", "/health/startup", None);
            if reply.status != 503 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} never started: {}",
                self.name,
                reply.body
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Polls `/health/ready` until it answers 200.
    pub fn wait_ready(&self) -> Reply {
        let deadline = Instant::now() + LIMIT;
        loop {
            let reply = self.request("GET", "/health/ready", None);
            if reply.status == 200 {
                return reply;
            }
            assert!(
                Instant::now() < deadline,
                "{} never ready: {}",
                self.name,
                reply.body
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// One request on a fresh connection (`Connection: close`), JSON body if any.
pub fn request(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> Reply {
    let mut s = TcpStream::connect_timeout(&addr, LIMIT).expect("connect");
    s.set_read_timeout(Some(LIMIT)).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    head.push_str(body.unwrap_or(""));
    s.write_all(head.as_bytes()).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    parse(&text)
}

fn parse(text: &str) -> Reply {
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let mut lines = head.split("\r\n");
    let status = lines.next().expect("status line")[9..12]
        .parse()
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

/// Runs example `name` with `PORT=0` and `envs` until it exits by itself (for startup
/// failures): its exit code and what it printed on stderr.
pub fn run_to_exit(name: &str, envs: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(example_path(name));
    cmd.env("PORT", "0");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("run examples/{name} (built by cargo test): {e}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The access log in an example's `stdout`: its JSON lines (each must parse) whose target
/// is `keel_http::access`.
pub fn access_log(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("a JSON log line"))
        .filter(|l: &serde_json::Value| l["target"] == "keel_http::access")
        .collect()
}

/// A value unique to this test run, for keys and emails shared with other runs.
pub fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}
