//! [`Server`]: binds one listener per loop on the same address (`SO_REUSEPORT`, the
//! kernel balances connections), builds the application once per loop, serves each
//! connection as a task on the loop that accepted it, and drains gracefully on SIGTERM,
//! SIGINT or a [`ShutdownHandle`].
//!
//! # Shutdown (the drain)
//!
//! 1. The signal fires (SIGTERM/SIGINT on loop 0, or [`ShutdownHandle::shutdown`]).
//! 2. Each loop accepts what is already queued on its listener, then closes it.
//! 3. Idle keep-alive connections close; in-flight requests finish and are answered with
//!    `Connection: close`.
//! 4. Each loop waits for its connections up to the shutdown timeout, logging what is
//!    left; then [`serve`](Server::serve) returns. A second SIGINT exits at once.

mod catch_panic;
pub(crate) mod config;
mod conn;
pub(crate) mod memory;
mod select;
mod shutdown;

use std::cell::Cell;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keel_runtime::net::{DEFAULT_BACKLOG, TcpListener};
use keel_runtime::signal::{SignalKind, signal};
use keel_runtime::time::{sleep, timeout};
use keel_runtime::{LoopContext, Runtime};
use parking_lot::Mutex;
use socket2::{Domain, Protocol, Socket, Type};

pub use self::config::{Environment, ServerConfig};
use self::select::{Either, select};
pub use self::shutdown::ShutdownHandle;
use self::shutdown::{LocalDrain, ShutdownSignal};
use crate::metrics::HttpStats;
use crate::middleware::Middleware;
use crate::router::Router;

/// An HTTP/1.1 server bound to an address.
///
/// # Examples
///
/// ```no_run
/// use keel_http::{Router, Server, ServerConfig};
/// use keel_runtime::Runtime;
///
/// let runtime = Runtime::new()?;
/// Server::bind("0.0.0.0:3000")?
///     .config(ServerConfig::from_env()?)
///     .serve(&runtime, || Router::new().get("/plaintext", || async { "Hello, World!" }))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Server {
    first: std::net::TcpListener,
    addr: SocketAddr,
    config: ServerConfig,
    signal: Arc<ShutdownSignal>,
    handle_signals: bool,
}

/// One loop's share of a server: its app, its settings, its drain flag and its
/// connection count. Connections hold it by `Rc`.
pub(crate) struct LoopServer {
    pub(crate) router: Router,
    pub(crate) layers: Rc<[Rc<dyn Middleware>]>,
    pub(crate) config: ServerConfig,
    pub(crate) drain: LocalDrain,
    open: Cell<usize>,
    /// This loop's HTTP figures (shared by every server on the loop).
    pub(crate) stats: Rc<HttpStats>,
    /// The `route` label of the built-in `/metrics` endpoint (one `Rc` per loop, so the
    /// figures key on one address).
    pub(crate) metrics_route: Rc<str>,
}

impl LoopServer {
    pub(crate) fn new(router: Router, config: ServerConfig) -> LoopServer {
        LoopServer {
            layers: router.layers().to_vec().into(),
            router,
            config,
            drain: LocalDrain::default(),
            open: Cell::new(0),
            stats: crate::metrics::http_stats(),
            metrics_route: Rc::from(crate::metrics::METRICS_PATH),
        }
    }
}

