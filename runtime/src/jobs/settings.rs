//! Reading and checking pool settings: environment variables through [`crate::env`],
//! range checks that name the knob or variable at fault, as [`BuildError`]s.

use std::ops::RangeInclusive;
use std::time::Duration;

use crate::BuildError;
use crate::env::{self, EnvError};

/// The longest spin accepted (both pools' `spin` knob).
pub const MAX_SPIN: Duration = Duration::from_millis(10);

/// `spin` when it is at most [`MAX_SPIN`], else an error naming `name`.
pub(crate) fn check_spin(name: &str, spin: Duration) -> Result<Duration, BuildError> {
    if spin > MAX_SPIN {
        return Err(BuildError::invalid_value(
            name,
            format!("{spin:?}"),
            format!("at most {MAX_SPIN:?}"),
        ));
    }
    Ok(spin)
}

fn from_env_error(e: EnvError) -> BuildError {
    BuildError::invalid_value(e.name(), e.value(), e.expected())
}

/// A whole number from `name` within `range`; `None` when unset.
pub(crate) fn env_count(
    name: &str,
    range: RangeInclusive<usize>,
) -> Result<Option<usize>, BuildError> {
    match env::var(name, env::parse_number::<usize>).map_err(from_env_error)? {
        Some(n) => check_count(name, n, range).map(Some),
        None => Ok(None),
    }
}

/// A duration from `name`; `None` when unset.
pub(crate) fn env_duration(name: &str) -> Result<Option<Duration>, BuildError> {
    env::var(name, env::parse_duration).map_err(from_env_error)
}

/// `n` when it lies in `range`, else an error naming `name`.
pub(crate) fn check_count(
    name: &str,
    n: usize,
    range: RangeInclusive<usize>,
) -> Result<usize, BuildError> {
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(BuildError::invalid_value(
            name,
            n.to_string(),
            format!("a whole number from {} to {}", range.start(), range.end()),
        ))
    }
}

/// The CPUs this process may run on, at least 1.
pub(crate) fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}
