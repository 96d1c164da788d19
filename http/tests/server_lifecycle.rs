//! The shutdown state machine under load and its hooks: 50 keep-alive connections keep
//! the server busy while the shutdown starts; every request sent before it started gets a
//! complete response, none is cut mid-response, and `serve` returns a clean report in
//! time. Shutdown hooks run in reverse registration order on loop 0, each within its
//! budget; an overrun or a panic is reported and the next hook still runs.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use keel_http::{HookOutcome, Outcome, Phase, Router, Server, ServerConfig};
use keel_testkit::{Client, TestServer};

const BODY_LEN: usize = 32 * 1024;

/// `/work` waits a little on the loop's timer, then answers a 32 KiB body whose bytes
/// encode the request's number (so a mixed-up or truncated body shows).
fn app() -> Router {
    Router::new().get(
        "/work/:n",
        |keel_http::Path(n): keel_http::Path<u8>| async move {
            keel_runtime::time::sleep(Duration::from_millis(3)).await;
            vec![n; BODY_LEN]
        },
    )
}

#[derive(Default)]
struct Tally {
    complete: AtomicUsize,
    closed_by_server: AtomicUsize,
    refused_after_shutdown: AtomicUsize,
    violations: Mutex<Vec<String>>,
}

/// One client connection: request after request until the server says close (or closes
/// after the shutdown started). Checks every response is whole.
fn client_loop(addr: std::net::SocketAddr, shutdown_called: &AtomicBool, tally: &Tally) {
    let mut c = Client::connect(addr);
    for i in 0u32.. {
        let n = (i % 250) as u8;
        if c.stream
            .set_write_timeout(Some(keel_testkit::IO_TIMEOUT))
            .and_then(|()| {
                io::Write::write_all(
                    &mut c.stream,
                    format!("GET /work/{n} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
                )
            })
            .is_err()
        {
            // The server closed this idle connection: only allowed once shutdown began.
            if !shutdown_called.load(Ordering::SeqCst) {
                tally
                    .violations
                    .lock()
                    .unwrap()
                    .push("write failed before shutdown".into());
            }
            tally.refused_after_shutdown.fetch_add(1, Ordering::SeqCst);
            return;
        }
        // Read after the write: if shutdown had not been called by now, the request's
        // bytes were in the server's socket before the listener closed.
        let sent_before_shutdown = !shutdown_called.load(Ordering::SeqCst);
        match c.try_read_response(false) {
            Ok(res) => {
                if res.status != 200
                    || res.body.len() != BODY_LEN
                    || res.body.iter().any(|b| *b != n)
                {
                    tally.violations.lock().unwrap().push(format!(
                        "bad response: status {} len {}",
                        res.status,
                        res.body.len()
                    ));
                    return;
                }
                tally.complete.fetch_add(1, Ordering::SeqCst);
                if res.closes() {
                    tally.closed_by_server.fetch_add(1, Ordering::SeqCst);
                    return;
                }
            }
            Err(e) => {
                let clean_close =
                    e.kind() == io::ErrorKind::UnexpectedEof || keel_testkit::is_reset(&e);
                if !clean_close {
                    // Bytes that are not a whole response: cut mid-response, or garbage.
                    tally
                        .violations
                        .lock()
                        .unwrap()
                        .push(format!("response cut or invalid: {e}"));
                } else if sent_before_shutdown {
                    tally
                        .violations
                        .lock()
                        .unwrap()
                        .push("a request sent before shutdown got no response".into());
                } else {
                    tally.refused_after_shutdown.fetch_add(1, Ordering::SeqCst);
                }
                return;
            }
        }
    }
}

#[test]
fn shutdown_under_load_answers_every_request_sent_before_it_and_cuts_none() {
    let config = ServerConfig::default().shutdown_timeout(Duration::from_secs(20));
    let mut s = TestServer::start(config, app);
    let shutdown_called = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let clients: Vec<_> = (0..50)
        .map(|_| {
            let addr = s.addr;
            let called = shutdown_called.clone();
            let tally = tally.clone();
            thread::spawn(move || client_loop(addr, &called, &tally))
        })
        .collect();

    // Let every connection get going.
    let busy = keel_testkit::eventually(Duration::from_secs(20), || {
        (tally.complete.load(Ordering::SeqCst) >= 200).then_some(())
    });
    assert!(busy.is_some(), "the load never got going");

    shutdown_called.store(true, Ordering::SeqCst);
    let asked = Instant::now();
    s.handle.shutdown();
    let report = s
        .wait_stopped(Duration::from_secs(40))
        .expect("serve did not return within the window")
        .expect("serve failed");
    let took = asked.elapsed();
    for c in clients {
        c.join().expect("client thread panicked");
    }

    let violations = tally.violations.lock().unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.outcome(), Outcome::Clean);
    assert!(took < Duration::from_secs(20), "drain took {took:?}");
    assert_eq!(s.handle.phase(), Phase::Stopped);
    // Each connection ended either with a `Connection: close` response or by being
    // closed idle once the shutdown began.
    let ended = tally.closed_by_server.load(Ordering::SeqCst)
        + tally.refused_after_shutdown.load(Ordering::SeqCst);
    assert_eq!(ended, 50);
}

