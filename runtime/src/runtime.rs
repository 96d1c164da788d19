//! [`Runtime`]: owns the loop threads. Starts them from a resolved config, runs work on
//! them ([`run`](Runtime::run) for the thread-per-core "cluster" model,
//! [`block_on`](Runtime::block_on) for one future), and stops and joins them on drop.

use std::future::Future;
use std::panic::resume_unwind;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread;

use crate::builder::{Builder, Config};
use crate::error::BuildError;
use crate::event_loop::park::WAKER;
use crate::event_loop::{Shared, placement};
use crate::executor::{JoinError, JoinHandle};
use crate::handle::Handle;
use crate::supervisor::{InstanceGuard, LoopSpec, RunEntry, Supervisor};
use crate::tokio_bridge::Bridge;
use crate::{current_loop, park_thread};

/// A set of event loops, one thread each.
///
/// Dropping the runtime shuts it down: every loop drops its tasks and its thread is
/// joined.
///
/// # Examples
///
/// ```
/// use keel_runtime::Runtime;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let rt = Runtime::builder().loops(2).build().unwrap();
/// let started = Arc::new(AtomicUsize::new(0));
/// let s = started.clone();
/// // One instance of the closure per loop, like Node's cluster workers.
/// rt.run(move |ctx| {
///     let s = s.clone();
///     async move {
///         assert!(ctx.index() < ctx.loops());
///         s.fetch_add(1, Ordering::SeqCst);
///     }
/// })
/// .unwrap();
/// assert_eq!(started.load(Ordering::SeqCst), 2);
/// ```
#[derive(Debug)]
pub struct Runtime {
    handle: Handle,
    /// Owns the loop threads.
    supervisor: Arc<Supervisor>,
    /// Helper threads (the watchdog).
    threads: Vec<thread::JoinHandle<()>>,
    /// The tokio bridge (`KEEL_TOKIO_THREADS`); shut down after the loops are joined.
    tokio: Option<Bridge>,
}

/// What [`Runtime::run`]'s closure learns about the loop it runs on.
#[derive(Debug, Clone)]
pub struct LoopContext {
    index: usize,
    handle: Handle,
}

impl LoopContext {
    /// This loop's index, `0..loops()`.
    pub fn index(&self) -> usize {
        self.index
    }

    /// How many loops the runtime runs.
    pub fn loops(&self) -> usize {
        self.handle.loops()
    }

    /// The runtime's handle.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Runtime {
    /// A builder with default settings (no environment variables read but the
    /// process-wide `KEEL_HEAP_LIMIT`, at [`build`](Builder::build)).
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A runtime configured from the environment (`KEEL_LOOPS`, `WEB_CONCURRENCY`) and
    /// the container's limits.
    ///
    /// # Errors
    ///
    /// A bad environment value, named in the error, or an OS failure.
    pub fn new() -> Result<Runtime, BuildError> {
        Builder::from_env()?.build()
    }

    pub(crate) fn start(config: Config) -> Result<Runtime, BuildError> {
        if config.panic_hook {
            crate::panic_hook::install();
        }
        let mut polls = Vec::with_capacity(config.loops);
        let mut shareds = Vec::with_capacity(config.loops);
        for index in 0..config.loops {
            let poll =
                mio::Poll::new().map_err(|e| BuildError::io("create an epoll instance", e))?;
            let waker = mio::Waker::new(poll.registry(), WAKER)
                .map_err(|e| BuildError::io("create a loop waker", e))?;
            shareds.push(Arc::new(Shared::new(index, waker)));
            polls.push(poll);
        }
        let tokio = match config.tokio_threads {
            0 => None,
            threads => Some(Bridge::start(threads, "keel-tokio")?),
        };
        let handle = Handle::new(shareds);
        handle.register();
        let placement = placement::plan(config.loops, config.pin);
        let spec = LoopSpec {
            thread_name: config.thread_name.clone(),
            event_interval: config.event_interval,
            stall_threshold: config.stall_threshold,
            instrument: config.instrument_polls,
            cpus: placement.clone(),
            tokio: tokio.as_ref().map(Bridge::handle),
        };
        let mut runtime = Runtime {
            handle: handle.clone(),
            supervisor: Supervisor::new(config.loop_failure, spec, handle.clone()),
            threads: Vec::new(),
            tokio,
        };
        for (index, poll) in polls.into_iter().enumerate() {
            runtime
                .supervisor
                .start_loop(index, poll)
                .map_err(|e| BuildError::io("start a loop thread", e))?;
        }
        // Joined on drop like the loops: it holds a `Handle` (and so every loop's `Shared`).
        if let Some(watchdog) = crate::watchdog::start(handle, config.watchdog_threshold) {
            runtime.threads.push(watchdog);
        }
        crate::report::startup(&config, placement.is_some());
        Ok(runtime)
    }

