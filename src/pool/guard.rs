//! The RAII check-out guard.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use super::Shared;
use crate::conn::Connection;

/// What a checked-out connection is pinned to (load-balancers.md "Connection Pinning").
///
/// ```
/// # use std::sync::Arc;
/// # use mongopool::{Connection, Establisher, Interrupter, Pool, PoolOptions, ServerAddress};
/// # struct Fake;
/// # impl Establisher for Fake {
/// #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
/// #         Ok(Connection::detached(a.clone()))
/// #     }
/// # }
/// # let pool = Pool::with_establisher("db:27017".parse()?, PoolOptions::default(), Arc::new(Fake))?;
/// use mongopool::PinnedTo;
/// pool.ready()?;
/// let mut conn = pool.check_out()?;
/// conn.pin(PinnedTo::Transaction);
/// assert_eq!(conn.pinned_to(), Some(PinnedTo::Transaction));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PinnedTo {
    /// A cursor whose `getMore`s must reach the same service.
    Cursor,
    /// A transaction whose commands must reach the same service.
    Transaction,
}

/// A checked-out connection. It dereferences to [`Connection`] and goes back to the pool that
/// made it when dropped (cmap.md "withConnection"); since only the guard can check a connection
/// in, a connection can never be checked in to another pool.
///
/// ```
/// # use std::sync::Arc;
/// # use mongopool::{Connection, Establisher, Interrupter, Pool, PoolOptions, ServerAddress};
/// # struct Fake;
/// # impl Establisher for Fake {
/// #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
/// #         Ok(Connection::detached(a.clone()))
/// #     }
/// # }
/// # let pool = Pool::with_establisher("db:27017".parse()?, PoolOptions::default(), Arc::new(Fake))?;
/// pool.ready()?;
/// {
///     let conn = pool.check_out()?;
///     assert_eq!(pool.status().in_use, 1);
/// } // checked in here
/// assert_eq!(pool.status().available, 1);
/// let conn = pool.check_out()?;
/// conn.discard(); // closed instead of reused
/// assert_eq!(pool.status().total, 0);
/// # Ok::<(), mongopool::Error>(())
/// ```
pub struct PooledConnection {
    /// `Some` from check-out until the guard is dropped: only `Drop` takes it, so the
    /// `expect`s of the methods (which borrow a live guard) cannot fire.
    conn: Option<Box<Connection>>,
    shared: Arc<Shared>,
}

impl PooledConnection {
    pub(crate) fn new(conn: Box<Connection>, shared: Arc<Shared>) -> Self {
        PooledConnection {
            conn: Some(conn),
            shared,
        }
    }

