//! HTTP/2 connections, on the `h2` crate (hyper's; docs/why-h2.md) driven on Keel's own
//! loop through tokio's `AsyncRead`/`AsyncWrite` traits only: `h2` keeps no timer and
//! spawns nothing, so no tokio scheduler, reactor or clock is involved. Each connection
//! is a task on the loop that accepted it and each of its streams another task there
//! ([`stream`]), so `!Send` handlers and per-loop state work as over HTTP/1.1.
//!
//! * this file: the connection's task — the handshake with Keel's settings, accepting
//!   streams, the idle timeout, the drain (`GOAWAY`, streams in flight finish), and the
//!   end of a connection that floods;
//! * [`config`]: [`H2Config`], the settings and `KEEL_H2_*`;
//! * [`io`]: the byte stream `h2` drives (bytes already read first, the flood guard
//!   watching, bytes counted);
//! * [`flood`]: the budgets that end a flooding connection;
//! * [`request`]: an HTTP/2 head as Keel's request head;
//! * [`stream`]: one stream through the dispatch;
//! * [`request_body`]: a body streamed to its handler, the window given back as it reads;
//! * [`response`]: a response as HEADERS, DATA within the client's window, trailers.
//!
//! A connection gets here two ways (docs/http2.md): ALPN `h2` after a TLS handshake
//! ([`tls`](super::tls)), or a plaintext connection whose first bytes are the HTTP/2
//! preface (h2c with prior knowledge), which the HTTP/1.1 connection hands over with
//! what it read. `Upgrade: h2c` is not supported (answered as HTTP/1.1, which RFC 9113
//! allows; it deprecated the mechanism).

pub(crate) mod config;
mod flood;
mod io;
mod request;
mod request_body;
mod response;
mod stream;

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use keel_runtime::future::{Either, select};
use keel_runtime::time::{sleep_until, timeout};
use tokio::io::{AsyncRead, AsyncWrite};

use self::config::H2Config;
use self::flood::{FloodGuard, PREFACE};
use self::io::H2Io;
use super::tls::ClientIdentity;
use super::{LoopServer, OpenGuard};

