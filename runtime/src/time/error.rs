//! [`Elapsed`]: the error of a [`timeout`](super::timeout) (or a
//! [`within`](crate::future::within)) whose deadline passed.

use std::fmt;

/// The deadline of a [`timeout`](super::timeout) or a [`within`](crate::future::within)
/// passed before the future finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl Elapsed {
    pub(crate) fn new() -> Elapsed {
        Elapsed(())
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}
