//! [`write_line`]: a line written straight into Keel's log, without a `tracing` event —
//! for a line written so often that the event's dispatch and the visiting of its fields
//! would cost more than the line itself (the HTTP access log, one line per request).
//!
//! The line is the one a `tracing` event with the same level, target, message, fields
//! and request context would give, through the same redaction; it goes the same way (a
//! loop's batch, the bounded buffer). What differs: the caller asks the filter itself
//! (`tracing::enabled!` on its target and level), and other `tracing` layers do not see
//! the line. Without Keel's logger in the current subscriber, [`write_line`] writes
//! nothing and says so, and the caller emits its `tracing` event as usual.

use std::fmt;

use tracing::Level;

use super::layer::KeelLayer;
use super::line::FieldWriter;
use crate::task_context::Context;

/// The fields of a line written by [`write_line`], each written as it is added.
pub struct Fields<'a> {
    pub(crate) writer: FieldWriter<'a>,
}

impl Fields<'_> {
    /// A text field (scrubbed of nested secrets; `[REDACTED]` under a secret name).
    pub fn str(&mut self, name: &'static str, value: &str) {
        self.writer.text(name, value);
    }

    /// A text field, left out when `None`.
    pub fn opt_str(&mut self, name: &'static str, value: Option<&str>) {
        if let Some(value) = value {
            self.writer.text(name, value);
        }
    }

    /// A number.
    pub fn unsigned(&mut self, name: &'static str, value: u64) {
        self.writer.unsigned(name, value);
    }

    /// A number (text when not finite: JSON has no NaN).
    pub fn float(&mut self, name: &'static str, value: f64) {
        self.writer.float(name, value);
    }

    /// A field formatted with `Display`, as text.
    pub fn display(&mut self, name: &'static str, value: &dyn fmt::Display) {
        self.writer.display(name, value);
    }
}

impl fmt::Debug for Fields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fields").finish_non_exhaustive()
    }
}

/// Writes one line (`level`, `target`, `message`, the request `context`, then what
/// `fields` adds) straight into Keel's logger, when the current `tracing` subscriber has
/// [`KeelLayer`]; returns whether it did. It does not check the filter: ask
/// `tracing::enabled!` first.
///
/// # Examples
///
/// ```
/// use keel_runtime::log;
/// use tracing::Level;
///
/// if tracing::enabled!(target: "app::audit", Level::INFO)
///     && !log::write_line(Level::INFO, "app::audit", "login", None, |f| {
///         f.str("user", "ann");
///         f.unsigned("attempt", 1);
///     })
/// {
///     // No Keel logger installed: an ordinary event.
///     tracing::info!(target: "app::audit", user = "ann", attempt = 1, "login");
/// }
/// ```
pub fn write_line(
    level: Level,
    target: &'static str,
    message: &'static str,
    context: Option<&Context>,
    fields: impl FnOnce(&mut Fields<'_>),
) -> bool {
    let mut fields = Some(fields);
    tracing::dispatcher::get_default(|dispatch| {
        match (dispatch.downcast_ref::<KeelLayer>(), fields.take()) {
            (Some(layer), Some(fields)) => {
                layer.write_line(level, target, message, context, fields);
                true
            }
            _ => false,
        }
    })
}