#[test]
fn hooks_run_in_reverse_order_on_loop_0_each_within_its_budget() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let hook = |name: &'static str| {
        let order = order.clone();
        move || async move {
            order
                .lock()
                .unwrap()
                .push((name, keel_runtime::current_loop()));
        }
    };
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .handle_signals(false)
        .on_shutdown("first", Duration::from_secs(5), hook("first"))
        .on_shutdown("hangs", Duration::from_millis(200), || async {
            keel_runtime::time::sleep(Duration::from_secs(3600)).await;
        })
        .on_shutdown("panics", Duration::from_secs(5), || async {
            panic!("hook exploded")
        })
        .on_shutdown("last", Duration::from_secs(5), hook("last"));
    let s = TestServer::start_server(2, server, || Router::new().get("/", || async { "x" }));
    assert_eq!(s.connect().get("/").text(), "x");
    assert!(
        order.lock().unwrap().is_empty(),
        "a hook ran before shutdown"
    );

    let report = s.stop().expect("serve failed");
    assert_eq!(
        *order.lock().unwrap(),
        [("last", Some(0)), ("first", Some(0))]
    );
    let ran: Vec<(&str, &HookOutcome)> = report
        .hooks()
        .iter()
        .map(|h| (h.name.as_str(), &h.outcome))
        .collect();
    assert_eq!(ran.len(), 4, "{report:?}");
    assert_eq!(ran[0], ("last", &HookOutcome::Done));
    assert_eq!(ran[1].0, "panics");
    assert!(matches!(ran[1].1, HookOutcome::Panicked(m) if m.contains("hook exploded")));
    assert_eq!(ran[2], ("hangs", &HookOutcome::TimedOut));
    assert_eq!(ran[3], ("first", &HookOutcome::Done));
    assert!(report.hooks()[2].took >= Duration::from_millis(150));
    assert_eq!(report.outcome(), Outcome::HookFailed);
    assert!(!report.is_clean());
}

#[test]
fn clean_hooks_give_a_clean_report() {
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let server = Server::bind("127.0.0.1:0")
        .unwrap()
        .handle_signals(false)
        .on_shutdown("count", Duration::from_secs(5), move || async move {
            keel_runtime::time::sleep(Duration::from_millis(10)).await;
            r.fetch_add(1, Ordering::SeqCst);
        });
    let s = TestServer::start_server(1, server, Router::new);
    let report = s.stop().expect("serve failed");
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert!(report.is_clean(), "{report:?}");
    assert!(report.took().is_some());
}

#[test]
fn a_request_that_arrived_while_the_loop_was_busy_is_answered_by_the_drain() {
    // One loop, blocked by a handler; meanwhile an idle keep-alive connection's next
    // request arrives and the shutdown starts. When the loop runs again it drains, and
    // must still answer that request (its bytes arrived before the listener closed)
    // rather than close the "idle" connection under it. (Whether the loop sees the
    // socket's readiness before or after the drain depends on its scheduling; the
    // connection reads the socket directly on drain so that both orders answer.)
    let blocking = Arc::new(AtomicBool::new(false));
    let flag = blocking.clone();
    let s = TestServer::start_with_loops(1, ServerConfig::default(), move || {
        let flag = flag.clone();
        Router::new()
            .get("/", || async { "root" })
            .get("/block", move || {
                flag.store(true, Ordering::SeqCst);
                // Blocks the loop thread on purpose.
                thread::sleep(Duration::from_millis(800));
                async { "unblocked" }
            })
    });
    let mut idle = s.connect();
    assert_eq!(idle.get("/").text(), "root");
    let mut blocker = s.connect();
    blocker.send("GET /block HTTP/1.1\r\nHost: t\r\n\r\n");
    keel_testkit::eventually(Duration::from_secs(10), || {
        blocking.load(Ordering::SeqCst).then_some(())
    })
    .expect("the blocking handler never ran");
    idle.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    thread::sleep(Duration::from_millis(50));
    s.handle.shutdown();

    let res = blocker.read_response();
    assert_eq!(res.text(), "unblocked");
    let res = idle.read_response();
    assert_eq!((res.status, res.text()), (200, "root"));
    assert!(res.closes(), "{res:?}");
    idle.assert_closed();
    let report = s.stop().expect("serve failed");
    assert!(report.is_clean(), "{report:?}");
}
