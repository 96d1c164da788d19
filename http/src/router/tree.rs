//! The router's path tree: route patterns to values, matched segment by segment.
//!
//! Pure logic: no I/O, no HTTP types. The router above keeps one tree (per method or with
//! per-method values) and asks it for the value of each request's path.
//!
//! # Patterns
//!
//! A pattern starts with `/` and is split into segments at each `/`:
//!
//! - `users`: a static segment, compared byte for byte with the path *as received*, not
//!   percent-decoded, so write it the way it appears on the wire (`/caf%C3%A9`, not `/café`).
//!   `:` and `*` are only special at the start of a segment, so `/v1/items:batch` is static.
//! - `:name`: a parameter; matches one **non-empty** segment, any bytes but `/`.
//! - `*name`: a wildcard tail, allowed only as the last segment; matches the rest of the path,
//!   slashes included, **possibly empty**: `/static/*path` matches `/static/` (`path = ""`) and
//!   `/static/a/b` (`path = "a/b"`), but not `/static`, which has no segment for it.
//!
//! Names are ASCII letters, digits and `_`, and unique within a pattern. Only the last segment
//! may be empty, so `/` is the root route and `/users/` ends in a slash, but `/a//b` is an
//! error. Two routes that put a parameter (or a wildcard) at the same position must give it the
//! same name: `/users/:id` and `/users/:name/posts` cannot both be inserted.
//!
//! # Matching
//!
//! [`PathTree::at`] takes the path without its query (`/users/42`, not `/users/42?x=1`); a
//! path that does not start with `/` matches nothing.
//!
//! - **The trailing slash is significant**: `/users` and `/users/` are different paths and
//!   each matches only a pattern written the same way. Redirecting one to the other is the
//!   router's policy, not the tree's.
//! - **Priority**: at each segment a static child is tried first, then the parameter, then the
//!   wildcard; if the first choice fails further down, the next one is tried (backtracking).
//!   With `/users/new`, `/users/:id/edit` and `/users/*rest`: `/users/new` matches the static
//!   route, `/users/new/edit` backtracks to `:id = "new"`, and `/users/new/x` falls through to
//!   the wildcard. The result is the matching route that is most static, compared segment by
//!   segment from the left.
//! - Parameter values are percent-decoded after the match (see [`Params`]); a `%2F` never
//!   splits a segment.
//!
//! # Cost
//!
//! A lookup neither allocates nor decodes while it searches. A visit to a node costs one scan
//! for the next `/` plus one look-up among the node's static children (a linear scan up to
//! [`LINEAR_SCAN_MAX`] children, a binary search above). There is one way down to each node,
//! so a lookup visits each node at most once. Without backtracking that is O(path length).
//! Backtracking only happens where a node has both a static child and a parameter (or a
//! wildcard): the nodes visited at depth `d` are at most the routes that reach depth `d`, and
//! in real route tables they are one or two. A path longer than the deepest route costs no
//! more than the deepest route, except for the one scan that finds its next `/`.
//!
//! A static route returns an empty [`Params`] without allocating; a route with parameters
//! builds its [`Params`] in one more pass over the path, up to its last parameter.

use std::fmt;
use std::sync::Arc;

use crate::params::Params;

/// Above this many static children, a node's children are found by binary search instead of
/// a linear scan. Both work on the same sorted `Vec`; the scan wins for the few children most
/// nodes have.
const LINEAR_SCAN_MAX: usize = 8;

/// Route patterns mapped to values of type `T`; see the module docs of `router::tree` for the
/// pattern syntax and the matching rules.
pub struct PathTree<T> {
    root: Node<T>,
}

/// One position in the tree: the routes that end here and the ways to go one segment deeper.
struct Node<T> {
    /// The route whose pattern ends exactly at this node.
    route: Option<Route<T>>,
    /// Static children, sorted by segment.
    statics: Vec<(Box<str>, Node<T>)>,
    /// The `:name` child.
    param: Option<Box<Named<Node<T>>>>,
    /// The `*name` tail, which is always a leaf.
    wildcard: Option<Box<Named<Route<T>>>>,
}

