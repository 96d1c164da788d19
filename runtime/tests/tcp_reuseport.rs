//! `SO_REUSEPORT`: two loops each bind a listener on the same port, and of 1000
//! connections from one client both loops accept some; the port is shared only by
//! sockets that set the option.

mod util;

use std::io::Read;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use keel_runtime::net::TcpListener;
use keel_runtime::spawn_local;
use util::{Latch, join, oneshot, within};

const CONNECTIONS: usize = 1000;

#[test]
fn two_loops_share_a_port_and_both_accept() {
    let _watchdog = util::watchdog("reuseport_both_accept", util::WATCHDOG);
    let rt = util::runtime(2);
    let handle = rt.handle().clone();

    // Loop 0 picks the port; loop 1 binds the same one.
    let (port_tx, port_rx) = oneshot::<SocketAddr>();
    let bound = Latch::new(2);
    let (stop_tx0, stop_rx0) = oneshot::<()>();
    let (stop_tx1, stop_rx1) = oneshot::<()>();
    let b0 = bound.clone();
    let server0 = handle.spawn_local_on(0, move || async move {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        port_tx.send(listener.local_addr().unwrap());
        b0.count_down();
        serve(listener, 0, stop_rx0).await
    });
    let addr = util::wait("loop 0's address", port_rx).unwrap();
    let b1 = bound.clone();
    let server1 = handle.spawn_local_on(1, move || async move {
        let listener = TcpListener::bind(addr).expect("second bind of a SO_REUSEPORT port");
        b1.count_down();
        serve(listener, 1, stop_rx1).await
    });
    bound.wait("both listeners to bind");

    // Without SO_REUSEPORT the port is taken.
    let err = std::net::TcpListener::bind(addr).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);

    // One client, 1000 connections; each server answers with its loop index.
    let mut by_reply = [0usize; 2];
    for _ in 0..CONNECTIONS {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(util::WAIT)).unwrap();
        let mut which = [0u8; 1];
        s.read_exact(&mut which).expect("the server's reply");
        by_reply[usize::from(which[0])] += 1;
    }
    stop_tx0.send(());
    stop_tx1.send(());
    let accepted = [join("server 0", server0), join("server 1", server1)];

    assert_eq!(by_reply.iter().sum::<usize>(), CONNECTIONS);
    assert_eq!(
        accepted, by_reply,
        "each loop's count matches what the client saw"
    );
    assert!(
        by_reply[0] > 0 && by_reply[1] > 0,
        "one loop accepted nothing: {by_reply:?}"
    );

    // The loops' published figures agree once each has parked again (published at park,
    // so poll with a deadline; nothing else signals the publish).
    let deadline = Instant::now() + util::WAIT;
    loop {
        let m = handle.metrics();
        let published = [
            m.loops[0].connections_accepted,
            m.loops[1].connections_accepted,
        ];
        if published == [accepted[0] as u64, accepted[1] as u64] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "metrics {published:?} != {accepted:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Accepts until told to stop, replying to each connection with `index`; returns how many
/// it accepted.
async fn serve(listener: TcpListener, index: u8, stop: util::Receiver<()>) -> usize {
    let listener = std::rc::Rc::new(listener);
    let accepted = std::rc::Rc::new(std::cell::Cell::new(0));
    let acceptor = {
        let (listener, accepted) = (listener.clone(), accepted.clone());
        spawn_local(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                accepted.set(accepted.get() + 1);
                stream.write_all(&[index]).await.unwrap();
            }
        })
    };
    within("the stop signal", stop).await;
    acceptor.abort();
    assert!(acceptor.await.unwrap_err().is_cancelled());
    accepted.get()
}
