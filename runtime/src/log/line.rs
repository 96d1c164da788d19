//! One log line, written into a caller's buffer (a loop's batch, or a line of its own):
//! JSON (one object per line) or the readable development format, with the time, level,
//! process, loop, request context and the fields, secrets redacted. [`FieldWriter`]
//! writes the fields, for a `tracing` event (as its visitor) and for
//! [`write_line`](super::write_line) alike.

use std::fmt::{self, Write as _};
use std::time::SystemTime;

use tracing::Level;
use tracing::field::{Field, Visit};

use super::Format;
use super::json::{self, Clock};
use super::redact::{REDACTED, Redactor};
use crate::task_context::Context;

/// Whether a field name is one of the keys Keel writes itself; such an event field is
/// written as `field.<name>` instead, so a JSON line never has a key twice.
/// (`request_id` only under a request context, and `trace_id` / `span_id` only under a
/// traced one: otherwise an event's own field of that name keeps it.)
#[inline]
fn reserved(name: &str) -> bool {
    matches!(
        name,
        "time" | "level" | "msg" | "pid" | "hostname" | "loop" | "target" | "thread"
    )
}

/// What every line of the process shares.
#[derive(Debug)]
pub(crate) struct Process {
    /// `,"pid":41,"hostname":"web-1"`, the JSON every line carries.
    json: String,
}

impl Process {
    /// This process: its id and the machine's host name.
    pub(crate) fn current() -> Process {
        let hostname = crate::sys::process::hostname().unwrap_or_else(|_| "unknown".to_owned());
        let mut json = format!(",\"pid\":{},\"hostname\":", std::process::id());
        json::string(&mut json, &hostname);
        Process { json }
    }
}

/// What a line says before its fields.
#[derive(Clone, Copy)]
pub(crate) struct Head<'a> {
    pub(crate) level: Level,
    pub(crate) target: &'a str,
    pub(crate) message: &'a str,
    /// The loop it was logged on.
    pub(crate) loop_index: Option<usize>,
    /// The request it was logged for.
    pub(crate) context: Option<&'a Context>,
}

/// Writes the start of a line: everything up to the event's own fields.
pub(crate) fn head(
    out: &mut String,
    format: Format,
    process: &Process,
    redactor: &Redactor,
    clock: &mut Clock,
    head: &Head<'_>,
) {
    let now = SystemTime::now();
    match format {
        Format::Json => {
            out.push_str("{\"time\":\"");
            clock.write(out, now);
            json_constant(out, process, head);
            json_context(out, redactor, head.context);
        }
        Format::Pretty => {
            clock.write(out, now);
            let _ = write!(out, " {:>5}", level_name(head.level));
            if let Some(index) = head.loop_index {
                let _ = write!(out, " [loop {index}]");
            }
            if let Some(ctx) = head.context {
                let _ = write!(out, " [{}]", ctx.request_id());
            }
            let _ = write!(out, " {}: {}", head.target, head.message);
            for (name, value) in head.context.map(|c| c.fields()).unwrap_or_default() {
                let value = if redactor.is_secret(name) {
                    REDACTED
                } else {
                    value
                };
                let _ = write!(out, " {name}={value}");
            }
        }
    }
}

/// [`head`] in JSON for a line whose target and message are `'static` (`head`'s own are
/// ignored): when its level, target, message and loop are those of the previous line
/// written with `cache`, the part between the time and the request context is copied
/// from the cache.
pub(crate) fn cached_json_head(
    out: &mut String,
    process: &Process,
    redactor: &Redactor,
    clock: &mut Clock,
    cache: &mut HeadCache,
    head: &Head<'_>,
    (target, message): (&'static str, &'static str),
) {
    let now = SystemTime::now();
    out.push_str("{\"time\":\"");
    clock.write(out, now);
    let key = (
        head.level,
        target.as_ptr() as usize,
        target.len(),
        message.as_ptr() as usize,
        message.len(),
        head.loop_index,
    );
    if cache.key != Some(key) {
        cache.text.clear();
        let head = Head {
            target,
            message,
            ..*head
        };
        json_constant(&mut cache.text, process, &head);
        cache.key = Some(key);
    }
    out.push_str(&cache.text);
    json_context(out, redactor, head.context);
}

/// The JSON from the level to the target: `","level":"info","msg":"…",…,"target":"…"`.
fn json_constant(out: &mut String, process: &Process, head: &Head<'_>) {
    out.push_str("\",\"level\":\"");
    out.push_str(level_name(head.level));
    out.push_str("\",\"msg\":");
    json::string(out, head.message);
    out.push_str(&process.json);
    if let Some(index) = head.loop_index {
        out.push_str(",\"loop\":");
        json::unsigned(out, index as u64);
    }
    out.push_str(",\"target\":");
    json::string(out, head.target);
}

/// The request context's JSON: its id, its span, its declared fields.
fn json_context(out: &mut String, redactor: &Redactor, context: Option<&Context>) {
    let Some(ctx) = context else {
        return;
    };
    out.push_str(",\"request_id\":");
    json::string(out, ctx.request_id());
    // The request's span (OpenTelemetry's log correlation fields).
    if let Some(span) = ctx.trace() {
        let _ = write!(
            out,
            ",\"trace_id\":\"{}\",\"span_id\":\"{}\"",
            span.trace_id(),
            span.span_id()
        );
    }
    for (name, value) in ctx.fields() {
        json::key(out, name);
        if redactor.is_secret(name) {
            json::string(out, REDACTED);
        } else {
            json::string(out, value);
        }
    }
}