/// A parameter or wildcard child and its name (without the sigil).
struct Named<C> {
    name: Box<str>,
    child: C,
}

/// An inserted pattern and its value.
struct Route<T> {
    value: T,
    pattern: Box<str>,
    /// The parameter names, in pattern order; shared with every [`Params`] built for it.
    names: Arc<[Box<str>]>,
    /// INVARIANT: `slots.len() == names.len()`, strictly increasing: the index of the path
    /// segment (counted after the leading `/`) each name captures.
    slots: Box<[usize]>,
    /// Whether the last name is a wildcard, which captures the rest of the path.
    tail: bool,
}

/// A pattern segment, borrowed from the pattern being inserted.
#[derive(Clone, Copy)]
enum Segment<'a> {
    Static(&'a str),
    Param(&'a str),
    Wildcard(&'a str),
}

// ===== impl PathTree =====

impl<T> PathTree<T> {
    /// An empty tree.
    pub fn new() -> Self {
        PathTree { root: Node::new() }
    }

    /// Adds a route. See the module docs of `router::tree` for the pattern syntax.
    ///
    /// # Errors
    ///
    /// A pattern that does not start with `/`, has an empty segment other than the last, an
    /// empty or non-`[A-Za-z0-9_]` name, a name used twice, or a wildcard before the last
    /// segment; a parameter or wildcard whose name differs from the one an earlier route put at
    /// the same position; a pattern inserted before. On error the tree is unchanged.
    pub fn insert(&mut self, pattern: &str, value: T) -> Result<(), RouteError> {
        let segments = parse(pattern)?;
        self.check(pattern, &segments)?;

        let mut names = Vec::new();
        let mut slots = Vec::new();
        for (slot, segment) in segments.iter().enumerate() {
            if let Segment::Param(name) | Segment::Wildcard(name) = *segment {
                names.push(Box::from(name));
                slots.push(slot);
            }
        }
        let route = Route {
            value,
            pattern: Box::from(pattern),
            names: names.into(),
            slots: slots.into(),
            tail: matches!(segments.last(), Some(Segment::Wildcard(_))),
        };

        let mut node = &mut self.root;
        for segment in segments {
            node = match segment {
                Segment::Static(s) => node.static_child_or_insert(s),
                Segment::Param(name) => {
                    &mut node
                        .param
                        .get_or_insert_with(|| Box::new(Named::new(name, Node::new())))
                        .child
                }
                Segment::Wildcard(name) => {
                    node.wildcard = Some(Box::new(Named::new(name, route)));
                    return Ok(());
                }
            };
        }
        node.route = Some(route);
        Ok(())
    }

    /// The value of the route `path` matches, and the parameters it captured. See the
    /// module docs of `router::tree` for the rules; `path` must not include the query.
    pub fn at(&self, path: &str) -> Option<(&T, Params)> {
        let route = self.root.find(path.strip_prefix('/')?)?;
        Some((&route.value, route.params(path)))
    }

    /// The inserted patterns, in priority order: at each position the static segments in
    /// byte order, then the parameter, then the wildcard.
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        let mut out = Vec::new();
        self.root.collect_patterns(&mut out);
        out.into_iter()
    }

    /// Fails if inserting `segments` would clash with a route already in the tree. Only reads,
    /// so that a failed insert leaves no half-built branch behind.
    fn check(&self, pattern: &str, segments: &[Segment<'_>]) -> Result<(), RouteError> {
        let mut node = &self.root;
        for segment in segments {
            node = match *segment {
                Segment::Static(s) => match node.static_child(s) {
                    Some(child) => child,
                    None => return Ok(()),
                },
                Segment::Param(name) => match &node.param {
                    Some(param) if *param.name != *name => {
                        return Err(conflict(pattern, ':', &param.name, name));
                    }
                    Some(param) => &param.child,
                    None => return Ok(()),
                },
                Segment::Wildcard(name) => {
                    return match &node.wildcard {
                        Some(w) if *w.name != *name => Err(conflict(pattern, '*', &w.name, name)),
                        Some(_) => Err(RouteError::new(RouteErrorKind::DuplicatePattern, pattern)),
                        None => Ok(()),
                    };
                }
            };
        }
        match node.route {
            Some(_) => Err(RouteError::new(RouteErrorKind::DuplicatePattern, pattern)),
            None => Ok(()),
        }
    }
}

impl<T> Default for PathTree<T> {
    fn default() -> Self {
        PathTree::new()
    }
}

impl<T> fmt::Debug for PathTree<T> {
    /// Lists the patterns only, so that values (often closures) need not be `Debug`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PathTree")
            .field("patterns", &self.patterns().collect::<Vec<_>>())
            .finish()
    }
}

// ===== impl Node =====

impl<T> Node<T> {
    fn new() -> Self {
        Node {
            route: None,
            statics: Vec::new(),
            param: None,
            wildcard: None,
        }
    }

    /// The route for `rest`, the path after the `/` that starts this node's next segment.
    fn find(&self, rest: &str) -> Option<&Route<T>> {
        if self.statics.is_empty() && self.param.is_none() {
            // Nothing to compare the segment with: skip the scan for its end.
            return self.wildcard.as_ref().map(|w| &w.child);
        }
        // A byte scan: cheaper than `str::find`'s char searcher on short segments.
        let (segment, tail) = match rest.bytes().position(|b| b == b'/') {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        if let Some(route) = self
            .static_child(segment)
            .and_then(|child| child.descend(tail))
        {
            return Some(route);
        }
        if !segment.is_empty()
            && let Some(route) = self.param.as_ref().and_then(|p| p.child.descend(tail))
        {
            return Some(route);
        }
        self.wildcard.as_ref().map(|w| &w.child)
    }

    /// This node's route if the path ends here, or the route further down for `tail`.
    fn descend(&self, tail: Option<&str>) -> Option<&Route<T>> {
        match tail {
            None => self.route.as_ref(),
            Some(rest) => self.find(rest),
        }
    }

    fn static_child(&self, segment: &str) -> Option<&Node<T>> {
        if self.statics.len() <= LINEAR_SCAN_MAX {
            self.statics
                .iter()
                .find(|(s, _)| **s == *segment)
                .map(|(_, child)| child)
        } else {
            self.statics
                .binary_search_by(|(s, _)| (**s).cmp(segment))
                .ok()
                .map(|i| &self.statics[i].1)
        }
    }

    fn static_child_or_insert(&mut self, segment: &str) -> &mut Node<T> {
        let i = match self.statics.binary_search_by(|(s, _)| (**s).cmp(segment)) {
            Ok(i) => i,
            Err(i) => {
                self.statics.insert(i, (Box::from(segment), Node::new()));
                i
            }
        };
        &mut self.statics[i].1
    }

    fn collect_patterns<'a>(&'a self, out: &mut Vec<&'a str>) {
        out.extend(self.route.as_ref().map(|r| &*r.pattern));
        for (_, child) in &self.statics {
            child.collect_patterns(out);
        }
        if let Some(param) = &self.param {
            param.child.collect_patterns(out);
        }
        out.extend(self.wildcard.as_ref().map(|w| &*w.child.pattern));
    }
}

impl<C> Named<C> {
    fn new(name: &str, child: C) -> Self {
        Named {
            name: Box::from(name),
            child,
        }
    }
}

impl<T> Route<T> {
    /// The parameters this route captures from `path`, a path it matched.
    fn params(&self, path: &str) -> Params {
        if self.slots.is_empty() {
            return Params::empty();
        }
        let rest = &path[1..];
        let mut params = Params::with_names(&self.names, rest.len());
        let mut next = 0;
        let mut offset = 0;
        for (slot, segment) in rest.split('/').enumerate() {
            if self.slots[next] == slot {
                next += 1;
                if self.tail && next == self.slots.len() {
                    params.push(&rest[offset..]);
                    break;
                }
                params.push(segment);
                if next == self.slots.len() {
                    break;
                }
            }
            offset += segment.len() + 1;
        }
        params
    }
}

// ===== parsing =====

/// Splits and validates a pattern, checking everything that does not depend on the tree.
fn parse(pattern: &str) -> Result<Vec<Segment<'_>>, RouteError> {
    let error = |kind| Err(RouteError::new(kind, pattern));
    let Some(rest) = pattern.strip_prefix('/') else {
        return error(RouteErrorKind::MissingLeadingSlash);
    };
    let count = rest.split('/').count();
    let mut segments = Vec::with_capacity(count);
    for (i, raw) in rest.split('/').enumerate() {
        let last = i + 1 == count;
        let segment = match raw.as_bytes().first() {
            Some(b':') => Segment::Param(&raw[1..]),
            Some(b'*') if last => Segment::Wildcard(&raw[1..]),
            Some(b'*') => return error(RouteErrorKind::WildcardNotLast),
            None if !last => return error(RouteErrorKind::EmptySegment),
            _ => Segment::Static(raw),
        };
        if let Segment::Param(name) | Segment::Wildcard(name) = segment {
            if name.is_empty() {
                return error(RouteErrorKind::EmptyName);
            }
            if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return error(RouteErrorKind::InvalidName);
            }
            let used = segments.iter().any(|s: &Segment<'_>| {
                matches!(*s, Segment::Param(n) | Segment::Wildcard(n) if n == name)
            });
            if used {
                return error(RouteErrorKind::DuplicateName);
            }
        }
        segments.push(segment);
    }
    Ok(segments)
}

