//! Log capture for the tests that read back what was logged: [`Capture`], a writer that
//! appends to a shared in-memory buffer (and optionally copies to stderr), and
//! [`json_lines`], which parses captured JSON lines.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// A writer appending to a buffer shared by all its clones; as a `MakeWriter`, use
/// `move || capture.clone()`.
#[derive(Clone, Default)]
pub(crate) struct Capture {
    buf: Arc<Mutex<Vec<u8>>>,
    /// Also copy every write to stderr (child processes, for their parent to read).
    tee: bool,
}

impl Capture {
    /// A capture that also copies everything to stderr.
    pub(crate) fn teeing_to_stderr() -> Capture {
        Capture {
            buf: Arc::default(),
            tee: true,
        }
    }

    /// Everything written so far; panics when it is not UTF-8.
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.buf.lock().unwrap().clone()).unwrap()
    }

    /// Everything written so far, invalid UTF-8 replaced.
    pub(crate) fn text_lossy(&self) -> String {
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
pub(crate) fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}
