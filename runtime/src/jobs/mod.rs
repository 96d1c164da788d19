//! What Keel's two job pools share: the [`JobError`] a job or a submission ends with,
//! the bounded queue's [`QueueSlots`] (with async waiting for room), the
//! [`ShutdownReport`], the job itself in one allocation ([`cell`]: the queue's
//! [`QueuedJob`] and the [`JobResult`] future a handle awaits), running a job body
//! ([`run_and_send`]), and the [`Global`] holder of a process-wide pool.
//!
//! The submit front end both pools put before their queue lives here too: taking a slot
//! or failing with `QueueFull`, waiting for room in order and holding it ([`reserve`]:
//! [`ReserveSlot`], [`HeldSlot`]), and start deadlines ([`deadline`]: [`JobDeadline`]
//! shared by a job and its handle, [`ReserveUntil`] for room by a deadline). A pool adds
//! only its job type and its counters.
//!
//! The pools themselves are [`blocking`](crate::blocking) (blocking syscalls, sized and
//! classed, like libuv's thread pool) and [`workers`](crate::workers) (CPU-bound work on
//! work-stealing threads, like Node's worker_threads / piscina). Both hand a job's result
//! back through its cell, whose waker wakes the awaiting task on its own loop.

pub(crate) mod cell;
pub(crate) mod deadline;
mod error;
mod global;
mod report;
pub(crate) mod reserve;
mod run;
mod settings;
pub(crate) mod slots;

pub(crate) use self::cell::{JobResult, QueuedJob};
pub(crate) use self::deadline::{HandleDeadline, JobDeadline, Late, ReserveUntil};
pub(crate) use self::error::panic_message;
pub use self::error::{ErrorKind, JobError};
pub(crate) use self::global::Global;
pub use self::report::ShutdownReport;
pub(crate) use self::reserve::{Bounded, HeldSlot, ReserveSlot, take_slot};
pub(crate) use self::run::{RanOutcome, run_and_send};
pub use self::settings::MAX_SPIN;
pub(crate) use self::settings::{available_cpus, check_count, check_spin, env_count, env_duration};
pub(crate) use self::slots::QueueSlots;
