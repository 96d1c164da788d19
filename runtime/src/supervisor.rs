//! Loop supervision (Node's cluster restarts): starts each loop thread, notices a loop
//! that dies outside a task, and — per the [`LoopFailure`] policy — restarts it or exits
//! the process with status 1.
//!
//! What can kill a loop, what a restart does and what the application must do about
//! its loop-local work is documented on [`LoopFailure`]. Mechanics: the loop thread's
//! body runs under `catch_unwind`; when it unwinds, the dying thread calls
//! [`Supervisor::loop_died`], which drops the dead loop's tasks with the loop still
//! entered (so sockets and timers deregister normally), takes its epoll instance back and
//! starts a new thread on it. The loop's `Shared` — inject queue, `mio::Waker`, published
//! metrics — outlives the core, so handles and wakers held elsewhere stay valid and work
//! injected meanwhile runs on the new loop. `Runtime::run` calls register a [`RunEntry`]
//! so their running instances are started again.
//!
//! More than [`RESTART_BUDGET`] restarts within [`RESTART_WINDOW`] means the failure is
//! not transient: the supervisor then exits with status 1 as under
//! [`LoopFailure::Exit`].

use std::any::Any;
use std::collections::VecDeque;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::current_loop;
use crate::error::BuildError;
use crate::event_loop::park::IoDriver;
use crate::event_loop::{self, Core, placement};
use crate::executor::JoinHandle;
use crate::handle::Handle;
use crate::panic_hook::payload_message;

/// At most this many loop restarts within [`RESTART_WINDOW`]; one more exits the process
/// with status 1.
pub const RESTART_BUDGET: usize = 10;

/// The window of [`RESTART_BUDGET`].
pub const RESTART_WINDOW: Duration = Duration::from_secs(60);

/// What the runtime does when a loop thread dies outside a task (a panic in the loop
/// machinery, a waker, a destructor run by the loop). Set with
/// [`Builder::loop_failure`](crate::Builder::loop_failure) or `KEEL_LOOP_FAILURE`.
///
/// A panic inside a task never kills its loop: it is caught around the poll, logged by
/// the [`panic`](mod@crate::panic) hook and reported through the task's
/// [`JoinHandle`](crate::JoinHandle). What runs outside any poll can kill it: a custom
/// `Waker` that panics when a timer or socket wakes it, the destructor of a detached
/// task's output, a bug in the loop machinery.
///
/// # What a restart does
///
/// Every task of the dead loop is dropped; its join handle reports cancellation (the
/// requests it was serving are lost). A fresh loop starts on a new thread with the same
/// index, thread name and CPU, and the loop's
/// [`restarts`](crate::metrics::LoopMetrics::restarts) counter goes up; its other
/// counters start again from zero. Handles, wakers and work already sent to that loop
/// stay valid: [`Handle::spawn_on`](crate::Handle::spawn_on) with that index works again.
///
/// Loop-local work is the application's: an instance of
/// [`Runtime::run`](crate::Runtime::run) that was still running on the dead loop is
/// started again on the new loop (the `run` factory is called again), so a server started
/// through `run` — keel-http's `Server::serve` — binds a new `SO_REUSEPORT` listener
/// there and serves again. Work started any other way
/// ([`Handle::spawn_local_on`](crate::Handle::spawn_local_on), a listener bound by hand)
/// is gone with the loop: start it again yourself, e.g. when
/// [`restarts`](crate::metrics::LoopMetrics::restarts) changes.
///
/// # Default: [`Restart`](LoopFailure::Restart)
///
/// Thread-per-core confines the damage to one loop: its tasks are dropped (their
/// destructors run, so sockets close and pooled resources go back), while the other
/// loops keep serving and finish their in-flight requests. Exiting would cut every
/// in-flight request of every loop and leave the pod unready for the orchestrator's
/// restart delay, for a failure whose state is already gone. A failure that repeats is
/// not hidden: past [`RESTART_BUDGET`] restarts in [`RESTART_WINDOW`] the process exits
/// with status 1 anyway, and every restart is logged and counted in
/// [`LoopMetrics::restarts`](crate::metrics::LoopMetrics::restarts). Choose
/// [`Exit`](LoopFailure::Exit) when any panic should replace the whole process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoopFailure {
    /// Drop the dead loop's tasks and start a fresh loop with the same index.
    #[default]
    Restart,
    /// Log and exit the process with status 1, so an orchestrator restarts it.
    Exit,
}

impl LoopFailure {
    /// Parses `restart` or `exit` (the values of `KEEL_LOOP_FAILURE`); a bad value is an
    /// error naming `name`.
    pub(crate) fn parse(name: &str, value: &str) -> Result<LoopFailure, BuildError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "restart" => Ok(LoopFailure::Restart),
            "exit" => Ok(LoopFailure::Exit),
            _ => Err(BuildError::invalid_value(
                name,
                value,
                "`restart` or `exit`",
            )),
        }
    }
}

