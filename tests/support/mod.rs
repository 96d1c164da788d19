//! Shared by the `*_process` tests: runs an example binary as a child process on a
//! free port (`PORT=0`), reads the address from its first line of output, makes real
//! HTTP/1.1 requests to it, signals it and collects its exit status and output.
//!
//! The example binaries are the ones `cargo test` builds next to the tests (a plain
//! `cargo test -p keel` builds them; with `--test NAME` alone, run
//! `cargo build --examples` first).

#![allow(dead_code, unreachable_pub)] // each test file uses its own subset

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use keel_testkit::{Client, eventually};

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
        let child = &mut self.child;
        eventually(limit, || child.try_wait().expect("try_wait")).unwrap_or_else(|| {
            let _ = self.child.kill();
            panic!("{} did not exit within {limit:?}", self.name);
        })
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
        self.poll("/health/startup", |reply| reply.status != 503, "started");
    }

    /// Polls `/health/ready` until it answers 200.
    pub fn wait_ready(&self) -> Reply {
        self.poll("/health/ready", |reply| reply.status == 200, "ready")
    }

    /// Polls `GET path` until `done` holds for the reply (failing after [`LIMIT`] with the
    /// last reply's body) and returns that reply.
    fn poll(&self, path: &str, done: impl Fn(&Reply) -> bool, what: &str) -> Reply {
        let mut last = None;
        eventually(LIMIT, || {
            let reply = self.request("GET", path, None);
            if done(&reply) {
                return Some(reply);
            }
            last = Some(reply.body);
            None
        })
        .unwrap_or_else(|| panic!("{} never {what}: {}", self.name, last.unwrap_or_default()))
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

/// One request on a fresh connection (`Connection: close`), JSON body if any; the
/// response is read by `keel_testkit`'s client.
pub fn request(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> Reply {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    head.push_str(body.unwrap_or(""));
    let response = Client::connect_with_timeout(addr, LIMIT).request(head);
    Reply {
        status: response.status,
        headers: response.headers,
        body: String::from_utf8(response.body).expect("a UTF-8 body"),
    }
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
