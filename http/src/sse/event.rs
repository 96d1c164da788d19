//! [`Event`]: one server-sent event — its `event`, `id`, `retry` and `data` fields (or a
//! comment) — and its encoding in the `text/event-stream` format (HTML Living Standard,
//! §9.2 "Server-sent events").

use std::time::Duration;

use serde::Serialize;

/// One server-sent event, built field by field and encoded once.
///
/// A field value cannot hold a line break (it would end the field): in `event` and `id`
/// line breaks become spaces; `data` keeps them, one `data:` line per line; an `id`
/// holding NUL is left out (browsers ignore it).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use keel_http::sse::Event;
///
/// let event = Event::new()
///     .event("price")
///     .id("42")
///     .retry(Duration::from_secs(3))
///     .data("line one\nline two");
/// assert_eq!(
///     event.as_str(),
///     "event: price\nid: 42\nretry: 3000\ndata: line one\ndata: line two\n\n"
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    /// The encoded fields, without the blank line that ends the event.
    fields: String,
}

impl Event {
    /// An event without fields (add them with the builder methods).
    pub fn new() -> Event {
        Event::default()
    }

    /// The event's type (`addEventListener(name, …)` in a browser; without it,
    /// `onmessage`).
    pub fn event(mut self, name: &str) -> Event {
        self.field("event", &one_line(name));
        self
    }

    /// The event's id: the browser sends it back as `Last-Event-ID` when it
    /// reconnects ([`LastEventId`](super::LastEventId)).
    pub fn id(mut self, id: &str) -> Event {
        if !id.contains('\0') {
            self.field("id", &one_line(id));
        }
        self
    }

    /// How long the browser waits before it reconnects.
    pub fn retry(mut self, after: Duration) -> Event {
        self.field("retry", &after.as_millis().to_string());
        self
    }

    /// The data, one `data:` line per line of `data` (the browser joins them with `\n`).
    pub fn data(mut self, data: &str) -> Event {
        for line in data.split('\n') {
            self.field("data", line.strip_suffix('\r').unwrap_or(line));
        }
        self
    }

    /// The data as JSON.
    ///
    /// # Errors
    ///
    /// When `value` cannot be serialized.
    pub fn json_data<T: Serialize + ?Sized>(self, value: &T) -> Result<Event, serde_json::Error> {
        // Compact JSON holds no raw line break.
        let json = serde_json::to_string(value)?;
        Ok(self.data(&json))
    }

    /// A comment line (ignored by the browser; what keep-alives are made of).
    pub fn comment(mut self, text: &str) -> Event {
        self.fields.push(':');
        if !text.is_empty() {
            self.fields.push(' ');
            self.fields.push_str(&one_line(text));
        }
        self.fields.push('\n');
        self
    }

    /// The encoded event, with the blank line that ends it.
    pub fn as_str(&self) -> String {
        format!("{}\n", self.fields)
    }

    /// The encoded event, with the blank line that ends it.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        let mut bytes = self.fields.into_bytes();
        bytes.push(b'\n');
        bytes
    }

    fn field(&mut self, name: &str, value: &str) {
        self.fields.push_str(name);
        self.fields.push_str(": ");
        self.fields.push_str(value);
        self.fields.push('\n');
    }
}

/// `text` with its line breaks turned into spaces.
fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(['\n', '\r']) {
        text.replace(['\n', '\r'], " ").into()
    } else {
        text.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_one_line_each() {
        let e = Event::new().event("a\nb").id("x\r\ny").data("1\r\n2");
        assert_eq!(e.as_str(), "event: a b\nid: x  y\ndata: 1\ndata: 2\n\n");
        assert_eq!(Event::new().id("a\0b").as_str(), "\n");
        assert_eq!(Event::new().comment("").as_str(), ":\n\n");
        assert_eq!(Event::new().data("").as_str(), "data: \n\n");
        let json = Event::new()
            .json_data(&serde_json::json!({"a": "x\ny"}))
            .unwrap();
        assert_eq!(json.as_str(), "data: {\"a\":\"x\\ny\"}\n\n");
    }
}
