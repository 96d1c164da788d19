//! [`Proxy`]: a TCP forwarder for fault tests. It listens in front of a real server (on
//! `127.0.0.1:0`, or on an address a test picks, such as the host end of a network
//! namespace's link) and can
//!
//! - be *stopped* (every forwarded connection cut, new ones refused — what a crashed
//!   server looks like to its clients) and *restarted* on the same port, without touching
//!   the server behind it, which other tests keep using;
//! - hold every chunk it forwards for a *latency* in each direction
//!   ([`Proxy::set_latency`]), in order, like a long link.
//!
//! Thread-based and small: one accept thread polling a non-blocking listener, and per
//! forwarded connection a reader and a writer thread for each direction.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// The forwarder; dropping it cuts everything and stops its threads.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<thread::JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    /// `None` while stopped: connecting is refused.
    listener: Mutex<Option<TcpListener>>,
    /// Both sockets of every live forwarded connection, to cut them on `stop`.
    conns: Mutex<Vec<(TcpStream, TcpStream)>>,
    accepted: AtomicU64,
    /// The delay added to each chunk in each direction, in microseconds.
    latency_us: AtomicU64,
    closing: AtomicBool,
}

impl Proxy {
    /// Starts forwarding a free loopback port to `upstream`.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound.
    pub fn start(upstream: SocketAddr) -> Proxy {
        Proxy::start_on("127.0.0.1:0".parse().unwrap(), upstream)
    }

    /// Starts forwarding `bind` (port 0: a free one) to `upstream`.
    ///
    /// # Panics
    ///
    /// When `bind` cannot be bound.
    pub fn start_on(bind: SocketAddr, upstream: SocketAddr) -> Proxy {
        let listener = listen(bind).unwrap_or_else(|e| panic!("bind the proxy on {bind}: {e}"));
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream,
            listener: Mutex::new(Some(listener)),
            conns: Mutex::new(Vec::new()),
            accepted: AtomicU64::new(0),
            latency_us: AtomicU64::new(0),
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
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections forwarded so far.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Holds every chunk read from then on for `one_way` before forwarding it, in each
    /// direction (a round trip gets twice that); zero forwards at once.
    pub fn set_latency(&self, one_way: Duration) {
        let us = u64::try_from(one_way.as_micros()).unwrap_or(u64::MAX);
        self.shared.latency_us.store(us, Ordering::SeqCst);
    }

    /// Closes the port (new connects are refused) and cuts every forwarded connection.
    pub fn stop(&self) {
        // Taking the listener under its lock also waits out an accept in progress, so
        // no connection is registered after the cut below.
        drop(self.shared.listener.lock().unwrap().take());
        self.shared.cut_all();
    }

    /// Listens on the same port again (retrying while the kernel still holds it).
    ///
    /// # Panics
    ///
    /// When the port cannot be bound again within 30 s.
    pub fn restart(&self) {
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

    fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_us.load(Ordering::SeqCst))
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

/// Connects `client` to the upstream and starts the copy threads; false when the
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
    pipe(shared, client, server);
    pipe(shared, s2, c2);
    true
}

/// Copies `from` → `to`, each chunk held for the proxy's latency, until either ends;
/// then closes both directions.
fn pipe(shared: &Arc<Shared>, mut from: TcpStream, mut to: TcpStream) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let reader_shared = shared.clone();
    let Ok(from_again) = from.try_clone() else {
        return;
    };
    thread::spawn(move || {
        let mut buf = vec![0; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let due = Instant::now() + reader_shared.latency();
                    if tx.send((due, buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
    });
    thread::spawn(move || {
        // Ends when the reader ends (the channel closes) or a write fails.
        for (due, chunk) in rx {
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from_again.shutdown(Shutdown::Both);
    });
}
