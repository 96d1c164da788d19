//! [`BuildError`]: why a runtime could not be built — a bad setting (named, with the
//! value and what was expected) or an OS resource that could not be had.

use std::fmt;
use std::io;

/// A runtime could not be built.
///
/// # Examples
///
/// ```
/// let err = keel_runtime::Runtime::builder().loops(0).build().unwrap_err();
/// assert!(err.is_invalid_value());
/// assert!(err.to_string().contains("loops"));
/// ```
pub struct BuildError {
    inner: Box<Inner>,
}

enum Inner {
    InvalidValue {
        name: String,
        value: String,
        expected: String,
    },
    Io {
        what: &'static str,
        source: io::Error,
    },
}

impl BuildError {
    /// A setting (builder knob or environment variable `name`) had a bad value.
    pub fn invalid_value(
        name: impl Into<String>,
        value: impl Into<String>,
        expected: impl Into<String>,
    ) -> BuildError {
        BuildError {
            inner: Box::new(Inner::InvalidValue {
                name: name.into(),
                value: value.into(),
                expected: expected.into(),
            }),
        }
    }

    pub(crate) fn io(what: &'static str, source: io::Error) -> BuildError {
        BuildError {
            inner: Box::new(Inner::Io { what, source }),
        }
    }

    /// Whether a setting had a bad value.
    pub fn is_invalid_value(&self) -> bool {
        matches!(*self.inner, Inner::InvalidValue { .. })
    }

    /// The setting or environment variable that was wrong, if that is the cause.
    pub fn setting(&self) -> Option<&str> {
        match &*self.inner {
            Inner::InvalidValue { name, .. } => Some(name),
            Inner::Io { .. } => None,
        }
    }
}

impl From<crate::env::EnvError> for BuildError {
    fn from(e: crate::env::EnvError) -> BuildError {
        BuildError::invalid_value(e.name(), e.value(), e.expected())
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            Inner::InvalidValue {
                name,
                value,
                expected,
            } => write!(
                f,
                "invalid value for {name}: {value:?} (expected {expected})"
            ),
            Inner::Io { what, source } => write!(f, "could not {what}: {source}"),
        }
    }
}

impl fmt::Debug for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.inner {
            Inner::Io { source, .. } => Some(source),
            Inner::InvalidValue { .. } => None,
        }
    }
}
