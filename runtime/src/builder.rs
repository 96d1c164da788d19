//! [`Builder`]: the runtime's knobs — loops, pinning, event interval, thread names — with
//! their defaults, their environment variables and their validation.

use std::num::NonZeroUsize;
use std::time::Duration;

use crate::Runtime;
use crate::error::BuildError;
use crate::supervisor::LoopFailure;

/// The most loops a runtime may run.
pub const MAX_LOOPS: usize = 1024;

/// Task polls between two I/O polls, by default (tokio uses the same figure).
pub const DEFAULT_EVENT_INTERVAL: u32 = 61;

/// How long one task poll may run before the watchdog reports the loop stuck.
pub const DEFAULT_WATCHDOG_THRESHOLD: Duration = Duration::from_secs(1);

/// Builds a [`Runtime`].
///
/// # Examples
///
/// ```
/// use keel_runtime::Runtime;
///
/// let rt = Runtime::builder()
///     .loops(2)
///     .pin(false)
///     .thread_name("api-loop")
///     .build()
///     .unwrap();
/// assert_eq!(rt.handle().loops(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    loops: Option<usize>,
    pin: bool,
    event_interval: u32,
    thread_name: String,
    stall_threshold: Duration,
    watchdog_threshold: Option<Duration>,
    loop_failure: LoopFailure,
    panic_hook: bool,
    instrument_polls: bool,
    tokio_threads: usize,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl Builder {
    /// Defaults for everything; reads no environment variable (only
    /// [`build`](Builder::build) reads the process-wide `KEEL_HEAP_LIMIT`).
    pub fn new() -> Builder {
        Builder {
            loops: None,
            pin: true,
            event_interval: DEFAULT_EVENT_INTERVAL,
            thread_name: "keel-loop".to_owned(),
            stall_threshold: crate::metrics::DEFAULT_STALL_THRESHOLD,
            loop_failure: LoopFailure::default(),
            panic_hook: true,
            watchdog_threshold: Some(DEFAULT_WATCHDOG_THRESHOLD),
            instrument_polls: true,
            tokio_threads: crate::tokio_bridge::DEFAULT_TOKIO_THREADS,
        }
    }

    /// Defaults overridden by the environment: `KEEL_LOOPS`, or else `WEB_CONCURRENCY`,
    /// sets the number of loops; `KEEL_LOOP_FAILURE` (`restart` or `exit`) the
    /// [`loop_failure`](Builder::loop_failure) policy; `KEEL_POLL_TIMING` (`on` or `off`)
    /// sets [`instrument_polls`](Builder::instrument_polls); `KEEL_PIN` (`on` or `off`)
    /// sets [`pin`](Builder::pin); `KEEL_TOKIO_THREADS` (a whole number, `0` for none)
    /// the [`tokio_threads`](Builder::tokio_threads); `KEEL_HEAP_LIMIT` (a size such
    /// as `1536MiB`) the heap limit, which otherwise is 75% of the container's memory limit.
    ///
    /// # Errors
    ///
    /// A variable that is set to a bad value is an error naming it (`KEEL_LOOPS` must be a
    /// whole number from 1 to [`MAX_LOOPS`]).
    pub fn from_env() -> Result<Builder, BuildError> {
        crate::heap::limit::resolve(&crate::cgroup::detect())?;
        let mut builder = Builder::new();
        for name in ["KEEL_LOOPS", "WEB_CONCURRENCY"] {
            if let Ok(value) = std::env::var(name) {
                builder.loops = Some(parse_loops(name, &value)?);
                break;
            }
        }
        if let Ok(value) = std::env::var("KEEL_LOOP_FAILURE") {
            builder.loop_failure = LoopFailure::parse("KEEL_LOOP_FAILURE", &value)?;
        }
        if let Some(on) = crate::env::var("KEEL_POLL_TIMING", crate::env::parse_switch)? {
            builder.instrument_polls = on;
        }
        if let Some(on) = crate::env::var("KEEL_PIN", crate::env::parse_switch)? {
            builder.pin = on;
        }
        if let Some(n) = crate::env::var("KEEL_TOKIO_THREADS", crate::tokio_bridge::parse_threads)?
        {
            builder.tokio_threads = n;
        }
        Ok(builder)
    }

    /// How many event loops (threads) to run.
    ///
    /// # Default
    ///
    /// The container's CPU quota rounded up (cgroup `cpu.max`, or v1's CFS quota), capped
    /// by the CPUs this process may run on; without a quota, those CPUs.
    pub fn loops(mut self, loops: usize) -> Builder {
        self.loops = Some(loops);
        self
    }

    /// Whether to pin loop `i` to the `i`-th CPU.
    ///
    /// # Default
    ///
    /// On. Skipped, with a log line, when there are more loops than CPUs. `KEEL_PIN=off`
    /// turns it off through [`Builder::from_env`]: do that where the CPUs are shared
    /// (a container without exclusive CPUs), or every replica pins to the same ones.
    pub fn pin(mut self, pin: bool) -> Builder {
        self.pin = pin;
        self
    }

    /// How many task polls a loop runs between two polls of the OS for I/O and timers.
    /// Lower is fairer to sockets, higher is faster for task-heavy work.
    ///
    /// # Default
    ///
    /// [`DEFAULT_EVENT_INTERVAL`].
    pub fn event_interval(mut self, polls: u32) -> Builder {
        self.event_interval = polls;
        self
    }

    /// A task poll that runs longer than this counts as a stall: it is counted per loop
    /// and task name and logged (at most once a second per loop).
    ///
    /// # Default
    ///
    /// [`DEFAULT_STALL_THRESHOLD`](crate::metrics::DEFAULT_STALL_THRESHOLD) (50 ms).
    pub fn stall_threshold(mut self, threshold: Duration) -> Builder {
        self.stall_threshold = threshold;
        self
    }

    /// How long one poll may run before the `keel-watchdog` thread reports the loop as
    /// stuck (while it still is), naming the task; `None` runs no watchdog.
    ///
    /// # Default
    ///
    /// [`DEFAULT_WATCHDOG_THRESHOLD`] (1 s).
    pub fn watchdog_threshold(mut self, threshold: Option<Duration>) -> Builder {
        self.watchdog_threshold = threshold;
        self
    }

    /// What to do when a loop thread dies outside a task: restart it, or exit the
    /// process with status 1. See [`LoopFailure`] for the reasons behind the default.
    ///
    /// # Default
    ///
    /// [`LoopFailure::Restart`]; `KEEL_LOOP_FAILURE` in [`from_env`](Builder::from_env).
    pub fn loop_failure(mut self, policy: LoopFailure) -> Builder {
        self.loop_failure = policy;
        self
    }

    /// Whether building the runtime installs Keel's panic hook (once per process; it
    /// logs every panic through `tracing` with the loop, the task and the request id,
    /// then calls the hook set before it). See [`panic`](mod@crate::panic).
    ///
    /// # Default
    ///
    /// On.
    pub fn panic_hook(mut self, install: bool) -> Builder {
        self.panic_hook = install;
        self
    }

    /// Whether loops time every task poll and record their lag: the coarse clock read
    /// around each poll, the watchdog's view of the running poll, stall detection, the
    /// sampled [`poll_time`](crate::metrics::LoopMetrics::poll_time) histogram and the
    /// [`lag`](crate::metrics::LoopMetrics::lag) and
    /// [`timer_lag`](crate::metrics::LoopMetrics::timer_lag) histograms. Off, those stay
    /// empty (no stalls, no watchdog reports); the counters, utilization and heap
    /// figures remain. It exists to measure what the timing costs (the load benchmark
    /// runs a server with it off), and for the last percent of throughput.
    ///
    /// # Default
    ///
    /// On; `KEEL_POLL_TIMING=off` turns it off through [`Builder::from_env`].
    pub fn instrument_polls(mut self, on: bool) -> Builder {
        self.instrument_polls = on;
        self
    }

    /// How many threads the tokio bridge runs (named `keel-tokio-N`); `0` starts no
    /// bridge. The bridge is a tokio runtime owned by this runtime, started and shut down
    /// with it, whose reactor and timers serve tokio-based crates (reqwest, sqlx,
    /// redis-rs) awaited on the loops: every loop thread holds its context, so such a
    /// crate works inside a Keel task unchanged. See [`tokio`](mod@crate::tokio).
    ///
    /// # Default
    ///
    /// [`DEFAULT_TOKIO_THREADS`](crate::tokio::DEFAULT_TOKIO_THREADS) (1);
    /// `KEEL_TOKIO_THREADS` through [`Builder::from_env`].
    pub fn tokio_threads(mut self, threads: usize) -> Builder {
        self.tokio_threads = threads;
        self
    }

    /// The prefix of loop thread names; loop `i` is named `{prefix}-{i}`.
    ///
    /// # Default
    ///
    /// `keel-loop`.
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Builder {
        self.thread_name = prefix.into();
        self
    }

    /// Starts the loops. The process's heap limit is resolved here too (it is
    /// process-wide, so only the first runtime's start reads `KEEL_HEAP_LIMIT`).
    ///
    /// # Errors
    ///
    /// An invalid setting (0 loops, more than [`MAX_LOOPS`], an event interval of 0), a
    /// bad `KEEL_HEAP_LIMIT` (named in the error), or the OS refusing an epoll instance
    /// or a thread.
    pub fn build(self) -> Result<Runtime, BuildError> {
        let config = self.resolve()?;
        Runtime::start(config)
    }

    fn resolve(self) -> Result<Config, BuildError> {
        let cgroup = crate::cgroup::detect();
        let (loops, loops_from) = match self.loops {
            Some(n) => (check_loops("loops", n)?, "Builder::loops or KEEL_LOOPS"),
            None => default_loops(&cgroup),
        };
        if self.event_interval == 0 {
            return Err(BuildError::invalid_value(
                "event_interval",
                "0",
                "at least 1 task poll between I/O polls",
            ));
        }
        if self.tokio_threads > crate::tokio_bridge::MAX_TOKIO_THREADS {
            return Err(BuildError::invalid_value(
                "tokio_threads",
                self.tokio_threads.to_string(),
                format!(
                    "a whole number of tokio bridge threads from 0 (off) to {}",
                    crate::tokio_bridge::MAX_TOKIO_THREADS
                ),
            ));
        }
        let heap_limit = crate::heap::limit::resolve(&cgroup)?;
        Ok(Config {
            loops,
            loops_from,
            cgroup,
            heap_limit,
            pin: self.pin,
            event_interval: self.event_interval,
            thread_name: self.thread_name,
            stall_threshold: self.stall_threshold,
            watchdog_threshold: self.watchdog_threshold,
            loop_failure: self.loop_failure,
            panic_hook: self.panic_hook,
            instrument_polls: self.instrument_polls,
            tokio_threads: self.tokio_threads,
        })
    }
}

