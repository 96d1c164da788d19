//! Operating-system bindings: the only place in `keel-runtime` (outside the task vtable) that
//! holds `unsafe` code.
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
//! - [`process`]: facts about the process (page size, clock tick, CPU time, fd limit)
//!   for the heap statistics and `crate::process`.
//!
//! One more file holds `unsafe` outside `sys/`: `heap/tracked.rs`, the `GlobalAlloc`
//! forwarding impl, which cannot live anywhere else.

pub(crate) mod clock;
pub(crate) mod membarrier;
pub(crate) mod process;
pub(crate) mod signal;
