//! `interval`: ticks come one period apart (the first at once), and each missed-tick
//! policy does what it says after the task fell behind.

mod util;

use std::time::{Duration, Instant};

use keel_runtime::time::{MissedTickBehavior, interval, interval_at};
use util::{keel_test, within};

const PERIOD: Duration = Duration::from_millis(10);

/// Ticks under `behavior`: each tick that came on time (returned before the next was
/// due) is followed by one exactly one period later, whatever the policy (policies only
/// matter once a tick is missed). Returns how many steps were on time.
async fn on_time_ticks(behavior: MissedTickBehavior) -> usize {
    let start = Instant::now();
    let mut every = interval(PERIOD);
    every.set_missed_tick_behavior(behavior);
    assert_eq!(every.period(), PERIOD);
    let mut previous = within("tick 0", every.tick()).await;
    let mut returned = Instant::now();
    assert!(
        previous - start < Duration::from_secs(5),
        "the first tick is immediate"
    );
    let mut on_time = 0;
    for k in 1..8 {
        let tick = within("a tick", every.tick()).await;
        assert!(Instant::now() >= tick, "{behavior:?}: tick {k} fired early");
        // A loaded machine may deschedule the loop past a deadline; then a tick was
        // missed and the policy decides, so only on-time steps are checked.
        if returned < previous + PERIOD {
            assert_eq!(
                tick - previous,
                PERIOD,
                "{behavior:?}: tick {k} is one period on"
            );
            on_time += 1;
        }
        previous = tick;
        returned = Instant::now();
    }
    on_time
}

keel_test! {
    async fn ticks_are_one_period_apart(handle) {
        let mut checked = on_time_ticks(MissedTickBehavior::Burst).await;
        checked += on_time_ticks(MissedTickBehavior::Skip).await;
        // Regression: Delay used to restart from "now" on every tick, drifting by the
        // wake latency each period.
        checked += on_time_ticks(MissedTickBehavior::Delay).await;
        assert!(checked > 0, "no tick came on time; nothing was checked");
    }
}

keel_test! {
    async fn interval_at_starts_at_the_given_instant(handle) {
        let start = Instant::now() + Duration::from_millis(15);
        let mut every = interval_at(start, PERIOD);
        assert_eq!(within("tick 0", every.tick()).await, start);
        assert!(Instant::now() >= start);
    }
}

/// Runs an interval, then blocks the loop for 3.5 periods, and returns the next two
/// scheduled ticks and when the task resumed.
async fn fall_behind(behavior: MissedTickBehavior) -> (Instant, Instant, Instant, Instant) {
    let mut every = interval(PERIOD);
    every.set_missed_tick_behavior(behavior);
    let first = every.tick().await;
    // A slow task: holds the loop past several tick deadlines.
    std::thread::sleep(PERIOD * 7 / 2);
    let resumed = Instant::now();
    let a = within("a late tick", every.tick()).await;
    let b = within("the tick after", every.tick()).await;
    (first, resumed, a, b)
}

keel_test! {
    async fn burst_fires_missed_ticks_back_to_back(handle) {
        let (first, _, a, b) = fall_behind(MissedTickBehavior::Burst).await;
        assert_eq!(a - first, PERIOD);
        assert_eq!(b - first, PERIOD * 2);
    }
}

keel_test! {
    async fn skip_drops_missed_ticks(handle) {
        let (first, resumed, a, b) = fall_behind(MissedTickBehavior::Skip).await;
        // The first late tick still fires (a period on, or later on the grid if even the
        // first tick came late on a loaded machine).
        assert!(a - first >= PERIOD);
        assert_eq!((a - first).as_nanos() % PERIOD.as_nanos(), 0);
        assert!(b > resumed, "the missed ticks are skipped");
        let since = b - first;
        assert_eq!(since.as_nanos() % PERIOD.as_nanos(), 0, "stays on the period grid");
    }
}

keel_test! {
    async fn delay_restarts_the_period_from_the_late_tick(handle) {
        let (first, resumed, a, b) = fall_behind(MissedTickBehavior::Delay).await;
        assert!(a - first >= PERIOD);
        assert!(b >= resumed + PERIOD, "the next tick is a full period after the late one");
    }
}

keel_test! {
    async fn reset_restarts_from_now(handle) {
        let mut every = interval(PERIOD);
        every.tick().await;
        let before = Instant::now();
        every.reset();
        let next = within("the tick after reset", every.tick()).await;
        assert!(next >= before + PERIOD);
    }
}