/// The resolved, validated settings a runtime starts from.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) loops: usize,
    /// Where `loops` came from, for the startup report.
    pub(crate) loops_from: &'static str,
    /// The container's limits, read once at build.
    pub(crate) cgroup: crate::cgroup::CgroupLimits,
    /// The process's heap limit.
    pub(crate) heap_limit: crate::heap::limit::HeapLimit,
    pub(crate) pin: bool,
    pub(crate) event_interval: u32,
    pub(crate) thread_name: String,
    pub(crate) stall_threshold: Duration,
    pub(crate) watchdog_threshold: Option<Duration>,
    pub(crate) loop_failure: LoopFailure,
    pub(crate) panic_hook: bool,
    pub(crate) instrument_polls: bool,
    /// Threads of the tokio bridge; 0: none.
    pub(crate) tokio_threads: usize,
}

fn parse_loops(name: &str, value: &str) -> Result<usize, BuildError> {
    let n = value
        .trim()
        .parse::<usize>()
        .map_err(|_| BuildError::invalid_value(name, value, loops_expected()))?;
    check_loops(name, n).map_err(|_| BuildError::invalid_value(name, value, loops_expected()))
}

fn check_loops(name: &str, n: usize) -> Result<usize, BuildError> {
    if (1..=MAX_LOOPS).contains(&n) {
        Ok(n)
    } else {
        Err(BuildError::invalid_value(
            name,
            n.to_string(),
            loops_expected(),
        ))
    }
}

