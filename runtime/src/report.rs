//! The one-line startup report: loops (pinned or not), the blocking and worker pool
//! sizes, the heap limit, the container's CPU quota, cpuset and memory limit — each with
//! where it came from — plus a warning when the loops, or the loops and CPU workers
//! together, oversubscribe the container's CPU quota.

use crate::builder::Config;
use crate::env;

/// A pool size and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sized {
    threads: Option<usize>,
    from: String,
}

/// Logs the report for a runtime starting with `config`.
pub(crate) fn startup(config: &Config, pinned: bool) {
    let limits = &config.cgroup;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let blocking = blocking_size();
    let workers = workers_size();
    let heap = config.heap_limit;
    tracing::info!(
        loops = config.loops,
        loops_from = config.loops_from,
        pinned,
        cpus = cores,
        cpu_quota = ?limits.cpu_quota,
        cpuset = %limits.cpuset.as_deref().map_or_else(|| "none".to_owned(), cpu_list),
        memory_max = ?limits.memory_max,
        blocking_threads = ?blocking.threads,
        blocking_from = %blocking.from,
        worker_threads = ?workers.threads,
        workers_from = %workers.from,
        tokio_threads = config.tokio_threads,
        heap_limit = ?heap.bytes,
        heap_limit_from = heap.source,
        "keel runtime started"
    );
    if let Some(warning) = oversubscription(config.loops, workers.threads, limits.cpu_quota) {
        tracing::warn!(
            loops = config.loops,
            worker_threads = ?workers.threads,
            cpu_quota = ?limits.cpu_quota,
            "{warning}"
        );
    }
}

/// The warning to give when `loops` (and `workers` CPU threads) exceed the CPU quota.
fn oversubscription(
    loops: usize,
    workers: Option<usize>,
    quota: Option<f64>,
) -> Option<&'static str> {
    let quota = quota.filter(|q| q.is_finite() && *q > 0.0)?.ceil() as usize;
    if loops > quota {
        Some("more loops than the container's CPU quota: loops will be throttled")
    } else if loops + workers.unwrap_or(0) > quota {
        Some(
            "loops plus CPU worker threads exceed the container's CPU quota: busy workers \
             will throttle the loops (lower KEEL_WORKER_THREADS or KEEL_LOOPS)",
        )
    } else {
        None
    }
}

/// The blocking pool's size: the running pool's, else what its first use will take.
fn blocking_size() -> Sized {
    if let Some(m) = crate::blocking::metrics() {
        return Sized {
            threads: Some(m.max_threads),
            from: "the running pool".to_owned(),
        };
    }
    from_env_or(
        "KEEL_BLOCKING_THREADS",
        crate::blocking::DEFAULT_THREADS,
        "default",
    )
}

/// The CPU worker pool's size: the running pool's, else what its first use will take.
fn workers_size() -> Sized {
    if let Some(m) = crate::workers::metrics() {
        return Sized {
            threads: Some(m.max_threads),
            from: "the running pool".to_owned(),
        };
    }
    from_env_or(
        "KEEL_WORKER_THREADS",
        crate::workers::default_threads(),
        "default (CPUs - 1)",
    )
}

/// `name`'s value when set (or a note that it is invalid: the pool will refuse it at
/// first use, naming it), else `default`.
fn from_env_or(name: &'static str, default: usize, default_from: &str) -> Sized {
    match env::var(name, env::parse_number::<usize>) {
        Ok(Some(n)) => Sized {
            threads: Some(n),
            from: name.to_owned(),
        },
        Ok(None) => Sized {
            threads: Some(default),
            from: default_from.to_owned(),
        },
        Err(e) => Sized {
            threads: None,
            from: format!("invalid: {e}"),
        },
    }
}

/// `[0, 1, 2, 5]` as `0-2,5`.
fn cpu_list(cpus: &[usize]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end + 1 {
            i += 1;
            end = cpus[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if end == start {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}-{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_are_compact() {
        assert_eq!(cpu_list(&[0, 1, 2, 5]), "0-2,5");
        assert_eq!(cpu_list(&[3]), "3");
        assert_eq!(cpu_list(&[0, 2, 4, 5]), "0,2,4-5");
        assert_eq!(cpu_list(&[]), "");
    }

    #[test]
    fn oversubscription_counts_loops_and_workers_against_the_quota() {
        assert_eq!(oversubscription(4, Some(8), None), None, "no quota");
        assert_eq!(oversubscription(2, Some(1), Some(4.0)), None);
        assert_eq!(
            oversubscription(2, Some(2), Some(3.5)),
            None,
            "quota rounds up"
        );
        let loops_only = oversubscription(3, Some(0), Some(2.0)).unwrap();
        assert!(loops_only.contains("more loops"), "{loops_only}");
        let with_workers = oversubscription(2, Some(1), Some(2.0)).unwrap();
        assert!(with_workers.contains("worker"), "{with_workers}");
    }
}
