//! Container limits: the CPU quota, memory limit and cpuset that the process's
//! cgroup imposes, read from cgroup v2 with a fallback to v1, so the runtime
//! can size its loops to what the container may really use.
//!
//! # Where the values come from
//!
//! `/proc/self/cgroup` names the process's cgroup: one `id:controllers:path`
//! line per hierarchy; v2's is `0::path`, v1's list controllers
//! (`2:cpu,cpuacct:/path`). The limits are then read from:
//!
//! | limit       | v2 (`<root>/<path>/`)   | v1 (`<root>/<controller>/<path>/`)             |
//! |-------------|-------------------------|------------------------------------------------|
//! | CPU quota   | `cpu.max`               | `cpu.cfs_quota_us` / `cpu.cfs_period_us`       |
//! | memory      | `memory.max`            | `memory.limit_in_bytes`                        |
//! | cpuset      | `cpuset.cpus.effective` | `cpuset.effective_cpus`, else `cpuset.cpus`    |
//!
//! Each value is taken from v2 if v2 gives one, else from v1, so hybrid
//! systems (v1 controllers next to an empty v2 hierarchy) work too.
//!
//! A parent cgroup's limit also binds its children, so the quota and memory
//! limit are the smallest found walking from the process's cgroup up to the
//! hierarchy's root; the cpuset is the one nearest the process (the
//! "effective" files already account for the parents). If the process's
//! cgroup directory does not exist under the mount (a container without a
//! cgroup namespace sees the host's path but has its own cgroup mounted at
//! the root), the hierarchy's root directory itself is read.
//!
//! Anything missing, unreadable or malformed means "no limit": detection
//! never fails and never panics.

use std::fs;
use std::path::{Component, Path, PathBuf};

/// Where the cgroup file systems are mounted.
const SYS_FS_CGROUP: &str = "/sys/fs/cgroup";

/// The file naming the process's cgroups.
const PROC_SELF_CGROUP: &str = "/proc/self/cgroup";

/// CFS period (µs) assumed when `cpu.max` gives only a quota, as the kernel
/// does.
const DEFAULT_CFS_PERIOD_US: u64 = 100_000;

/// Memory limits at or above this (1 EiB) mean "unlimited": cgroup v1 reports
/// no limit as `i64::MAX` rounded down to a page (`9223372036854771712`).
const MEMORY_UNLIMITED: u64 = 1 << 60;

/// CPU numbers at or above this make a cpuset malformed (Linux's `NR_CPUS`
/// is at most 8192); it also bounds what a hostile range can allocate.
const MAX_CPU_ID: usize = 1 << 16;

/// The limits a cgroup imposes; `None` means no limit (or none found).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CgroupLimits {
    /// CPU bandwidth, in cores (e.g. `1.5`).
    pub(crate) cpu_quota: Option<f64>,
    /// Memory limit, in bytes.
    pub(crate) memory_max: Option<u64>,
    /// CPUs the process may run on, sorted, without duplicates.
    pub(crate) cpuset: Option<Vec<usize>>,
}

/// Reads the limits of the calling process from the real system.
pub(crate) fn detect() -> CgroupLimits {
    let proc_self_cgroup = fs::read_to_string(PROC_SELF_CGROUP).unwrap_or_default();
    detect_at(Path::new(SYS_FS_CGROUP), &proc_self_cgroup)
}

/// Reads the limits with the cgroup mount at `sys_fs_cgroup_root` and
/// `proc_self_cgroup` as the contents of `/proc/self/cgroup`.
pub(crate) fn detect_at(sys_fs_cgroup_root: &Path, proc_self_cgroup: &str) -> CgroupLimits {
    let v2 = v2_limits(sys_fs_cgroup_root, proc_self_cgroup);
    let v1 = v1_limits(sys_fs_cgroup_root, proc_self_cgroup);
    CgroupLimits {
        cpu_quota: v2.cpu_quota.or(v1.cpu_quota),
        memory_max: v2.memory_max.or(v1.memory_max),
        cpuset: v2.cpuset.or(v1.cpuset),
    }
}

