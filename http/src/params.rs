//! Path parameters captured by a route match, with their values percent-decoded.
//!
//! # Decoding
//!
//! The router matches on the path as received; only the captured values are decoded, one at a
//! time, after the match. A value is decoded when every `%` in it starts a valid `%XX` escape
//! (two hex digits, either case) and the decoded bytes are UTF-8. Otherwise the value is kept
//! exactly as received, undecoded: nothing is lost, and a handler that wants to refuse such
//! input can look for a `%` in it. `+` is not a space in a path and is left alone.
//!
//! Decoding never splits anything: `/files/a%2Fb` matched against `/files/:name` gives
//! `name = "a/b"`. In a wildcard value, `%2F` and `/` therefore read the same, so a handler
//! that maps a wildcard onto a file system must check for `..` and `/` itself.
//!
//! # Cost
//!
//! A route without parameters gives an empty [`Params`], which does not allocate. A route with
//! parameters allocates twice (one buffer for all values, one for their bounds) plus a scratch
//! buffer when a value holds a `%`; names are shared with the route through one `Arc`.

use std::fmt;
use std::sync::Arc;

/// The parameters a request's path matched in its route: `:name` segments and a `*name` tail.
///
/// Names are given without their `:` or `*`, in the order they appear in the route. Values are
/// percent-decoded when they decode to UTF-8 and are kept as received otherwise; `%2F` in a
/// `:name` value decodes to `/` and never splits a segment.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Params {
    /// The route's parameter names; `None` for a route without any, so that an empty
    /// `Params` does not allocate.
    names: Option<Arc<[Box<str>]>>,
    /// Every decoded value, back to back.
    values: String,
    /// INVARIANT: `ends.len() <= names.len()`; value `i` is `values[ends[i - 1]..ends[i]]`
    /// (with `ends[-1] = 0`), and each end is on a char boundary.
    ends: Vec<usize>,
}

impl Params {
    /// Parameters with no entries; does not allocate.
    pub(crate) const fn empty() -> Params {
        Params {
            names: None,
            values: String::new(),
            ends: Vec::new(),
        }
    }

    /// Parameters for a route with these names, with room for `raw_len` bytes of values.
    /// Fill them with [`Params::push`], one value per name, in order.
    pub(crate) fn with_names(names: &Arc<[Box<str>]>, raw_len: usize) -> Params {
        if names.is_empty() {
            return Params::empty();
        }
        Params {
            names: Some(Arc::clone(names)),
            values: String::with_capacity(raw_len),
            ends: Vec::with_capacity(names.len()),
        }
    }

    /// Appends the value for the next name, decoding `raw` (see the module docs).
    pub(crate) fn push(&mut self, raw: &str) {
        debug_assert!(
            self.ends.len() < self.names.as_ref().map_or(0, |n| n.len()),
            "more values than names"
        );
        if !raw.contains('%') || !decode_into(raw, &mut self.values) {
            self.values.push_str(raw);
        }
        self.ends.push(self.values.len());
    }

    /// The value of the parameter `name` (given without `:` or `*`), if the route has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|&(n, _)| n == name).map(|(_, v)| v)
    }

    /// Whether the values live on the heap (for the router's no-allocation tests).
    #[cfg(test)]
    pub(crate) fn allocated(&self) -> bool {
        self.names.is_some() || self.values.capacity() > 0 || self.ends.capacity() > 0
    }

    /// The `(name, value)` pairs, in the order the names appear in the route.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        let names = self.names.as_deref().unwrap_or_default();
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        names
            .iter()
            .zip(starts.zip(&self.ends))
            .map(|(name, (start, &end))| (&**name, &self.values[start..end]))
    }

    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the route had no parameters.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Appends `raw` to `out` with its `%XX` escapes decoded, and returns true; or returns false,
