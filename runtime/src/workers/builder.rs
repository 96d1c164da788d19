//! [`Builder`]: the worker pool's knobs — size, queue bound, spin, optional CPU pinning,
//! thread names — with their defaults, environment variables and validation.

use std::time::Duration;

use super::WorkerPool;
use crate::BuildError;
use crate::env::{self, EnvError};
pub use crate::jobs::MAX_SPIN;
use crate::jobs::{available_cpus, check_count, check_spin, env_count, env_duration};

/// How long a worker that runs out of jobs keeps looking for the next one before it
/// sleeps, by default: not at all. See [`Builder::spin`] for when to turn it on.
pub const DEFAULT_SPIN: Duration = Duration::ZERO;

/// The most threads a worker pool may have.
pub const MAX_THREADS: usize = 1024;

/// Jobs that may wait in the queue, by default; one more is refused with `QueueFull`.
pub const DEFAULT_QUEUE_CAPACITY: usize = 10_000;

/// The largest queue bound accepted.
pub const MAX_QUEUE_CAPACITY: usize = 1 << 24;

/// The default size: one thread per CPU this process may use, less one for the loops,
/// and at least one.
///
/// # Examples
///
/// ```
/// assert!(keel_runtime::workers::default_threads() >= 1);
/// ```
pub fn default_threads() -> usize {
    available_cpus().saturating_sub(1).max(1)
}

/// Builds a [`WorkerPool`]: a private one with [`build`](Builder::build), or the
/// process-wide one behind [`workers::spawn`](crate::workers::spawn) with
/// [`install`](Builder::install).
///
/// # Examples
///
/// ```
/// use keel_runtime::workers::Builder;
///
/// let pool = Builder::new().threads(2).queue_capacity(64).build().unwrap();
/// assert_eq!(pool.threads(), 2);
/// # pool.shutdown(std::time::Duration::from_secs(1));
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    threads: Option<usize>,
    queue_capacity: usize,
    spin: Duration,
    cpus: Option<Vec<usize>>,
    thread_name: String,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl Builder {
    /// Defaults for everything; reads no environment variable.
    pub fn new() -> Builder {
        Builder {
            threads: None,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            spin: DEFAULT_SPIN,
            cpus: None,
            thread_name: "keel-worker".to_owned(),
        }
    }

    /// Defaults overridden by the environment: `KEEL_WORKER_THREADS`
    /// ([`threads`](Builder::threads)), `KEEL_WORKER_QUEUE`
    /// ([`queue_capacity`](Builder::queue_capacity)), `KEEL_WORKER_SPIN` (`50us`;
    /// [`spin`](Builder::spin)) and `KEEL_WORKER_CPUS`, a CPU list such as
    /// `2-3,6` ([`pin_cpus`](Builder::pin_cpus)).
    ///
    /// # Errors
    ///
    /// A variable that is set but does not parse, or is out of range, is an error naming
    /// it.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = keel_runtime::workers::Builder::from_env().unwrap();
    /// # let _ = builder;
    /// ```
    pub fn from_env() -> Result<Builder, BuildError> {
        let mut b = Builder::new();
        b.threads = env_count("KEEL_WORKER_THREADS", 1..=MAX_THREADS)?;
        if let Some(n) = env_count("KEEL_WORKER_QUEUE", 1..=MAX_QUEUE_CAPACITY)? {
            b.queue_capacity = n;
        }
        if let Some(d) = env_duration("KEEL_WORKER_SPIN")? {
            b.spin = d;
        }
        b.cpus = env::var("KEEL_WORKER_CPUS", parse_cpu_list)
            .map_err(|e| BuildError::invalid_value(e.name(), e.value(), e.expected()))?;
        Ok(b)
    }

    /// How many worker threads to run (all started when the pool is built).
    ///
    /// # Default
    ///
    /// [`default_threads`]: cores − 1, at least 1.
    pub fn threads(mut self, threads: usize) -> Builder {
        self.threads = Some(threads);
        self
    }

    /// How long a worker that runs out of jobs keeps looking for the next one before it
    /// sleeps. One worker at a time does this, and while it looks a submit wakes nobody:
    /// a job submitted meanwhile starts without a futex wake and the thread's trip
    /// through the scheduler. rayon's idle workers look the same way (32 rounds of
    /// `yield` before they sleep).
    ///
    /// Off by default: it halves the round trip of a lone `spawn(..).await` (about 40 µs
    /// to 23 µs on a 2-core machine, 50 µs of spin), but a spinning worker takes CPU from
    /// the loops that submit, and a million tiny jobs took about 10% longer with it.
    /// Turn it on for a service that sends small jobs one at a time and has cores to
    /// spare.
    ///
    /// # Default
    ///
    /// [`DEFAULT_SPIN`] (none); at most [`MAX_SPIN`]. `KEEL_WORKER_SPIN` (`50us`) with
    /// [`from_env`](Builder::from_env).
    pub fn spin(mut self, spin: Duration) -> Builder {
        self.spin = spin;
        self
    }

    /// How many jobs may wait in the queue (not counting running ones). When it is full,
    /// [`spawn`](super::WorkerPool::spawn) fails at once with `QueueFull`;
    /// [`reserve`](super::WorkerPool::reserve) waits for room.
    ///
    /// # Default
    ///
    /// [`DEFAULT_QUEUE_CAPACITY`] (10,000).
    pub fn queue_capacity(mut self, jobs: usize) -> Builder {
        self.queue_capacity = jobs;
        self
    }

    /// Pins worker `i` to CPU `cpus[i % cpus.len()]`: the opt-in way to partition cores
    /// between loops and workers (pin the loops to the others).
    ///
    /// # Default
    ///
    /// Not pinned: the OS schedules workers where there is room.
    pub fn pin_cpus(mut self, cpus: impl Into<Vec<usize>>) -> Builder {
        self.cpus = Some(cpus.into());
        self
    }

    /// The prefix of thread names; worker `i` is named `{prefix}-{i}`.
    ///
    /// # Default
    ///
    /// `keel-worker`.
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Builder {
        self.thread_name = prefix.into();
        self
    }

    /// Creates a private pool and starts its threads.
    ///
    /// # Errors
    ///
    /// A size of 0 or above [`MAX_THREADS`], a queue bound of 0, or an empty CPU list;
    /// the error names the knob.
    pub fn build(self) -> Result<WorkerPool, BuildError> {
        Ok(WorkerPool::start(self.resolve()?))
    }

    /// Makes this the process-wide pool behind [`workers::spawn`](crate::workers::spawn) and
    /// returns a handle to it. Call it before the first use.
    ///
    /// # Errors
    ///
    /// The errors of [`build`](Builder::build), or the global pool already running.
    pub fn install(self) -> Result<WorkerPool, BuildError> {
        super::global::install(self.resolve()?)
    }

    pub(crate) fn resolve(self) -> Result<Config, BuildError> {
        let threads = match self.threads {
            Some(n) => check_count("worker threads", n, 1..=MAX_THREADS)?,
            None => default_threads(),
        };
        let queue_capacity = check_count(
            "worker queue_capacity",
            self.queue_capacity,
            1..=MAX_QUEUE_CAPACITY,
        )?;
        let spin = check_spin("KEEL_WORKER_SPIN", self.spin)?;
        if self.cpus.as_ref().is_some_and(Vec::is_empty) {
            return Err(BuildError::invalid_value(
                "worker pin_cpus",
                "[]",
                "at least one CPU index",
            ));
        }
        Ok(Config {
            threads,
            queue_capacity,
            spin,
            cpus: self.cpus,
            thread_name: self.thread_name,
        })
    }
}

