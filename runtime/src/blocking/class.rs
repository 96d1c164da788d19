//! [`Class`]: the kinds of work the blocking pool tells apart, each with its own cap on
//! concurrent threads (libuv caps DNS at half its pool so slow lookups cannot starve fs).

use std::fmt;

/// A kind of blocking work. Each class has a cap on how many pool threads may run its
/// jobs at once; a job whose class is at its cap waits in the queue while jobs of other
/// classes go ahead of it.
///
/// # Examples
///
/// ```
/// use keel_runtime::blocking::{self, Class};
///
/// let pool = blocking::Builder::new().threads(8).build().unwrap();
/// assert_eq!(pool.class_cap(Class::Dns), 4); // half the pool by default
/// assert_eq!(pool.class_cap(Class::Fs), 8);
/// # pool.shutdown(std::time::Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Class {
    /// File system calls: [`keel_runtime::fs`](crate::fs).
    Fs,
    /// Name resolution (`getaddrinfo`): [`lookup_host`](crate::net::lookup_host).
    Dns,
    /// Everything else: [`blocking::spawn`](crate::blocking::spawn).
    User,
}

impl Class {
    /// Every class, in index order.
    pub const ALL: [Class; 3] = [Class::Fs, Class::Dns, Class::User];

    /// How many classes there are.
    pub(crate) const COUNT: usize = Class::ALL.len();

    /// The class's position in per-class arrays.
    pub(crate) fn index(self) -> usize {
        match self {
            Class::Fs => 0,
            Class::Dns => 1,
            Class::User => 2,
        }
    }

    /// The lower-case name used in metrics and messages (`fs`, `dns`, `user`).
    pub fn name(self) -> &'static str {
        match self {
            Class::Fs => "fs",
            Class::Dns => "dns",
            Class::User => "user",
        }
    }

    /// The environment variable that caps this class (`KEEL_BLOCKING_FS_THREADS`, ...).
    pub fn env_var(self) -> &'static str {
        match self {
            Class::Fs => "KEEL_BLOCKING_FS_THREADS",
            Class::Dns => "KEEL_BLOCKING_DNS_THREADS",
            Class::User => "KEEL_BLOCKING_USER_THREADS",
        }
    }

    /// The cap a class gets in a pool of `threads` when none is set: half the pool for
    /// DNS (at least 1), the whole pool otherwise.
    pub fn default_cap(self, threads: usize) -> usize {
        match self {
            Class::Dns => (threads / 2).max(1),
            Class::Fs | Class::User => threads,
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_match_all() {
        for (i, class) in Class::ALL.into_iter().enumerate() {
            assert_eq!(class.index(), i);
        }
        assert_eq!(Class::Dns.default_cap(1), 1);
        assert_eq!(Class::Dns.default_cap(16), 8);
    }
}
