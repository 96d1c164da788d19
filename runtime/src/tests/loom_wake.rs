//! Models of the remote-wake protocol ([`Mailbox`], documented in `event_loop/shared.rs`):
//! remote injects racing with the loop getting ready to park, and with the loop closing.

use loom::sync::Arc;
use loom::sync::{Condvar, Mutex};
use loom::thread;

use crate::event_loop::mailbox::{Mailbox, Wakeup};

/// The loop's `mio::Waker` and blocking `epoll_wait`, as an eventfd: a wake sets it (and
/// is counted), a blocking poll waits until it is set and clears it. Wakes coalesce, and
/// a wake that comes before the poll makes the poll return at once, as with the real
/// eventfd.
#[derive(Default)]
struct EventFd {
    state: Mutex<EventFdState>,
    cond: Condvar,
}

#[derive(Default)]
struct EventFdState {
    set: bool,
    wakes: usize,
}

impl EventFd {
    /// A poll with no timeout (the loop has no timer due): returns only once woken.
    /// If no wake ever comes, loom reports the model as deadlocked.
    fn wait(&self) {
        let mut state = self.state.lock().unwrap();
        while !state.set {
            state = self.cond.wait(state).unwrap();
        }
        state.set = false;
    }

    fn wakes(&self) -> usize {
        self.state.lock().unwrap().wakes
    }
}

impl Wakeup for Arc<EventFd> {
    fn wake_up(&self) {
        let mut state = self.state.lock().unwrap();
        state.set = true;
        state.wakes += 1;
        self.cond.notify_one();
    }
}

type ModelMailbox<T> = Mailbox<T, Arc<EventFd>>;

/// The loop's side, as `event_loop::tick` runs it with nothing local to do and no timer:
/// drain the inject queue, then park — blocking only if `prepare_sleep` allows it —
/// until `expected` items have arrived. Returns how many sleeps it announced.
fn run_loop(mailbox: &ModelMailbox<usize>, eventfd: &EventFd, expected: usize) -> usize {
    let mut received = 0;
    let mut announced = 0;
    loop {
        while mailbox.pop().is_some() {
            received += 1;
        }
        if received == expected {
            return announced;
        }
        announced += 1;
        if mailbox.prepare_sleep() {
            eventfd.wait();
        }
        mailbox.end_sleep();
    }
}

/// Two threads inject while the loop drains and parks: the loop never blocks with an item
/// in its queue and no wake on the way (that would hang the model, which loom reports as
/// a deadlock), and the waker is called at most once per announced sleep.
#[test]
fn remote_wakes_race_with_park() {
    loom::model(|| {
        let eventfd = Arc::new(EventFd::default());
        let mailbox = Arc::new(ModelMailbox::new(eventfd.clone()));
        let remotes: Vec<_> = (0..2)
            .map(|item| {
                let mailbox = mailbox.clone();
                thread::spawn(move || mailbox.inject(item))
            })
            .collect();

        let announced = run_loop(&mailbox, &eventfd, 2);

        for remote in remotes {
            remote.join().unwrap();
        }
        let wakes = eventfd.wakes();
        assert!(
            wakes <= announced,
            "{wakes} waker calls for {announced} announced sleeps"
        );
    });
}

/// An inject racing with `close`: the item is dropped either by the loop's final drain or
/// by the injector that sees `closed`, never left in the queue of a loop that is gone.
#[test]
fn inject_races_with_close() {
    loom::model(|| {
        let eventfd = Arc::new(EventFd::default());
        let mailbox = Arc::new(ModelMailbox::<Arc<()>>::new(eventfd));
        let item = Arc::new(());
        let remote = {
            let mailbox = mailbox.clone();
            let item = item.clone();
            thread::spawn(move || mailbox.inject(item))
        };

        mailbox.close();

        remote.join().unwrap();
        assert_eq!(
            Arc::strong_count(&item),
            1,
            "an item injected around close was left in the queue"
        );
        assert_eq!(mailbox.len(), 0);
    });
}
