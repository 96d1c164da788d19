//! [`NetNs`]: a network namespace with a veth link to the host, for tests that put a
//! real network between a process and what it talks to — and break it.
//!
//! The namespace is a test host of its own: a process run in it
//! ([`NetNs::command`]) sees only its loopback and its end of the link
//! ([`NetNs::ns_addr`]); the host's end ([`NetNs::host_addr`]) is where the test
//! serves what the process depends on (PostgreSQL, Redis, an upstream behind a
//! [`Proxy`](crate::proxy::Proxy)). Faults are set per host port
//! ([`NetNs::set_fault`]) with nftables rules inside the namespace, on both directions:
//! [`Fault::Loss`] drops a share of the packets at random, [`Fault::Drop`] every one —
//! no RST, no ICMP, nothing the process can tell from a silent peer. (Latency is added
//! by the [`Proxy`](crate::proxy::Proxy): the `netem` queueing discipline is not in
//! every kernel, and this build machine's has none.)
//!
//! Names are unique per process (`keel-<pid>-<n>`), so tests run in parallel; dropping a
//! `NetNs` deletes the namespace and the link, on panic too.
//!
//! Needs root, `ip` (iproute2), `nft` (nftables) and `ss`; [`NetNs::create`] says
//! [`Unavailable`] only when the kernel or sandbox refuses namespaces, and panics when a
//! tool is missing (`scripts/test.sh` installs them).

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

/// What [`NetNs::set_fault`] does to the packets of one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Drops this percentage (1–99) of the packets in each direction, at random.
    Loss(u8),
    /// Drops every packet: a partition, or a peer that vanished without a word.
    Drop,
}

/// Network namespaces cannot be made here: the error `ip netns add` gave.
#[derive(Debug, Clone)]
pub struct Unavailable(pub String);

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "network namespaces are unavailable: {}", self.0)
    }
}

/// A network namespace linked to the host by a veth pair (a /30 in 10.231.0.0/16).
#[derive(Debug)]
pub struct NetNs {
    name: String,
    host_if: String,
    host_addr: Ipv4Addr,
    ns_addr: Ipv4Addr,
    faults: Mutex<BTreeMap<u16, Fault>>,
}

/// Namespaces made by this process so far (for unique names).
static MADE: AtomicU32 = AtomicU32::new(0);

impl NetNs {
    /// Makes the namespace, its link and the addresses of both ends, and brings up the
    /// namespace's loopback.
    ///
    /// # Errors
    ///
    /// [`Unavailable`] when `ip netns add` is refused (no root, a sandbox without
    /// namespaces).
    ///
    /// # Panics
    ///
    /// When `ip`, `nft` or `ss` is missing, or a later step fails.
    pub fn create() -> Result<NetNs, Unavailable> {
        for tool in ["ip", "nft", "ss"] {
            assert!(
                Command::new(tool)
                    .arg("-V")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok(),
                "`{tool}` is not installed: `bash scripts/test.sh --provision-only` installs it"
            );
        }
        let pid = std::process::id();
        let n = MADE.fetch_add(1, Ordering::SeqCst);
        let name = format!("keel-{pid}-{n}");
        let added = run_output(Command::new("ip").args(["netns", "add", &name]));
        if !added.status.success() {
            return Err(Unavailable(
                String::from_utf8_lossy(&added.stderr).trim().to_owned(),
            ));
        }
        // From here on, Drop cleans up whatever was made.
        let (host_addr, ns_addr) = free_subnet(pid, n);
        let ns = NetNs {
            host_if: format!("kh{pid}-{n}"),
            name,
            host_addr,
            ns_addr,
            faults: Mutex::new(BTreeMap::new()),
        };
        let ns_if = format!("kn{pid}-{n}");
        ip(&[
            "link",
            "add",
            &ns.host_if,
            "type",
            "veth",
            "peer",
            "name",
            &ns_if,
            "netns",
            &ns.name,
        ]);
        ip(&[
            "addr",
            "add",
            &format!("{host_addr}/30"),
            "dev",
            &ns.host_if,
        ]);
        ip(&["link", "set", &ns.host_if, "up"]);
        ip(&[
            "-n",
            &ns.name,
            "addr",
            "add",
            &format!("{ns_addr}/30"),
            "dev",
            &ns_if,
        ]);
        ip(&["-n", &ns.name, "link", "set", &ns_if, "up"]);
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        Ok(ns)
    }

