//! What the pool hands a check-out: a connection, the right to create one, or an error.

use std::sync::Arc;

use crate::conn::{Connection, Interrupter};
use crate::error::Error;
use crate::sync::Instant;

/// The outcome of a check-out request, decided under the pool's mutex.
pub(crate) enum Grant {
    /// An available, non-perished connection, already counted as in use. Boxed so that the
    /// hand-off moves a pointer, not the whole connection.
    Connection(Box<Connection>),
    /// A pending slot: the connection is counted in `total` and `pending`, its
    /// ConnectionCreated event is emitted, and the holder must establish it outside the lock.
    Create(PendingConnection),
    /// The check-out fails (pool cleared or closed while waiting).
    Fail(Error),
}

/// A connection in the "pending" state.
pub(crate) struct PendingConnection {
    pub(crate) id: u64,
    pub(crate) generation: u32,
    pub(crate) created: Instant,
    pub(crate) interrupter: Arc<Interrupter>,
}
