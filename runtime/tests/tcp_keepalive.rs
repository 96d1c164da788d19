//! TCP keepalive on a connected [`TcpStream`]: turned on with an idle time, probe
//! interval and count, turned off again, each read back from the socket
//! (`getsockopt` through socket2).

use std::time::Duration;

use keel_runtime::net::{TcpListener, TcpStream};

#[test]
fn keepalive_is_set_read_back_and_cleared() {
    keel_runtime::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (accepted, _) = listener.accept().await.unwrap();

        // A fresh socket has keepalive off.
        assert_eq!(stream.keepalive().unwrap(), None);

        stream.set_keepalive(Some(Duration::from_secs(37))).unwrap();
        assert_eq!(stream.keepalive().unwrap(), Some(Duration::from_secs(37)));
        // Per socket: the peer's is untouched.
        assert_eq!(accepted.keepalive().unwrap(), None);

        stream
            .set_keepalive_probes(Some(Duration::from_secs(7)), Some(3))
            .unwrap();
        assert_eq!(
            stream.keepalive_probes().unwrap(),
            (Duration::from_secs(7), 3)
        );
        // Setting the probes leaves the idle time alone.
        assert_eq!(stream.keepalive().unwrap(), Some(Duration::from_secs(37)));

        stream.set_keepalive(None).unwrap();
        assert_eq!(stream.keepalive().unwrap(), None);
    });
}

#[test]
fn probes_alone_turn_keepalive_on() {
    keel_runtime::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        stream.set_keepalive_probes(None, Some(4)).unwrap();
        assert!(stream.keepalive().unwrap().is_some());
        assert_eq!(stream.keepalive_probes().unwrap().1, 4);
    });
}
