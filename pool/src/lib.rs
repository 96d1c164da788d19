//! Keel pools (in progress).
