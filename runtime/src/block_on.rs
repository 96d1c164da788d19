//! [`block_on`]: run one future to completion on a single loop driven by the calling
//! thread — for tests, tools and small programs.
//!
//! The future is the loop's *root*: it is polled directly (so it need not be `Send` or
//! `'static`) whenever its waker fires, between ticks of an ordinary loop that also runs
//! whatever it spawns. When the root finishes, every task it left behind is dropped.

use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use crate::builder::DEFAULT_EVENT_INTERVAL;
use crate::current_loop;
use crate::event_loop::park::{IoDriver, WAKER};
use crate::event_loop::{self, Core, Injected, Shared};
use crate::handle::Handle;

/// Runs `future` on a one-loop runtime on this thread and returns its output.
///
/// Inside, [`spawn_local`](crate::spawn_local), timers and sockets work as on any loop;
/// [`Handle::current`](crate::Handle::current) is a handle to this one-loop runtime.
///
/// # Panics
///
/// Panics when called from inside a Keel loop (it would block that loop), when the OS
/// refuses an epoll instance, or when the future panics.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let waited = keel_runtime::block_on(async {
///     let start = std::time::Instant::now();
///     keel_runtime::time::sleep(Duration::from_millis(5)).await;
///     start.elapsed()
/// });
/// assert!(waited >= Duration::from_millis(5));
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    if current_loop::with_core(|_| ()).is_some() {
        panic!("block_on called from inside a Keel loop; await the future instead");
    }
    let poll = mio::Poll::new().expect("block_on: could not create an epoll instance");
    let waker =
        mio::Waker::new(poll.registry(), WAKER).expect("block_on: could not create a waker");
    let shared = Arc::new(Shared::new(0, waker));
    let handle = Handle::new(vec![shared.clone()]);
    let io = IoDriver::new(poll).expect("block_on: could not clone the epoll registry");
    let core = Rc::new(Core::new(
        shared.clone(),
        handle,
        io,
        DEFAULT_EVENT_INTERVAL,
        crate::metrics::DEFAULT_STALL_THRESHOLD,
        true,
    ));

    current_loop::enter(core.clone(), || {
        let root = Arc::new(RootWaker {
            woken: AtomicBool::new(true),
            shared,
        });
        let waker = Waker::from(root.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        let output = loop {
            if root.woken.swap(false, Ordering::AcqRel)
                && let Poll::Ready(output) = future.as_mut().poll(&mut cx)
            {
                break output;
            }
            // Read at park time, not now: a task run by this very tick may wake the root.
            event_loop::tick(&core, || root.woken.load(Ordering::Acquire));
        };
        core.drop_all_tasks();
        core.shared.close();
        output
    })
}

/// The root future's waker: a flag, plus a no-op inject item when woken from another
/// thread so a sleeping loop wakes up (the inject protocol guarantees it notices).
struct RootWaker {
    woken: AtomicBool,
    shared: Arc<Shared>,
}

impl Wake for RootWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.woken.swap(true, Ordering::AcqRel) {
            return;
        }
        let on_loop = current_loop::with_core(|core| Arc::ptr_eq(&core.shared, &self.shared));
        if on_loop != Some(true) {
            self.shared.inject(Injected::Run(Box::new(|| {})));
        }
    }
}
