//! [`Server`]: binds one listener per loop on the same address (`SO_REUSEPORT`, the
//! kernel balances connections), builds the application once per loop, serves each
//! connection as a task on the loop that accepted it, and runs the shutdown state
//! machine.
//!
//! # The parts
//!
//! * [`h1`]: an HTTP/1.1 connection — reads, parses, frames, writes, keep-alive. A
//!   plaintext connection that opens with the HTTP/2 preface is handed to [`h2`] (h2c).
//! * [`h2`]: an HTTP/2 connection (the `h2` crate on Keel's loop), each stream a task
//!   through the same dispatch ([`H2Config`]).
//! * [`tls`]: with [`ServerConfig::tls`], each connection's TLS handshake (within its
//!   timeout, on the connection's task), then [`h1`] — or [`h2`] when ALPN chose `h2` —
//!   over the TLS session; the separate ops listener stays plaintext.
//! * [`dispatch`]: the one door into the application for every protocol — the ops
//!   endpoints ([`Ops`](crate::Ops): probes and `/metrics`), the router, middleware,
//!   panic catching, request context, span, RED metrics and the access log
//!   ([`access_log`]); errors rendered in one place ([`render`]).
//! * [`lifecycle`](crate::lifecycle) (the phase and the shutdown signal), [`hooks`],
//!   [`report`], [`in_flight`]: the drain.
//!
//! # Shutdown, one state machine ([`Phase`])
//!
//! `Starting → Running → Draining → Closing → Hooks → Stopped`:
//!
//! 1. *Running* once every loop (and the ops listener, if any) listens: `/health/startup`
//!    and (by default) `/health/ready` answer 200.
//! 2. *Draining*: SIGTERM or SIGINT (on loop 0), or [`ShutdownHandle::shutdown`].
//!    Readiness answers 503 at once; the server goes on serving for the pre-stop delay
//!    ([`ServerConfig::shutdown_delay`], `KEEL_SHUTDOWN_DELAY`, default 0 s) so load
//!    balancers see the 503 and stop sending traffic.
//! 3. *Closing*: each loop accepts what is already queued on its listener, then closes
//!    it; once every loop's listener is closed, each connection's next answer says
//!    `Connection: close` and the connection closes after it (requests already received,
//!    pipelined ones too, are all answered, the last one with `Connection: close`); an
//!    idle keep-alive connection closes when no next request arrived within a short grace
//!    (a request a client wrote is answered, never cut off); in-flight requests finish.
//!    Each loop waits for its connections up to the drain deadline
//!    ([`ServerConfig::shutdown_timeout`], `KEEL_SHUTDOWN_TIMEOUT`, default 30 s, counted
//!    from the end of the delay); past it, it logs every request still in flight and
//!    closes them. Work spawned on the tokio bridge (`keel_runtime::tokio::spawn`) then
//!    gets what is left of the delay plus the timeout; what still runs is logged, named
//!    in the report ([`ServeReport::bridged_stragglers`]) and cancelled with the runtime.
//! 4. *Hooks*: the [`on_shutdown`](Server::on_shutdown) hooks run on loop 0 in reverse
//!    registration order, each within its budget.
//! 5. *Stopped*: [`serve`](Server::serve) returns a [`ServeReport`]: clean, or the
//!    deadline was exceeded (naming what was abandoned), or a hook failed; its
//!    [`exit_code`](ServeReport::exit_code) is 0 or 1. A second SIGINT exits at once
//!    (status 130).

mod access_log;
pub(crate) mod config;
mod dispatch;
mod h1;
mod h2;
mod hooks;
mod in_flight;
pub(crate) mod memory;
mod render;
mod report;
mod request_id;
mod tls;
mod trace;
mod transport;

use std::cell::{Cell, RefCell};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use keel_runtime::future::{Either, select};
use keel_runtime::net::{DEFAULT_BACKLOG, TcpListener};
use keel_runtime::signal::{SignalKind, signal};
use keel_runtime::time::{sleep, timeout};
use keel_runtime::{LoopContext, Runtime};
use parking_lot::Mutex;

