//! TCP echo: between two loops (client on loop 0, server on loop 1) through `Runtime::run`
//! and through `spawn_local_on`, many connections on one loop, large payloads that need
//! write readiness, vectored writes, end of stream, refused connects, and sockets used
//! outside a loop.

mod util;

use std::io::{ErrorKind, IoSlice};
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use keel_runtime::net::{TcpListener, TcpSocket, TcpStream};
use keel_runtime::{current_loop, spawn_local};
use util::{join, keel_test, oneshot, within};

/// Accepts `connections` connections and echoes each until its peer closes.
async fn echo_server(listener: TcpListener, connections: usize) {
    let mut conns = Vec::new();
    for _ in 0..connections {
        let (stream, _) = within("accept", listener.accept()).await.unwrap();
        conns.push(spawn_local(async move {
            let mut buf = vec![0; 8192];
            loop {
                let n = stream.read(&mut buf).await.unwrap();
                if n == 0 {
                    return;
                }
                stream.write_all(&buf[..n]).await.unwrap();
            }
        }));
    }
    for conn in conns {
        within("an echo connection", conn).await.unwrap();
    }
}

/// A connected pair on the current loop: `(server side, client side, the server side's
/// view of the client's address, the listener's address)`.
async fn connected_pair() -> (TcpStream, TcpStream, SocketAddr, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = spawn_local(async move { TcpStream::connect(addr).await.unwrap() });
    let (server, peer) = within("accept", listener.accept()).await.unwrap();
    let client = within("connect", client).await.unwrap();
    (server, client, peer, addr)
}

/// Sends `len` patterned bytes (writer task) while reading the echo back; checks them.
async fn echo_client(addr: SocketAddr, len: usize, seed: u8) {
    let stream = Rc::new(within("connect", TcpStream::connect(addr)).await.unwrap());
    let payload: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect();
    let writer = {
        let (stream, payload) = (stream.clone(), payload.clone());
        spawn_local(async move {
            stream.write_all(&payload).await.unwrap();
            stream.shutdown(Shutdown::Write).unwrap();
        })
    };
    let mut got = vec![0; len];
    within("the echo", stream.read_exact(&mut got))
        .await
        .unwrap();
    assert!(got == payload, "echoed bytes differ");
    let mut rest = [0; 1];
    assert_eq!(
        stream.read(&mut rest).await.unwrap(),
        0,
        "end of stream after the echo"
    );
    writer.await.unwrap();
}

#[test]
fn echo_between_loops_with_run() {
    let _watchdog = util::watchdog("echo_between_loops_with_run", util::WATCHDOG);
    let rt = util::runtime(2);
    let (addr_tx, addr_rx) = oneshot::<SocketAddr>();
    let addr_tx = Arc::new(Mutex::new(Some(addr_tx)));
    let addr_rx = Arc::new(Mutex::new(Some(addr_rx)));
    rt.run(move |ctx| {
        let addr_tx = addr_tx.clone();
        let addr_rx = addr_rx.clone();
        async move {
            match ctx.index() {
                1 => {
                    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                    let tx = addr_tx.lock().unwrap().take().unwrap();
                    tx.send(listener.local_addr().unwrap());
                    echo_server(listener, 1).await;
                }
                _ => {
                    let rx = addr_rx.lock().unwrap().take().unwrap();
                    let addr = within("the server address", rx).await.unwrap();
                    echo_client(addr, 1 << 20, 1).await;
                }
            }
        }
    })
    .unwrap();
}

#[test]
fn echo_between_loops_with_spawn_local_on() {
    let _watchdog = util::watchdog("echo_between_loops_spawn_local_on", util::WATCHDOG);
    let rt = util::runtime(2);
    let (addr_tx, addr_rx) = oneshot::<SocketAddr>();
    let server = rt.handle().spawn_local_on(1, move || async move {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        addr_tx.send(listener.local_addr().unwrap());
        echo_server(listener, 4).await;
        current_loop()
    });
    let client = rt.handle().spawn_local_on(0, move || async move {
        let addr = within("the server address", addr_rx).await.unwrap();
        let clients: Vec<_> = (0..4u8)
            .map(|seed| spawn_local(echo_client(addr, 200_000, seed)))
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        current_loop()
    });
    assert_eq!(join("the client", client), Some(0));
    assert_eq!(join("the server", server), Some(1));
}

keel_test! {
    async fn many_connections_on_one_loop(handle) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn_local(echo_server(listener, 50));
        let clients: Vec<_> = (0..50u8).map(|seed| spawn_local(echo_client(addr, 1000, seed))).collect();
        for c in clients {
            within("a client", c).await.unwrap();
        }
        within("the server", server).await.unwrap();
    }
}

