//! A test server: a keel-http [`Server`] serving on a background thread with its own
//! runtime ([`TestServer`]), shut down (bounded) when dropped.

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use keel_http::{HealthHandle, Router, ServeReport, Server, ServerConfig, ShutdownHandle};
use keel_runtime::Runtime;

use crate::client::Client;

/// How long `serve` gets to return after a shutdown before the test fails.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A server on its own thread with a 2-loop runtime (unless asked otherwise). Dropping it
/// shuts the server down and waits (bounded) for `serve` to return.
#[derive(Debug)]
pub struct TestServer {
    /// Where the server listens.
    pub addr: SocketAddr,
    /// Starts the drain.
    pub handle: ShutdownHandle,
    /// Tells the health probes the app is ready.
    pub health: HealthHandle,
    /// The separate ops address, if any.
    pub ops_addr: Option<SocketAddr>,
    done: Option<mpsc::Receiver<io::Result<ServeReport>>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl TestServer {
    /// Starts `make_app` on 2 loops with `config`.
    pub fn start<F>(config: ServerConfig, make_app: F) -> TestServer
    where
        F: Fn() -> Router + Send + Sync + 'static,
    {
        TestServer::start_with_loops(2, config, make_app)
    }

    /// Starts `make_app` on `loops` loops with `config`.
    pub fn start_with_loops<F>(loops: usize, config: ServerConfig, make_app: F) -> TestServer
    where
        F: Fn() -> Router + Send + Sync + 'static,
    {
        let server = Server::bind("127.0.0.1:0")
            .expect("bind")
            .handle_signals(false)
            .config(config);
        TestServer::start_server(loops, server, make_app)
    }

    /// Serves `server` (already configured) on `loops` loops.
    pub fn start_server<F>(loops: usize, server: Server, make_app: F) -> TestServer
    where
        F: Fn() -> Router + Send + Sync + 'static,
    {
        let rt = Runtime::builder()
            .loops(loops)
            .pin(false)
            .build()
            .expect("build runtime");
        let addr = server.local_addr();
        let ops_addr = server.ops_addr();
        let handle = server.shutdown_handle();
        let health = server.health_handle();
        let (tx, rx) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("test-server".into())
            .spawn(move || {
                let result = server.serve(&rt, make_app);
                drop(rt);
                let _ = tx.send(result);
            })
            .expect("spawn server thread");
        TestServer {
            addr,
            handle,
            health,
            ops_addr,
            done: Some(rx),
            thread: Some(thread),
        }
    }

    /// A new client connected to the server.
    pub fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Shuts down and returns what `serve` returned; panics when it does not return in
    /// time.
    pub fn stop(mut self) -> io::Result<ServeReport> {
        self.handle.shutdown();
        self.wait_stopped(STOP_TIMEOUT)
            .expect("serve did not return after shutdown")
    }

    /// Waits up to `limit` for `serve` to return (after a shutdown started elsewhere).
    pub fn wait_stopped(&mut self, limit: Duration) -> Option<io::Result<ServeReport>> {
        let rx = self.done.as_ref()?;
        match rx.recv_timeout(limit) {
            Ok(result) => {
                self.done = None;
                if let Some(thread) = self.thread.take() {
                    let _ = thread.join();
                }
                Some(result)
            }
            Err(_) => None,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.done.is_none() {
            return;
        }
        self.handle.shutdown();
        let stopped = self.wait_stopped(STOP_TIMEOUT);
        if stopped.is_none() && !thread::panicking() {
            panic!("serve did not return within {STOP_TIMEOUT:?} of shutdown");
        }
    }
}

/// Asserts the server answers a plain `GET path` with 200 on a fresh connection.
#[track_caller]
pub fn assert_serves(server: &TestServer, path: &str) {
    let res = server.connect().get(path);
    assert_eq!(res.status, 200, "server stopped serving: {res:?}");
}
