//! [`BuildError`]: why a runtime could not be built — a bad setting (an [`EnvError`]:
//! named, with the value and what was expected) or an OS resource that could not be had.

use std::fmt;
use std::io;

use crate::env::EnvError;

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
    InvalidValue(EnvError),
    Io {
        what: &'static str,
        source: io::Error,
    },
}

impl BuildError {
    /// A setting (builder knob or environment variable `name`) had a bad value: shorthand
    /// for `BuildError::from(EnvError::new(name, value, expected))`.
    pub fn invalid_value(
        name: impl Into<String>,
        value: impl Into<String>,
        expected: impl Into<String>,
    ) -> BuildError {
        BuildError::from(EnvError::new(&name.into(), &value.into(), expected.into()))
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
        self.invalid_setting().map(EnvError::name)
    }

    /// The bad setting (name, value, what was expected), if that is the cause.
    pub fn invalid_setting(&self) -> Option<&EnvError> {
        match &*self.inner {
            Inner::InvalidValue(e) => Some(e),
            Inner::Io { .. } => None,
        }
    }

    /// The bad setting, if that is the cause; else the error itself back.
    ///
    /// # Errors
    ///
    /// `self`, when the cause is not a bad setting.
    pub fn into_invalid_setting(self) -> Result<EnvError, BuildError> {
        match *self.inner {
            Inner::InvalidValue(e) => Ok(e),
            inner => Err(BuildError {
                inner: Box::new(inner),
            }),
        }
    }
}

impl From<EnvError> for BuildError {
    fn from(e: EnvError) -> BuildError {
        BuildError {
            inner: Box::new(Inner::InvalidValue(e)),
        }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            Inner::InvalidValue(e) => fmt::Display::fmt(e, f),
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
            Inner::InvalidValue(_) => None,
        }
    }
}
