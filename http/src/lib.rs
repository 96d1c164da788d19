//! Keel HTTP (in progress).