/// The constant middle of the last line written by [`cached_json_head`].
#[derive(Debug, Default)]
pub(crate) struct HeadCache {
    /// Level, target and message (address, length) and loop.
    key: Option<(Level, usize, usize, usize, usize, Option<usize>)>,
    text: String,
}

/// Ends a line after its fields.
pub(crate) fn tail(out: &mut String, format: Format) {
    match format {
        Format::Json => out.push_str("}\n"),
        Format::Pretty => out.push('\n'),
    }
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

/// Buffers a thread keeps for writing lines, so that a line allocates nothing.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The constant middle of a line written by [`write_line`](super::write_line).
    pub(crate) head: HeadCache,
    /// An event's fields, written before its head (whose message is one of them).
    pub(crate) fields: String,
    /// An event's message.
    pub(crate) message: String,
    /// A value being formatted with `Display` or `Debug`.
    pub(crate) value: String,
}

impl Scratch {
    /// Empties every buffer, giving back any that grew large.
    pub(crate) fn clear(&mut self) {
        for buffer in [&mut self.fields, &mut self.message, &mut self.value] {
            buffer.clear();
            if buffer.capacity() > 16 * 1024 {
                buffer.shrink_to(1024);
            }
        }
    }
}

/// Writes fields into `out`: each `,"name":value` (JSON) or ` name=value` (pretty), the
/// value redacted when the name is secret or scrubbed of nested secrets. As a `tracing`
/// visitor it keeps the event's message apart, in `message`.
pub(crate) struct FieldWriter<'a> {
    pub(crate) format: Format,
    /// Whether a request context is current (its id takes the `request_id` key).
    pub(crate) in_context: bool,
    /// Whether that context is traced (it takes `trace_id` and `span_id`).
    pub(crate) in_trace: bool,
    pub(crate) redactor: &'a Redactor,
    pub(crate) out: &'a mut String,
    /// Where the `message` field goes (`None`: it is a field like the others).
    pub(crate) message: Option<&'a mut String>,
    /// Scratch space for values formatted with `Display` or `Debug`.
    pub(crate) value: &'a mut String,
}

impl FieldWriter<'_> {
    fn key(&mut self, name: &str) {
        match self.format {
            Format::Json => {
                if reserved(name)
                    || (self.in_context && name == "request_id")
                    || (self.in_trace && (name == "trace_id" || name == "span_id"))
                {
                    json::key(self.out, &format!("field.{name}"));
                } else {
                    json::key(self.out, name);
                }
            }
            Format::Pretty => {
                self.out.push(' ');
                self.out.push_str(name);
                self.out.push('=');
            }
        }
    }

    /// A field whose value is text (formatted with `Display`/`Debug`, or a `str`).
    pub(crate) fn text(&mut self, name: &str, text: &str) {
        if name == "message"
            && let Some(message) = self.message.as_deref_mut()
        {
            match self.redactor.scrub(text) {
                Some(scrubbed) => message.push_str(&scrubbed),
                None => message.push_str(text),
            }
            return;
        }
        self.key(name);
        let scrubbed;
        let text = if self.redactor.is_secret(name) {
            REDACTED
        } else {
            scrubbed = self.redactor.scrub(text);
            scrubbed.as_deref().unwrap_or(text)
        };
        match self.format {
            Format::Json => json::string(self.out, text),
            Format::Pretty => self.out.push_str(text),
        }
    }

    /// A field whose value is formatted with `Display` (or `Debug` through
    /// `format_args!`).
    pub(crate) fn display(&mut self, name: &str, value: &dyn fmt::Display) {
        let mut text = std::mem::take(self.value);
        text.clear();
        let _ = write!(text, "{value}");
        self.text(name, &text);
        *self.value = text;
    }

    /// A number, written bare.
    pub(crate) fn unsigned(&mut self, name: &str, value: u64) {
        if self.redactor.is_secret(name) {
            return self.text(name, REDACTED);
        }
        self.key(name);
        json::unsigned(self.out, value);
    }

    /// A number or a boolean, written bare.
    fn bare(&mut self, name: &str, value: &dyn fmt::Display) {
        if self.redactor.is_secret(name) {
            return self.text(name, REDACTED);
        }
        self.key(name);
        let _ = write!(self.out, "{value}");
    }

    /// A number, written bare when finite (JSON has no NaN or infinity: those are text).
    pub(crate) fn float(&mut self, name: &str, value: f64) {
        if !value.is_finite() {
            return self.text(name, &value.to_string());
        }
        if self.redactor.is_secret(name) {
            return self.text(name, REDACTED);
        }
        self.key(name);
        json::finite(self.out, value);
    }
}

impl Visit for FieldWriter<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.display(field.name(), &format_args!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field.name(), value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.bare(field.name(), &value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.unsigned(field.name(), value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.bare(field.name(), &value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.float(field.name(), value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.display(field.name(), &format_args!("{value}"));
    }
}