/// leaving `out` as it was, when an escape is malformed or the result is not UTF-8.
fn decode_into(raw: &str, out: &mut String) -> bool {
    let start = out.len();
    // Bytes of the current run of escapes: a multi-byte char can only come from a run of
    // escapes, since literal text in a `&str` is whole chars already.
    let mut run = Vec::new();
    let mut rest = raw;
    loop {
        let Some(at) = rest.find('%') else {
            out.push_str(rest);
            return true;
        };
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        run.clear();
        while let Some(byte) = escape(rest.as_bytes()) {
            run.push(byte);
            rest = &rest[3..];
        }
        let decoded = if run.is_empty() {
            None // a `%` that is not an escape
        } else {
            std::str::from_utf8(&run).ok()
        };
        match decoded {
            Some(text) => out.push_str(text),
            None => {
                out.truncate(start);
                return false;
            }
        }
    }
}

/// The byte a `%XX` escape at the front of `bytes` stands for.
fn escape(bytes: &[u8]) -> Option<u8> {
    match bytes {
        [b'%', hi, lo, ..] => Some((hex(*hi)? << 4) | hex(*lo)?),
        _ => None,
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        let names: Arc<[Box<str>]> = pairs.iter().map(|&(n, _)| Box::from(n)).collect();
        let mut p = Params::with_names(&names, 0);
        for &(_, raw) in pairs {
            p.push(raw);
        }
        p
    }

    fn decoded(raw: &str) -> String {
        params(&[("v", raw)]).get("v").unwrap().to_owned()
    }

    #[test]
    fn empty_does_not_allocate() {
        let p = Params::empty();
        assert!(p.is_empty());
        assert_eq!(p.len(), 0);
        assert!(!p.allocated());
        assert_eq!(p.get("id"), None);
        assert_eq!(p.iter().count(), 0);
        assert_eq!(format!("{p:?}"), "{}");
        assert_eq!(p, Params::default());
    }

    #[test]
    fn get_iter_len() {
        let p = params(&[("user", "ann"), ("post", "42"), ("empty", "")]);
        assert_eq!(p.len(), 3);
        assert!(!p.is_empty());
        assert_eq!(p.get("user"), Some("ann"));
        assert_eq!(p.get("post"), Some("42"));
        assert_eq!(p.get("empty"), Some(""));
        assert_eq!(p.get("missing"), None);
        let all: Vec<_> = p.iter().collect();
        assert_eq!(all, [("user", "ann"), ("post", "42"), ("empty", "")]);
        assert_eq!(
            format!("{p:?}"),
            r#"{"user": "ann", "post": "42", "empty": ""}"#
        );
    }

    #[test]
    fn decodes_escapes() {
        assert_eq!(decoded("plain"), "plain");
        assert_eq!(decoded("a%20b"), "a b");
        assert_eq!(decoded("a%2Fb"), "a/b");
        assert_eq!(decoded("a%2fb"), "a/b");
        assert_eq!(decoded("caf%C3%A9"), "café");
        assert_eq!(decoded("%E2%82%AC%20%e2%82%ac"), "€ €");
        assert_eq!(decoded("%25"), "%");
        assert_eq!(decoded("%2525"), "%25");
        assert_eq!(decoded("a+b"), "a+b");
        assert_eq!(decoded("héllo%21"), "héllo!");
    }

    #[test]
    fn keeps_raw_on_bad_escapes() {
        for raw in [
            "100%", "%", "%2", "%zz", "%2G", "a%20b%", "%FF", "%C3", "%C3x", "%C3%28", "%E2%82",
            "%80",
        ] {
            assert_eq!(decoded(raw), raw, "{raw}");
        }
    }

    #[test]
    fn bad_value_does_not_disturb_neighbours() {
        let p = params(&[("a", "x%20y"), ("b", "%FF"), ("c", "z%21")]);
        let all: Vec<_> = p.iter().collect();
        assert_eq!(all, [("a", "x y"), ("b", "%FF"), ("c", "z!")]);
    }
}
