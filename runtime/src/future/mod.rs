//! Small future helpers that Keel's crates share, none tied to I/O:
//!
//! * [`CatchPanic`] (and [`catch_panic_sync`] for a plain call): a panic inside becomes
//!   an `Err` carrying its message, so a server can answer 500 and go on;
//! * [`select`]: wait for whichever of two futures finishes first ([`Either`]);
//! * [`within`]: a timeout whose clock starts only when the future has to wait
//!   ([`Within`]), for steps that mostly finish on their first poll.

mod catch_panic;
mod select;
mod within;

pub use self::catch_panic::{CatchPanic, catch_panic_sync};
pub use self::select::{Either, select};
pub use self::within::{Within, within};