/// The resolved, validated settings a worker pool runs with.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) threads: usize,
    pub(crate) queue_capacity: usize,
    pub(crate) spin: Duration,
    pub(crate) cpus: Option<Vec<usize>>,
    pub(crate) thread_name: String,
}

/// A CPU list: indices and inclusive ranges separated by commas (`0-3,6`).
fn parse_cpu_list(name: &str, value: &str) -> Result<Vec<usize>, EnvError> {
    const EXPECTED: &str = "a CPU list such as 2-3,6";
    let err = || EnvError::new(name, value, EXPECTED);
    let mut cpus = Vec::new();
    for part in value.split(',').map(str::trim) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let lo: usize = lo.trim().parse().map_err(|_| err())?;
        let hi: usize = hi.trim().parse().map_err(|_| err())?;
        if lo > hi || hi >= 4096 {
            return Err(err());
        }
        cpus.extend(lo..=hi);
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("X", "2-3,6").unwrap(), vec![2, 3, 6]);
        assert_eq!(parse_cpu_list("X", "0").unwrap(), vec![0]);
        for bad in ["", "a", "3-1", "1,,2", "1-"] {
            assert_eq!(parse_cpu_list("X", bad).unwrap_err().name(), "X", "{bad}");
        }
    }

    #[test]
    fn bad_sizes_name_the_knob() {
        let err = Builder::new().threads(0).resolve().unwrap_err();
        assert_eq!(err.setting(), Some("worker threads"));
        let err = Builder::new().pin_cpus(vec![]).resolve().unwrap_err();
        assert_eq!(err.setting(), Some("worker pin_cpus"));
    }
}
