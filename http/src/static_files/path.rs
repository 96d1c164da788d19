//! The file a request asks for, relative to the served root: taken from the path *as
//! received* (not the router's decoded parameters, in which `%2F` and `/` read the same),
//! decoded one segment at a time, and refused when it could leave the root or name
//! something other than one file system entry per segment.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Why a request path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// A `..` or `.` segment, plain or percent-encoded (`%2e%2e`).
    DotSegment,
    /// An encoded slash (`%2F`) or a backslash, raw or encoded (`%5C`).
    Separator,
    /// A NUL byte (`%00`).
    Nul,
    /// An empty segment (`//`), a `%` that starts no valid escape.
    Malformed,
}

impl Refused {
    /// The message the 400 carries.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Refused::DotSegment => "the path has a '.' or '..' segment",
            Refused::Separator => "the path has an encoded slash or a backslash",
            Refused::Nul => "the path has a NUL byte",
            Refused::Malformed => "the path has an empty segment or a bad percent escape",
        }
    }
}

/// A checked path below the root: its segments joined, and whether the request named a
/// directory (a trailing `/`, or nothing at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RelativePath {
    pub(crate) path: PathBuf,
    pub(crate) trailing_slash: bool,
}

/// The part of `path` (as received) that the route's `*tail` matched: `pattern` is the
/// route the request matched (`None` for a router's fallback, which sees the whole path).
/// Each segment of a pattern matched one segment of the path, and a raw segment holds no
/// `/`, so the tail starts after as many `/` as the pattern has before its `*`.
pub(crate) fn tail<'a>(pattern: Option<&str>, path: &'a str) -> &'a str {
    let Some(pattern) = pattern else {
        return path.strip_prefix('/').unwrap_or(path);
    };
    let Some((before, _)) = pattern.rsplit_once("/*") else {
        // A route without a tail (`/`, `/favicon.ico`): the root itself.
        return "";
    };
    let skip = before.matches('/').count() + 1;
    path.splitn(skip + 1, '/').nth(skip).unwrap_or("")
}

/// Checks and decodes a tail (`css/site.css`, `docs/`) into a path below the root.
///
/// # Errors
///
/// The first reason the tail is refused.
pub(crate) fn relative(tail: &str) -> Result<RelativePath, Refused> {
    let mut path = PathBuf::new();
    let trailing_slash = tail.is_empty() || tail.ends_with('/');
    let body = tail.strip_suffix('/').unwrap_or(tail);
    if body.is_empty() {
        return Ok(RelativePath {
            path,
            trailing_slash,
        });
    }
    for raw in body.split('/') {
        let segment = decode(raw)?;
        match segment.as_slice() {
            [] => return Err(Refused::Malformed),
            b"." | b".." => return Err(Refused::DotSegment),
            bytes if bytes.contains(&0) => return Err(Refused::Nul),
            bytes if bytes.contains(&b'/') || bytes.contains(&b'\\') => {
                return Err(Refused::Separator);
            }
            bytes => path.push(OsStr::from_bytes(bytes)),
        }
    }
    Ok(RelativePath {
        path,
        trailing_slash,
    })
}

/// Percent-decodes one raw segment into bytes.
fn decode(raw: &str) -> Result<Vec<u8>, Refused> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(Refused::Malformed)?;
            let hex = std::str::from_utf8(hex).map_err(|_| Refused::Malformed)?;
            let byte = u8::from_str_radix(hex, 16).map_err(|_| Refused::Malformed)?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(tail: &str) -> (String, bool) {
        let rel = relative(tail).unwrap();
        (rel.path.to_str().unwrap().to_owned(), rel.trailing_slash)
    }

    #[test]
    fn tails_come_from_the_raw_path() {
        assert_eq!(tail(Some("/static/*path"), "/static/a%2Fb/c"), "a%2Fb/c");
        assert_eq!(tail(Some("/static/*path"), "/static/"), "");
        assert_eq!(
            tail(Some("/o/:org/files/*rest"), "/o/x%2Fy/files/a/b"),
            "a/b"
        );
        assert_eq!(tail(Some("/*rest"), "/a/b/"), "a/b/");
        assert_eq!(tail(None, "/a/b"), "a/b");
        assert_eq!(tail(Some("/favicon.ico"), "/favicon.ico"), "");
    }

    #[test]
    fn good_paths_decode() {
        assert_eq!(ok("css/site.css"), ("css/site.css".into(), false));
        assert_eq!(ok("docs/"), ("docs".into(), true));
        assert_eq!(ok(""), ("".into(), true));
        assert_eq!(ok("caf%C3%A9%20x.txt"), ("café x.txt".into(), false));
        assert_eq!(ok("..a/b..").0, "..a/b..");
    }

    #[test]
    fn traversal_and_tricks_are_refused() {
        for (tail, why) in [
            ("..", Refused::DotSegment),
            ("../etc/passwd", Refused::DotSegment),
            ("a/../../x", Refused::DotSegment),
            ("%2e%2e/x", Refused::DotSegment),
            ("%2E%2E", Refused::DotSegment),
            (".%2e/x", Refused::DotSegment),
            ("./a", Refused::DotSegment),
            ("a%2f..%2fx", Refused::Separator),
            ("..%2Fetc", Refused::Separator),
            ("a\\b", Refused::Separator),
            ("..%5c..%5cx", Refused::Separator),
            ("a%00.txt", Refused::Nul),
            ("a//b", Refused::Malformed),
            ("a%zz", Refused::Malformed),
            ("a%2", Refused::Malformed),
        ] {
            assert_eq!(relative(tail), Err(why), "{tail:?}");
        }
    }
}
