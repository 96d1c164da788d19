//! Fuzzes the router's path tree. The input is route patterns, one per line, and then a path
//! on the last line. Nothing may panic; every inserted static pattern matches itself; and the
//! path matches the route a naive reference picks (the most static one, segment by segment),
//! with the same parameter names and, where no `%` was decoded, the same values.
#![no_main]

use keel_http::fuzzing::PathTree;
use libfuzzer_sys::fuzz_target;

/// The index of the pattern `path` matches and its `name=value` pairs, by trying every
/// pattern in turn: the winner ranks lowest, segment by segment (static < `:` < `*`).
fn reference(patterns: &[&str], path: &str) -> Option<(usize, Vec<String>)> {
    let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    let mut best: Option<(Vec<u8>, usize, Vec<String>)> = None;
    'patterns: for (index, pattern) in patterns.iter().enumerate() {
        let parts: Vec<&str> = pattern[1..].split('/').collect();
        let (mut rank, mut values) = (Vec::new(), Vec::new());
        for (i, part) in parts.iter().enumerate() {
            let Some(&segment) = segments.get(i) else {
                continue 'patterns;
            };
            if let Some(name) = part.strip_prefix('*') {
                rank.push(2);
                values.push(format!("{name}={}", segments[i..].join("/")));
                break;
            } else if let Some(name) = part.strip_prefix(':') {
                if segment.is_empty() {
                    continue 'patterns;
                }
                rank.push(1);
                values.push(format!("{name}={segment}"));
            } else if *part == segment {
                rank.push(0);
            } else {
                continue 'patterns;
            }
            if i + 1 == parts.len() && parts.len() != segments.len() {
                continue 'patterns;
            }
        }
        if best.as_ref().is_none_or(|(r, _, _)| rank < *r) {
            best = Some((rank, index, values));
        }
    }
    best.map(|(_, index, values)| (index, values))
}

fn is_static(pattern: &str) -> bool {
    pattern.split('/').all(|s| !s.starts_with([':', '*']))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines: Vec<&str> = text.split('\n').collect();
    let Some(path) = lines.pop() else {
        return;
    };

    let mut tree = PathTree::new();
    let mut inserted = Vec::new();
    for pattern in lines.into_iter().take(64) {
        if tree.insert(pattern, inserted.len()).is_ok() {
            inserted.push(pattern);
        }
    }
    assert_eq!(tree.patterns().count(), inserted.len());
    for (index, pattern) in inserted.iter().enumerate() {
        if is_static(pattern) {
            let (value, params) = tree.at(pattern).expect("a static route matches itself");
            assert_eq!(*value, index, "{pattern}");
            assert!(params.is_empty());
        }
    }

    let got = tree.at(path);
    let want = reference(&inserted, path);
    assert_eq!(
        got.as_ref().map(|(v, _)| **v),
        want.as_ref().map(|(i, _)| *i),
        "{path}"
    );
    if let (Some((_, params)), Some((_, pairs))) = (got, want) {
        assert_eq!(params.len(), pairs.len());
        for ((name, value), pair) in params.iter().zip(&pairs) {
            let (want_name, raw) = pair.split_once('=').expect("name=value");
            assert_eq!(name, want_name);
            if !raw.contains('%') {
                assert_eq!(value, raw);
            }
        }
    }
});