pub use self::config::{Environment, ServerConfig};
pub use self::h2::config::{
    DEFAULT_H2_IDLE_TIMEOUT, DEFAULT_INITIAL_CONNECTION_WINDOW, DEFAULT_INITIAL_STREAM_WINDOW,
    DEFAULT_MAX_CONCURRENT_STREAMS, DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_HEADER_LIST_SIZE, H2Config,
};
use self::hooks::Hook;
pub use self::hooks::{DEFAULT_HOOK_BUDGET, HookOutcome, HookReport};
use self::in_flight::InFlight;
pub use self::in_flight::InFlightRequest;
pub use self::report::{Outcome, ServeReport};
pub use self::tls::{
    ClientIdentity, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_RELOAD_INTERVAL, TlsConfig,
};
use crate::lifecycle::LocalDrain;
pub(crate) use crate::lifecycle::ShutdownSignal;
pub use crate::lifecycle::{Phase, ShutdownHandle};
use crate::metrics::HttpStats;
use crate::middleware::{Middleware, SecurityHeaders};
use crate::ops::{HealthHandle, Ops, OpsMount};
use crate::proto::encode::CheckedStatics;
use crate::router::Router;

/// How long a loop that closed its listener waits for the other loops to close theirs
/// before it tells its connections to close.
const LISTENERS_CLOSE_WAIT: Duration = Duration::from_millis(200);

/// How long the separate ops listener's last connections get once the main drain ended.
const OPS_DRAIN: Duration = Duration::from_secs(2);

/// An HTTP/1.1 server bound to an address.
///
/// # Examples
///
/// ```no_run
/// use keel_http::{Ops, Router, Server, ServerConfig};
/// use keel_runtime::Runtime;
///
/// let runtime = Runtime::new()?;
/// let report = Server::bind("0.0.0.0:3000")?
///     .config(ServerConfig::from_env()?)
///     .ops(Ops::from_env()?)
///     .serve(&runtime, || Router::new().get("/plaintext", || async { "Hello, World!" }))?;
/// if !report.is_clean() {
///     std::process::exit(1);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Server {
    first: std::net::TcpListener,
    addr: SocketAddr,
    config: ServerConfig,
    signal: Arc<ShutdownSignal>,
    handle_signals: bool,
    ops: Ops,
    hooks: Vec<Hook>,
}

/// One loop's share of a server: its app, its ops endpoints, its settings, its drain
/// flag, its connection count and its requests in flight. Connections hold it by `Rc`.
pub(crate) struct LoopServer {
    pub(crate) router: Router,
    pub(crate) layers: Rc<[Rc<dyn Middleware>]>,
    /// No middleware (the ops endpoints'), allocated once.
    pub(crate) no_layers: Rc<[Rc<dyn Middleware>]>,
    /// The ops endpoints, when served on this listener.
    pub(crate) ops: Option<OpsMount>,
    pub(crate) config: ServerConfig,
    pub(crate) drain: LocalDrain,
    pub(crate) in_flight: InFlight,
    open: Cell<usize>,
    /// This loop's HTTP figures (shared by every server on the loop).
    pub(crate) stats: Rc<HttpStats>,
    /// Static response header fields already checked on this loop (shared by its
    /// connections, so a new connection starts with them known).
    pub(crate) checked_statics: RefCell<CheckedStatics>,
    /// The security headers every response carries, for this environment.
    pub(crate) security_headers: Option<SecurityHeaders>,
}

impl LoopServer {
    pub(crate) fn new(router: Router, config: ServerConfig, ops: Option<OpsMount>) -> LoopServer {
        LoopServer {
            security_headers: config.effective_security_headers(),
            layers: router.layers().to_vec().into(),
            no_layers: Rc::from([]),
            router,
            ops,
            config,
            drain: LocalDrain::default(),
            in_flight: InFlight::default(),
            open: Cell::new(0),
            stats: crate::metrics::http_stats(),
            checked_statics: RefCell::default(),
        }
    }
}

