//! [`Global`]: the holder of a pool's process-wide instance — started once, from the
//! environment at first use or from code by `install`, and never replaced.

use std::sync::OnceLock;

use parking_lot::Mutex;

use super::JobError;
use crate::BuildError;

/// One process-wide pool of type `P`: a `static` in the pool's module.
///
/// Reads take no lock once the pool runs. Starting it (from the environment, or by
/// `install`) happens under one mutex, so the two cannot race, and a failed start from
/// the environment leaves nothing behind: the next use tries (and fails) again.
pub(crate) struct Global<P> {
    pool: OnceLock<P>,
    init: Mutex<()>,
}

impl<P: Clone> Global<P> {
    pub(crate) const fn new() -> Global<P> {
        Global {
            pool: OnceLock::new(),
            init: Mutex::new(()),
        }
    }

    /// The pool, or `None` before it started.
    pub(crate) fn get(&self) -> Option<&P> {
        self.pool.get()
    }

    /// A handle to the pool, started at first use by `start` (which reads the
    /// environment); its error comes back as [`JobError::config`].
    pub(crate) fn get_or_start(
        &self,
        start: impl FnOnce() -> Result<P, BuildError>,
    ) -> Result<P, JobError> {
        if let Some(pool) = self.pool.get() {
            return Ok(pool.clone());
        }
        let _guard = self.init.lock();
        if let Some(pool) = self.pool.get() {
            return Ok(pool.clone());
        }
        let pool = start().map_err(JobError::config)?;
        Ok(self.pool.get_or_init(|| pool).clone())
    }

    /// Makes the pool `start` builds the process-wide one; an error naming `setting`, with
    /// `expected` as the advice, when one already runs (then `start` is not called).
    pub(crate) fn install(
        &self,
        setting: &str,
        expected: &str,
        start: impl FnOnce() -> P,
    ) -> Result<P, BuildError> {
        let _guard = self.init.lock();
        if self.pool.get().is_some() {
            return Err(BuildError::invalid_value(
                setting,
                "already started",
                expected,
            ));
        }
        Ok(self.pool.get_or_init(start).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_start_is_not_kept_and_the_next_use_starts_it() {
        let global = Global::<u32>::new();
        let err = global
            .get_or_start(|| Err(BuildError::invalid_value("KEEL_X", "lots", "a number")))
            .unwrap_err();
        assert!(err.is_config());
        assert_eq!(err.setting(), Some("KEEL_X"));
        assert!(global.get().is_none());
        assert_eq!(global.get_or_start(|| Ok(7)).unwrap(), 7);
        // Started: later starts are not called.
        assert_eq!(global.get_or_start(|| unreachable!()).unwrap(), 7);
        assert_eq!(global.get(), Some(&7));
    }

    #[test]
    fn install_only_before_the_first_start() {
        let global = Global::<u32>::new();
        assert_eq!(global.install("x pool", "sooner", || 3).unwrap(), 3);
        let err = global
            .install("x pool", "sooner", || unreachable!())
            .unwrap_err();
        assert_eq!(err.setting(), Some("x pool"));
        assert!(err.to_string().contains("already started"), "{err}");
        assert!(err.to_string().contains("sooner"), "{err}");
        assert_eq!(global.get_or_start(|| unreachable!()).unwrap(), 3);
    }
}