/// Streams a client may reset before the server accepted them (`h2`'s rapid-reset
/// guard, counted per connection): past it, `GOAWAY(ENHANCE_YOUR_CALM)`.
const MAX_PENDING_ACCEPT_RESETS: usize = 20;
/// Streams the server may reset for a client's protocol errors; past it, `GOAWAY`.
const MAX_LOCAL_ERROR_RESETS: usize = 256;
/// Response bytes `h2` buffers per stream ahead of the client's window.
const MAX_SEND_BUFFER: usize = 256 * 1024;
/// How long a connection told to go away for a flood may take to say so.
const FLOOD_CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Whether `buf` starts with the request line of the HTTP/2 preface (as much of it as an
/// HTTP/1.1 parser reads as a head: `PRI * HTTP/2.0` and the empty line).
pub(crate) fn starts_with_preface(buf: &[u8]) -> bool {
    buf.starts_with(&PREFACE[..18])
}

/// Serves one HTTP/2 connection over `io` until it closes, then lets go of its `open`
/// count. `rewind`: bytes already read from `io` (the preface, when an HTTP/1.1
/// connection recognised it), given to `h2` first.
pub(crate) async fn serve<S>(
    io: S,
    rewind: Vec<u8>,
    peer: SocketAddr,
    server: Rc<LoopServer>,
    open: OpenGuard,
    identity: Option<ClientIdentity>,
) where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let settings = &server.config.h2;
    let guard = Rc::new(FloodGuard::new(settings.max_concurrent_streams));
    let io = H2Io::new(io, rewind, guard.clone(), server.stats.clone());
    // The preface and SETTINGS exchange within the headers timeout.
    let handshake = builder(settings).handshake::<_, Bytes>(io);
    let mut conn = match timeout(server.config.headers_timeout, handshake).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "HTTP/2 handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "HTTP/2 handshake timed out");
            return;
        }
    };
    let activity = Rc::new(Activity::default());
    let idle_timeout = settings.idle_timeout;
    let mut idle_timer = sleep_until(Instant::now() + idle_timeout);
    // Set once the connection was told to go away: accept until `h2` says it is done,
    // within this deadline (none while draining: the server's own deadline bounds it).
    let mut closing: Option<Option<Instant>> = None;
    let mut sent_away = false;
    loop {
        let accept = conn.accept();
        // The I/O wakes the task once when the guard trips (and gives `h2` no more bytes).
        let flooded = std::future::poll_fn(|_| match guard.tripped() {
            Some(flood) if !sent_away => Poll::Ready(flood),
            _ => Poll::Pending,
        });
        let wake = async {
            match closing {
                Some(Some(deadline)) => {
                    sleep_until(deadline).await;
                    Wake::CloseDeadline
                }
                Some(None) => {
                    (&mut idle_timer).await;
                    Wake::Idle
                }
                None => match select(&mut idle_timer, server.drain.wait()).await {
                    Either::Left(()) => Wake::Idle,
                    Either::Right(()) => Wake::Drain,
                },
            }
        };
        match select(select(accept, flooded), wake).await {
            Either::Left(Either::Right(flood)) => {
                tracing::warn!(%peer, flood, "HTTP/2 client flooded; GOAWAY(ENHANCE_YOUR_CALM)");
                server.stats.reject(400, "h2_flood");
                conn.abrupt_shutdown(h2::Reason::ENHANCE_YOUR_CALM);
                sent_away = true;
                closing = Some(Some(Instant::now() + FLOOD_CLOSE_WAIT));
            }
            Either::Left(Either::Left(Some(Ok((request, respond))))) => {
                guard.accepted();
                let stream = ActiveStream::new(activity.clone());
                let task = stream::serve(request, respond, server.clone(), peer, identity.clone());
                keel_runtime::spawn_local(async move {
                    task.await;
                    drop(stream);
                });
            }
            Either::Left(Either::Left(Some(Err(e)))) => {
                tracing::debug!(%peer, error = %e, "HTTP/2 connection ended with an error");
                break;
            }
            Either::Left(Either::Left(None)) => break,
            Either::Right(Wake::Drain) => {
                // GOAWAY with the last stream id (after a PING round trip, so streams
                // already on their way are counted); the streams in flight finish.
                conn.graceful_shutdown();
                closing = Some(None);
            }
            Either::Right(Wake::Idle) => {
                let idle_since = activity.idle_since.get();
                match idle_since {
                    Some(since) if since.elapsed() >= idle_timeout => {
                        if closing.is_none() {
                            tracing::debug!(%peer, "HTTP/2 connection idle; GOAWAY");
                            conn.graceful_shutdown();
                            closing = Some(Some(Instant::now() + server.config.request_timeout));
                        }
                        idle_timer.reset(Instant::now() + idle_timeout);
                    }
                    Some(since) => idle_timer.reset(since + idle_timeout),
                    None => idle_timer.reset(Instant::now() + idle_timeout),
                }
            }
            Either::Right(Wake::CloseDeadline) => break,
        }
    }
    drop(conn);
    drop(open);
}

/// What woke the connection's task besides a stream.
enum Wake {
    Idle,
    Drain,
    CloseDeadline,
}

/// `h2`'s server settings from Keel's.
fn builder(settings: &H2Config) -> h2::server::Builder {
    let mut b = h2::server::Builder::new();
    b.max_concurrent_streams(settings.max_concurrent_streams)
        .max_header_list_size(settings.max_header_list_size)
        .initial_window_size(settings.initial_stream_window)
        .initial_connection_window_size(settings.initial_connection_window)
        .max_frame_size(settings.max_frame_size)
        .max_pending_accept_reset_streams(MAX_PENDING_ACCEPT_RESETS)
        .max_local_error_reset_streams(Some(MAX_LOCAL_ERROR_RESETS))
        .max_send_buffer_size(MAX_SEND_BUFFER);
    b
}

/// When the connection's last stream ended (`None` while one is open).
struct Activity {
    open: Cell<usize>,
    idle_since: Cell<Option<Instant>>,
}

impl Default for Activity {
    fn default() -> Activity {
        Activity {
            open: Cell::new(0),
            idle_since: Cell::new(Some(Instant::now())),
        }
    }
}

/// One open stream of a connection, until its task ends.
struct ActiveStream(Rc<Activity>);

impl ActiveStream {
    fn new(activity: Rc<Activity>) -> ActiveStream {
        activity.open.set(activity.open.get() + 1);
        activity.idle_since.set(None);
        ActiveStream(activity)
    }
}

impl Drop for ActiveStream {
    fn drop(&mut self) {
        let open = self.0.open.get() - 1;
        self.0.open.set(open);
        if open == 0 {
            self.0.idle_since.set(Some(Instant::now()));
        }
    }
}
