//! Signals reach loop tasks: `SIGUSR2` sent to the process with `kill(getpid())` wakes a
//! `signal(SignalKind::User2)` listener awaited inside a loop task, and listeners on two
//! loops both hear it. (Its own test binary: raising a signal is process-wide.)

mod util;

use std::sync::Mutex;

use keel_runtime::current_loop;
use keel_runtime::signal::{SignalKind, signal};
use util::{Latch, join, on_first_pending, within};

/// Tests here raise process-wide signals; one at a time, so each sees only its own.
static SERIAL: Mutex<()> = Mutex::new(());

fn raise_user2() {
    // SAFETY: `getpid` and `kill` have no memory-safety preconditions; the handler for
    // SIGUSR2 was installed by `signal()` before this is called.
    let rc = unsafe { libc::kill(libc::getpid(), libc::SIGUSR2) };
    assert_eq!(rc, 0, "kill failed: {}", std::io::Error::last_os_error());
}

#[test]
fn sigusr2_reaches_a_listener_in_a_loop_task() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let _watchdog = util::watchdog("sigusr2_in_loop_task", util::WATCHDOG);
    let rt = util::runtime(2);
    let listening = Latch::new(1);
    let l = listening.clone();
    let task = rt.handle().spawn_on(1, async move {
        // Subscribing installs the handler; only then may the test raise the signal.
        let mut user2 = signal(SignalKind::User2).unwrap();
        let got = within("SIGUSR2", on_first_pending(l, user2.recv())).await;
        (got, current_loop())
    });
    listening.wait("the task to subscribe and park");
    raise_user2();
    assert_eq!(join("the signal listener", task), (Some(()), Some(1)));
}

#[test]
fn listeners_on_two_loops_both_hear_one_signal() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let _watchdog = util::watchdog("sigusr2_two_loops", util::WATCHDOG);
    let rt = util::runtime(2);
    let listening = Latch::new(2);
    let tasks: Vec<_> = (0..2)
        .map(|index| {
            let l = listening.clone();
            // Created on the test thread and moved to the loop: `Signal` is `Send`.
            let mut user2 = signal(SignalKind::User2).unwrap();
            rt.handle().spawn_on(index, async move {
                within("SIGUSR2", on_first_pending(l, user2.recv())).await
            })
        })
        .collect();
    listening.wait("both tasks to park");
    raise_user2();
    for task in tasks {
        assert_eq!(join("a signal listener", task), Some(()));
    }
}