/// Parses v2 `cpu.max` (`"$QUOTA $PERIOD"` in µs, or `"max ..."`) into cores:
/// `"150000 100000"` is `Some(1.5)`, `"max 100000"` is `None`.
pub(crate) fn parse_cpu_max(s: &str) -> Option<f64> {
    let mut fields = s.split_whitespace();
    let quota = fields.next()?;
    let period = match fields.next() {
        Some(p) => p.parse().ok()?,
        None => DEFAULT_CFS_PERIOD_US,
    };
    if fields.next().is_some() || quota == "max" {
        return None;
    }
    cores(quota.parse().ok()?, period)
}

/// Parses a cpu list such as `"0-3,8,10-11"`; `None` if empty or malformed.
pub(crate) fn parse_cpuset(s: &str) -> Option<Vec<usize>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut cpus = Vec::new();
    for part in s.split(',') {
        let (first, last): (usize, usize) = match part.trim().split_once('-') {
            Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
            None => {
                let cpu = part.trim().parse().ok()?;
                (cpu, cpu)
            }
        };
        if first > last || last >= MAX_CPU_ID {
            return None;
        }
        cpus.extend(first..=last);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Some(cpus)
}

/// Parses v2 `memory.max` or v1 `memory.limit_in_bytes` (bytes): `"max"`, v1's
/// huge "unlimited" value and anything malformed are `None`.
pub(crate) fn parse_memory_max(s: &str) -> Option<u64> {
    let bytes: u64 = s.trim().parse().ok()?;
    (bytes < MEMORY_UNLIMITED).then_some(bytes)
}

/// How many event loops to run: the CPU quota rounded up, capped by the
/// cpuset's size and by `available_cores`, and at least 1.
pub(crate) fn loops_for(limits: &CgroupLimits, available_cores: usize) -> usize {
    let mut loops = available_cores;
    if let Some(quota) = limits.cpu_quota.filter(|q| q.is_finite() && *q > 0.0) {
        // `as` saturates; the quota is positive and finite here.
        loops = loops.min(quota.ceil() as usize);
    }
    if let Some(cpuset) = limits.cpuset.as_ref().filter(|c| !c.is_empty()) {
        loops = loops.min(cpuset.len());
    }
    loops.max(1)
}

/// `quota_us / period_us` in cores; `None` unless both are positive.
fn cores(quota_us: u64, period_us: u64) -> Option<f64> {
    (quota_us > 0 && period_us > 0).then(|| quota_us as f64 / period_us as f64)
}

/// Parses v1 `cpu.cfs_quota_us` (`-1` means no limit) and `cpu.cfs_period_us`.
fn parse_cfs(quota: &str, period: &str) -> Option<f64> {
    let quota: i64 = quota.trim().parse().ok()?;
    let period: u64 = period.trim().parse().ok()?;
    cores(u64::try_from(quota).ok()?, period)
}

/// Limits from the v2 (unified) hierarchy, mounted at `root`.
fn v2_limits(root: &Path, proc_self_cgroup: &str) -> CgroupLimits {
    let Some(path) = cgroup_path(proc_self_cgroup, |id, controllers| {
        id == "0" && controllers.is_empty()
    }) else {
        return CgroupLimits::default();
    };
    let dirs = dirs_up(root, path);
    CgroupLimits {
        cpu_quota: min_up(&dirs, |d| parse_cpu_max(&read(d, "cpu.max")?)),
        memory_max: min_up(&dirs, |d| parse_memory_max(&read(d, "memory.max")?)),
        cpuset: dirs
            .iter()
            .find_map(|d| parse_cpuset(&read(d, "cpuset.cpus.effective")?)),
    }
}

/// Limits from the v1 hierarchies, each controller mounted under `root`.
fn v1_limits(root: &Path, proc_self_cgroup: &str) -> CgroupLimits {
    let cpu = v1_dirs(root, proc_self_cgroup, "cpu");
    let memory = v1_dirs(root, proc_self_cgroup, "memory");
    let cpuset = v1_dirs(root, proc_self_cgroup, "cpuset");
    CgroupLimits {
        cpu_quota: min_up(&cpu, |d| {
            parse_cfs(
                &read(d, "cpu.cfs_quota_us")?,
                &read(d, "cpu.cfs_period_us")?,
            )
        }),
        memory_max: min_up(&memory, |d| {
            parse_memory_max(&read(d, "memory.limit_in_bytes")?)
        }),
        cpuset: cpuset.iter().find_map(|d| {
            let cpus = read(d, "cpuset.effective_cpus").or_else(|| read(d, "cpuset.cpus"))?;
            parse_cpuset(&cpus)
        }),
    }
}

