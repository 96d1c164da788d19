//! Operating-system bindings, and the list of every module in `keel-runtime` that holds
//! `unsafe` code, with the reason it is there.
//!
//! # Contract
//!
//! Each file here wraps one OS facility behind safe `pub(crate)` functions that return
//! `io::Result` and invent no error kinds of their own. Every `unsafe` block carries a
//! `// SAFETY:` comment and every `unsafe fn` a `# Safety` section (both lint-enforced).
//! Callers outside `sys/` never see a raw pointer or an unchecked file descriptor.
//!
//! - [`signal`]: the process-wide self-pipe, `sigaction` installation and the
//!   async-signal-safe handler behind `crate::signal`.
//! - [`clock`]: the coarse monotonic clock the loop reads around every task poll.
//! - [`membarrier`]: asymmetric fences, so the loop's side of the watchdog handshake
//!   costs a compiler fence instead of a locked instruction per poll.
//! - [`process`]: facts about the process (page size, clock tick, CPU time, fd limit,
//!   host name) for the heap statistics, `crate::process` and the log lines.
//! - [`socket`]: `recv(2)` into memory that need not be initialised (a `Vec`'s spare
//!   capacity, tokio's `ReadBuf`), for `TcpStream`'s buffered reads.
//!
//! # `unsafe` outside `sys/`
//!
//! Not OS bindings, so they do not belong here; each is as small as the job allows.
//! `grep -rn unsafe runtime/src` finds these files and `sys/` only.
//!
//! - `executor/task/` (`raw.rs`, `cell.rs`, `header.rs`, `join.rs`): the task vtable,
//!   one allocation per task erased behind a header, as in async-task.
//! - `executor/mod.rs`, `event_loop/core.rs` and `metrics/watch.rs`: the callers of the
//!   vtable's `unsafe fn`s (install, poll, cancel, fail, describe). Their contracts are
//!   about who owns the task (its loop, on its thread) or about the watchdog handshake,
//!   which only these callers can uphold.
//! - `heap/tracked.rs`: the `GlobalAlloc` forwarding impl, which cannot live anywhere
//!   else.
//! - `current_loop.rs`: the current loop as a raw thread-local pointer beside the
//!   `Rc`, so the local wake path is one load with no borrow check.
//! - `task_context.rs`: the current request context as a raw thread-local pointer,
//!   borrowed without touching its reference count, so making it current around each
//!   poll costs no atomic.
//! - `ascii.rs`: ASCII bytes as `&str` without `from_utf8`'s second pass over them
//!   (the request path and id, on every request).
//! - `jobs/cell.rs`: a job's body and output in `UnsafeCell`s, handed between the
//!   submitting thread and the pool thread by the jobs protocol.

pub(crate) mod clock;
pub(crate) mod membarrier;
pub(crate) mod process;
pub(crate) mod signal;
pub(crate) mod socket;