/// What one loop left behind at its drain deadline.
#[derive(Default)]
struct Leftovers {
    open: usize,
    requests: Vec<InFlightRequest>,
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
            match TcpListener::bind_std(addr, DEFAULT_BACKLOG) {
                Ok(first) => {
                    let addr = first.local_addr()?;
                    return Ok(Server {
                        first,
                        addr,
                        config: ServerConfig::default(),
                        signal: Arc::default(),
                        handle_signals: true,
                        ops: Ops::new(),
                        hooks: Vec::new(),
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

    /// The separate ops address, when [`Ops::listen`] gave one.
    pub fn ops_addr(&self) -> Option<SocketAddr> {
        self.ops.local_addr()
    }

    /// Replaces the settings.
    pub fn config(mut self, config: ServerConfig) -> Server {
        self.config = config;
        self
    }

    /// Replaces the ops endpoints' settings. # Default: [`Ops::new`] (health probes on
    /// the main listener, no checks).
    pub fn ops(mut self, ops: Ops) -> Server {
        self.ops = ops;
        self
    }

    /// Whether SIGTERM and SIGINT start the drain. # Default: on.
    pub fn handle_signals(mut self, on: bool) -> Server {
        self.handle_signals = on;
        self
    }

    /// Registers a shutdown hook: after the drain, hooks run on loop 0 in reverse
    /// registration order, one at a time, each within `budget` (then it is dropped and
    /// the shutdown reported as failed). `hook` runs once; its future may be `!Send`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let server = keel_http::Server::bind("127.0.0.1:0")
    ///     .unwrap()
    ///     .on_shutdown("flush logs", Duration::from_secs(2), || async { /* ... */ })
    ///     .on_shutdown("close pools", Duration::from_secs(5), || async { /* runs first */ });
    /// # let _ = server;
    /// ```
    pub fn on_shutdown<F, Fut>(mut self, name: &str, budget: Duration, hook: F) -> Server
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + 'static,
    {
        self.hooks.push(Hook::new(name, budget, hook));
        self
    }

    /// A handle to start the drain from anywhere.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            signal: self.signal.clone(),
        }
    }

    /// A handle to tell the health probes the application is ready.
    pub fn health_handle(&self) -> HealthHandle {
        HealthHandle {
            signal: self.signal.clone(),
        }
    }

    /// Serves on every loop of `runtime` until the shutdown completes, then runs the
    /// shutdown hooks and reports how it went. `make_app` runs once per loop, so each loop
    /// owns its router and state; state shared by every loop is an `Arc` the factory
    /// clones into each router with [`Router::with_state`](crate::Router::with_state).
    ///
    /// # Errors
    ///
    /// When a loop cannot bind its listener, or (`InvalidInput`) when a route takes a
    /// [`State<S>`](crate::State) its router was not given; the drain of the other loops
    /// still runs. A drain past its deadline is not an error: it is the report's
    /// [`outcome`](ServeReport::outcome).
    pub fn serve<F>(self, runtime: &Runtime, make_app: F) -> io::Result<ServeReport>
    where
        F: Fn() -> Router + Send + Sync + 'static,
    {
        let Server {
            first,
            addr,
            config,
            signal,
            handle_signals,
            ops,
            hooks,
        } = self;
        // The whole drain's budget, from the shutdown signal: what the HTTP drain leaves
        // of it goes to work spawned on the tokio bridge.
        let drain_budget = config.shutdown_delay + config.shutdown_timeout;
        let ops_enabled = ops.is_enabled();
        let (surface, ops_listener) = ops.into_parts(signal.clone());
        let separate_ops = ops_enabled && ops_listener.is_some();
        let ops_listener = Arc::new(Mutex::new(ops_listener.filter(|_| ops_enabled)));
        let needed = runtime.handle().loops() + usize::from(separate_ops);
        let listening = Arc::new(AtomicUsize::new(0));
        let first = Arc::new(Mutex::new(Some(first)));
        let bind_error: Arc<Mutex<Option<io::Error>>> = Arc::default();
        let leftovers: Arc<Mutex<Leftovers>> = Arc::default();
        let errors = bind_error.clone();
        let left = leftovers.clone();
        let sig = signal.clone();
        // Subscribed before any loop runs, so a SIGTERM that comes as soon as the first
        // request has been answered drains instead of killing the process.
        let subscribed = Arc::new(Mutex::new(handle_signals.then(subscribe_signals)));
        let result = runtime.run(move |ctx: LoopContext| {
            let listener = first.lock().take();
            let app = make_app();
            let state_error = app.check_states().err();
            let mount = (ops_enabled && !separate_ops).then(|| OpsMount::new(&surface));
            let ops = if ctx.index() == 0 {
                ops_listener
                    .lock()
                    .take()
                    .map(|l| (l, OpsMount::new(&surface)))
            } else {
                None
            };
            let config = config.clone();
            let signal = sig.clone();
            let errors = errors.clone();
            let left = left.clone();
            let listening = listening.clone();
            // Loop 0 takes the subscription (a restarted loop 0 subscribes again).
            let signals = (handle_signals && ctx.index() == 0)
                .then(|| subscribed.lock().take().unwrap_or_else(subscribe_signals));
            async move {
                if let Some(message) = state_error {
                    tracing::error!(loop_index = ctx.index(), "{message}");
                    let e = io::Error::new(io::ErrorKind::InvalidInput, message);
                    errors.lock().get_or_insert(e);
                    signal.fire();
                    return;
                }
                if let Some(signals) = signals {
                    keel_runtime::spawn_local(watch_signals(signal.clone(), signals));
                }
                let started = || {
                    if listening.fetch_add(1, Ordering::SeqCst) + 1 == needed {
                        signal.mark_started();
                        tracing::info!("every listener accepts: started");
                    }
                };
                // Loop 0 also serves the separate ops listener, until its own drain ends.
                let stop_ops = Rc::new(LocalDrain::default());
                let ops_task = match ops.map(|(l, mount)| (TcpListener::from_std(l), mount)) {
                    Some((Ok(listener), mount)) => {
                        started();
                        let stop = stop_ops.clone();
                        let config = config.clone();
                        Some(keel_runtime::spawn_local(serve_ops(
                            listener, mount, config, stop,
                        )))
                    }
                    Some((Err(e), _)) => {
                        tracing::error!(error = %e, "could not listen on the ops address");
                        errors.lock().get_or_insert(e);
                        signal.fire();
                        None
                    }
                    None => None,
                };
                let listener = match listener {
                    Some(std) => TcpListener::from_std(std),
                    None => TcpListener::bind_one(addr, DEFAULT_BACKLOG),
                };
                match listener {
                    Ok(listener) => {
                        started();
                        signal.listener_opened();
                        let l = serve_loop(listener, app, mount, config, signal).await;
                        let mut all = left.lock();
                        all.open += l.open;
                        all.requests.extend(l.requests);
                    }
                    Err(e) => {
                        tracing::error!(loop_index = ctx.index(), %addr, error = %e, "could not listen");
                        errors.lock().get_or_insert(e);
                        signal.fire();
                    }
                }
                stop_ops.start();
                if let Some(task) = ops_task {
                    let _ = task.await;
                }
            }
        });
        if let Err(e) = result {
            return Err(io::Error::other(format!("a server loop panicked: {e}")));
        }
        if let Some(e) = bind_error.lock().take() {
            return Err(e);
        }
        let bridged = drain_bridged(signal.fired_at(), drain_budget);
        signal.advance(Phase::Hooks);
        let hooks = run_hooks(runtime, hooks);
        signal.advance(Phase::Stopped);
        let Leftovers { open, requests } = std::mem::take(&mut *leftovers.lock());
        let report = ServeReport {
            open_at_deadline: open,
            abandoned: requests,
            bridged,
            hooks,
            took: signal.fired_at().map(|at| at.elapsed()),
        };
        match report.outcome() {
            Outcome::Clean => tracing::info!(
                took_ms = report.took().map(|took| took.as_secs_f64() * 1e3),
                "shutdown complete"
            ),
            outcome => tracing::error!(?outcome, open, "shutdown did not complete cleanly"),
        }
        Ok(report)
    }
}

/// Waits for the work spawned on the tokio bridge (`keel_runtime::tokio::spawn`) for
/// what is left of the drain's budget since the shutdown `fired_at` (nothing when the
/// runtime stopped without one), and names what still runs then; the runtime's drop
/// cancels it.
fn drain_bridged(
    fired_at: Option<Instant>,
    budget: Duration,
) -> Vec<keel_runtime::tokio::BridgedTask> {
    let left = fired_at.map_or(Duration::ZERO, |at| budget.saturating_sub(at.elapsed()));
    let stragglers = keel_runtime::tokio::drain(left);
    for task in &stragglers {
        tracing::error!(
            request_id = task.request_id.as_deref().unwrap_or(""),
            spawned_at = %task.spawned_at,
            running_for = ?task.running_for,
            "bridged task still running at the shutdown deadline; cancelling it"
        );
    }
    stragglers
}

/// Runs the hooks on loop 0 (so they may use Keel I/O and `!Send` state).
fn run_hooks(runtime: &Runtime, hooks: Vec<Hook>) -> Vec<HookReport> {
    if hooks.is_empty() {
        return Vec::new();
    }
    if runtime.handle().is_shutdown() {
        tracing::error!(
            hooks = hooks.len(),
            "the runtime shut down before the shutdown hooks could run"
        );
        return Vec::new();
    }
    let handle = runtime.handle().clone();
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(async move { handle.spawn_local_on(0, move || hooks::run(hooks)).await })
    }));
    match run {
        Ok(Ok(reports)) => reports,
        _ => {
            tracing::error!("the shutdown hooks could not run to the end");
            Vec::new()
        }
    }
}

