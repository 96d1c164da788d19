//! The `log` module's lines, captured through an injected writer under a thread-local
//! subscriber: JSON fields, loop and request context, redaction, level filtering, the
//! readable format, and lines dropped (and counted) while the writer is blocked.

mod util;

use std::io::{self, Write};
use std::sync::mpsc;
use std::time::Duration;

use keel_runtime::log::{self, Config, Format};
use keel_runtime::task_context::{self, Context};
use keel_testkit::logs::{Capture, json_lines};
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

/// Runs `f` under Keel's layer built from `config` writing to a capture; the captured
/// text once everything is flushed.
fn capture(config: Config, f: impl FnOnce()) -> String {
    let out = Capture::default();
    let (layer, filter, guard) = log::layer(config.writer(out.clone())).unwrap();
    let subscriber = tracing_subscriber::registry().with(filter).with(layer);
    tracing::subscriber::with_default(subscriber, f);
    assert!(guard.flush(Duration::from_secs(30)));
    out.text()
}

#[test]
fn json_line_has_the_standard_keys_and_the_event_fields() {
    let text = capture(Config::new(), || {
        tracing::info!(
            port = 8080u64,
            ok = true,
            ratio = 0.5,
            name = "a\"b",
            "listening on {}",
            8080
        );
    });
    let lines = json_lines(&text);
    assert_eq!(lines.len(), 1, "{text}");
    let l = &lines[0];
    let time = l["time"].as_str().unwrap();
    assert_eq!(time.len(), "2026-01-31T12:00:00.123Z".len(), "{time}");
    assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{time}");
    assert_eq!(l["level"], "info");
    assert_eq!(l["msg"], "listening on 8080");
    assert_eq!(l["pid"], std::process::id());
    assert!(!l["hostname"].as_str().unwrap().is_empty());
    assert_eq!(l["target"], "log_format");
    assert_eq!(l["port"], 8080);
    assert_eq!(l["ok"], true);
    assert_eq!(l["ratio"], 0.5);
    assert_eq!(l["name"], "a\"b");
    assert!(l.get("loop").is_none(), "not on a loop: {text}");
    assert!(l.get("request_id").is_none(), "no context: {text}");
}

#[test]
fn lines_carry_the_loop_and_the_request_context() {
    let text = capture(Config::new(), || {
        keel_runtime::block_on(async {
            let ctx = Context::new("req-42").with_field("tenant", "acme");
            task_context::scope(ctx, async {
                tracing::warn!(time = "user's", request_id = "other", "inside");
            })
            .await;
            tracing::warn!(request_id = "own", "outside");
        });
    });
    let lines = json_lines(&text);
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["loop"], 0);
    assert_eq!(lines[0]["request_id"], "req-42");
    assert_eq!(lines[0]["tenant"], "acme");
    assert_eq!(
        lines[0]["field.time"], "user's",
        "a reserved key is renamed"
    );
    assert_eq!(lines[1]["loop"], 0);
    assert_eq!(
        lines[1]["request_id"], "own",
        "outside a context the field keeps its name"
    );
    assert!(lines[0].get("trace_id").is_none(), "untraced: {text}");
}

