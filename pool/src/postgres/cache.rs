//! The per-connection prepared-statement cache: statements keyed by their SQL text,
//! bounded, least recently used evicted first.
//!
//! An evicted [`Statement`] is dropped, which makes tokio-postgres send `Close` for it,
//! so the server side stays bounded too.

use std::collections::HashMap;

use tokio_postgres::Statement;

/// Statements prepared on one connection, by SQL text.
#[derive(Debug)]
pub(super) struct StatementCache {
    capacity: usize,
    /// SQL text → (statement, the tick it was last used at).
    entries: HashMap<String, (Statement, u64)>,
    tick: u64,
    hits: u64,
    misses: u64,
}

impl StatementCache {
    /// An empty cache holding up to `capacity` statements (0: caches nothing).
    pub(super) fn new(capacity: usize) -> StatementCache {
        StatementCache {
            capacity,
            entries: HashMap::new(),
            tick: 0,
            hits: 0,
            misses: 0,
        }
    }

    /// The statement prepared for `sql`, marking it as just used.
    pub(super) fn get(&mut self, sql: &str) -> Option<Statement> {
        self.tick += 1;
        match self.entries.get_mut(sql) {
            Some((statement, used)) => {
                *used = self.tick;
                self.hits += 1;
                Some(statement.clone())
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// Remembers `statement` for `sql`, evicting the least recently used when full.
    pub(super) fn insert(&mut self, sql: &str, statement: Statement) {
        if self.capacity == 0 {
            return;
        }
        while self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(sql, _)| sql.clone());
            match oldest {
                Some(sql) => drop(self.entries.remove(&sql)),
                None => break,
            }
        }
        self.tick += 1;
        self.entries.insert(sql.to_owned(), (statement, self.tick));
    }

    /// Forgets every statement (they are closed on the server).
    pub(super) fn clear(&mut self) {
        self.entries.clear();
    }

    /// How many statements are cached.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// (hits, misses) since the connection opened.
    pub(super) fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }
}