    /// The namespace's name (for `ip netns exec`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host's end of the link: bind what the namespace should reach here.
    pub fn host_addr(&self) -> Ipv4Addr {
        self.host_addr
    }

    /// The namespace's end of the link: the host reaches the namespace's servers here.
    pub fn ns_addr(&self) -> Ipv4Addr {
        self.ns_addr
    }

    /// `program` run inside the namespace (`ip netns exec NAME program`); add its
    /// arguments, environment and pipes as usual.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }

    /// Sets (`Some`) or clears (`None`) the fault on the traffic between the namespace
    /// and `host_port` on the host's end of the link, both directions; other ports are
    /// untouched. Takes effect for the next packet, on open connections too.
    ///
    /// # Panics
    ///
    /// When `nft` refuses the rules.
    pub fn set_fault(&self, host_port: u16, fault: Option<Fault>) {
        let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        match fault {
            Some(f) => faults.insert(host_port, f),
            None => faults.remove(&host_port),
        };
        let host = self.host_addr;
        let mut out = String::new();
        let mut inn = String::new();
        for (port, fault) in faults.iter() {
            let verdict = match fault {
                Fault::Loss(p) => format!("numgen random mod 100 < {p} drop"),
                Fault::Drop => "drop".to_owned(),
            };
            out.push_str(&format!("ip daddr {host} tcp dport {port} {verdict}\n"));
            inn.push_str(&format!("ip saddr {host} tcp sport {port} {verdict}\n"));
        }
        // Declaring the table first makes the delete succeed when it does not exist yet.
        let rules = format!(
            "table inet keel_fault\ndelete table inet keel_fault\n\
             table inet keel_fault {{\n\
             chain out {{ type filter hook output priority 0; policy accept;\n{out}}}\n\
             chain in {{ type filter hook input priority 0; policy accept;\n{inn}}}\n}}\n"
        );
        let mut nft = self
            .command("nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run nft");
        nft.stdin
            .take()
            .unwrap()
            .write_all(rules.as_bytes())
            .expect("write nft rules");
        let done = nft.wait_with_output().expect("nft");
        assert!(
            done.status.success(),
            "nft refused {rules}: {}",
            String::from_utf8_lossy(&done.stderr)
        );
    }

    /// Established TCP connections from the namespace to `host_port` on the host's end
    /// of the link, as the namespace's kernel counts them (`ss`).
    ///
    /// # Panics
    ///
    /// When `ss` fails.
    pub fn established_to(&self, host_port: u16) -> usize {
        let filter = format!("dst {}:{host_port}", self.host_addr);
        let out = run_output(
            self.command("ss")
                .args(["-Htn", "state", "established", &filter]),
        );
        assert!(out.status.success(), "ss failed: {out:?}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count()
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // Deleting the namespace deletes its end of the veth pair, and with it the
        // host's; the explicit delete covers a process still holding the namespace.
        let _ = run_output(Command::new("ip").args(["netns", "del", &self.name]));
        let _ = run_output(Command::new("ip").args(["link", "del", &self.host_if]));
    }
}

fn run_output(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {command:?}: {e}"))
}

/// `ip ARGS`, which must succeed.
fn ip(args: &[&str]) {
    let out = run_output(Command::new("ip").args(args));
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// A /30 of 10.231.0.0/16 no interface on the host uses yet: (host end, namespace end).
fn free_subnet(pid: u32, n: u32) -> (Ipv4Addr, Ipv4Addr) {
    let used = String::from_utf8_lossy(
        &run_output(Command::new("ip").args(["-4", "-o", "addr", "show"])).stdout,
    )
    .into_owned();
    let start = pid.wrapping_mul(16).wrapping_add(n) % 16384;
    for k in (0..16384).map(|i| (start + i) % 16384) {
        let [b2, b3] = [(k / 64) as u8, ((k % 64) * 4) as u8];
        let host = Ipv4Addr::new(10, 231, b2, b3 + 1);
        let ns = Ipv4Addr::new(10, 231, b2, b3 + 2);
        if !used.contains(&format!(" {host}/")) {
            return (host, ns);
        }
    }
    panic!("no free /30 left in 10.231.0.0/16");
}
