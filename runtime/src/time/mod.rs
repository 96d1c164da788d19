//! Timers: [`sleep`], [`sleep_until`], [`timeout`], [`interval`]; and [`CoarseInstant`],
//! a cheap clock reading for durations that may be a few milliseconds off.
//!
//! Each loop keeps its timers in a hierarchical wheel (`wheel`, millisecond resolution)
//! whose next deadline is the loop's `epoll_wait` timeout; there is no timer thread. A
//! timer registers with the loop that first polls it; dropping it removes it from the
//! wheel in O(1). A timer never fires early: deadlines round up to the next millisecond.

mod coarse;
pub(crate) mod driver;
mod error;
mod interval;
mod sleep;
mod timeout;
pub(crate) mod wheel;

pub use self::coarse::CoarseInstant;
pub use self::error::Elapsed;
pub use self::interval::{Interval, MissedTickBehavior, interval, interval_at};
pub use self::sleep::{Sleep, sleep, sleep_until};
pub use self::timeout::{Timeout, timeout, timeout_at};
pub use std::time::{Duration, Instant};