/// What a loop thread needs to start, or to start again.
#[derive(Debug, Clone)]
pub(crate) struct LoopSpec {
    pub(crate) thread_name: String,
    pub(crate) event_interval: u32,
    pub(crate) stall_threshold: Duration,
    /// Whether polls are timed (`Builder::instrument_polls`).
    pub(crate) instrument: bool,
    /// The CPU of each loop, when pinned.
    pub(crate) cpus: Option<Vec<core_affinity::CoreId>>,
    /// The tokio bridge's handle, entered by every loop thread for its whole life.
    pub(crate) tokio: Option<tokio::runtime::Handle>,
}

/// Owns the loop threads of one runtime and decides what happens when one dies.
#[derive(Debug)]
pub(crate) struct Supervisor {
    policy: LoopFailure,
    spec: LoopSpec,
    handle: Handle,
    /// The current thread of each loop; a restart replaces its entry.
    threads: Mutex<Vec<Option<thread::JoinHandle<()>>>>,
    /// When the recent restarts happened, for the budget.
    recent: Mutex<VecDeque<Instant>>,
    /// The `Runtime::run` calls in progress, whose instances a restart runs again.
    runs: Mutex<Vec<Arc<RunEntry>>>,
}

impl Supervisor {
    pub(crate) fn new(policy: LoopFailure, spec: LoopSpec, handle: Handle) -> Arc<Supervisor> {
        let loops = handle.loops();
        Arc::new(Supervisor {
            policy,
            spec,
            handle,
            threads: Mutex::new((0..loops).map(|_| None).collect()),
            recent: Mutex::new(VecDeque::new()),
            runs: Mutex::new(Vec::new()),
        })
    }

    /// Starts loop `index`'s thread on `poll` (the epoll instance its `Shared`'s waker is
    /// registered on).
    pub(crate) fn start_loop(self: &Arc<Self>, index: usize, poll: mio::Poll) -> io::Result<()> {
        let me = self.clone();
        let thread = thread::Builder::new()
            .name(format!("{}-{index}", self.spec.thread_name))
            .spawn(move || me.loop_thread(index, poll))?;
        // Replacing the dying thread's own handle detaches it; it is about to exit.
        self.threads.lock()[index] = Some(thread);
        Ok(())
    }

    /// Joins every loop thread, including successors started meanwhile (after
    /// shutdown). Skips the calling thread when it is one of the loops.
    pub(crate) fn join_all(&self) {
        let me = thread::current().id();
        let loops = self.threads.lock().len();
        for index in 0..loops {
            // A dying loop stores its successor before it exits, so after joining it the
            // next take finds the successor.
            while let Some(thread) = self.threads.lock()[index].take() {
                if thread.thread().id() == me {
                    break;
                }
                let _ = thread.join();
            }
        }
    }

    /// Registers a `Runtime::run` whose running instances a restart runs again.
    pub(crate) fn register(&self, run: Arc<RunEntry>) {
        self.runs.lock().push(run);
    }

    /// Forgets a finished `Runtime::run`.
    pub(crate) fn unregister(&self, run: &Arc<RunEntry>) {
        self.runs.lock().retain(|r| !Arc::ptr_eq(r, run));
    }

    /// The body of a loop thread.
    fn loop_thread(self: Arc<Self>, index: usize, poll: mio::Poll) {
        // The bridge's context (its reactor, timers and `tokio::spawn` target), current
        // on this thread until it exits; tokio's scheduler never runs here.
        let _tokio = self.spec.tokio.as_ref().map(tokio::runtime::Handle::enter);
        let shared = self.handle.loop_shared(index).clone();
        if let Some(cpus) = &self.spec.cpus {
            placement::pin_current(cpus[index], index);
        }
        let io = match IoDriver::new(poll) {
            Ok(io) => io,
            Err(e) => {
                tracing::error!(loop_index = index, error = %e, "loop could not start");
                self.handle.shutdown();
                shared.close();
                return;
            }
        };
        let core = Rc::new(Core::new(
            shared,
            self.handle.clone(),
            io,
            self.spec.event_interval,
            self.spec.stall_threshold,
            self.spec.instrument,
        ));
        let ran = catch_unwind(AssertUnwindSafe(|| {
            current_loop::enter(core.clone(), || event_loop::run(&core));
        }));
        match ran {
            Ok(()) => current_loop::enter(core.clone(), || {
                core.drop_all_tasks();
                core.shared.close();
            }),
            Err(payload) => self.loop_died(index, core, payload.as_ref()),
        }
    }

