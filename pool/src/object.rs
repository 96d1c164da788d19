//! [`Pooled`]: the guard around a checked-out connection; dropping it returns the
//! connection to its pool.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::rc::Rc;

use crate::manager::Manager;
use crate::pool::{Conn, Inner};

/// A connection lent by a [`Pool`](crate::Pool). Derefs to the connection; dropping it
/// gives the connection back (or closes it, when the manager's
/// [`check`](Manager::check) finds it broken, it outlived its lifetime, or the pool was
/// closed).
///
/// It keeps its pool alive and cannot leave the pool's loop (`!Send`).
///
/// # Examples
///
/// ```
/// # use keel_pool::{Manager, Pool};
/// # struct M;
/// # impl Manager for M {
/// #     type Connection = Vec<u8>; type Error = std::convert::Infallible;
/// #     async fn create(&self) -> Result<Vec<u8>, Self::Error> { Ok(Vec::new()) }
/// #     async fn recycle(&self, _: &mut Vec<u8>) -> Result<(), Self::Error> { Ok(()) }
/// # }
/// keel_runtime::block_on(async {
///     let pool = Pool::new(M);
///     let mut conn = pool.get().await.unwrap();
///     conn.push(1);
///     assert_eq!(pool.status().in_use, 1);
///     drop(conn);
///     assert_eq!(pool.status().in_use, 0);
/// });
/// ```
pub struct Pooled<M: Manager> {
    conn: Option<Conn<M::Connection>>,
    pool: Rc<Inner<M>>,
    lease: usize,
}

impl<M: Manager> Pooled<M> {
    pub(crate) fn new(pool: Rc<Inner<M>>, conn: Conn<M::Connection>, lease: usize) -> Self {
        Pooled {
            conn: Some(conn),
            pool,
            lease,
        }
    }

    /// Takes the connection out of the pool for good: its slot is freed (the pool may
    /// open another) and [`Manager::detach`] runs.
    ///
    /// # Examples
    ///
    /// ```
    /// # use keel_pool::{Manager, Pool, Pooled};
    /// # struct M;
    /// # impl Manager for M {
    /// #     type Connection = u8; type Error = std::convert::Infallible;
    /// #     async fn create(&self) -> Result<u8, Self::Error> { Ok(3) }
    /// #     async fn recycle(&self, _: &mut u8) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// keel_runtime::block_on(async {
    ///     let pool = Pool::new(M);
    ///     let raw: u8 = Pooled::detach(pool.get().await.unwrap());
    ///     assert_eq!(raw, 3);
    ///     assert_eq!(pool.status().size, 0);
    /// });
    /// ```
    pub fn detach(mut this: Self) -> M::Connection {
        let mut conn = this.conn.take().expect("connection present until drop");
        this.pool.detach(&mut conn.raw, this.lease);
        *conn.raw
    }
}

impl<M: Manager> Deref for Pooled<M> {
    type Target = M::Connection;

    fn deref(&self) -> &M::Connection {
        &self
            .conn
            .as_ref()
            .expect("connection present until drop")
            .raw
    }
}

impl<M: Manager> DerefMut for Pooled<M> {
    fn deref_mut(&mut self) -> &mut M::Connection {
        &mut self
            .conn
            .as_mut()
            .expect("connection present until drop")
            .raw
    }
}

impl<M: Manager> Drop for Pooled<M> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.checkin(conn, self.lease);
        }
    }
}

impl<M: Manager> fmt::Debug for Pooled<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pooled")
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}
