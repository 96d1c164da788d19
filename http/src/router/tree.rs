//! TEMPORARY stand-in (being written separately).
#![allow(dead_code, missing_docs, unreachable_pub)]
use super::Params;
#[derive(Debug)]
pub(crate) struct RouteError(String);
impl std::fmt::Display for RouteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
#[derive(Debug)]
pub(crate) struct PathTree<T> {
    routes: Vec<(String, T)>,
}
impl<T> Default for PathTree<T> {
    fn default() -> Self {
        PathTree { routes: Vec::new() }
    }
}
impl<T> PathTree<T> {
    pub(crate) fn new() -> Self {
        Self::default()
    }
    pub(crate) fn insert(&mut self, pattern: &str, value: T) -> Result<(), RouteError> {
        if !pattern.starts_with('/') {
            return Err(RouteError("must start with /".into()));
        }
        self.routes.push((pattern.to_owned(), value));
        Ok(())
    }
    pub(crate) fn at(&self, path: &str) -> Option<(&T, Params)> {
        'r: for (p, v) in &self.routes {
            let mut params = Params::default();
            let ps: Vec<&str> = p.split('/').collect();
            let xs: Vec<&str> = path.split('/').collect();
            if ps.len() != xs.len() {
                continue;
            }
            for (a, b) in ps.iter().zip(xs.iter()) {
                if let Some(n) = a.strip_prefix(':') {
                    params.0.push((n.to_owned(), b.to_string()));
                } else if a != b {
                    continue 'r;
                }
            }
            return Some((v, params));
        }
        None
    }
}
