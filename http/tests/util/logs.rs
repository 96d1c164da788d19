//! The process's logger for a test binary, installed once on first use and writing into
//! memory, so a test can read back the JSON lines its requests logged.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, OnceLock};

use keel_runtime::log::{self, Config, LogGuard};
use serde_json::Value;

use super::IO_TIMEOUT;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static (Capture, LogGuard) {
    static LOGS: OnceLock<(Capture, LogGuard)> = OnceLock::new();
    LOGS.get_or_init(|| {
        let out = Capture::default();
        let guard = log::init(Config::new().writer(out.clone())).unwrap();
        (out, guard)
    })
}

/// Installs the capturing logger now (call before the first request whose lines the
/// test reads).
pub fn install() {
    logs();
}

/// Every JSON line logged so far (after a flush of the `keel-log` thread), and the raw
/// text for failure messages.
pub fn json_lines() -> (Vec<Value>, String) {
    let (out, guard) = logs();
    assert!(guard.flush(IO_TIMEOUT));
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let lines = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect();
    (lines, text)
}
