//! Waking a task, on Keel and on tokio's `current_thread` runtime.
//!
//! * `wake_local`: two tasks on one loop play ping-pong through a pair of one-slot
//!   signals; one iteration is one round trip (two wakes, two task polls).
//! * `wake_cross_thread`: a plain thread wakes a task on the loop; one iteration is the
//!   task asking (an atomic store the thread spins on) and the thread waking it back, so
//!   it times the remote wake path: inject queue, the loop's wake-up from `epoll_wait`.
//!
//! Both runtimes use the same hand-written signals below (no runtime-specific sync
//! types), so the only difference measured is each runtime's waker and scheduler.

mod common;

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use keel::runtime;

const LOCAL: &str = "wake_local";
const CROSS: &str = "wake_cross_thread";

/// A single-thread signal: `notify` sets it and wakes the waiter; `wait` consumes it.
#[derive(Default)]
struct LocalSignal {
    set: Cell<bool>,
    waiter: RefCell<Option<Waker>>,
}

impl LocalSignal {
    fn notify(&self) {
        self.set.set(true);
        let waiter = self.waiter.borrow_mut().take();
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }

    async fn wait(&self) {
        poll_fn(|cx| {
            if self.set.replace(false) {
                Poll::Ready(())
            } else {
                *self.waiter.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// `LocalSignal` for a notifier on another thread. The waiter stores its waker, then
/// checks the flag again, so a notify racing with the store is never lost.
#[derive(Default)]
struct RemoteSignal {
    set: AtomicBool,
    waiter: Mutex<Option<Waker>>,
}

impl RemoteSignal {
    fn notify(&self) {
        self.set.store(true, Ordering::SeqCst);
        let waiter = self.waiter.lock().expect("poisoned").take();
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }

    async fn wait(&self) {
        poll_fn(|cx| {
            if self.set.swap(false, Ordering::SeqCst) {
                return Poll::Ready(());
            }
            *self.waiter.lock().expect("poisoned") = Some(cx.waker().clone());
            if self.set.swap(false, Ordering::SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// The two halves of the local ping-pong. Returns the driver's (timed) half and the
/// responder's half, which yields how many pings it answered.
fn local_pair(iters: u64) -> (impl Future<Output = Duration>, impl Future<Output = u64>) {
    let ping = Rc::new(LocalSignal::default());
    let pong = Rc::new(LocalSignal::default());
    let (ping2, pong2) = (ping.clone(), pong.clone());
    let responder = async move {
        for _ in 0..iters {
            ping2.wait().await;
            pong2.notify();
        }
        iters
    };
    let driver = async move {
        let start = Instant::now();
        for _ in 0..iters {
            ping.notify();
            pong.wait().await;
        }
        start.elapsed()
    };
    (driver, responder)
}

fn keel_local(iters: u64) -> Duration {
    runtime::block_on(async move {
        let (driver, responder) = local_pair(iters);
        let responder = runtime::spawn_local(responder);
        let elapsed = runtime::spawn_local(driver).await.expect("driver failed");
        assert_eq!(responder.await.expect("responder failed"), iters);
        elapsed
    })
}

fn tokio_local(rt: &tokio::runtime::Runtime, iters: u64) -> Duration {
    tokio::task::LocalSet::new().block_on(rt, async move {
        let (driver, responder) = local_pair(iters);
        let responder = tokio::task::spawn_local(responder);
        let elapsed = tokio::task::spawn_local(driver)
            .await
            .expect("driver failed");
        assert_eq!(responder.await.expect("responder failed"), iters);
        elapsed
    })
}

/// The thread side of the cross-thread bench: for each of `iters` requests (the
/// `asked` counter reaching `n`), wake the loop's task through `signal`.
fn start_waker_thread(
    iters: u64,
    asked: Arc<AtomicU64>,
    signal: Arc<RemoteSignal>,
) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        for n in 1..=iters {
            let mut spins = 0u32;
            while asked.load(Ordering::Acquire) < n {
                spins += 1;
                if spins < 1_000 {
                    std::hint::spin_loop();
                } else {
                    thread::yield_now();
                }
            }
            signal.notify();
        }
        iters
    })
}

/// The loop side of the cross-thread bench: ask, then wait to be woken, `iters` times.
async fn cross_waiter(iters: u64, asked: Arc<AtomicU64>, signal: Arc<RemoteSignal>) -> Duration {
    let start = Instant::now();
    for n in 1..=iters {
        asked.store(n, Ordering::Release);
        signal.wait().await;
    }
    start.elapsed()
}

fn keel_cross(iters: u64) -> Duration {
    let asked = Arc::new(AtomicU64::new(0));
    let signal = Arc::new(RemoteSignal::default());
    let thread = start_waker_thread(iters, asked.clone(), signal.clone());
    let elapsed = runtime::block_on(async move {
        runtime::spawn_local(cross_waiter(iters, asked, signal))
            .await
            .expect("waiter failed")
    });
    assert_eq!(thread.join().expect("waker thread panicked"), iters);
    elapsed
}

fn tokio_cross(rt: &tokio::runtime::Runtime, iters: u64) -> Duration {
    let asked = Arc::new(AtomicU64::new(0));
    let signal = Arc::new(RemoteSignal::default());
    let thread = start_waker_thread(iters, asked.clone(), signal.clone());
    let elapsed = rt.block_on(async move {
        tokio::spawn(cross_waiter(iters, asked, signal))
            .await
            .expect("waiter failed")
    });
    assert_eq!(thread.join().expect("waker thread panicked"), iters);
    elapsed
}

fn bench_wake(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    let mut group = c.benchmark_group(LOCAL);
    common::configure(&mut group);
    group.throughput(Throughput::Elements(1));
    group.bench_function("keel", |b| {
        b.iter_custom(|iters| common::record(LOCAL, "keel", iters, keel_local(iters)))
    });
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| common::record(LOCAL, "tokio", iters, tokio_local(&rt, iters)))
    });
    group.finish();

    let mut group = c.benchmark_group(CROSS);
    common::configure(&mut group);
    group.throughput(Throughput::Elements(1));
    group.bench_function("keel", |b| {
        b.iter_custom(|iters| common::record(CROSS, "keel", iters, keel_cross(iters)))
    });
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| common::record(CROSS, "tokio", iters, tokio_cross(&rt, iters)))
    });
    group.finish();
}

criterion_group!(benches, bench_wake);

fn main() {
    let rt = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    };
    let routines: Vec<common::Routine<'_>> = vec![
        (format!("{LOCAL}/keel"), Box::new(|n| _ = keel_local(n))),
        (
            format!("{LOCAL}/tokio"),
            Box::new(|n| _ = tokio_local(&rt(), n)),
        ),
        (format!("{CROSS}/keel"), Box::new(|n| _ = keel_cross(n))),
        (
            format!("{CROSS}/tokio"),
            Box::new(|n| _ = tokio_cross(&rt(), n)),
        ),
    ];
    if common::run_once(&routines) {
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    common::print_ratio(LOCAL, "tokio");
    common::print_ratio(CROSS, "tokio");
}
