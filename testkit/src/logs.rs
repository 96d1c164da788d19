//! Log capture: [`Capture`], a writer appending to an in-memory buffer shared by its
//! clones (and optionally copying to stderr), for any logger or `tracing` subscriber a
//! test installs; [`json_lines`], which parses captured JSON lines; and [`keel_log`],
//! Keel's own logger installed once per test binary and writing into a [`Capture`].

use std::io::{self, Write};
use std::sync::{Arc, Mutex, OnceLock};

use keel_runtime::log::{self, Config, LogGuard};
use serde_json::Value;

use crate::IO_TIMEOUT;

/// A writer appending to a buffer shared by all its clones; as a `MakeWriter`, use
/// `move || capture.clone()`.
#[derive(Clone, Debug, Default)]
pub struct Capture {
    buf: Arc<Mutex<Vec<u8>>>,
    /// Also copy every write to stderr (child processes, for their parent to read).
    tee: bool,
}

impl Capture {
    /// A capture that also copies everything to stderr.
    pub fn teeing_to_stderr() -> Capture {
        Capture {
            buf: Arc::default(),
            tee: true,
        }
    }

    /// Everything written so far; panics when it is not UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8(self.buf.lock().unwrap().clone()).unwrap()
    }

    /// Everything written so far, invalid UTF-8 replaced.
    pub fn text_lossy(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buf.lock().unwrap().extend_from_slice(buf);
        if self.tee {
            io::stderr().write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Each line of `text` parsed as JSON; panics naming the line that is not.
pub fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Keel's logger ([`keel_runtime::log`]) as this process's global logger, writing JSON
/// lines into a [`Capture`]; see [`keel_log`].
#[derive(Debug)]
pub struct KeelLog {
    out: Capture,
    guard: LogGuard,
}

impl KeelLog {
    /// Every JSON line logged so far (after a flush of the `keel-log` thread), and the
    /// raw text for failure messages.
    #[track_caller]
    pub fn lines(&self) -> (Vec<Value>, String) {
        assert!(
            self.guard.flush(IO_TIMEOUT),
            "the keel-log thread did not flush"
        );
        let text = self.out.text();
        (json_lines(&text), text)
    }
}

/// Keel's logger for this test binary, installed on first use (call it before the first
/// request whose lines the test reads back with [`KeelLog::lines`]).
pub fn keel_log() -> &'static KeelLog {
    static LOG: OnceLock<KeelLog> = OnceLock::new();
    LOG.get_or_init(|| {
        let out = Capture::default();
        let guard = log::init(Config::new().writer(out.clone())).expect("install keel's logger");
        KeelLog { out, guard }
    })
}