    /// Checks the connection in now (the same as dropping the guard).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use mongopool::{Connection, Establisher, Interrupter, Pool, PoolOptions, ServerAddress};
    /// # struct Fake;
    /// # impl Establisher for Fake {
    /// #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
    /// #         Ok(Connection::detached(a.clone()))
    /// #     }
    /// # }
    /// # let pool = Pool::with_establisher("db:27017".parse()?, PoolOptions::default(), Arc::new(Fake))?;
    /// pool.ready()?;
    /// let conn = pool.check_out()?;
    /// conn.check_in();
    /// assert_eq!(pool.status().available, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_in(self) {
        drop(self)
    }

    /// Marks the connection errored and checks it in, so the pool closes it.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use mongopool::{Connection, Establisher, Interrupter, Pool, PoolOptions, ServerAddress};
    /// # struct Fake;
    /// # impl Establisher for Fake {
    /// #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
    /// #         Ok(Connection::detached(a.clone()))
    /// #     }
    /// # }
    /// # let pool = Pool::with_establisher("db:27017".parse()?, PoolOptions::default(), Arc::new(Fake))?;
    /// pool.ready()?;
    /// let events = pool.subscribe();
    /// pool.check_out()?.discard();
    /// assert!(events.try_iter().any(|e| e.name() == "ConnectionClosed"));
    /// assert_eq!(pool.status().total, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn discard(mut self) {
        self.mark_errored();
    }

    /// Records that this connection is pinned to a cursor or a transaction, until
    /// [`PooledConnection::unpin`] or check-in. A load-balanced pool counts its connections in
    /// use by purpose and names the counts in its wait-queue timeout error
    /// (load-balancers.md "Connection Tracking"); other pools count them too.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use mongopool::{Connection, Establisher, Interrupter, Pool, PoolOptions, ServerAddress};
    /// # struct Fake;
    /// # impl Establisher for Fake {
    /// #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
    /// #         Ok(Connection::detached(a.clone()))
    /// #     }
    /// # }
    /// use mongopool::PinnedTo;
    /// # let pool = Pool::with_establisher("db:27017".parse()?, PoolOptions::default(), Arc::new(Fake))?;
    /// pool.ready()?;
    /// let mut conn = pool.check_out()?;
    /// conn.pin(PinnedTo::Cursor);
    /// assert_eq!(pool.in_use_by_purpose().cursors, 1);
    /// drop(conn);
    /// assert_eq!(pool.in_use_by_purpose().cursors, 0);
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn pin(&mut self, purpose: PinnedTo) {
        let mut st = self.shared.state.lock();
        let conn = checked_out(&mut self.conn);
        st.unpin(conn.pinned.take());
        st.pin(purpose);
        conn.pinned = Some(purpose);
    }

    /// Ends a [`PooledConnection::pin`]: the connection counts as used by other operations.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use mongopool::{Connection, Establisher, Interrupter, Pool, PoolOptions, ServerAddress};
    /// # struct Fake;
    /// # impl Establisher for Fake {
    /// #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
    /// #         Ok(Connection::detached(a.clone()))
    /// #     }
    /// # }
    /// # let pool = Pool::with_establisher("db:27017".parse()?, PoolOptions::default(), Arc::new(Fake))?;
    /// use mongopool::PinnedTo;
    /// pool.ready()?;
    /// let mut conn = pool.check_out()?;
    /// conn.pin(PinnedTo::Cursor);
    /// conn.unpin(); // the cursor is exhausted
    /// assert_eq!(pool.in_use_by_purpose().cursors, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unpin(&mut self) {
        let mut st = self.shared.state.lock();
        st.unpin(checked_out(&mut self.conn).pinned.take());
    }

    /// What the connection is pinned to, if anything.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use mongopool::{Connection, Establisher, Interrupter, Pool, PoolOptions, ServerAddress};
    /// # struct Fake;
    /// # impl Establisher for Fake {
    /// #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
    /// #         Ok(Connection::detached(a.clone()))
    /// #     }
    /// # }
    /// # let pool = Pool::with_establisher("db:27017".parse()?, PoolOptions::default(), Arc::new(Fake))?;
    /// pool.ready()?;
    /// assert_eq!(pool.check_out()?.pinned_to(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pinned_to(&self) -> Option<PinnedTo> {
        self.conn().pinned
    }

    fn conn(&self) -> &Connection {
        // See `checked_out`.
        self.conn.as_ref().expect("PooledConnection used after check-in")
    }
}

/// The guard's connection, mutably. With `PooledConnection::conn`, the guard's only `expect`s,
/// and unreachable: the field is `Some` from `new` until `Drop` takes it, and nothing can use
/// the guard after that. A function of the field, so that callers can hold the pool's lock
/// (another field) at the same time.
fn checked_out(conn: &mut Option<Box<Connection>>) -> &mut Connection {
    conn.as_mut().expect("PooledConnection used after check-in")
}

impl Deref for PooledConnection {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn()
    }
}

impl DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut Connection {
        checked_out(&mut self.conn)
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.shared.check_in(conn);
        }
    }
}

impl std::fmt::Debug for PooledConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PooledConnection").field(&self.conn).finish()
    }
}
