//! File descriptors come back: 100 connections opened and closed, refused connects, an
//! aborted task holding a socket, and finally the runtime itself (its epoll and wake fds)
//! leave the process's fd count (`/proc/self/fd`) where it started. One test, alone in
//! its binary, so no other test opens fds meanwhile.

mod util;

use std::rc::Rc;

use keel_runtime::net::{TcpListener, TcpStream};
use keel_runtime::spawn_local;
use util::{join, within};

/// Open fds, not counting the ones under `/proc` (the directory being listed, and the
/// runtime's watchdog reading `/proc/self/statm` now and then), nor fds closed mid-listing.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| !target.starts_with("/proc"))
        .count()
}

#[test]
fn fds_return_to_baseline() {
    let _watchdog = util::watchdog("fds_return_to_baseline", util::WATCHDOG);
    // Step 1: warm up process-wide lazies (the watchdog thread above, stdio) first.
    let before_runtime = open_fds();
    let rt = util::runtime(2);
    let handle = rt.handle().clone();
    // A round trip to each loop: its thread has started and set up its driver.
    for index in 0..2 {
        join("a loop to start", handle.spawn_on(index, async {}));
    }
    let with_runtime = open_fds();
    assert!(with_runtime > before_runtime, "a runtime holds epoll fds");

    // Step 2: 100 connections, both ends on loop 1, each opened, used and closed.
    let done = handle.spawn_local_on(1, || async {
        let listener = Rc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        for i in 0..100u8 {
            let l = listener.clone();
            let server = spawn_local(async move {
                let (stream, _) = l.accept().await.unwrap();
                let mut b = [0; 1];
                stream.read_exact(&mut b).await.unwrap();
                stream.write_all(&b).await.unwrap();
            });
            let client = within("connect", TcpStream::connect(addr)).await.unwrap();
            client.write_all(&[i]).await.unwrap();
            let mut b = [0; 1];
            within("the echo", client.read_exact(&mut b)).await.unwrap();
            assert_eq!(b[0], i);
            within("the server task", server).await.unwrap();
        }
    });
    join("100 connections", done);
    assert_eq!(open_fds(), with_runtime, "after 100 connections");

    // Step 3: refused connects close their sockets too.
    let refused = handle.spawn_local_on(0, || async {
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        for _ in 0..20 {
            assert!(TcpStream::connect(addr).await.is_err());
        }
    });
    join("refused connects", refused);
    assert_eq!(open_fds(), with_runtime, "after refused connects");

    // Step 4: aborting a task that owns a listener and a stream closes both.
    let (parked_tx, parked_rx) = util::oneshot::<()>();
    let holder = handle.spawn_local_on(0, move || async move {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        parked_tx.send(());
        let mut b = [0; 1];
        let _ = server.read(&mut b).await; // never gets data
        drop(client);
    });
    util::wait("the holder to own its sockets", parked_rx).unwrap();
    assert_eq!(open_fds(), with_runtime + 3, "listener + two ends open");
    holder.abort();
    assert!(
        util::wait("the aborted holder", holder)
            .unwrap_err()
            .is_cancelled()
    );
    assert_eq!(open_fds(), with_runtime, "after aborting a socket owner");

    // Step 5: dropping the runtime closes its own fds.
    drop(handle);
    drop(rt);
    assert_eq!(open_fds(), before_runtime, "after dropping the runtime");
}