/// The directories to read for v1 `controller`, leaf first; empty if the
/// process is in no hierarchy with that controller or it is not mounted.
fn v1_dirs(root: &Path, proc_self_cgroup: &str, controller: &str) -> Vec<PathBuf> {
    let mut mount_names = Vec::new();
    let path = cgroup_path(proc_self_cgroup, |_, controllers| {
        let listed = controllers.split(',').any(|c| c == controller);
        if listed {
            // Mounted as e.g. `cpu` (often a symlink) or `cpu,cpuacct`.
            mount_names = vec![controller.to_owned(), controllers.to_owned()];
        }
        listed
    });
    let Some(path) = path else {
        return Vec::new();
    };
    mount_names
        .iter()
        .map(|name| root.join(name))
        .find(|base| base.is_dir())
        .map(|base| dirs_up(&base, path))
        .unwrap_or_default()
}

/// The path of the first `/proc/self/cgroup` line whose `(id, controllers)`
/// match.
fn cgroup_path(
    proc_self_cgroup: &str,
    mut matches: impl FnMut(&str, &str) -> bool,
) -> Option<&str> {
    proc_self_cgroup.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (id, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        matches(id, controllers).then_some(path)
    })
}

/// The process's cgroup directory under the hierarchy mounted at `base` and
/// each of its ancestors up to `base`, leaf first. Just `base` if the cgroup
/// directory does not exist there or `path` is not a plain absolute path.
fn dirs_up(base: &Path, path: &str) -> Vec<PathBuf> {
    let relative = Path::new(path.trim());
    let plain = relative.components().all(|c| {
        matches!(
            c,
            Component::RootDir | Component::Normal(_) | Component::CurDir
        )
    });
    let leaf = base.join(relative.strip_prefix("/").unwrap_or(relative));
    if !plain || !leaf.is_dir() {
        return vec![base.to_path_buf()];
    }
    leaf.ancestors()
        .take_while(|dir| dir.starts_with(base))
        .map(Path::to_path_buf)
        .collect()
}

/// The smallest value `read` finds in any of `dirs`.
fn min_up<T: PartialOrd>(dirs: &[PathBuf], read: impl Fn(&Path) -> Option<T>) -> Option<T> {
    dirs.iter()
        .filter_map(|d| read(d))
        .reduce(|a, b| if b < a { b } else { a })
}