/// One loop's accept loop, then its part of the drain; returns what was left at the
/// deadline.
async fn serve_loop(
    listener: TcpListener,
    router: Router,
    ops: Option<OpsMount>,
    config: ServerConfig,
    signal: Arc<ShutdownSignal>,
) -> Leftovers {
    // Zeros on a plaintext server: the families are there whatever the listener speaks.
    tls::start(config.tls.as_ref());
    crate::ws::register_metrics();
    // HTTP/2 off: ALPN offers HTTP/1.1 alone.
    let config = if config.h2.enabled {
        config
    } else {
        let tls = config.tls.as_ref().map(TlsConfig::http11_only);
        config.tls(tls)
    };
    let server = Rc::new(LoopServer::new(router, config, ops));
    let accepting = async {
        loop {
            accept_one(&listener, &server).await;
        }
    };
    // Running, then Draining: still serving through the pre-stop delay.
    let until_closing = async {
        signal.wait().await;
        let delay = server.config.shutdown_delay;
        if !delay.is_zero() {
            sleep(delay).await;
        }
    };
    if let Either::Left(never) = select(accepting, until_closing).await {
        return never;
    }
    // Closing: take what the kernel already queued for this listener, then close it.
    signal.advance(Phase::Closing);
    while let Ok(()) = timeout(Duration::ZERO, accept_one(&listener, &server)).await {}
    drop(listener);
    signal.listener_closed();
    // Connections are told to close once no loop accepts any more (bounded: a loop that
    // died never reports its listener closed).
    let others_closing = Instant::now() + LISTENERS_CLOSE_WAIT;
    while signal.listeners_open() > 0 && Instant::now() < others_closing {
        sleep(Duration::from_millis(1)).await;
    }
    server.drain.start();
    let deadline = Instant::now() + server.config.shutdown_timeout;
    while server.open.get() > 0 && Instant::now() < deadline {
        sleep(Duration::from_millis(5)).await;
    }
    let open = server.open.get();
    if open == 0 {
        return Leftovers::default();
    }
    let loop_index = keel_runtime::current_loop().unwrap_or(0);
    let requests = server.in_flight.snapshot(loop_index);
    tracing::error!(
        open,
        in_flight = requests.len(),
        loop_index,
        "connections still open at the shutdown deadline; closing them"
    );
    for r in &requests {
        tracing::error!(method = %r.method, route = %r.route, peer = %r.peer, running_for = ?r.running_for, loop_index, "abandoned in flight at the shutdown deadline");
    }
    Leftovers { open, requests }
}

