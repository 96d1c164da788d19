//! [`Builder`]: the blocking pool's knobs — size, floor, keep-alive, spin, queue bound,
//! class caps, thread names — with their defaults, environment variables and validation.

use std::time::Duration;

use super::{BlockingPool, Class};
use crate::BuildError;
pub use crate::jobs::MAX_SPIN;
use crate::jobs::{check_count, check_spin, env_count, env_duration};

/// Threads the blocking pool may run, by default (libuv's `UV_THREADPOOL_SIZE` is 4;
/// Keel's jobs include slow network file systems and DNS, so it allows more).
pub const DEFAULT_THREADS: usize = 16;

/// The most threads a blocking pool may have.
pub const MAX_THREADS: usize = 1024;

/// How long an idle thread waits for a job before it exits, by default.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(10);

/// How long a thread that runs out of jobs keeps looking for the next one before it
/// sleeps, by default. See [`Builder::spin`].
pub const DEFAULT_SPIN: Duration = Duration::from_micros(50);

/// Jobs that may wait in the queue, by default; one more is refused with `QueueFull`.
pub const DEFAULT_QUEUE_CAPACITY: usize = 10_000;

/// The largest queue bound accepted.
pub const MAX_QUEUE_CAPACITY: usize = 1 << 24;

/// Builds a [`BlockingPool`]: a private one with [`build`](Builder::build), or the
/// process-wide one behind [`blocking::spawn`](crate::blocking::spawn) with
/// [`install`](Builder::install).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use keel_runtime::blocking::{Builder, Class};
///
/// let pool = Builder::new()
///     .threads(4)
///     .keep_alive(Duration::from_secs(1))
///     .queue_capacity(100)
///     .class_cap(Class::Dns, 1)
///     .build()
///     .unwrap();
/// assert_eq!(pool.max_threads(), 4);
/// assert_eq!(pool.class_cap(Class::Dns), 1);
/// # pool.shutdown(Duration::from_secs(1));
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    threads: usize,
    min_threads: usize,
    keep_alive: Duration,
    spin: Duration,
    queue_capacity: usize,
    caps: [Option<usize>; Class::COUNT],
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
            threads: DEFAULT_THREADS,
            min_threads: 0,
            keep_alive: DEFAULT_KEEP_ALIVE,
            spin: DEFAULT_SPIN,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            caps: [None; Class::COUNT],
            thread_name: "keel-blocking".to_owned(),
        }
    }

    /// Defaults overridden by the environment:
    ///
    /// | variable | knob |
    /// |---|---|
    /// | `KEEL_BLOCKING_THREADS` | [`threads`](Builder::threads) |
    /// | `KEEL_BLOCKING_MIN_THREADS` | [`min_threads`](Builder::min_threads) |
    /// | `KEEL_BLOCKING_KEEP_ALIVE` (`10s`, `500ms`) | [`keep_alive`](Builder::keep_alive) |
    /// | `KEEL_BLOCKING_SPIN` (`50us`, `0` for none) | [`spin`](Builder::spin) |
    /// | `KEEL_BLOCKING_QUEUE` | [`queue_capacity`](Builder::queue_capacity) |
    /// | `KEEL_BLOCKING_FS_THREADS`, `..._DNS_THREADS`, `..._USER_THREADS` | [`class_cap`](Builder::class_cap) |
    ///
    /// # Errors
    ///
    /// A variable that is set but does not parse, or is out of range, is an error naming
    /// it.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = keel_runtime::blocking::Builder::from_env().unwrap();
    /// # let _ = builder;
    /// ```
    pub fn from_env() -> Result<Builder, BuildError> {
        let mut b = Builder::new();
        if let Some(n) = env_count("KEEL_BLOCKING_THREADS", 1..=MAX_THREADS)? {
            b.threads = n;
        }
        if let Some(n) = env_count("KEEL_BLOCKING_MIN_THREADS", 0..=MAX_THREADS)? {
            b.min_threads = n;
        }
        if let Some(d) = env_duration("KEEL_BLOCKING_KEEP_ALIVE")? {
            b.keep_alive = d;
        }
        if let Some(d) = env_duration("KEEL_BLOCKING_SPIN")? {
            b.spin = d;
        }
        if let Some(n) = env_count("KEEL_BLOCKING_QUEUE", 1..=MAX_QUEUE_CAPACITY)? {
            b.queue_capacity = n;
        }
        for class in Class::ALL {
            if let Some(n) = env_count(class.env_var(), 1..=MAX_THREADS)? {
                b.caps[class.index()] = Some(n);
            }
        }
        Ok(b)
    }

    /// The most threads the pool runs at once: a hard cap. Threads start lazily, one per
    /// job that finds no idle thread, up to this size.
    ///
    /// # Default
    ///
    /// [`DEFAULT_THREADS`] (16); `KEEL_BLOCKING_THREADS` with [`from_env`](Builder::from_env).
    pub fn threads(mut self, threads: usize) -> Builder {
        self.threads = threads;
        self
    }

    /// The floor idle threads shrink to: threads above it exit after
    /// [`keep_alive`](Builder::keep_alive) without a job.
    ///
    /// # Default
    ///
    /// 0.
    pub fn min_threads(mut self, threads: usize) -> Builder {
        self.min_threads = threads;
        self
    }

    /// How long an idle thread above the floor waits for a job before it exits.
    ///
    /// # Default
    ///
    /// [`DEFAULT_KEEP_ALIVE`] (10 s).
    pub fn keep_alive(mut self, keep_alive: Duration) -> Builder {
        self.keep_alive = keep_alive;
        self
    }

    /// How long a thread that has just finished its job keeps looking for the next one
    /// before it sleeps. One thread at a time does this; while it looks, a submit hands
    /// it the job without a wake-up call (a futex wake and the thread's trip through the
    /// scheduler, most of a round trip's latency), at the price of up to this much CPU
    /// each time the pool runs dry. Go's scheduler and rayon spin the same way; tokio's
    /// blocking pool and libuv's do not. `Duration::ZERO` turns it off.
    ///
    /// # Default
    ///
    /// [`DEFAULT_SPIN`] (50 µs); at most [`MAX_SPIN`].
    pub fn spin(mut self, spin: Duration) -> Builder {
        self.spin = spin;
        self
    }

    /// How many jobs may wait in the queue (not counting running ones). When it is full,
    /// `spawn` fails at once with [`JobError::is_queue_full`](super::JobError::is_queue_full);
    /// `reserve` waits for room instead.
    ///
    /// # Default
    ///
    /// [`DEFAULT_QUEUE_CAPACITY`] (10,000).
    pub fn queue_capacity(mut self, jobs: usize) -> Builder {
        self.queue_capacity = jobs;
        self
    }

    /// The most threads that may run jobs of `class` at once.
    ///
    /// # Default
    ///
    /// [`Class::default_cap`]: half the pool for [`Class::Dns`], the whole pool for the
    /// others.
    pub fn class_cap(mut self, class: Class, threads: usize) -> Builder {
        self.caps[class.index()] = Some(threads);
        self
    }

    /// The prefix of thread names; threads are named `{prefix}-{n}`.
    ///
    /// # Default
    ///
    /// `keel-blocking`.
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Builder {
        self.thread_name = prefix.into();
        self
    }

    /// Creates a private pool. No thread starts until the first job.
    ///
    /// # Errors
    ///
    /// A size of 0 or above [`MAX_THREADS`], a floor above the size, a queue bound of 0,
    /// or a class cap of 0 or above the size; the error names the knob.
    pub fn build(self) -> Result<BlockingPool, BuildError> {
        Ok(BlockingPool::new(self.resolve()?))
    }

    /// Makes this the process-wide pool behind [`blocking::spawn`](crate::blocking::spawn),
    /// [`fs`](crate::fs) and [`lookup_host`](crate::net::lookup_host), and returns a
    /// handle to it. Call it before the first use of any of those.
    ///
    /// # Errors
    ///
    /// The errors of [`build`](Builder::build), or the global pool already running.
    pub fn install(self) -> Result<BlockingPool, BuildError> {
        super::install(self.resolve()?)
    }

    pub(crate) fn resolve(self) -> Result<Config, BuildError> {
        let threads = check_count("blocking threads", self.threads, 1..=MAX_THREADS)?;
        let min_threads = check_count("blocking min_threads", self.min_threads, 0..=threads)?;
        let queue_capacity = check_count(
            "blocking queue_capacity",
            self.queue_capacity,
            1..=MAX_QUEUE_CAPACITY,
        )?;
        let spin = check_spin("KEEL_BLOCKING_SPIN", self.spin)?;
        let mut caps = [0; Class::COUNT];
        for class in Class::ALL {
            caps[class.index()] = match self.caps[class.index()] {
                Some(n) => check_count(class.env_var(), n, 1..=threads)?,
                None => class.default_cap(threads),
            };
        }
        Ok(Config {
            threads,
            min_threads,
            keep_alive: self.keep_alive,
            spin,
            queue_capacity,
            caps,
            thread_name: self.thread_name,
        })
    }
}

/// The resolved, validated settings a blocking pool runs with.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) threads: usize,
    pub(crate) min_threads: usize,
    pub(crate) keep_alive: Duration,
    pub(crate) spin: Duration,
    pub(crate) queue_capacity: usize,
    pub(crate) caps: [usize; Class::COUNT],
    pub(crate) thread_name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_name_the_knob() {
        let err = Builder::new().threads(0).resolve().unwrap_err();
        assert_eq!(err.setting(), Some("blocking threads"));
        let err = Builder::new()
            .threads(2)
            .class_cap(Class::Dns, 3)
            .resolve()
            .unwrap_err();
        assert_eq!(err.setting(), Some("KEEL_BLOCKING_DNS_THREADS"));
        let err = Builder::new().queue_capacity(0).resolve().unwrap_err();
        assert!(err.to_string().contains("queue_capacity"), "{err}");
        let err = Builder::new()
            .spin(Duration::from_secs(1))
            .resolve()
            .unwrap_err();
        assert_eq!(err.setting(), Some("KEEL_BLOCKING_SPIN"));
    }

    #[test]
    fn default_caps() {
        let config = Builder::new().threads(6).resolve().unwrap();
        assert_eq!(config.caps, [6, 3, 6]);
    }
}