fn conflict(pattern: &str, sigil: char, existing: &str, name: &str) -> RouteError {
    RouteError::new(
        RouteErrorKind::ConflictingName {
            existing: format!("{sigil}{existing}").into(),
            new: format!("{sigil}{name}").into(),
        },
        pattern,
    )
}

// ===== RouteError =====

/// A route pattern that could not be inserted; the message names the pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteError {
    kind: RouteErrorKind,
    pattern: Box<str>,
}

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RouteErrorKind {
    /// The pattern does not start with `/`.
    MissingLeadingSlash,
    /// An empty segment (`//`) before the last one.
    EmptySegment,
    /// A `:` or `*` with no name after it.
    EmptyName,
    /// A name with a byte outside `[A-Za-z0-9_]`.
    InvalidName,
    /// A `*name` wildcard before the last segment.
    WildcardNotLast,
    /// A name used twice in the same pattern.
    DuplicateName,
    /// An earlier route has a parameter or wildcard of another name at the same position.
    ConflictingName { existing: Box<str>, new: Box<str> },
    /// The same pattern was inserted before.
    DuplicatePattern,
}

impl RouteError {
    fn new(kind: RouteErrorKind, pattern: &str) -> RouteError {
        RouteError {
            kind,
            pattern: Box::from(pattern),
        }
    }
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RouteErrorKind::*;
        let pattern = &self.pattern;
        match &self.kind {
            MissingLeadingSlash => write!(f, "route `{pattern}`: must start with `/`"),
            EmptySegment => write!(
                f,
                "route `{pattern}`: empty segment (`//`); only the last segment may be empty"
            ),
            EmptyName => write!(f, "route `{pattern}`: `:` or `*` without a name"),
            InvalidName => write!(
                f,
                "route `{pattern}`: a name may only hold ASCII letters, digits and `_`"
            ),
            WildcardNotLast => write!(
                f,
                "route `{pattern}`: a `*` wildcard must be the last segment"
            ),
            DuplicateName => write!(f, "route `{pattern}`: a name is used twice"),
            ConflictingName { existing, new } => write!(
                f,
                "route `{pattern}`: `{new}` conflicts with `{existing}`, \
                 which an earlier route has at the same position"
            ),
            DuplicatePattern => write!(f, "route `{pattern}` is already registered"),
        }
    }
}

