//! Compile-time contracts of the public types: what may cross threads. `TcpStream` and
//! `TcpListener` are `!Send` by design (a socket stays on its loop) and are not asserted.

use std::future::Future;

use keel_runtime::metrics::{LoopMetrics, RuntimeMetrics};
use keel_runtime::signal::{Signal, SignalKind};
use keel_runtime::time::{Elapsed, Interval, Sleep, Timeout};
use keel_runtime::{BuildError, Builder, Handle, JoinError, JoinHandle, LoopContext, Runtime};

fn send<T: Send>() {}
fn sync<T: Sync>() {}
fn clone<T: Clone>() {}
fn unpin<T: Unpin>() {}
fn send_future<F: Future + Send>(_: &F) {}

#[test]
fn handles_cross_threads() {
    send::<Handle>();
    sync::<Handle>();
    clone::<Handle>();
    send::<Runtime>();
    sync::<Runtime>();
    send::<LoopContext>();
    sync::<LoopContext>();
    clone::<LoopContext>();
    send::<Builder>();
    clone::<Builder>();
}

#[test]
fn join_handles_cross_threads() {
    send::<JoinHandle<u32>>();
    unpin::<JoinHandle<u32>>();
    send::<JoinError>();
}

#[test]
fn errors_are_thread_safe() {
    send::<BuildError>();
    sync::<BuildError>();
    send::<Elapsed>();
    sync::<Elapsed>();
}

#[test]
fn signals_cross_threads() {
    send::<Signal>();
    sync::<Signal>();
    send::<SignalKind>();
}

#[test]
fn timers_cross_threads() {
    send::<Sleep>();
    send::<Interval>();
    send::<Timeout<Sleep>>();
    send::<RuntimeMetrics>();
    send::<LoopMetrics>();
}

/// The futures `Handle::spawn_on` users write: awaiting timers, timeouts, intervals and
/// join handles keeps a future `Send`.
#[test]
fn common_futures_stay_send() {
    let fut = async {
        keel_runtime::time::sleep(std::time::Duration::from_millis(1)).await;
        let _ = keel_runtime::time::timeout(std::time::Duration::from_secs(1), async { 1 }).await;
        let mut every = keel_runtime::time::interval(std::time::Duration::from_millis(1));
        every.tick().await;
        keel_runtime::spawn(async { 2 }).await.unwrap();
        keel_runtime::task::yield_now().await;
    };
    send_future(&fut);
}
