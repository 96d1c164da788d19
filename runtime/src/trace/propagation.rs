//! [`SpanContext`]: what travels between services in the W3C Trace Context headers
//! `traceparent` and `tracestate` — parsed strictly, written in the version-00 form.
//!
//! `traceparent` is `version-traceid-parentid-flags` in lowercase hex
//! (`00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`). A value that breaks the
//! format (uppercase, wrong lengths, all-zero ids, version `ff`, extra fields on version
//! `00`) is refused as a whole: the receiver starts a new trace. A later version is read
//! by its first four fields, as the specification asks. A `tracestate` that breaks its
//! format (more than 32 members, a member without `=`, over 512 bytes) is dropped alone.

use std::fmt::Write as _;

use super::ids::{SpanId, TraceId, decode_hex};

/// The `sampled` bit of the trace flags.
pub const FLAG_SAMPLED: u8 = 0x01;

/// The most bytes of `tracestate` kept.
const MAX_TRACESTATE: usize = 512;
/// The most list members in `tracestate`.
const MAX_TRACESTATE_MEMBERS: usize = 32;

/// One span's identity as propagated: trace id, span id, flags and the vendors'
/// `tracestate`.
///
/// # Examples
///
/// ```
/// use keel_runtime::trace::SpanContext;
///
/// let ctx = SpanContext::from_headers(
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
///     Some("vendor=abc"),
/// )
/// .unwrap();
/// assert!(ctx.is_sampled());
/// assert_eq!(ctx.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(ctx.traceparent(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// assert_eq!(ctx.tracestate(), Some("vendor=abc"));
/// // Uppercase hex is not W3C Trace Context: a new trace starts instead.
/// assert!(SpanContext::parse_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpanContext {
    trace_id: TraceId,
    span_id: SpanId,
    flags: u8,
    tracestate: Option<Box<str>>,
}

impl SpanContext {
    /// A span context from its parts.
    pub fn new(trace_id: TraceId, span_id: SpanId, sampled: bool) -> SpanContext {
        SpanContext {
            trace_id,
            span_id,
            flags: if sampled { FLAG_SAMPLED } else { 0 },
            tracestate: None,
        }
    }

    /// Parses a `traceparent` value strictly — lowercase hex, exact field lengths, no
    /// all-zero ids, version `ff` refused, no extra fields on version `00` (a later
    /// version is read by its first four fields); `None` when it is not valid W3C
    /// Trace Context.
    pub fn parse_traceparent(value: &str) -> Option<SpanContext> {
        let b = value.as_bytes();
        if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return None;
        }
        let mut version = [0u8; 1];
        decode_hex(&value[..2], &mut version)?;
        match version[0] {
            0xff => return None,
            0 if b.len() != 55 => return None,
            // A later version: fields beyond the fourth follow a `-`.
            _ if b.len() > 55 && b[55] != b'-' => return None,
            _ => {}
        }
        let trace_id = TraceId::from_hex(&value[3..35])?;
        let span_id = SpanId::from_hex(&value[36..52])?;
        let mut flags = [0u8; 1];
        decode_hex(&value[53..55], &mut flags)?;
        Some(SpanContext {
            trace_id,
            span_id,
            // Only the sampled bit is defined; others are not passed on (version 00).
            flags: flags[0] & FLAG_SAMPLED,
            tracestate: None,
        })
    }

    /// Parses `traceparent`, and keeps `tracestate` when it is well formed.
    pub fn from_headers(traceparent: &str, tracestate: Option<&str>) -> Option<SpanContext> {
        let ctx = SpanContext::parse_traceparent(traceparent)?;
        Some(match tracestate.filter(|s| valid_tracestate(s)) {
            Some(state) => ctx.with_tracestate(Some(state.trim())),
            None => ctx,
        })
    }

    /// The same context with `tracestate` set (or cleared).
    pub fn with_tracestate(mut self, tracestate: Option<&str>) -> SpanContext {
        self.tracestate = tracestate.filter(|s| !s.is_empty()).map(Box::from);
        self
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The span id.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The trace flags (only [`FLAG_SAMPLED`] is defined).
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// Whether the trace is sampled (recorded and exported).
    pub fn is_sampled(&self) -> bool {
        self.flags & FLAG_SAMPLED != 0
    }

    /// The vendors' `tracestate`, if any.
    pub fn tracestate(&self) -> Option<&str> {
        self.tracestate.as_deref()
    }

    /// The `traceparent` value (version 00) naming this span as the parent.
    pub fn traceparent(&self) -> String {
        let mut out = String::with_capacity(55);
        let _ = write!(
            out,
            "00-{}-{}-{:02x}",
            self.trace_id, self.span_id, self.flags
        );
        out
    }
}

/// Whether `value` is a `tracestate` list we pass on: at most 512 bytes and 32 members,
/// each `key=value` with a key of `[a-z0-9_\-*/@]` (starting with a letter or digit) and
/// a value of printable ASCII without `,` or `=` (empty members are allowed).
fn valid_tracestate(value: &str) -> bool {
    if value.len() > MAX_TRACESTATE {
        return false;
    }
    let mut members = 0;
    for member in value.split(',') {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        members += 1;
        let Some((key, val)) = member.split_once('=') else {
            return false;
        };
        let key_ok = !key.is_empty()
            && key.len() <= 256
            && key.as_bytes()[0].is_ascii_lowercase() | key.as_bytes()[0].is_ascii_digit()
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-*/@".contains(&b));
        let val_ok = !val.is_empty()
            && val.len() <= 256
            && val
                .bytes()
                .all(|b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
            && !val.ends_with(' ');
        if !key_ok || !val_ok {
            return false;
        }
    }
    members <= MAX_TRACESTATE_MEMBERS
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn accepts_the_specification_example() {
        let ctx = SpanContext::parse_traceparent(GOOD).unwrap();
        assert!(ctx.is_sampled());
        assert_eq!(ctx.span_id().to_string(), "00f067aa0ba902b7");
        assert_eq!(ctx.traceparent(), GOOD);
        let unsampled = SpanContext::parse_traceparent(&GOOD.replace("-01", "-00")).unwrap();
        assert!(!unsampled.is_sampled());
    }

    #[test]
    fn refuses_malformed_values() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
            " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
        ] {
            assert!(SpanContext::parse_traceparent(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn reads_later_versions_by_their_first_fields() {
        let v1 = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-whatever";
        assert!(SpanContext::parse_traceparent(v1).is_some());
        let glued = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x";
        assert!(SpanContext::parse_traceparent(glued).is_none());
    }

    #[test]
    fn tracestate_is_kept_only_when_well_formed() {
        let ok = SpanContext::from_headers(GOOD, Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"))
            .unwrap();
        assert_eq!(
            ok.tracestate(),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        );
        let bad = SpanContext::from_headers(GOOD, Some("no-equals-sign")).unwrap();
        assert_eq!(
            bad.tracestate(),
            None,
            "a bad tracestate is dropped, the parent kept"
        );
        let many = (0..33)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(
            SpanContext::from_headers(GOOD, Some(&many))
                .unwrap()
                .tracestate(),
            None
        );
    }
}
