//! A loop's log lines go to the `keel-log` thread in batches: none is handed over while
//! the loop runs (no wake-up or system call per line), all of them when it parks, in one
//! write or two; a batch that finds the buffer full drops and counts the lines past it;
//! and `log::write_line` writes the very line a `tracing` event would.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use keel_runtime::log::{self, Config};
use keel_runtime::task_context::{self, Context};
use keel_testkit::logs::{Capture, json_lines};
use serde_json::Value;
use tracing::Level;
use tracing_subscriber::layer::SubscriberExt;

/// What a [`Counting`] writer was given.
#[derive(Default)]
struct Written {
    writes: usize,
    text: Vec<u8>,
}

/// A writer that counts its `write` calls, and blocks them while its gate is shut.
#[derive(Clone, Default)]
struct Counting {
    written: Arc<Mutex<Written>>,
    /// (shut, a write is waiting at the gate)
    gate: Arc<(Mutex<(bool, bool)>, Condvar)>,
}

impl Counting {
    fn shut(&self) {
        self.gate.0.lock().unwrap().0 = true;
    }

    fn open(&self) {
        self.gate.0.lock().unwrap().0 = false;
        self.gate.1.notify_all();
    }

    /// Waits until a write is held at the shut gate.
    fn wait_until_blocked(&self) {
        let (state, cv) = &*self.gate;
        let guard = state.lock().unwrap();
        let (_guard, timeout) = cv
            .wait_timeout_while(guard, Duration::from_secs(60), |s| !s.1)
            .unwrap();
        assert!(
            !timeout.timed_out(),
            "the log thread never reached the writer"
        );
    }

    fn writes(&self) -> usize {
        self.written.lock().unwrap().writes
    }

    fn lines(&self) -> Vec<String> {
        let text = String::from_utf8(self.written.lock().unwrap().text.clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (state, cv) = &*self.gate;
        let mut s = state.lock().unwrap();
        while s.0 {
            s.1 = true;
            cv.notify_all();
            s = cv.wait(s).unwrap();
        }
        s.1 = false;
        drop(s);
        let mut written = self.written.lock().unwrap();
        written.writes += 1;
        written.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_loop_hands_its_lines_over_in_one_batch_when_it_parks() {
    const LINES: usize = 300;
    let out = Counting::default();
    let (layer, filter, guard) = log::layer(Config::new().writer(out.clone())).unwrap();
    let subscriber = tracing_subscriber::registry().with(filter).with(layer);
    let probe = out.clone();
    tracing::subscriber::with_default(subscriber, || {
        keel_runtime::block_on(async move {
            for i in 0..LINES {
                tracing::info!(line = i, user = "ann", "batched");
            }
            // Were lines handed over one by one, the log thread would have written
            // some of them by now.
            std::thread::sleep(Duration::from_millis(200));
            assert_eq!(probe.writes(), 0, "a line left the loop before it parked");
        });
    });
    assert!(guard.flush(Duration::from_secs(30)));
    let lines = out.lines();
    assert_eq!(lines.len(), LINES, "every line written once");
    for (i, line) in lines.iter().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["line"], i, "in order: {line}");
        assert_eq!(v["loop"], 0);
    }
    assert!(
        out.writes() <= 2,
        "{} writes for {LINES} lines in one batch",
        out.writes()
    );
}

#[test]
fn a_batch_that_finds_the_buffer_full_drops_and_counts_the_lines_past_it() {
    const BUFFER: usize = 16;
    const LINES: usize = 100;
    let out = Counting::default();
    let config = Config::new()
        .buffer(BUFFER)
        .level("log_batch=info")
        .unwrap()
        .writer(out.clone());
    let (layer, filter, guard) = log::layer(config).unwrap();
    let subscriber = tracing_subscriber::registry().with(filter).with(layer);
    tracing::subscriber::with_default(subscriber, || {
        // One line, from this thread, takes the writer and holds it at the gate.
        out.shut();
        tracing::info!("blocker");
        out.wait_until_blocked();
        let dropped_before = log::dropped_lines();
        keel_runtime::block_on(async {
            for i in 0..LINES {
                tracing::info!(line = i, "flood");
            }
        });
        assert_eq!(
            log::dropped_lines() - dropped_before,
            (LINES - BUFFER) as u64,
            "the lines past the buffer are dropped and counted"
        );
    });
    out.open();
    assert!(guard.flush(Duration::from_secs(30)));
    let lines = out.lines();
    assert_eq!(lines.len(), 1 + BUFFER, "{lines:?}");
    let first: Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(first["line"], 0, "the first lines are kept");
}

#[test]
fn write_line_writes_what_the_event_would() {
    let out = Capture::default();
    let (layer, filter, guard) = log::layer(Config::new().writer(out.clone())).unwrap();
    let subscriber = tracing_subscriber::registry().with(filter).with(layer);
    let ctx = Context::new("req-7").with_field("tenant", "acme");
    let mut written = false;
    tracing::subscriber::with_default(subscriber, || {
        keel_runtime::block_on(async {
            task_context::enter(Some(ctx.clone()), || {
                tracing::info!(
                    target: "app::audit",
                    user = "ann \"a\"",
                    route = Option::<&str>::None,
                    attempt = 3u64,
                    took_ms = 0.125,
                    token = "t0ps3cret",
                    note = "password=hunter2",
                    msg = "a reserved key",
                    "login"
                );
            });
            written = log::write_line(Level::INFO, "app::audit", "login", Some(&ctx), |f| {
                f.str("user", "ann \"a\"");
                f.opt_str("route", None);
                f.unsigned("attempt", 3);
                f.float("took_ms", 0.125);
                f.str("token", "t0ps3cret");
                f.display("note", &"password=hunter2");
                f.str("msg", "a reserved key");
            });
        });
    });
    assert!(written, "Keel's layer is installed");
    assert!(guard.flush(Duration::from_secs(30)));
    let text = out.text();
    let mut lines = json_lines(&text);
    assert_eq!(lines.len(), 2, "{text}");
    for line in &mut lines {
        line.as_object_mut().unwrap().remove("time");
    }
    assert_eq!(lines[0], lines[1], "{text}");
    assert_eq!(lines[1]["token"], "[REDACTED]");
    assert_eq!(lines[1]["note"], "password=[REDACTED]");
    assert_eq!(lines[1]["field.msg"], "a reserved key");
    assert_eq!(lines[1]["request_id"], "req-7");
    assert_eq!(lines[1]["tenant"], "acme");
    assert_eq!(lines[1]["loop"], 0);
    // The key order too: the lines are the same text but for the time.
    let strip = |l: &str| l[l.find("\"level\"").unwrap()..].to_owned();
    let raw: Vec<_> = text.lines().map(strip).collect();
    assert_eq!(raw[0], raw[1]);

    // No Keel layer in the subscriber: nothing written, the caller logs an event.
    let none = tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        log::write_line(Level::INFO, "app", "x", None, |_| {})
    });
    assert!(!none);
}
