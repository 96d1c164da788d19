//! One log line from one `tracing` event, built on the thread that logged it (the values
//! are borrowed only for the call): JSON (one object per line) or the readable
//! development format, with the time, level, process, loop, request context and the
//! event's fields, secrets redacted.

use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level};

use super::Format;
use super::redact::{REDACTED, Redactor};
use crate::task_context;

/// Keys Keel writes itself; an event field with one of these names is written as
/// `field.<name>` instead, so a JSON line never has a key twice. (`request_id` only
/// under a request context, and `trace_id` / `span_id` only under a traced one:
/// otherwise an event's own field of that name keeps it.)
const RESERVED: [&str; 8] = [
    "time", "level", "msg", "pid", "hostname", "loop", "target", "thread",
];

/// What every line of the process shares.
#[derive(Debug)]
pub(crate) struct Process {
    pub(crate) pid: u32,
    pub(crate) hostname: String,
}

impl Process {
    /// This process: its id and the machine's host name.
    pub(crate) fn current() -> Process {
        Process {
            pid: std::process::id(),
            hostname: hostname(),
        }
    }
}

/// The host name, or `unknown`.
fn hostname() -> String {
    crate::sys::process::hostname().unwrap_or_else(|_| "unknown".to_owned())
}

/// The line for `event`, ending in `\n`.
pub(crate) fn format(
    format: Format,
    process: &Process,
    redactor: &Redactor,
    event: &Event<'_>,
) -> String {
    let mut line = String::with_capacity(256);
    let meta = event.metadata();
    let loop_index = crate::current_loop::try_with_core(|core| core.shared.index);
    let mut fields = FieldWriter {
        format,
        in_context: task_context::with_current(|c| c.is_some()),
        in_trace: task_context::with_current(|c| c.is_some_and(|c| c.trace().is_some())),
        redactor,
        out: String::new(),
        message: String::new(),
    };
    event.record(&mut fields);
    let time = Timestamp(SystemTime::now());
    match format {
        Format::Json => {
            line.push_str("{\"time\":\"");
            let _ = write!(line, "{time}");
            line.push_str("\",\"level\":\"");
            line.push_str(level_name(*meta.level()));
            line.push_str("\",\"msg\":");
            json_string(&mut line, &fields.message);
            let _ = write!(line, ",\"pid\":{},\"hostname\":", process.pid);
            json_string(&mut line, &process.hostname);
            if let Some(index) = loop_index {
                let _ = write!(line, ",\"loop\":{index}");
            }
            line.push_str(",\"target\":");
            json_string(&mut line, meta.target());
            task_context::with_current(|ctx| {
                if let Some(ctx) = ctx {
                    line.push_str(",\"request_id\":");
                    json_string(&mut line, ctx.request_id());
                    // The request's span (OpenTelemetry's log correlation fields).
                    if let Some(span) = ctx.trace() {
                        let _ = write!(
                            line,
                            ",\"trace_id\":\"{}\",\"span_id\":\"{}\"",
                            span.trace_id(),
                            span.span_id()
                        );
                    }
                    for (name, value) in ctx.fields() {
                        json_key(&mut line, name);
                        if redactor.is_secret(name) {
                            json_string(&mut line, REDACTED);
                        } else {
                            json_string(&mut line, value);
                        }
                    }
                }
            });
            line.push_str(&fields.out);
            line.push_str("}\n");
        }
        Format::Pretty => {
            let _ = write!(line, "{time} {:>5}", level_name(*meta.level()));
            if let Some(index) = loop_index {
                let _ = write!(line, " [loop {index}]");
            }
            task_context::with_current(|ctx| {
                if let Some(ctx) = ctx {
                    let _ = write!(line, " [{}]", ctx.request_id());
                }
            });
            let _ = write!(line, " {}: {}", meta.target(), fields.message);
            task_context::with_current(|ctx| {
                for (name, value) in ctx.map(|c| c.fields()).unwrap_or_default() {
                    let value = if redactor.is_secret(name) {
                        REDACTED
                    } else {
                        value
                    };
                    let _ = write!(line, " {name}={value}");
                }
            });
            line.push_str(&fields.out);
            line.push('\n');
        }
    }
    line
}

/// The lowercase name of `level`.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// Collects an event's fields: the message apart, the others already formatted.
struct FieldWriter<'a> {
    format: Format,
    /// Whether a request context is current (its id takes the `request_id` key).
    in_context: bool,
    /// Whether that context is traced (it takes `trace_id` and `span_id`).
    in_trace: bool,
    redactor: &'a Redactor,
    out: String,
    message: String,
}

impl FieldWriter<'_> {
    fn key(&mut self, field: &Field) {
        let name = field.name();
        match self.format {
            Format::Json => {
                if RESERVED.contains(&name)
                    || (self.in_context && name == "request_id")
                    || (self.in_trace && (name == "trace_id" || name == "span_id"))
                {
                    json_key(&mut self.out, &format!("field.{name}"));
                } else {
                    json_key(&mut self.out, name);
                }
            }
            Format::Pretty => {
                let _ = write!(self.out, " {name}=");
            }
        }
    }

    /// A field whose value is text (formatted with `Display`/`Debug`, or a `str`).
    fn text(&mut self, field: &Field, text: &str) {
        if field.name() == "message" {
            self.message = self.redactor.scrub(text).unwrap_or_else(|| text.to_owned());
            return;
        }
        self.key(field);
        let scrubbed;
        let text = if self.redactor.is_secret(field.name()) {
            REDACTED
        } else {
            scrubbed = self.redactor.scrub(text);
            scrubbed.as_deref().unwrap_or(text)
        };
        match self.format {
            Format::Json => json_string(&mut self.out, text),
            Format::Pretty => self.out.push_str(text),
        }
    }

    /// A field whose value is a number or a boolean, written bare.
    fn bare(&mut self, field: &Field, value: &dyn fmt::Display) {
        if self.redactor.is_secret(field.name()) {
            return self.text(field, REDACTED);
        }
        self.key(field);
        let _ = write!(self.out, "{value}");
    }
}

impl Visit for FieldWriter<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.text(field, &text);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.bare(field, &value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.bare(field, &value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.bare(field, &value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.bare(field, &value);
        } else {
            // JSON has no NaN or infinity.
            self.text(field, &value.to_string());
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(field, &value.to_string());
    }
}

/// `,"key":`
fn json_key(out: &mut String, key: &str) {
    out.push(',');
    json_string(out, key);
    out.push(':');
}

/// `text` as a JSON string, quotes included.
pub(crate) fn json_string(out: &mut String, text: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&text[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&text[start..]);
    out.push('"');
}

/// A time written as ISO 8601 in UTC with milliseconds: `2026-01-31T12:00:00.123Z`.
pub(crate) struct Timestamp(pub(crate) SystemTime);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let since = self.0.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs();
        let (days, rem) = (secs / 86_400, secs % 86_400);
        let (year, month, day) = civil_from_days(days as i64);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60,
            since.subsec_millis()
        )
    }
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn timestamps() {
        let at = |secs, millis| {
            Timestamp(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis))
                .to_string()
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_790_000_000, 999), "2026-09-21T14:13:20.999Z");
        assert_eq!(at(4_102_444_799, 0), "2099-12-31T23:59:59.000Z");
    }

    #[test]
    fn json_escaping() {
        let mut s = String::new();
        json_string(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }
}