#[test]
fn a_traced_request_logs_its_trace_and_span_ids() {
    let span = keel_runtime::trace::SpanContext::parse_traceparent(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
    .unwrap();
    let text = capture(Config::new(), || {
        task_context::enter(Some(Context::new("req-7").with_trace(span)), || {
            tracing::warn!(trace_id = "mine", "traced");
        });
    });
    let lines = json_lines(&text);
    assert_eq!(
        lines[0]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736",
        "{text}"
    );
    assert_eq!(lines[0]["span_id"], "00f067aa0ba902b7");
    assert_eq!(lines[0]["field.trace_id"], "mine");
}

#[derive(Debug)]
#[allow(dead_code)] // read through Debug only
struct Login {
    user: &'static str,
    password: &'static str,
}

#[test]
fn secrets_are_redacted_wherever_they_appear() {
    let text = capture(Config::new().redact(["password", "token", "pin"]), || {
        let login = Login {
            user: "ann",
            password: "hunter2",
        };
        tracing::info!(
            Authorization = "Bearer sekrit-1",
            headers.cookie = "sid=sekrit-2",
            db_password = "sekrit-3",
            card.PIN = 1234u64,
            login = ?login,
            body = r#"{"token": "sekrit-5", "n": 1}"#,
            user = "ann",
            "retrying with token=sekrit-6"
        );
        keel_runtime::block_on(task_context::scope(
            Context::new("r").with_field("token", "sekrit-7"),
            async { tracing::info!("in context") },
        ));
    });
    for n in 1..=7 {
        assert!(
            !text.contains(&format!("sekrit-{n}")),
            "secret {n} leaked: {text}"
        );
    }
    assert!(
        !text.contains("hunter2") && !text.contains("1234"),
        "{text}"
    );
    let lines = json_lines(&text);
    let l = &lines[0];
    assert_eq!(l["Authorization"], "[REDACTED]");
    assert_eq!(l["headers.cookie"], "[REDACTED]");
    assert_eq!(l["db_password"], "[REDACTED]");
    assert_eq!(l["card.PIN"], "[REDACTED]");
    assert_eq!(
        l["login"],
        r#"Login { user: "ann", password: "[REDACTED]" }"#
    );
    assert_eq!(l["user"], "ann", "other fields are untouched");
    assert_eq!(l["msg"], "retrying with token=[REDACTED]");
    assert_eq!(lines[1]["token"], "[REDACTED]");
}

#[test]
fn level_filter_and_bad_values() {
    let text = capture(Config::new().level("warn").unwrap(), || {
        tracing::info!("quiet");
        tracing::warn!("loud");
        tracing::error!("louder");
    });
    let msgs: Vec<_> = json_lines(&text).iter().map(|l| l["msg"].clone()).collect();
    assert_eq!(msgs, ["loud", "louder"]);

    let text = capture(
        Config::new().level("error,log_format=debug").unwrap(),
        || tracing::debug!("targeted"),
    );
    assert_eq!(json_lines(&text)[0]["msg"], "targeted");

    for bad in ["verbose", "info,chatty", "x=loud"] {
        let err = Config::new().level(bad).unwrap_err();
        assert_eq!(err.name(), "LOG_LEVEL", "{bad}");
    }
}

#[test]
fn pretty_format_is_readable() {
    let text = capture(Config::new().format(Format::Pretty), || {
        task_context::enter(Some(Context::new("req-9")), || {
            tracing::info!(port = 80u64, password = "p", "up");
        });
    });
    assert!(
        text.contains(" info [req-9] log_format: up port=80 password=[REDACTED]"),
        "{text}"
    );
    assert!(serde_json::from_str::<Value>(text.trim()).is_err());
}

/// A writer whose first write blocks until released, telling the test it is stuck.
struct Blocked {
    entered: mpsc::Sender<()>,
    release: mpsc::Receiver<()>,
    out: Capture,
    first: bool,
}

impl Write for Blocked {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.first {
            self.first = false;
            let _ = self.entered.send(());
            let _ = self.release.recv();
        }
        self.out.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_full_buffer_drops_and_counts_lines_without_blocking() {
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let out = Capture::default();
    let writer = Blocked {
        entered: entered_tx,
        release: release_rx,
        out: out.clone(),
        first: true,
    };
    let (layer, filter, guard) = log::layer(Config::new().buffer(1).writer(writer)).unwrap();
    let subscriber = tracing_subscriber::registry().with(filter).with(layer);
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(n = 0u64, "first");
        // The thread flushes the first line when its buffer runs empty, and blocks.
        entered.recv_timeout(Duration::from_secs(60)).unwrap();
        let before = log::dropped_lines();
        for n in 1..=50u64 {
            tracing::info!(n, "flood");
        }
        // One line fits in the buffer; the other 49 are dropped, and the loop above
        // did not wait for the writer.
        assert_eq!(log::dropped_lines() - before, 49);
    });
    release.send(()).unwrap();
    assert!(guard.flush(Duration::from_secs(30)));
    let lines = json_lines(&out.text());
    let ns: Vec<_> = lines.iter().map(|l| l["n"].as_u64().unwrap()).collect();
    assert_eq!(ns, [0, 1]);
}