/// The separate ops listener (on loop 0): serves the ops endpoints (every other path is
/// a 404) until `stop`, then gives its connections a short drain.
async fn serve_ops(
    listener: TcpListener,
    mount: OpsMount,
    config: ServerConfig,
    stop: Rc<LocalDrain>,
) {
    // Plaintext, whatever the main listener speaks: kubelet probes need no certificate.
    let config = config.tls(None);
    let server = Rc::new(LoopServer::new(Router::new(), config, Some(mount)));
    let accepting = async {
        loop {
            accept_one(&listener, &server).await;
        }
    };
    if let Either::Left(never) = select(accepting, stop.wait()).await {
        return never;
    }
    drop(listener);
    server.drain.start();
    let deadline = Instant::now() + OPS_DRAIN;
    while server.open.get() > 0 && Instant::now() < deadline {
        sleep(Duration::from_millis(5)).await;
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
            let open = OpenGuard(server.clone());
            let _ = stream.set_nodelay(true);
            match &server.config.tls {
                Some(tls) => {
                    let tls = tls.clone();
                    keel_runtime::spawn_local(tls::serve(stream, peer, server.clone(), open, tls))
                }
                None => keel_runtime::spawn_local(h1::serve(stream, peer, server.clone(), open)),
            };
        }
        Err(e) => {
            tracing::warn!(error = %e, "accept failed");
            // Out of file descriptors and the like: back off instead of spinning.
            sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Counts a connection as open until its task ends (also when it panics or is dropped).
/// One open connection, counted against `max_connections` until it drops.
pub(crate) struct OpenGuard(Rc<LoopServer>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.set(self.0.open.get().saturating_sub(1));
    }
}

/// SIGTERM and SIGINT subscriptions, for [`watch_signals`].
type Signals = io::Result<(keel_runtime::signal::Signal, keel_runtime::signal::Signal)>;

fn subscribe_signals() -> Signals {
    Ok((
        signal_stream(SignalKind::Terminate)?,
        signal_stream(SignalKind::Interrupt)?,
    ))
}

/// SIGTERM or SIGINT starts the drain; a second SIGINT exits at once.
async fn watch_signals(signal: Arc<ShutdownSignal>, signals: Signals) {
    let Ok((mut term, mut int)) = signals else {
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
