//! [`eventually`]: polls a condition from a plain thread until it holds or a deadline
//! passes, for state a test can observe but not await (a pool's busy count, a server
//! that frees a connection slot, a log line written by another thread).

use std::thread;
use std::time::{Duration, Instant};

/// The first pause between polls; it doubles up to [`MAX_PAUSE`], so a condition that
/// holds soon is seen soon and one that takes seconds is not polled thousands of times.
const FIRST_PAUSE: Duration = Duration::from_millis(1);

/// The longest pause between polls.
const MAX_PAUSE: Duration = Duration::from_millis(20);

/// What a condition polled by [`eventually`] returns: `bool` (holds or not) or
/// `Option<T>` (`Some` carries the value the test wanted).
pub trait Condition {
    /// What [`eventually`] returns once the condition holds.
    type Output;

    /// `Some` once the condition holds.
    fn holds(self) -> Option<Self::Output>;
}

impl Condition for bool {
    type Output = ();

    fn holds(self) -> Option<()> {
        self.then_some(())
    }
}

impl<T> Condition for Option<T> {
    type Output = T;

    fn holds(self) -> Option<T> {
        self
    }
}

/// Polls `condition` until it holds, and returns what it gave (`()` for a `bool`); `None`
/// once `limit` has passed without it holding. The test names what it waited for:
/// `eventually(WAIT, || pool.metrics().busy == 1).expect("the blocker to start")`.
pub fn eventually<C: Condition>(
    limit: Duration,
    mut condition: impl FnMut() -> C,
) -> Option<C::Output> {
    let deadline = Instant::now() + limit;
    let mut pause = FIRST_PAUSE;
    loop {
        if let Some(out) = condition().holds() {
            return Some(out);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(MAX_PAUSE);
    }
}
