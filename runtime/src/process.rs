//! [`stats`]: the process-wide figures Prometheus' standard `process_*` metrics report —
//! CPU time, memory, file descriptors, start time, threads — read from `getrusage`,
//! `getrlimit` and `/proc/self`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::sys::process as sys;

/// A snapshot of the process from [`stats`]. Figures the OS would not give are zero
/// (`None` for the optional ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessStats {
    /// CPU time spent in user mode, all threads.
    pub cpu_user: Duration,
    /// CPU time spent in the kernel, all threads.
    pub cpu_system: Duration,
    /// Resident set size in bytes.
    pub resident_bytes: u64,
    /// Virtual memory size in bytes.
    pub virtual_bytes: u64,
    /// Open file descriptors.
    pub open_fds: u64,
    /// The soft limit on open file descriptors, `None` when unlimited.
    pub max_fds: Option<u64>,
    /// When the process started.
    pub start_time: Option<SystemTime>,
    /// OS threads in the process.
    pub threads: u64,
}

/// Reads the process's figures now.
///
/// # Examples
///
/// ```
/// let p = keel_runtime::process::stats();
/// assert!(p.resident_bytes > 0 && p.threads >= 1 && p.open_fds >= 3);
/// assert!(p.start_time.is_some());
/// ```
pub fn stats() -> ProcessStats {
    let (cpu_user, cpu_system) = sys::cpu_time().unwrap_or_default();
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    // `after` starts at field 3 (state); field n is at index n - 3.
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    let page = sys::page_size();
    let threads = field(20).unwrap_or(0);
    let virtual_bytes = field(23).unwrap_or(0);
    let resident_bytes = field(24).unwrap_or(0) * page;
    let start_time = field(22).and_then(|ticks| {
        let boot = boot_time()?;
        let since_boot = Duration::from_secs_f64(ticks as f64 / sys::clock_ticks() as f64);
        Some(boot + since_boot)
    });
    ProcessStats {
        cpu_user,
        cpu_system,
        resident_bytes,
        virtual_bytes,
        open_fds: open_fds(),
        max_fds: sys::max_open_files().unwrap_or(None),
        start_time,
        threads,
    }
}

/// Entries of `/proc/self/fd`, less the one `read_dir` itself holds open.
fn open_fds() -> u64 {
    match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => (dir.count() as u64).saturating_sub(1),
        Err(_) => 0,
    }
}

/// The boot time (`btime` in `/proc/stat`).
fn boot_time() -> Option<SystemTime> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let secs = text
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}