impl Server {
    /// Binds the address now (so the port is known and taken before any loop runs), with
    /// `SO_REUSEADDR` and `SO_REUSEPORT`. Port 0 picks a free port, which every loop then
    /// shares.
    ///
    /// # Errors
    ///
    /// When no address `addr` resolves to can be bound.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<Server> {
        let mut last = None;
        for addr in addr.to_socket_addrs()? {
            match bind_reuseport(addr) {
                Ok(first) => {
                    let addr = first.local_addr()?;
                    return Ok(Server {
                        first,
                        addr,
                        config: ServerConfig::default(),
                        signal: Arc::default(),
                        handle_signals: true,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last
            .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind")))
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the settings.
    pub fn config(mut self, config: ServerConfig) -> Server {
        self.config = config;
        self
    }

    /// Whether SIGTERM and SIGINT start the drain. # Default: on.
    pub fn handle_signals(mut self, on: bool) -> Server {
        self.handle_signals = on;
        self
    }

    /// A handle to start the drain from anywhere.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            signal: self.signal.clone(),
        }
    }

    /// Serves on every loop of `runtime` until the drain completes. `make_app` runs once
    /// per loop, so each loop owns its router and state; state shared by every loop is an
    /// `Arc` the factory clones into each router with
    /// [`Router::with_state`](crate::Router::with_state).
    ///
    /// # Errors
    ///
    /// When a loop cannot bind its listener, or (`InvalidInput`) when a route takes a
    /// [`State<S>`](crate::State) its router was not given; the drain of the other loops
    /// still runs.
    pub fn serve<F>(self, runtime: &Runtime, make_app: F) -> io::Result<()>
    where
        F: Fn() -> Router + Send + Sync + 'static,
    {
        let Server {
            first,
            addr,
            config,
            signal,
            handle_signals,
        } = self;
        let first = Arc::new(Mutex::new(Some(first)));
        let bind_error: Arc<Mutex<Option<io::Error>>> = Arc::default();
        let errors = bind_error.clone();
        let result = runtime.run(move |ctx: LoopContext| {
            let listener = first.lock().take();
            let app = make_app();
            let state_error = app.check_states().err();
            let config = config.clone();
            let signal = signal.clone();
            let errors = errors.clone();
            async move {
                if let Some(message) = state_error {
                    tracing::error!(loop_index = ctx.index(), "{message}");
                    let e = io::Error::new(io::ErrorKind::InvalidInput, message);
                    errors.lock().get_or_insert(e);
                    signal.fire();
                    return;
                }
                if handle_signals && ctx.index() == 0 {
                    keel_runtime::spawn_local(watch_signals(signal.clone()));
                }
                let listener = match listener {
                    Some(std) => TcpListener::from_std(std),
                    None => TcpListener::bind_one(addr, DEFAULT_BACKLOG),
                };
                match listener {
                    Ok(listener) => serve_loop(listener, app, config, signal).await,
                    Err(e) => {
                        tracing::error!(loop_index = ctx.index(), %addr, error = %e, "could not listen");
                        errors.lock().get_or_insert(e);
                        signal.fire();
                    }
                }
            }
        });
        if let Err(e) = result {
            return Err(io::Error::other(format!("a server loop panicked: {e}")));
        }
        match bind_error.lock().take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// One loop's accept loop, then its part of the drain.
async fn serve_loop(
    listener: TcpListener,
    router: Router,
    config: ServerConfig,
    signal: Arc<ShutdownSignal>,
) {
    let server = Rc::new(LoopServer::new(router, config));
    let accepting = async {
        loop {
            accept_one(&listener, &server).await;
        }
    };
    if let Either::Left(never) = select(accepting, signal.wait()).await {
        return never;
    }
    // Step 2: take what the kernel already queued for this listener, then close it.
    while let Ok(()) = timeout(Duration::ZERO, accept_one(&listener, &server)).await {}
    drop(listener);
    // Step 3.
    server.drain.start();
    // Step 4.
    let deadline = Instant::now() + server.config.shutdown_timeout;
    while server.open.get() > 0 && Instant::now() < deadline {
        sleep(Duration::from_millis(5)).await;
    }
    if server.open.get() > 0 {
        tracing::warn!(
            open = server.open.get(),
            loop_index = keel_runtime::current_loop(),
            "connections still open at the shutdown deadline; closing them"
        );
    }
}

/// Accepts one connection and spawns its task (or closes it at once over the cap).
async fn accept_one(listener: &TcpListener, server: &Rc<LoopServer>) {
    match listener.accept().await {
        Ok((stream, peer)) => {
            if server.open.get() >= server.config.max_connections {
                drop(stream);
                return;
            }
            server.open.set(server.open.get() + 1);
            let server = server.clone();
            keel_runtime::spawn_local(async move {
                let guard = OpenGuard(server.clone());
                conn::serve(stream, peer, server).await;
                drop(guard);
            });
        }
        Err(e) => {
            tracing::warn!(error = %e, "accept failed");
            // Out of file descriptors and the like: back off instead of spinning.
            sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Counts a connection as open until its task ends (also when it panics or is dropped).
struct OpenGuard(Rc<LoopServer>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.set(self.0.open.get().saturating_sub(1));
    }
}

/// SIGTERM or SIGINT starts the drain; a second SIGINT exits at once.
async fn watch_signals(signal: Arc<ShutdownSignal>) {
    let (Ok(mut term), Ok(mut int)) = (
        signal_stream(SignalKind::Terminate),
        signal_stream(SignalKind::Interrupt),
    ) else {
        tracing::warn!(
            "could not subscribe to SIGTERM/SIGINT; graceful shutdown only through ShutdownHandle"
        );
        return;
    };
    match select(term.recv(), int.recv()).await {
        Either::Left(_) => tracing::info!("SIGTERM received; draining"),
        Either::Right(_) => {
            tracing::info!("SIGINT received; draining (send it again to exit at once)")
        }
    }
    signal.fire();
    if int.recv().await.is_some() {
        tracing::warn!("second SIGINT; exiting now");
        std::process::exit(130);
    }
}

fn signal_stream(kind: SignalKind) -> io::Result<keel_runtime::signal::Signal> {
    signal(kind)
}

fn bind_reuseport(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.cloexec(),
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(DEFAULT_BACKLOG as i32)?;
    Ok(socket.into())
}