fn loops_expected() -> String {
    format!("a whole number of loops from 1 to {MAX_LOOPS}")
}

/// One loop per CPU this process may use, reduced to the container's CPU quota; and
/// which of the two decided.
fn default_loops(cgroup: &crate::cgroup::CgroupLimits) -> (usize, &'static str) {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let loops = crate::cgroup::loops_for(cgroup, cores);
    let from = if cgroup.cpu_quota.is_some_and(|q| q.ceil() as usize == loops) {
        "cgroup cpu.max"
    } else if cgroup.cpuset.as_ref().is_some_and(|c| c.len() == loops) {
        "cgroup cpuset"
    } else {
        "available CPUs"
    };
    (loops, from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_from_env_values() {
        assert_eq!(parse_loops("KEEL_LOOPS", "4").unwrap(), 4);
        assert_eq!(parse_loops("KEEL_LOOPS", " 2 ").unwrap(), 2);
        for bad in ["0", "-1", "two", "", "1025", "1.5"] {
            let err = parse_loops("KEEL_LOOPS", bad).unwrap_err();
            assert_eq!(err.setting(), Some("KEEL_LOOPS"), "{bad}");
            assert!(err.to_string().contains("KEEL_LOOPS"), "{err}");
        }
    }

    #[test]
    fn loop_failure_values() {
        assert_eq!(
            LoopFailure::parse("KEEL_LOOP_FAILURE", "restart").unwrap(),
            LoopFailure::Restart
        );
        assert_eq!(
            LoopFailure::parse("KEEL_LOOP_FAILURE", " Exit ").unwrap(),
            LoopFailure::Exit
        );
        let err = LoopFailure::parse("KEEL_LOOP_FAILURE", "reboot").unwrap_err();
        assert_eq!(err.setting(), Some("KEEL_LOOP_FAILURE"));
        assert!(err.to_string().contains("reboot"), "{err}");
    }

    #[test]
    fn tokio_threads_values() {
        use crate::tokio_bridge::parse_threads;
        assert_eq!(parse_threads("KEEL_TOKIO_THREADS", "0").unwrap(), 0);
        assert_eq!(parse_threads("KEEL_TOKIO_THREADS", " 3 ").unwrap(), 3);
        for bad in ["-1", "one", "1.5", "1025"] {
            let err = parse_threads("KEEL_TOKIO_THREADS", bad).unwrap_err();
            assert_eq!(err.name(), "KEEL_TOKIO_THREADS", "{bad}");
            assert!(err.to_string().contains("KEEL_TOKIO_THREADS"), "{err}");
        }
        let err = Builder::new().tokio_threads(5000).resolve().unwrap_err();
        assert_eq!(err.setting(), Some("tokio_threads"));
    }

    #[test]
    fn zero_event_interval_is_refused() {
        let err = Builder::new().event_interval(0).resolve().unwrap_err();
        assert_eq!(err.setting(), Some("event_interval"));
    }
}
