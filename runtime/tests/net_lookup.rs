//! `lookup_host` and host names in `TcpStream::connect`: `localhost` resolves through
//! the blocking pool's `dns` class, literals skip the pool, malformed input is
//! `InvalidInput`.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use keel_runtime::blocking::{self, Class};
use keel_runtime::net::{TcpListener, TcpStream, lookup_host};
use keel_runtime::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn localhost_resolves_on_the_dns_class() {
    let addrs = keel_runtime::block_on(timeout(LIMIT, lookup_host("localhost:80")))
        .unwrap()
        .unwrap();
    assert!(!addrs.is_empty());
    for addr in &addrs {
        assert_eq!(addr.port(), 80);
        assert!(addr.ip().is_loopback(), "{addr}");
    }
    let dns = blocking::metrics().unwrap().class(Class::Dns).clone();
    assert!(dns.completed >= 1, "{dns:?}");
}

#[test]
fn literals_and_errors() {
    keel_runtime::block_on(async {
        let want: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(lookup_host("127.0.0.1:8080").await.unwrap(), vec![want]);
        assert_eq!(lookup_host(want).await.unwrap(), vec![want]);
        assert_eq!(lookup_host(("127.0.0.1", 8080)).await.unwrap(), vec![want]);
        let v6 = lookup_host("[::1]:9").await.unwrap();
        assert_eq!(v6, vec!["[::1]:9".parse::<SocketAddr>().unwrap()]);
        for bad in ["localhost", "localhost:http", "localhost:99999"] {
            let err = lookup_host(bad).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad}");
        }
    });
}

#[test]
fn connect_accepts_a_host_name() {
    keel_runtime::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = keel_runtime::spawn_local(async move {
            let (stream, _) = listener.accept().await.unwrap();
            stream.write_all(b"hi").await.unwrap();
        });
        let client = timeout(LIMIT, TcpStream::connect(format!("localhost:{port}")))
            .await
            .unwrap()
            .unwrap();
        let mut buf = [0; 2];
        timeout(LIMIT, client.read_exact(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf, b"hi");
        server.await.unwrap();
        // `(host, port)` works too.
        let err = timeout(LIMIT, TcpStream::connect(("localhost", 1)))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
    });
}