/// The contents of `dir/name`, if readable.
fn read(dir: &Path, name: &str) -> Option<String> {
    fs::read_to_string(dir.join(name)).ok()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempRoot(PathBuf);

    impl TempRoot {
        fn new() -> Self {
            static COUNT: AtomicUsize = AtomicUsize::new(0);
            let n = COUNT.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let dir = std::env::temp_dir().join(format!(
                "keel-cgroup-test-{}-{n}-{nanos}",
                std::process::id()
            ));
            fs::create_dir_all(&dir).unwrap();
            TempRoot(dir)
        }

        /// Writes `contents` to `rel` (creating parent directories).
        fn file(&self, rel: &str, contents: &str) -> &Self {
            let path = self.0.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, contents).unwrap();
            self
        }

        fn detect(&self, proc_self_cgroup: &str) -> CgroupLimits {
            detect_at(&self.0, proc_self_cgroup)
        }
    }

    impl Drop for TempRoot {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const GIB: u64 = 1 << 30;

    #[test]
    fn cpu_max_table() {
        let cases: &[(&str, Option<f64>)] = &[
            ("150000 100000\n", Some(1.5)),
            ("200000 100000", Some(2.0)),
            ("50000 100000", Some(0.5)),
            ("300000", Some(3.0)),
            ("max 100000\n", None),
            ("max", None),
            ("", None),
            ("abc 100000", None),
            ("100000 0", None),
            ("0 100000", None),
            ("-1 100000", None),
            ("1 2 3", None),
        ];
        for &(input, want) in cases {
            assert_eq!(parse_cpu_max(input), want, "{input:?}");
        }
    }

    #[test]
    fn cpuset_table() {
        let cases: &[(&str, Option<&[usize]>)] = &[
            ("0-3,8,10-11\n", Some(&[0, 1, 2, 3, 8, 10, 11])),
            ("5", Some(&[5])),
            ("3,1,1-2", Some(&[1, 2, 3])),
            (" 0 - 1 , 4 ", Some(&[0, 1, 4])),
            ("", None),
            ("\n", None),
            ("3-1", None),
            ("0-", None),
            ("a", None),
            ("0,,1", None),
            ("0-4000000000", None),
        ];
        for &(input, want) in cases {
            assert_eq!(parse_cpuset(input).as_deref(), want, "{input:?}");
        }
    }

    #[test]
    fn memory_max_table() {
        let cases: &[(&str, Option<u64>)] = &[
            ("536870912\n", Some(512 << 20)),
            ("max\n", None),
            ("9223372036854771712\n", None),
            ("18446744073709551615", None),
            ("-1", None),
            ("12x", None),
            ("", None),
        ];
        for &(input, want) in cases {
            assert_eq!(parse_memory_max(input), want, "{input:?}");
        }
    }

    #[test]
    fn cfs_pairs() {
        assert_eq!(parse_cfs("250000\n", "100000\n"), Some(2.5));
        assert_eq!(parse_cfs("-1\n", "100000\n"), None);
        assert_eq!(parse_cfs("100000", "0"), None);
        assert_eq!(parse_cfs("x", "100000"), None);
    }

    #[test]
    fn loops_for_table() {
        let limits = |cpu_quota, cpuset: Option<Vec<usize>>| CgroupLimits {
            cpu_quota,
            memory_max: None,
            cpuset,
        };
        assert_eq!(loops_for(&CgroupLimits::default(), 8), 8);
        assert_eq!(loops_for(&CgroupLimits::default(), 0), 1);
        assert_eq!(loops_for(&limits(Some(1.5), None), 8), 2);
        assert_eq!(loops_for(&limits(Some(0.1), None), 8), 1);
        assert_eq!(loops_for(&limits(Some(4.0), None), 8), 4);
        assert_eq!(loops_for(&limits(Some(16.0), None), 8), 8);
        assert_eq!(loops_for(&limits(Some(3.5), Some(vec![0, 1])), 8), 2);
        assert_eq!(loops_for(&limits(None, Some(vec![0, 1, 2])), 2), 2);
        assert_eq!(loops_for(&limits(None, Some(vec![])), 4), 4);
        assert_eq!(loops_for(&limits(Some(f64::NAN), None), 4), 4);
    }

    #[test]
    fn v2_quota() {
        let root = TempRoot::new();
        root.file("cgroup.controllers", "cpuset cpu io memory pids\n")
            .file("kubepods/pod1/cpu.max", "150000 100000\n")
            .file("kubepods/pod1/memory.max", "536870912\n")
            .file("kubepods/pod1/cpuset.cpus.effective", "0-3\n");
        let limits = root.detect("0::/kubepods/pod1\n");
        assert_eq!(
            limits,
            CgroupLimits {
                cpu_quota: Some(1.5),
                memory_max: Some(512 << 20),
                cpuset: Some(vec![0, 1, 2, 3]),
            }
        );
        assert_eq!(loops_for(&limits, 8), 2);
    }

    #[test]
    fn v2_max_and_parent_limits() {
        let root = TempRoot::new();
        root.file("cgroup.controllers", "cpu memory\n")
            .file("a/b/cpu.max", "max 100000\n")
            .file("a/b/memory.max", "max\n")
            .file("a/cpuset.cpus.effective", "0-7\n");
        let limits = root.detect("0::/a/b\n");
        assert_eq!(limits.cpu_quota, None);
        assert_eq!(limits.memory_max, None);
        assert_eq!(limits.cpuset, Some((0..8).collect()));

        // A parent's limit binds the child; the smallest wins.
        root.file("a/cpu.max", "200000 100000\n")
            .file("a/memory.max", "1073741824\n")
            .file("a/b/memory.max", "2147483648\n");
        let limits = root.detect("0::/a/b\n");
        assert_eq!(limits.cpu_quota, Some(2.0));
        assert_eq!(limits.memory_max, Some(GIB));
    }

    #[test]
    fn v1_quota() {
        let root = TempRoot::new();
        root.file("cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "250000\n")
            .file("cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n")
            .file("memory/docker/abc/memory.limit_in_bytes", "1073741824\n")
            .file("cpuset/docker/abc/cpuset.cpus", "0,2\n");
        let proc = "12:cpuset:/docker/abc\n\
                    5:memory:/docker/abc\n\
                    3:cpu,cpuacct:/docker/abc\n\
                    1:name=systemd:/docker/abc\n\
                    0::/docker/abc\n";
        let limits = root.detect(proc);
        assert_eq!(
            limits,
            CgroupLimits {
                cpu_quota: Some(2.5),
                memory_max: Some(GIB),
                cpuset: Some(vec![0, 2]),
            }
        );
        assert_eq!(loops_for(&limits, 16), 2);
    }

    #[test]
    fn v1_no_quota_and_unlimited_memory() {
        // The shape of a v1 host with no limits (like the build machine).
        let root = TempRoot::new();
        root.file("cpu/cpu.cfs_quota_us", "-1\n")
            .file("cpu/cpu.cfs_period_us", "100000\n")
            .file("memory/memory.limit_in_bytes", "9223372036854771712\n")
            .file("memory/job/memory.limit_in_bytes", "9223372036854771712\n")
            .file("cpuset/cpuset.cpus", "0-1\n")
            .file("unified/cgroup.controllers", "");
        let proc = "4:memory:/job\n3:cpuset:/\n1:cpu:/\n0::/\n";
        let limits = root.detect(proc);
        assert_eq!(
            limits,
            CgroupLimits {
                cpu_quota: None,
                memory_max: None,
                cpuset: Some(vec![0, 1]),
            }
        );
        assert_eq!(loops_for(&limits, 2), 2);
    }

    #[test]
    fn v1_without_cgroup_namespace_reads_mount_root() {
        // The host path is not visible inside the container's mount.
        let root = TempRoot::new();
        root.file("cpu/cpu.cfs_quota_us", "100000\n")
            .file("cpu/cpu.cfs_period_us", "100000\n");
        let limits = root.detect("2:cpu:/docker/0123abcd\n");
        assert_eq!(limits.cpu_quota, Some(1.0));
    }

    #[test]
    fn missing_files() {
        let root = TempRoot::new();
        assert_eq!(root.detect("0::/nowhere\n"), CgroupLimits::default());
        assert_eq!(
            root.detect("3:cpu:/x\n4:memory:/x\n"),
            CgroupLimits::default()
        );
        assert_eq!(root.detect(""), CgroupLimits::default());
        let gone = root.0.join("does-not-exist");
        assert_eq!(detect_at(&gone, "0::/\n2:cpu:/\n"), CgroupLimits::default());
        // Quota without a period is not a limit we can trust.
        root.file("cpu/cpu.cfs_quota_us", "100000\n");
        assert_eq!(root.detect("2:cpu:/\n").cpu_quota, None);
    }

    #[test]
    fn malformed_content() {
        let root = TempRoot::new();
        root.file("cpu.max", "lots\n")
            .file("memory.max", "12x\n")
            .file("cpuset.cpus.effective", "3-1\n");
        assert_eq!(root.detect("0::/\n"), CgroupLimits::default());
        let proc = "garbage\n::\n0::/../../etc\nno-colons-here";
        assert_eq!(root.detect(proc), CgroupLimits::default());
    }

    #[test]
    fn dotdot_paths_stay_inside_the_mount() {
        let root = TempRoot::new();
        root.file("cgroup/cpu.max", "100000 100000\n")
            .file("outside/cpu.max", "50000 100000\n");
        let limits = detect_at(&root.0.join("cgroup"), "0::/../outside\n");
        assert_eq!(limits.cpu_quota, Some(1.0));
    }

    #[test]
    fn detect_on_this_machine_does_not_panic() {
        let limits = detect();
        let loops = loops_for(&limits, 2);
        assert!(loops >= 1);
        println!("{limits:?} -> {loops} loops on 2 cores");
    }
}
