//! A TCP forwarder for fault tests: listens on `127.0.0.1:0` in front of a real server
//! and can be *stopped* (every forwarded connection cut, new ones refused — what a
//! crashed server looks like to its clients) and *restarted* on the same port, without
//! touching the server behind it, which other tests keep using.
//!
//! Thread-based and small: one accept thread polling a non-blocking listener, and two
//! copy threads per forwarded connection.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The forwarder; dropping it cuts everything and stops its threads.
pub(crate) struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<thread::JoinHandle<()>>,
}

struct Shared {
    upstream: SocketAddr,
    /// `None` while stopped: connecting is refused.
    listener: Mutex<Option<TcpListener>>,
    /// Both sockets of every live forwarded connection, to cut them on `stop`.
    conns: Mutex<Vec<(TcpStream, TcpStream)>>,
    accepted: AtomicU64,
    closing: AtomicBool,
}

impl Proxy {
    /// Starts forwarding a free loopback port to `upstream`.
    pub(crate) fn start(upstream: SocketAddr) -> Proxy {
        let listener = listen("127.0.0.1:0".parse().unwrap()).expect("bind the proxy");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream,
            listener: Mutex::new(Some(listener)),
            conns: Mutex::new(Vec::new()),
            accepted: AtomicU64::new(0),
            closing: AtomicBool::new(false),
        });
        let accept = {
            let shared = shared.clone();
            thread::Builder::new()
                .name("test-proxy".into())
                .spawn(move || accept_loop(&shared))
                .unwrap()
        };
        Proxy {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// Where clients connect.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections forwarded so far.
    pub(crate) fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Closes the port (new connects are refused) and cuts every forwarded connection.
    pub(crate) fn stop(&self) {
        // Taking the listener under its lock also waits out an accept in progress, so
        // no connection is registered after the cut below.
        drop(self.shared.listener.lock().unwrap().take());
        self.shared.cut_all();
    }

    /// Listens on the same port again (retrying while the kernel still holds it).
    pub(crate) fn restart(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let listener = loop {
            match listen(self.addr) {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("re-bind the proxy on {}: {e}", self.addr),
            }
        };
        *self.shared.listener.lock().unwrap() = Some(listener);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        self.stop();
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

impl Shared {
    fn cut_all(&self) {
        for (a, b) in self.conns.lock().unwrap().drain(..) {
            let _ = a.shutdown(Shutdown::Both);
            let _ = b.shutdown(Shutdown::Both);
        }
    }
}

/// A non-blocking listener on `addr` (std sets `SO_REUSEADDR`, so a port whose
/// connections are in TIME_WAIT can be bound again).
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

fn accept_loop(shared: &Arc<Shared>) {
    while !shared.closing.load(Ordering::SeqCst) {
        let accepted = {
            let guard = shared.listener.lock().unwrap();
            match guard.as_ref().map(TcpListener::accept) {
                Some(Ok((client, _))) => forward(shared, client),
                _ => false,
            }
        };
        if !accepted {
            thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Connects `client` to the upstream and starts the two copy threads; false when the
/// upstream could not be reached (the client is dropped).
fn forward(shared: &Arc<Shared>, client: TcpStream) -> bool {
    let Ok(server) = TcpStream::connect_timeout(&shared.upstream, Duration::from_secs(10)) else {
        return false;
    };
    let _ = client.set_nonblocking(false);
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = (
        client.try_clone(),
        server.try_clone(),
        client.try_clone(),
        server.try_clone(),
    ) else {
        return false;
    };
    shared.conns.lock().unwrap().push((c3, s3));
    shared.accepted.fetch_add(1, Ordering::SeqCst);
    pipe(client, server);
    pipe(s2, c2);
    true
}

/// Copies `from` → `to` until either ends, then closes both directions.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    thread::spawn(move || {
        let _ = io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}