keel_test! {
    async fn accepted_peer_matches_client_addresses(handle) {
        let (server, client, peer, addr) = connected_pair().await;
        assert_eq!(client.local_addr().unwrap(), peer);
        assert_eq!(server.peer_addr().unwrap(), peer);
        assert_eq!(client.peer_addr().unwrap(), addr);
        client.set_nodelay(true).unwrap();
        assert!(client.nodelay().unwrap());
    }
}

keel_test! {
    async fn vectored_write_and_end_of_stream(handle) {
        let (server, client, _, _) = connected_pair().await;
        let parts = [IoSlice::new(b"head"), IoSlice::new(b"-"), IoSlice::new(b"body")];
        // Loopback with an empty send buffer takes all 9 bytes in one writev.
        let sent = client.write_vectored(&parts).await.unwrap();
        assert_eq!(sent, 9);
        client.shutdown(Shutdown::Write).unwrap();
        let mut buf = [0; 9];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"head-body");
        assert_eq!(server.read(&mut buf).await.unwrap(), 0);
        let err = server.read_exact(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
        let mut empty = [0; 4];
        assert_eq!(client.try_read(&mut empty).unwrap_err().kind(), ErrorKind::WouldBlock);
    }
}

keel_test! {
    async fn short_read_before_end_of_stream_sees_the_end(handle) {
        // Data and FIN are both in before the first read, so one epoll edge reports
        // them; the short read that takes the data must not wait for another edge.
        let (server, client, _, _) = connected_pair().await;
        client.write_all(b"abc").await.unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut buf = [0; 64];
        assert_eq!(within("the data", server.read(&mut buf)).await.unwrap(), 3);
        assert_eq!(&buf[..3], b"abc");
        assert_eq!(within("the end of stream", server.read(&mut buf)).await.unwrap(), 0);
    }
}

keel_test! {
    async fn short_read_then_later_data_is_read(handle) {
        // A short read forgets readiness; the next bytes bring a new edge.
        let (server, client, _, _) = connected_pair().await;
        let mut buf = [0; 64];
        for round in 0..20u8 {
            client.write_all(&[round; 5]).await.unwrap();
            let n = within("a round", server.read(&mut buf)).await.unwrap();
            assert_eq!(&buf[..n], &[round; 5][..n]);
            if n < 5 {
                let rest = within("the rest", server.read(&mut buf[n..])).await.unwrap();
                assert_eq!(n + rest, 5);
            }
            // Nothing more is there: a non-blocking read says so.
            assert_eq!(server.try_read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
        }
    }
}

keel_test! {
    async fn read_buf_appends_within_the_spare_capacity(handle) {
        let (server, client, _, _) = connected_pair().await;
        let mut buf = Vec::with_capacity(8);
        buf.extend_from_slice(b"ab");
        assert_eq!(server.try_read_buf(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
        assert_eq!(buf, b"ab", "a read that found nothing leaves the buffer alone");

        client.write_all(b"0123456789").await.unwrap();
        let n = within("the first bytes", server.read_buf(&mut buf)).await.unwrap();
        assert!((1..=6).contains(&n), "at most the spare capacity is read: {n}");
        assert_eq!(&buf[..2], b"ab", "bytes already there are kept");
        assert_eq!(&buf[2..], &b"0123456789"[..n]);
        assert!(buf.capacity() >= buf.len() && buf.len() == 2 + n);

        // The rest is read with room made, the non-waiting form included.
        buf.reserve(16);
        while buf.len() < 12 {
            match server.try_read_buf(&mut buf) {
                Ok(m) => assert!(m > 0),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    within("readable", server.readable()).await;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(buf, b"ab0123456789");

        drop(client);
        let end = within("the end of stream", server.read_buf(&mut buf)).await.unwrap();
        assert_eq!(end, 0);
        assert_eq!(buf, b"ab0123456789", "the end of stream appends nothing");
    }
}

keel_test! {
    async fn connect_to_a_closed_port_is_refused(handle) {
        // Bind then drop: the port is (almost certainly) closed afterwards.
        let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let err = within("connect", TcpStream::connect(addr)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        let err = within("connect", TcpSocket::new_v4().unwrap().connect(addr)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    }
}

keel_test! {
    async fn std_client_talks_to_a_loop_server(handle) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(util::WAIT)).unwrap();
            s.write_all(b"ping").unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            let mut back = Vec::new();
            s.read_to_end(&mut back).unwrap();
            back
        });
        echo_server(listener, 1).await;
        assert_eq!(util::join_thread("the std client", client), b"ping");
    }
}

#[test]
fn sockets_outside_a_loop_are_an_error_not_a_panic() {
    let err = TcpListener::bind("127.0.0.1:0").unwrap_err();
    assert!(err.to_string().contains("Keel"), "{err}");
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    assert!(TcpListener::from_std(std_listener).is_err());
}
