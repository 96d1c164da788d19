//! A file's validators (`ETag`, `Last-Modified`) and the conditional request headers
//! evaluated against them in RFC 9110 §13.2.2's order: `If-Match`, `If-Unmodified-Since`
//! (a `412`), `If-None-Match`, `If-Modified-Since` (a `304`); and `If-Range`, which
//! decides whether a `Range` is honoured.

use std::fs::Metadata;
use std::time::UNIX_EPOCH;

use crate::proto::date;
use crate::request::Request;

/// The validators of one representation (a file, or its precompressed sibling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Validators {
    /// A strong entity tag, quoted: length and modification time, so a file rewritten in
    /// place gets a new one.
    pub(crate) etag: String,
    /// Seconds since the epoch of the last modification, when the file system knows it.
    pub(crate) modified: Option<u64>,
}

impl Validators {
    /// The validators of a file with `meta`; `coding` (`br`, `gzip`) tells a sibling's
    /// tag apart even if it had the same length and time.
    pub(crate) fn of(meta: &Metadata, coding: Option<&str>) -> Validators {
        let since = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok());
        let (secs, nanos) = since.map_or((0, 0), |d| (d.as_secs(), d.subsec_nanos()));
        let etag = match coding {
            Some(coding) => format!("\"{:x}-{secs:x}.{nanos:x}-{coding}\"", meta.len()),
            None => format!("\"{:x}-{secs:x}.{nanos:x}\"", meta.len()),
        };
        Validators {
            etag,
            modified: since.map(|d| d.as_secs()),
        }
    }

    /// `Last-Modified`'s value.
    pub(crate) fn last_modified(&self) -> Option<String> {
        self.modified
            .map(|secs| String::from_utf8_lossy(&date::render(secs)).into_owned())
    }
}

/// What the conditional headers decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precondition {
    /// Answer normally.
    Proceed,
    /// `304 Not Modified`.
    NotModified,
    /// `412 Precondition Failed`.
    Failed,
}

/// Evaluates the request's conditional headers against `v`.
pub(crate) fn evaluate(req: &Request, v: &Validators) -> Precondition {
    if let Some(if_match) = req.header("if-match") {
        if !matches_any(if_match, &v.etag, true) {
            return Precondition::Failed;
        }
    } else if let Some(since) = req.header("if-unmodified-since").and_then(date::parse)
        && v.modified.is_some_and(|m| m > since)
    {
        return Precondition::Failed;
    }
    if let Some(if_none_match) = req.header("if-none-match") {
        if matches_any(if_none_match, &v.etag, false) {
            return Precondition::NotModified;
        }
    } else if let Some(since) = req.header("if-modified-since").and_then(date::parse)
        && v.modified.is_some_and(|m| m <= since)
    {
        return Precondition::NotModified;
    }
    Precondition::Proceed
}

/// Whether a `Range` may be honoured: no `If-Range`, or one naming this representation
/// (its entity tag, strongly, or its exact `Last-Modified` date).
pub(crate) fn if_range_holds(req: &Request, v: &Validators) -> bool {
    let Some(if_range) = req.header("if-range").map(str::trim) else {
        return true;
    };
    if if_range.starts_with('"') || if_range.starts_with("W/") {
        return !if_range.starts_with("W/") && if_range == v.etag;
    }
    date::parse(if_range).is_some_and(|at| v.modified == Some(at))
}

/// Whether the list of entity tags `header` (or `*`) names `etag`; weak comparison
/// ignores `W/` on either side.
fn matches_any(header: &str, etag: &str, strong: bool) -> bool {
    if header.trim() == "*" {
        return true;
    }
    header.split(',').map(str::trim).any(|tag| {
        if strong {
            tag == etag
        } else {
            tag.strip_prefix("W/").unwrap_or(tag) == etag
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_tag_lists() {
        let etag = "\"a-b.c\"";
        assert!(matches_any("*", etag, true));
        assert!(matches_any("\"x\", \"a-b.c\"", etag, true));
        assert!(matches_any("W/\"a-b.c\"", etag, false));
        assert!(!matches_any("W/\"a-b.c\"", etag, true));
        assert!(!matches_any("\"other\"", etag, false));
    }
}
