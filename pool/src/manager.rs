//! [`Manager`]: how a pool creates, checks and lets go of its connections.

use std::future::Future;

/// What a sync check on a connection found ([`Manager::check`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOutcome {
    /// Fine to hand out as it is.
    Ok,
    /// Usable, but run [`Manager::recycle`] before the next checkout (for example, a
    /// connection returned inside a transaction).
    NeedsRecycle,
    /// Dead: close it.
    Broken,
}

/// Creates and maintains the connections of a [`Pool`](crate::Pool).
///
/// The futures need not be `Send`: a pool and its manager live on one loop.
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
/// use keel_pool::Manager;
///
/// /// Hands out numbers; stands in for a database client.
/// struct Counter(std::cell::Cell<u32>);
///
/// impl Manager for Counter {
///     type Connection = u32;
///     type Error = Infallible;
///
///     async fn create(&self) -> Result<u32, Infallible> {
///         self.0.set(self.0.get() + 1);
///         Ok(self.0.get())
///     }
///
///     async fn recycle(&self, _conn: &mut u32) -> Result<(), Infallible> {
///         Ok(())
///     }
/// }
/// # let _ = Counter(Default::default());
/// ```
pub trait Manager: 'static {
    /// The pooled connection.
    type Connection: 'static;
    /// The backend's error, carried as-is in [`Error`](crate::Error).
    type Error: std::error::Error + 'static;

    /// Opens a new connection. The pool bounds it by its create timeout and retries
    /// failures with exponential backoff and jitter.
    fn create(&self) -> impl Future<Output = Result<Self::Connection, Self::Error>>;

    /// Checks (and cleans) a connection before a checkout: run when it sat idle longer
    /// than the validation window, or when [`check`](Manager::check) asked for it. An
    /// error closes the connection and the acquire creates a new one in its place.
    fn recycle(&self, conn: &mut Self::Connection)
    -> impl Future<Output = Result<(), Self::Error>>;

    /// A cheap sync look at a connection, on return and before every checkout.
    ///
    /// # Default
    ///
    /// [`CheckOutcome::Ok`].
    fn check(&self, conn: &mut Self::Connection) -> CheckOutcome {
        let _ = conn;
        CheckOutcome::Ok
    }

    /// Called once when a connection leaves the pool for good (closed or detached).
    ///
    /// # Default
    ///
    /// Does nothing; the connection is dropped afterwards (unless detached).
    fn detach(&self, conn: &mut Self::Connection) {
        let _ = conn;
    }
}
