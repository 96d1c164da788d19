//! Fairness on one loop: a task that keeps waking itself cannot starve sockets, timers
//! or other tasks, and a task reading an always-ready socket is made to yield by the coop
//! budget. A starving loop would hang its test, so every test waits from the test thread
//! with a deadline (and leaks the runtime on failure instead of joining a stuck loop).

mod util;

use std::cell::Cell;
use std::net::Shutdown;
use std::rc::Rc;
use std::time::Duration;

use keel_runtime::net::{TcpListener, TcpStream};
use keel_runtime::task::yield_now;
use keel_runtime::{Builder, spawn_local};
use util::{Flag, TestRuntime, join};

/// Spins forever on `yield_now`, counting its polls, until aborted.
fn spawn_spinner(spins: Rc<Cell<u64>>) -> keel_runtime::JoinHandle<()> {
    spawn_local(async move {
        loop {
            spins.set(spins.get() + 1);
            yield_now().await;
        }
    })
}

/// A TCP echo of `len` bytes between a server task and a client, both on this loop.
async fn echo_on_this_loop(len: usize) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = spawn_local(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut buf = vec![0; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            stream.write_all(&buf[..n]).await.unwrap();
        }
    });
    let client = Rc::new(TcpStream::connect(addr).await.unwrap());
    let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let writer = {
        let client = client.clone();
        let payload = payload.clone();
        spawn_local(async move {
            client.write_all(&payload).await.unwrap();
            client.shutdown(Shutdown::Write).unwrap();
        })
    };
    let mut got = vec![0; len];
    client.read_exact(&mut got).await.unwrap();
    assert!(got == payload, "echoed bytes differ");
    writer.await.unwrap();
    server.await.unwrap();
}

fn rt_with_interval(event_interval: u32) -> TestRuntime {
    util::runtime_with(Builder::new().loops(1).event_interval(event_interval))
}

fn self_waking_task_does_not_starve_a_socket(event_interval: u32) {
    let _watchdog = util::watchdog("self_waking_vs_socket", util::WATCHDOG);
    let rt = rt_with_interval(event_interval);
    let spins = rt.handle().spawn_local_on(0, || async {
        let spins = Rc::new(Cell::new(0));
        let spinners: Vec<_> = (0..3).map(|_| spawn_spinner(spins.clone())).collect();
        echo_on_this_loop(256 * 1024).await;
        keel_runtime::time::sleep(Duration::from_millis(2)).await;
        for spinner in spinners {
            spinner.abort();
            assert!(spinner.await.unwrap_err().is_cancelled());
        }
        spins.get()
    });
    let spins = join("an echo beside busy tasks", spins);
    assert!(spins > 0, "the spinners never ran");
}

#[test]
fn self_waking_task_does_not_starve_a_socket_default_interval() {
    self_waking_task_does_not_starve_a_socket(keel_runtime::DEFAULT_EVENT_INTERVAL);
}

#[test]
fn self_waking_task_does_not_starve_a_socket_interval_1() {
    self_waking_task_does_not_starve_a_socket(1);
}

#[test]
fn self_waking_task_does_not_starve_a_sibling_or_a_timer() {
    let _watchdog = util::watchdog("self_waking_vs_sibling", util::WATCHDOG);
    let rt = util::runtime(1);
    let done = rt.handle().spawn_local_on(0, || async {
        let spinner = spawn_spinner(Rc::new(Cell::new(0)));
        let sibling = spawn_local(async {
            for _ in 0..100 {
                yield_now().await;
            }
        });
        sibling.await.unwrap();
        keel_runtime::time::sleep(Duration::from_millis(5)).await;
        spinner.abort();
    });
    join("a sibling and a timer beside a spinner", done);
}

/// A peer that closed its write side makes `read` ready forever (it returns `Ok(0)` at
/// once). Without the coop budget the reading task would never give the loop back, and
/// the sibling below (on the same loop) would never run.
#[test]
fn always_ready_socket_reader_yields_to_others() {
    let _watchdog = util::watchdog("always_ready_reader", util::WATCHDOG);
    let rt = util::runtime(1);
    let result = rt.handle().spawn_local_on(0, || async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client.shutdown(Shutdown::Write).unwrap();

        let stop = Flag::default();
        let reads = Rc::new(Cell::new(0u64));
        let reader = {
            let (stop, reads) = (stop.clone(), reads.clone());
            spawn_local(async move {
                let mut buf = [0; 64];
                // Never awaits anything but the read.
                while !stop.is_set() {
                    assert_eq!(server.read(&mut buf).await.unwrap(), 0);
                    reads.set(reads.get() + 1);
                }
            })
        };
        let sibling = {
            let stop = stop.clone();
            spawn_local(async move { stop.set() })
        };
        sibling.await.unwrap();
        reader.await.unwrap();
        reads.get()
    });
    let reads = join("a sibling of an always-ready reader", result);
    assert!(reads > 0, "the reader never read");
}

/// The same with reads of a socket whose peer keeps sending: data is always there.
#[test]
fn busy_socket_reader_yields_to_others() {
    let _watchdog = util::watchdog("busy_reader", util::WATCHDOG);
    let rt = util::runtime(1);
    let result = rt.handle().spawn_local_on(0, || async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // A plain thread floods the connection until the loop side closes it.
        let flooder = std::thread::spawn(move || {
            use std::io::Write;
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            let chunk = [7u8; 64 * 1024];
            while s.write_all(&chunk).is_ok() {}
        });
        let (server, _) = listener.accept().await.unwrap();
        // Let a good amount of data queue up so reads are ready for a long time.
        server.readable().await;
        let stop = Flag::default();
        let reader = {
            let stop = stop.clone();
            spawn_local(async move {
                let mut buf = [0; 16];
                let mut total = 0u64;
                while !stop.is_set() {
                    total += server.read(&mut buf).await.unwrap() as u64;
                }
                total
            })
        };
        let stopper = {
            let stop = stop.clone();
            spawn_local(async move { stop.set() })
        };
        stopper.await.unwrap();
        let total = reader.await.unwrap();
        (total, flooder)
    });
    let (total, flooder) = join("a sibling of a busy reader", result);
    assert!(total > 0);
    util::join_thread("the flooder", flooder);
}
