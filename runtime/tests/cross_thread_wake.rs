//! Work and wakes that cross threads: spawning onto loops from plain threads
//! (`Handle::spawn_on`, `Handle::spawn`, `spawn_local_on`), waking parked tasks from many
//! std threads at once, aborting from another thread, and joining from anywhere.

mod util;

use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::{Arc, Barrier};
use std::thread;

use keel_runtime::current_loop;
use util::{Latch, drop_probe, join, join_thread, on_first_pending, oneshot};

#[test]
fn spawn_on_from_a_plain_thread_runs_on_that_loop() {
    let _watchdog = util::watchdog("spawn_on_from_plain_thread", util::WATCHDOG);
    let rt = util::runtime(2);
    for index in 0..2 {
        let join_handle = rt.handle().spawn_on(index, async { current_loop() });
        assert_eq!(join("spawn_on", join_handle), Some(index));
    }
}

#[test]
fn handle_spawn_reaches_every_loop() {
    let _watchdog = util::watchdog("handle_spawn_reaches_every_loop", util::WATCHDOG);
    let rt = util::runtime(2);
    let handle = rt.handle().clone();
    let loops: BTreeSet<_> = thread::spawn(move || {
        (0..8)
            .map(|_| handle.spawn(async { current_loop().unwrap() }))
            .collect::<Vec<_>>()
    })
    .join()
    .unwrap()
    .into_iter()
    .map(|j| join("Handle::spawn", j))
    .collect();
    assert_eq!(loops, BTreeSet::from([0, 1]));
}

#[test]
fn spawn_local_on_builds_the_future_on_the_loop() {
    let _watchdog = util::watchdog("spawn_local_on_builds_on_loop", util::WATCHDOG);
    let rt = util::runtime(2);
    for index in 0..2 {
        let join_handle = rt.handle().spawn_local_on(index, move || {
            // Runs on the loop thread: `!Send` state is built there.
            let built_on = current_loop();
            let state = Rc::new(built_on);
            async move { (*state, current_loop()) }
        });
        assert_eq!(
            join("spawn_local_on", join_handle),
            (Some(index), Some(index))
        );
    }
}

/// 8 std threads complete oneshots whose receivers are tasks parked on 2 loops. Even
/// rounds wait until every task has stored its waker (so each wake goes through the
/// remote-wake path into a possibly sleeping loop); odd rounds race the sends with the
/// spawns.
#[test]
fn wakes_from_many_threads_reach_tasks_on_two_loops() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 16;
    const ROUNDS: usize = 20;
    let _watchdog = util::watchdog("wakes_from_many_threads", util::WATCHDOG);
    let rt = util::runtime(2);
    for round in 0..ROUNDS {
        let parked = Latch::new(THREADS * PER_THREAD);
        let mut senders = Vec::new();
        let mut joins = Vec::new();
        for t in 0..THREADS {
            let mut mine = Vec::new();
            for k in 0..PER_THREAD {
                let (tx, rx) = oneshot::<usize>();
                let index = (t + k) % 2;
                let rx = on_first_pending(parked.clone(), rx);
                joins.push((
                    t * PER_THREAD + k,
                    index,
                    rt.handle()
                        .spawn_on(index, async move { (rx.await, current_loop()) }),
                ));
                mine.push((t * PER_THREAD + k, tx));
            }
            senders.push(mine);
        }
        if round % 2 == 0 {
            parked.wait("every task to park on its oneshot");
        }
        let start = Arc::new(Barrier::new(THREADS));
        let threads: Vec<_> = senders
            .into_iter()
            .map(|mine| {
                let start = start.clone();
                thread::spawn(move || {
                    start.wait();
                    for (value, tx) in mine {
                        tx.send(value);
                    }
                })
            })
            .collect();
        for t in threads {
            join_thread("a sender", t);
        }
        for (value, index, join_handle) in joins {
            let (got, ran_on) = join("a woken task", join_handle);
            assert_eq!(got, Some(value), "round {round}");
            assert_eq!(ran_on, Some(index), "round {round}");
        }
    }
}

#[test]
fn abort_from_another_thread_cancels_a_parked_task() {
    let _watchdog = util::watchdog("abort_from_another_thread", util::WATCHDOG);
    let rt = util::runtime(2);
    let parked = Latch::new(1);
    let (probe, watch) = drop_probe();
    let (_tx, rx) = oneshot::<()>();
    let latch = parked.clone();
    let join_handle = rt.handle().spawn_on(1, async move {
        let _probe = probe;
        on_first_pending(latch, rx).await
    });
    parked.wait("the task to park");
    let aborter = thread::spawn({
        let join_handle = join_handle;
        move || {
            join_handle.abort();
            join_handle
        }
    });
    let join_handle = join_thread("the aborting thread", aborter);
    let err = util::wait("the aborted task", join_handle).unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(watch.dropped_on(), Some(Some(1)), "dropped on its own loop");
}

#[test]
fn join_handle_of_one_loop_awaited_on_another() {
    let _watchdog = util::watchdog("join_across_loops", util::WATCHDOG);
    let rt = util::runtime(2);
    let handle = rt.handle().clone();
    let (tx, rx) = oneshot::<u32>();
    let joined = rt.handle().spawn_on(0, async move {
        let on_one = handle.spawn_on(1, async move { rx.await.unwrap() * 2 });
        (on_one.await.unwrap(), current_loop())
    });
    tx.send(21);
    assert_eq!(join("the cross-loop join", joined), (42, Some(0)));
}