impl std::error::Error for RouteError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree whose values are the patterns themselves.
    fn tree(patterns: &[&'static str]) -> PathTree<&'static str> {
        let mut tree = PathTree::new();
        for p in patterns {
            tree.insert(p, *p).unwrap_or_else(|e| panic!("{e}"));
        }
        tree
    }

    /// The pattern `path` matches and its parameters as pairs.
    fn at(tree: &PathTree<&'static str>, path: &str) -> Option<(&'static str, Vec<String>)> {
        let (value, params) = tree.at(path)?;
        assert_eq!(params.len(), params.iter().count());
        let pairs = params.iter().map(|(n, v)| format!("{n}={v}")).collect();
        Some((*value, pairs))
    }

    fn matches(tree: &PathTree<&'static str>, path: &str, want: &str, params: &[&str]) {
        assert_eq!(
            at(tree, path),
            Some((want, params.iter().map(|p| p.to_string()).collect())),
            "{path}"
        );
    }

    fn error(tree: &mut PathTree<&'static str>, pattern: &'static str) -> RouteError {
        let err = tree.insert(pattern, pattern).unwrap_err();
        assert!(err.to_string().contains(pattern), "{err}");
        err
    }

    #[test]
    fn static_routes() {
        let t = tree(&["/users", "/users/list", "/about", "/a/b/c"]);
        for p in ["/users", "/users/list", "/about", "/a/b/c"] {
            let (value, params) = t.at(p).unwrap();
            assert_eq!(*value, p);
            assert!(params.is_empty());
            assert!(!params.allocated(), "{p}");
        }
        for p in [
            "",
            "users",
            "/",
            "/user",
            "/userss",
            "/users/lis",
            "/a",
            "/a/b",
            "/a/b/c/d",
            "/USERS",
        ] {
            assert_eq!(at(&t, p), None, "{p}");
        }
    }

    #[test]
    fn root() {
        let t = tree(&["/"]);
        matches(&t, "/", "/", &[]);
        for p in ["", "//", "/a", "*"] {
            assert_eq!(at(&t, p), None, "{p}");
        }
        assert_eq!(at(&tree(&["/a"]), "/"), None);
    }

    #[test]
    fn params() {
        let t = tree(&["/users/:id", "/users/:id/posts/:post_id", "/:a/:b/:c"]);
        matches(&t, "/users/42", "/users/:id", &["id=42"]);
        matches(
            &t,
            "/users/42/posts/7",
            "/users/:id/posts/:post_id",
            &["id=42", "post_id=7"],
        );
        matches(&t, "/x/y/z", "/:a/:b/:c", &["a=x", "b=y", "c=z"]);
        let (_, params) = t.at("/users/ann/posts/hello").unwrap();
        assert_eq!(params.get("id"), Some("ann"));
        assert_eq!(params.get("post_id"), Some("hello"));
        assert_eq!(params.get("nope"), None);
        // A parameter never matches an empty segment.
        for p in ["/users/", "/users//posts/7", "/users/42/posts/", "/x//z"] {
            assert_eq!(at(&t, p), None, "{p}");
        }
    }

    #[test]
    fn wildcard() {
        let t = tree(&["/static/*path", "/*all"]);
        matches(&t, "/static/", "/static/*path", &["path="]);
        matches(&t, "/static/a", "/static/*path", &["path=a"]);
        matches(&t, "/static/a/b/", "/static/*path", &["path=a/b/"]);
        matches(&t, "/static//x", "/static/*path", &["path=/x"]);
        // No segment left for `*path`: falls through to the root wildcard.
        matches(&t, "/static", "/*all", &["all=static"]);
        matches(&t, "/", "/*all", &["all="]);
        matches(&t, "/x/y", "/*all", &["all=x/y"]);
        assert_eq!(at(&t, ""), None);
        assert_eq!(at(&tree(&["/static/*path"]), "/static"), None);

        let t = tree(&["/u/:id/*rest"]);
        matches(&t, "/u/1/", "/u/:id/*rest", &["id=1", "rest="]);
        matches(&t, "/u/1/a/b", "/u/:id/*rest", &["id=1", "rest=a/b"]);
        assert_eq!(at(&t, "/u/1"), None);
    }

    #[test]
    fn priority_and_backtracking() {
        let t = tree(&[
            "/users/new",
            "/users/new/preview",
            "/users/:id",
            "/users/:id/edit",
            "/users/*rest",
        ]);
        matches(&t, "/users/new", "/users/new", &[]);
        matches(&t, "/users/new/preview", "/users/new/preview", &[]);
        matches(&t, "/users/42", "/users/:id", &["id=42"]);
        // Static `new` has no `edit` child: back up and take `:id`.
        matches(&t, "/users/new/edit", "/users/:id/edit", &["id=new"]);
        matches(&t, "/users/42/edit", "/users/:id/edit", &["id=42"]);
        // Neither static nor param leads anywhere: back up two levels to the wildcard.
        matches(&t, "/users/new/x", "/users/*rest", &["rest=new/x"]);
        matches(
            &t,
            "/users/new/preview/x",
            "/users/*rest",
            &["rest=new/preview/x"],
        );
        matches(&t, "/users/42/edit/x", "/users/*rest", &["rest=42/edit/x"]);
        matches(&t, "/users/", "/users/*rest", &["rest="]);
        assert_eq!(at(&t, "/users"), None);
    }

    #[test]
    fn backtracking_across_several_levels() {
        let t = tree(&["/a/b/c/d", "/a/:x/c/e", "/:y/b/c/f", "/*z"]);
        matches(&t, "/a/b/c/d", "/a/b/c/d", &[]);
        matches(&t, "/a/b/c/e", "/a/:x/c/e", &["x=b"]);
        matches(&t, "/a/b/c/f", "/:y/b/c/f", &["y=a"]);
        matches(&t, "/a/b/c/g", "/*z", &["z=a/b/c/g"]);
    }

    #[test]
    fn trailing_slash_is_significant() {
        let t = tree(&["/users", "/posts/", "/items/:id", "/files/:id/"]);
        matches(&t, "/users", "/users", &[]);
        assert_eq!(at(&t, "/users/"), None);
        matches(&t, "/posts/", "/posts/", &[]);
        assert_eq!(at(&t, "/posts"), None);
        matches(&t, "/items/1", "/items/:id", &["id=1"]);
        assert_eq!(at(&t, "/items/1/"), None);
        matches(&t, "/files/1/", "/files/:id/", &["id=1"]);
        assert_eq!(at(&t, "/files/1"), None);

        let both = tree(&["/users", "/users/"]);
        matches(&both, "/users", "/users", &[]);
        matches(&both, "/users/", "/users/", &[]);
    }

    #[test]
    fn percent_decoding() {
        let t = tree(&["/files/:name", "/files/:name/:part", "/raw/*rest", "/users"]);
        matches(&t, "/files/a%20b", "/files/:name", &["name=a b"]);
        // `%2F` decodes to `/` in the value but does not split the segment.
        matches(&t, "/files/a%2Fb", "/files/:name", &["name=a/b"]);
        matches(
            &t,
            "/files/a/b",
            "/files/:name/:part",
            &["name=a", "part=b"],
        );
        matches(&t, "/files/caf%C3%A9", "/files/:name", &["name=café"]);
        // Malformed escapes and non-UTF-8 are kept as received.
        matches(&t, "/files/100%", "/files/:name", &["name=100%"]);
        matches(&t, "/files/%FF", "/files/:name", &["name=%FF"]);
        matches(&t, "/raw/a%2Fb/c%20d", "/raw/*rest", &["rest=a/b/c d"]);
        // Static segments are compared as received.
        assert_eq!(at(&t, "/us%65rs"), None);
        assert_eq!(
            at(&tree(&["/caf%C3%A9"]), "/caf%C3%A9").unwrap().0,
            "/caf%C3%A9"
        );
    }

    #[test]
    fn many_static_children_use_binary_search() {
        let names: Vec<String> = (0..40).map(|i| format!("/n{i}")).collect();
        let mut t = PathTree::new();
        for (i, n) in names.iter().enumerate() {
            t.insert(n, i).unwrap();
        }
        t.insert("/:other", 99).unwrap();
        assert!(t.root.statics.len() > LINEAR_SCAN_MAX);
        for (i, n) in names.iter().enumerate() {
            assert_eq!(t.at(n).map(|(v, _)| *v), Some(i));
        }
        assert_eq!(t.at("/n40").map(|(v, _)| *v), Some(99));
    }

    #[test]
    fn bad_patterns() {
        use RouteErrorKind::*;
        let mut t = PathTree::new();
        let cases = [
            ("", MissingLeadingSlash),
            ("users", MissingLeadingSlash),
            ("users/:id", MissingLeadingSlash),
            ("/a//b", EmptySegment),
            ("//", EmptySegment),
            ("/:", EmptyName),
            ("/users/:/x", EmptyName),
            ("/*", EmptyName),
            ("/:na-me", InvalidName),
            ("/:name.json", InvalidName),
            ("/:a:b", InvalidName),
            ("/*p/x", WildcardNotLast),
            ("/*p/", WildcardNotLast),
            ("/:id/:id", DuplicateName),
            ("/:id/*id", DuplicateName),
        ];
        for (pattern, kind) in cases {
            assert_eq!(error(&mut t, pattern).kind, kind, "{pattern}");
        }
        assert_eq!(t.patterns().count(), 0);
    }

    #[test]
    fn conflicting_names() {
        let mut t = tree(&["/users/:id", "/users/:id/posts", "/files/*path"]);
        let err = error(&mut t, "/users/:name");
        assert_eq!(
            err.kind,
            RouteErrorKind::ConflictingName {
                existing: ":id".into(),
                new: ":name".into()
            }
        );
        assert!(err.to_string().contains(":id"), "{err}");
        assert!(err.to_string().contains(":name"), "{err}");
        error(&mut t, "/users/:name/comments");
        let err = error(&mut t, "/files/*rest");
        assert!(matches!(err.kind, RouteErrorKind::ConflictingName { .. }));
        // A parameter and a wildcard may share a position; so may equal names.
        t.insert("/users/*rest", "/users/*rest").unwrap();
        t.insert("/users/:id/comments", "/users/:id/comments")
            .unwrap();
        t.insert("/files/:path", "/files/:path").unwrap();
    }

    #[test]
    fn duplicates() {
        let mut t = tree(&["/", "/a", "/a/", "/a/:id", "/s/*path"]);
        for p in ["/", "/a", "/a/", "/a/:id", "/s/*path"] {
            assert_eq!(error(&mut t, p).kind, RouteErrorKind::DuplicatePattern);
        }
        // The first value is kept.
        assert_eq!(at(&t, "/a"), Some(("/a", vec![])));
    }

    #[test]
    fn failed_insert_leaves_tree_unchanged() {
        let mut t = tree(&["/a/:id/x"]);
        error(&mut t, "/a/:name/y/z");
        error(&mut t, "/b/c/:x/:x");
        assert_eq!(t.patterns().collect::<Vec<_>>(), ["/a/:id/x"]);
        assert_eq!(at(&t, "/a/1/y/z"), None);
        assert!(t.root.statics.iter().all(|(s, _)| &**s == "a"));
        assert!(
            t.root.statics[0]
                .1
                .param
                .as_ref()
                .unwrap()
                .child
                .statics
                .len()
                == 1
        );
    }

    #[test]
    fn patterns_in_priority_order() {
        let t = tree(&["/b", "/*w", "/:p", "/a", "/", "/a/:x/*y"]);
        let all: Vec<_> = t.patterns().collect();
        assert_eq!(all, ["/", "/a", "/a/:x/*y", "/b", "/:p", "/*w"]);
        assert_eq!(
            format!("{t:?}"),
            r#"PathTree { patterns: ["/", "/a", "/a/:x/*y", "/b", "/:p", "/*w"] }"#
        );
        assert_eq!(PathTree::<()>::default().patterns().count(), 0);
    }

    #[test]
    fn values_need_no_traits() {
        struct Opaque;
        let mut t = PathTree::new();
        t.insert("/x", Opaque).unwrap();
        assert!(t.at("/x").is_some());
        assert!(format!("{t:?}").contains("/x"));
    }

    mod model {
        use super::*;
        use proptest::prelude::*;

        /// A static pattern over a tiny alphabet, so that routes share prefixes.
        fn static_pattern() -> impl Strategy<Value = String> {
            (
                prop::collection::vec("[ab%.:*]?[ab]{0,2}", 0..4),
                any::<bool>(),
            )
                .prop_map(|(segments, slash)| {
                    let mut p: String = segments
                        .iter()
                        .filter(|s| !s.is_empty() && !s.starts_with([':', '*']))
                        .map(|s| format!("/{s}"))
                        .collect();
                    if slash || p.is_empty() {
                        p.push('/');
                    }
                    p
                })
        }

        #[derive(Debug, Clone)]
        enum Kind {
            Static(String),
            Param,
            Wildcard,
        }

        /// A pattern of static, parameter and wildcard segments; names follow the position,
        /// so no two patterns conflict.
        fn mixed_pattern() -> impl Strategy<Value = String> {
            let kind = prop_oneof![
                3 => "[ab]{1,2}".prop_map(Kind::Static),
                2 => Just(Kind::Param),
                1 => Just(Kind::Wildcard),
            ];
            (prop::collection::vec(kind, 0..5), any::<bool>()).prop_map(|(kinds, slash)| {
                let mut p = String::new();
                for (i, kind) in kinds.iter().enumerate() {
                    match kind {
                        Kind::Static(s) => p += &format!("/{s}"),
                        Kind::Param => p += &format!("/:p{i}"),
                        Kind::Wildcard => return format!("{p}/*w{i}"),
                    }
                }
                if slash || p.is_empty() {
                    p.push('/');
                }
                p
            })
        }

        /// The reference semantics: among the patterns that match `path`, the most static one
        /// compared segment by segment (static < parameter < wildcard); with its raw values.
        fn reference<'a>(patterns: &'a [String], path: &str) -> Option<(&'a str, Vec<String>)> {
            let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
            let mut best: Option<(Vec<u8>, &str, Vec<String>)> = None;
            'patterns: for pattern in patterns {
                let (mut rank, mut values) = (Vec::new(), Vec::new());
                let parts: Vec<&str> = pattern[1..].split('/').collect();
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
                    best = Some((rank, pattern, values));
                }
            }
            best.map(|(_, pattern, values)| (pattern, values))
        }

        proptest! {
            #[test]
            fn static_routes_match_themselves(
                patterns in prop::collection::vec(static_pattern(), 1..20),
                others in prop::collection::vec(prop_oneof!["[/ab%.]{0,10}", "\\PC{0,12}"], 0..20),
            ) {
                let mut tree = PathTree::new();
                let mut inserted = Vec::new();
                for p in &patterns {
                    match tree.insert(p, p.clone()) {
                        Ok(()) => inserted.push(p),
                        Err(e) => prop_assert!(inserted.contains(&p), "{e}"),
                    }
                }
                for p in &inserted {
                    let (value, params) = tree.at(p).unwrap();
                    prop_assert_eq!(value, *p);
                    prop_assert!(params.is_empty() && !params.allocated());
                }
                for path in &others {
                    if let Some((value, _)) = tree.at(path) {
                        prop_assert_eq!(value, path);
                    }
                }
            }

            #[test]
            fn mixed_routes_agree_with_reference(
                patterns in prop::collection::vec(mixed_pattern(), 1..16),
                paths in prop::collection::vec("/[ab/]{0,10}", 1..30),
            ) {
                let mut tree = PathTree::new();
                let mut inserted: Vec<String> = Vec::new();
                for p in &patterns {
                    match tree.insert(p, p.clone()) {
                        Ok(()) => inserted.push(p.clone()),
                        Err(e) => prop_assert!(inserted.contains(p), "{e}"),
                    }
                }
                for path in inserted.iter().chain(&paths) {
                    let got = tree.at(path).map(|(value, params)| {
                        let pairs: Vec<String> =
                            params.iter().map(|(n, v)| format!("{n}={v}")).collect();
                        (value.as_str(), pairs)
                    });
                    prop_assert_eq!(got, reference(&inserted, path), "{}", path);
                }
            }
        }
    }
}