    /// Loop `index` unwound out of its turn; runs on the dying thread.
    fn loop_died(self: &Arc<Self>, index: usize, core: Rc<Core>, payload: &(dyn Any + Send)) {
        let panic_message = payload_message(payload);
        let shared = core.shared.clone();
        if self.handle.is_shutdown() {
            tracing::error!(
                loop_index = index,
                panic_message,
                "loop died outside a task during shutdown"
            );
            let _ = salvage(core);
            shared.close();
            return;
        }
        if let Err(reason) = self.may_restart() {
            tracing::error!(
                loop_index = index,
                panic_message,
                reason,
                "loop died outside a task; exiting with status 1"
            );
            std::process::exit(1);
        }
        tracing::error!(
            loop_index = index,
            panic_message,
            "loop died outside a task; its tasks are cancelled and it restarts"
        );
        // Before the tasks are dropped: which runs had an instance alive here.
        let runs: Vec<Arc<RunEntry>> = self
            .runs
            .lock()
            .iter()
            .filter(|run| run.begin_restart(index))
            .cloned()
            .collect();
        let Some(poll) = salvage(core) else {
            tracing::error!(
                loop_index = index,
                "the dead loop's state could not be released; exiting with status 1"
            );
            std::process::exit(1);
        };
        shared.restarts.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.start_loop(index, poll) {
            tracing::error!(loop_index = index, error = %e, "could not restart the loop; exiting with status 1");
            std::process::exit(1);
        }
        for run in runs {
            run.respawn(index);
        }
    }

    /// Whether the policy and the budget allow one more restart; the reason otherwise.
    fn may_restart(&self) -> Result<(), &'static str> {
        if self.policy == LoopFailure::Exit {
            return Err("the loop failure policy is exit");
        }
        let now = Instant::now();
        let mut recent = self.recent.lock();
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > RESTART_WINDOW)
        {
            recent.pop_front();
        }
        if recent.len() >= RESTART_BUDGET {
            return Err("too many loop restarts within a minute");
        }
        recent.push_back(now);
        Ok(())
    }
}

/// Drops every task of a dead loop (with the loop entered, so their sockets and timers
/// deregister) and takes its epoll instance back; `None` when that failed (a task's
/// destructor panicked in a way the task cell could not catch, or something still holds
/// the core).
fn salvage(core: Rc<Core>) -> Option<mio::Poll> {
    let dropped = catch_unwind(AssertUnwindSafe(|| {
        current_loop::enter(core.clone(), || core.abandon_tasks());
    }));
    if dropped.is_err() {
        return None;
    }
    Rc::try_unwrap(core).ok().map(Core::into_poll)
}

/// One `Runtime::run` call as the supervisor sees it: how to start its instance on a
/// loop again, which loops have a running instance, and the replacements started for
/// `run` to wait on.
pub(crate) struct RunEntry {
    spawn: Box<dyn Fn(usize) -> JoinHandle<()> + Send + Sync>,
    alive: Arc<[AtomicBool]>,
    state: Mutex<RunState>,
    changed: Condvar,
}

#[derive(Default)]
struct RunState {
    /// Restarts decided whose replacement is not started yet.
    pending: usize,
    replacements: Vec<JoinHandle<()>>,
    /// `run` returned: no more replacements.
    closed: bool,
}

impl RunEntry {
    /// `spawn(index)` starts an instance on loop `index`; the instance must hold an
    /// [`InstanceGuard`] on `alive` while it runs.
    pub(crate) fn new(
        alive: Arc<[AtomicBool]>,
        spawn: impl Fn(usize) -> JoinHandle<()> + Send + Sync + 'static,
    ) -> RunEntry {
        RunEntry {
            spawn: Box::new(spawn),
            alive,
            state: Mutex::new(RunState::default()),
            changed: Condvar::new(),
        }
    }

    /// Starts the instance of loop `index`.
    pub(crate) fn spawn(&self, index: usize) -> JoinHandle<()> {
        (self.spawn)(index)
    }

    /// Loop `index` died: true (and one restart pending) when this run had an instance
    /// running there and is still waiting.
    fn begin_restart(&self, index: usize) -> bool {
        let mut state = self.state.lock();
        if state.closed || !self.alive[index].load(Ordering::Relaxed) {
            return false;
        }
        state.pending += 1;
        true
    }

    /// Loop `index` runs again: starts its instance there.
    fn respawn(&self, index: usize) {
        let join = self.spawn(index);
        let mut state = self.state.lock();
        state.replacements.push(join);
        state.pending -= 1;
        self.changed.notify_all();
    }

    /// Called by `run` once every instance it knows of finished: waits for restarts in
    /// progress and returns the instances they started; empty means the run is over (it
    /// is then closed to further restarts).
    pub(crate) fn next_round(&self) -> Vec<JoinHandle<()>> {
        let mut state = self.state.lock();
        while state.pending > 0 {
            self.changed.wait(&mut state);
        }
        let next = std::mem::take(&mut state.replacements);
        if next.is_empty() {
            state.closed = true;
        }
        next
    }
}

impl std::fmt::Debug for RunEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunEntry").finish_non_exhaustive()
    }
}

/// Marks a `Runtime::run` instance as running on its loop, from the moment its factory
/// is called until the instance's future is dropped (finished or cancelled).
pub(crate) struct InstanceGuard {
    alive: Arc<[AtomicBool]>,
    index: usize,
}

impl InstanceGuard {
    pub(crate) fn enter(alive: Arc<[AtomicBool]>, index: usize) -> InstanceGuard {
        alive[index].store(true, Ordering::Relaxed);
        InstanceGuard { alive, index }
    }
}

impl Drop for InstanceGuard {
    fn drop(&mut self) {
        self.alive[self.index].store(false, Ordering::Relaxed);
    }
}