    /// The runtime's handle, to spawn and to shut down from anywhere.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs one instance of `make` on every loop — the thread-per-core "cluster" model:
    /// each loop builds its own (possibly `!Send`) state and serves on its own — and
    /// blocks until every instance finishes or the runtime shuts down.
    ///
    /// # Errors
    ///
    /// The first instance that panicked, as a [`JoinError`]. Instances cancelled by
    /// shutdown count as finished. An instance whose loop died outside a task and was
    /// restarted (see [`LoopFailure`](crate::LoopFailure)) is started again on the new
    /// loop by calling `make` again, and `run` waits for that one too.
    ///
    /// # Panics
    ///
    /// Panics when called from a loop thread (it would block that loop).
    pub fn run<M, F>(&self, make: M) -> Result<(), JoinError>
    where
        M: Fn(LoopContext) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + 'static,
    {
        assert_not_on_loop("Runtime::run");
        let loops = self.handle.loops();
        let alive: Arc<[AtomicBool]> = (0..loops).map(|_| AtomicBool::new(false)).collect();
        let spawn = {
            let make = Arc::new(make);
            let handle = self.handle.clone();
            let alive = alive.clone();
            move |index: usize| {
                let make = make.clone();
                let alive = alive.clone();
                let ctx = LoopContext {
                    index,
                    handle: handle.clone(),
                };
                handle.spawn_local_on(index, move || {
                    let guard = InstanceGuard::enter(alive, index);
                    let instance = make(ctx);
                    async move {
                        let _running = guard;
                        instance.await;
                    }
                })
            }
        };
        let run = Arc::new(RunEntry::new(alive, spawn));
        self.supervisor.register(run.clone());
        let mut joins: Vec<JoinHandle<()>> = (0..loops).map(|index| run.spawn(index)).collect();
        let mut first_error = None;
        while !joins.is_empty() {
            for join in joins.drain(..) {
                match park_thread::wait(join) {
                    Err(e) if !e.is_cancelled() && first_error.is_none() => first_error = Some(e),
                    _ => {}
                }
            }
            // Instances restarted on a loop that died meanwhile (see `supervisor.rs`).
            joins = run.next_round();
        }
        self.supervisor.unregister(&run);
        first_error.map_or(Ok(()), Err)
    }

    /// Runs `future` on loop 0 and blocks the calling thread until it finishes.
    ///
    /// # Panics
    ///
    /// Resumes the future's panic; panics when the runtime shuts down first (or loop 0
    /// dies outside a task, cancelling the future), or when called from a loop thread.
    pub fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        assert_not_on_loop("Runtime::block_on");
        match park_thread::wait(self.handle.spawn_on(0, future)) {
            Ok(output) => output,
            Err(e) if e.is_panic() => resume_unwind(e.try_into_panic().expect("is a panic")),
            Err(_) => panic!(
                "the block_on future was cancelled: the runtime shut down, or loop 0 died \
                 outside a task and was restarted"
            ),
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.handle.shutdown();
        for thread in &self.threads {
            thread.thread().unpark(); // the watchdog parks between rounds
        }
        // A runtime dropped on one of its own loops cannot join that loop.
        self.supervisor.join_all();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        // No loop awaits a bridged call any more: stop the bridge's workers.
        drop(self.tokio.take());
    }
}

#[track_caller]
fn assert_not_on_loop(what: &str) {
    if current_loop::with_core(|_| ()).is_some() {
        panic!("{what} would block a Keel loop; await the work instead");
    }
}
