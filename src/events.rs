//! CMAP events (cmap.md "Events") and the ways to subscribe to them: crossbeam channels
//! (unbounded, or bounded with a dropped-events counter) and a handler trait.
//!
//! ```
//! # use std::sync::Arc;
//! # use mongopool::{Connection, Establisher, Interrupter, Pool, PoolOptions, ServerAddress};
//! # struct Fake;
//! # impl Establisher for Fake {
//! #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
//! #         Ok(Connection::detached(a.clone()))
//! #     }
//! # }
//! # let pool = Pool::with_establisher("db:27017".parse()?, PoolOptions::default(), Arc::new(Fake))?;
//! use mongopool::CmapEvent;
//!
//! let events = pool.subscribe();
//! pool.ready()?;
//! assert!(matches!(events.try_recv()?, CmapEvent::PoolReady(e) if e.address.to_string() == "db:27017"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bson::oid::ObjectId;
use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::address::ServerAddress;
use crate::error::Error;

/// Every CMAP event. `name()` gives the spec's type name.
///
/// ```
/// use mongopool::{Pool, PoolOptions, CmapEvent};
/// let pool = Pool::new("localhost:27017".parse().unwrap(), PoolOptions::default()).unwrap();
/// let events = pool.subscribe();
/// pool.ready().unwrap();
/// assert!(matches!(events.try_recv(), Ok(CmapEvent::PoolReady(_))));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum CmapEvent {
    /// A pool was created.
    PoolCreated(PoolCreatedEvent),
    /// A pool was marked ready.
    PoolReady(PoolReadyEvent),
    /// A pool was cleared.
    PoolCleared(PoolClearedEvent),
    /// A pool was closed.
    PoolClosed(PoolClosedEvent),
    /// A connection was created (not yet established).
    ConnectionCreated(ConnectionCreatedEvent),
    /// A connection finished establishment.
    ConnectionReady(ConnectionReadyEvent),
    /// A connection was closed.
    ConnectionClosed(ConnectionClosedEvent),
    /// A check-out started.
    ConnectionCheckOutStarted(ConnectionCheckOutStartedEvent),
    /// A check-out failed.
    ConnectionCheckOutFailed(ConnectionCheckOutFailedEvent),
    /// A check-out succeeded.
    ConnectionCheckedOut(ConnectionCheckedOutEvent),
    /// A connection was checked back in.
    ConnectionCheckedIn(ConnectionCheckedInEvent),
}

impl CmapEvent {
    /// The spec's name for the event type, e.g. `ConnectionCheckedOut`.
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
    /// # use mongopool::CmapEvent;
    /// let events = pool.subscribe();
    /// pool.ready()?;
    /// assert_eq!(events.try_recv()?.name(), "ConnectionPoolReady");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            CmapEvent::PoolCreated(_) => "ConnectionPoolCreated",
            CmapEvent::PoolReady(_) => "ConnectionPoolReady",
            CmapEvent::PoolCleared(_) => "ConnectionPoolCleared",
            CmapEvent::PoolClosed(_) => "ConnectionPoolClosed",
            CmapEvent::ConnectionCreated(_) => "ConnectionCreated",
            CmapEvent::ConnectionReady(_) => "ConnectionReady",
            CmapEvent::ConnectionClosed(_) => "ConnectionClosed",
            CmapEvent::ConnectionCheckOutStarted(_) => "ConnectionCheckOutStarted",
            CmapEvent::ConnectionCheckOutFailed(_) => "ConnectionCheckOutFailed",
            CmapEvent::ConnectionCheckedOut(_) => "ConnectionCheckedOut",
            CmapEvent::ConnectionCheckedIn(_) => "ConnectionCheckedIn",
        }
    }

    /// The address of the pool that emitted the event.
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
    /// # use mongopool::CmapEvent;
    /// let events = pool.subscribe();
    /// pool.ready()?;
    /// assert_eq!(events.try_recv()?.address().to_string(), "db:27017");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn address(&self) -> &ServerAddress {
        match self {
            CmapEvent::PoolCreated(e) => &e.address,
            CmapEvent::PoolReady(e) => &e.address,
            CmapEvent::PoolCleared(e) => &e.address,
            CmapEvent::PoolClosed(e) => &e.address,
            CmapEvent::ConnectionCreated(e) => &e.address,
            CmapEvent::ConnectionReady(e) => &e.address,
            CmapEvent::ConnectionClosed(e) => &e.address,
            CmapEvent::ConnectionCheckOutStarted(e) => &e.address,
            CmapEvent::ConnectionCheckOutFailed(e) => &e.address,
            CmapEvent::ConnectionCheckedOut(e) => &e.address,
            CmapEvent::ConnectionCheckedIn(e) => &e.address,
        }
    }

    /// The connection the event concerns, where there is one.
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
    /// # use mongopool::CmapEvent;
    /// let events = pool.subscribe();
    /// pool.ready()?;
    /// drop(pool.check_out()?);
    /// let ids: Vec<Option<u64>> = events.try_iter().map(|e| e.connection_id()).collect();
    /// assert_eq!(ids, [None, None, Some(1), Some(1), Some(1), Some(1)]); // ready, started, created, ready, out, in
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connection_id(&self) -> Option<u64> {
        match self {
            CmapEvent::ConnectionCreated(e) => Some(e.connection_id),
            CmapEvent::ConnectionReady(e) => Some(e.connection_id),
            CmapEvent::ConnectionClosed(e) => Some(e.connection_id),
            CmapEvent::ConnectionCheckedOut(e) => Some(e.connection_id),
            CmapEvent::ConnectionCheckedIn(e) => Some(e.connection_id),
            _ => None,
        }
    }
}

/// The pool options the user set, as carried by [`PoolCreatedEvent`].
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
/// # use mongopool::CmapEvent;
/// let (tx, events) = crossbeam_channel::unbounded();
/// let options = PoolOptions::builder().max_pool_size(5).build()?;
/// let _pool = Pool::builder("db:27017".parse()?).options(options).establisher(Arc::new(Fake)).event_sender(tx).build()?;
/// let Ok(CmapEvent::PoolCreated(created)) = events.try_recv() else { panic!("no PoolCreated") };
/// assert_eq!(created.options.max_pool_size, Some(5)); // only what the user set
/// assert_eq!(created.options.min_pool_size, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolCreatedOptions {
    /// `maxIdleTimeMS`, if set.
    pub max_idle_time_ms: Option<u64>,
    /// `minPoolSize`, if set.
    pub min_pool_size: Option<u64>,
    /// `maxPoolSize`, if set.
    pub max_pool_size: Option<u64>,
    /// `maxConnecting`, if set.
    pub max_connecting: Option<u64>,
    /// `waitQueueTimeoutMS`, if set.
    pub wait_queue_timeout_ms: Option<u64>,
}

/// Emitted when a pool is created.
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
/// # use mongopool::CmapEvent;
/// let (tx, events) = crossbeam_channel::unbounded();
/// let _pool = Pool::builder("db:27017".parse()?).establisher(Arc::new(Fake)).event_sender(tx).build()?;
/// assert!(matches!(events.try_recv()?, CmapEvent::PoolCreated(e) if e.address.to_string() == "db:27017"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct PoolCreatedEvent {
    /// The pool's server.
    pub address: ServerAddress,
    /// The options the user set.
    pub options: PoolCreatedOptions,
}

/// Emitted when a pool is marked ready.
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
/// # use mongopool::CmapEvent;
/// let events = pool.subscribe();
/// pool.ready()?;
/// pool.ready()?; // already ready: no second event
/// assert_eq!(events.try_iter().filter(|e| matches!(e, CmapEvent::PoolReady(_))).count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct PoolReadyEvent {
    /// The pool's server.
    pub address: ServerAddress,
}

/// Emitted when a pool is cleared.
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
/// # use mongopool::CmapEvent;
/// let events = pool.subscribe();
/// pool.ready()?;
/// pool.clear(true);
/// let cleared = events.try_iter().find_map(|e| match e {
///     CmapEvent::PoolCleared(c) => Some(c),
///     _ => None,
/// });
/// assert!(cleared.is_some_and(|c| c.interrupt_in_use_connections && c.service_id.is_none()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct PoolClearedEvent {
    /// The pool's server.
    pub address: ServerAddress,
    /// The service cleared, in load-balanced mode.
    pub service_id: Option<ObjectId>,
    /// Whether in-use connections were interrupted.
    pub interrupt_in_use_connections: bool,
}

/// Emitted when a pool is closed.
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
/// # use mongopool::CmapEvent;
/// let events = pool.subscribe();
/// pool.close();
/// assert!(matches!(events.try_recv()?, CmapEvent::PoolClosed(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct PoolClosedEvent {
    /// The pool's server.
    pub address: ServerAddress,
}

/// Emitted when a connection is created, before it is established.
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
/// # use mongopool::CmapEvent;
/// let events = pool.subscribe();
/// pool.ready()?;
/// let _conn = pool.check_out()?;
/// assert!(events.try_iter().any(|e| matches!(e, CmapEvent::ConnectionCreated(c) if c.connection_id == 1)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ConnectionCreatedEvent {
    /// The pool's server.
    pub address: ServerAddress,
    /// The connection's id.
    pub connection_id: u64,
}

/// Emitted when a connection has been established and is ready for use.
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
/// # use mongopool::CmapEvent;
/// let events = pool.subscribe();
/// pool.ready()?;
/// let _conn = pool.check_out()?;
/// let ready = events.try_iter().find_map(|e| match e {
///     CmapEvent::ConnectionReady(r) => Some(r),
///     _ => None,
/// });
/// assert_eq!(ready.map(|r| r.connection_id), Some(1)); // `duration`: the time establishment took
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ConnectionReadyEvent {
    /// The pool's server.
    pub address: ServerAddress,
    /// The connection's id.
    pub connection_id: u64,
    /// Time from ConnectionCreated to this event.
    pub duration: Duration,
}

/// Why a connection was closed.
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
/// # use mongopool::CmapEvent;
/// use mongopool::events::ConnectionClosedReason;
/// let events = pool.subscribe();
/// pool.ready()?;
/// let conn = pool.check_out()?;
/// pool.clear(false);
/// drop(conn); // checked in after the clear: stale
/// let reasons: Vec<ConnectionClosedReason> = events
///     .try_iter()
///     .filter_map(|e| match e {
///         CmapEvent::ConnectionClosed(c) => Some(c.reason),
///         _ => None,
///     })
///     .collect();
/// assert_eq!(reasons, [ConnectionClosedReason::Stale]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionClosedReason {
    /// The pool was cleared.
    Stale,
    /// The connection sat available longer than maxIdleTimeMS.
    Idle,
    /// The connection saw an error.
    Error,
    /// The pool was closed.
    PoolClosed,
}

impl ConnectionClosedReason {
    /// The spec's string for the reason.
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
    /// # use mongopool::CmapEvent;
    /// use mongopool::events::ConnectionClosedReason;
    /// assert_eq!(ConnectionClosedReason::PoolClosed.as_str(), "poolClosed");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionClosedReason::Stale => "stale",
            ConnectionClosedReason::Idle => "idle",
            ConnectionClosedReason::Error => "error",
            ConnectionClosedReason::PoolClosed => "poolClosed",
        }
    }
}

/// Emitted when a connection is closed.
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
/// # use mongopool::CmapEvent;
/// let events = pool.subscribe();
/// pool.ready()?;
/// pool.check_out()?.discard();
/// let closed = events.try_iter().find_map(|e| match e {
///     CmapEvent::ConnectionClosed(c) => Some(c),
///     _ => None,
/// });
/// assert_eq!(closed.map(|c| c.reason.as_str()), Some("error"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ConnectionClosedEvent {
    /// The pool's server.
    pub address: ServerAddress,
    /// The connection's id.
    pub connection_id: u64,
    /// Why it was closed.
    pub reason: ConnectionClosedReason,
    /// The error, when the reason is [`ConnectionClosedReason::Error`] and one is known.
    pub error: Option<Error>,
}

/// Emitted when a check-out starts.
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
/// # use mongopool::CmapEvent;
/// let events = pool.subscribe();
/// pool.ready()?;
/// let _conn = pool.check_out()?;
/// assert!(events.try_iter().any(|e| matches!(e, CmapEvent::ConnectionCheckOutStarted(_))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ConnectionCheckOutStartedEvent {
    /// The pool's server.
    pub address: ServerAddress,
}

/// Why a check-out failed.
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
/// # use mongopool::CmapEvent;
/// use mongopool::events::ConnectionCheckOutFailedReason;
/// let events = pool.subscribe();
/// pool.close();
/// assert!(pool.check_out().is_err());
/// let reason = events.try_iter().find_map(|e| match e {
///     CmapEvent::ConnectionCheckOutFailed(f) => Some(f.reason),
///     _ => None,
/// });
/// assert_eq!(reason, Some(ConnectionCheckOutFailedReason::PoolClosed));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionCheckOutFailedReason {
    /// The pool was closed.
    PoolClosed,
    /// The wait queue timeout expired.
    Timeout,
    /// Establishing a connection failed, or the pool was paused or cleared.
    ConnectionError,
}

impl ConnectionCheckOutFailedReason {
    /// The spec's string for the reason.
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
    /// # use mongopool::CmapEvent;
    /// use mongopool::events::ConnectionCheckOutFailedReason;
    /// assert_eq!(ConnectionCheckOutFailedReason::ConnectionError.as_str(), "connectionError");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionCheckOutFailedReason::PoolClosed => "poolClosed",
            ConnectionCheckOutFailedReason::Timeout => "timeout",
            ConnectionCheckOutFailedReason::ConnectionError => "connectionError",
        }
    }
}

/// Emitted when a check-out fails.
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
/// # use mongopool::CmapEvent;
/// let events = pool.subscribe();
/// assert!(pool.check_out().is_err()); // the pool is still paused
/// let failed = events.try_iter().find_map(|e| match e {
///     CmapEvent::ConnectionCheckOutFailed(f) => Some(f),
///     _ => None,
/// });
/// assert_eq!(failed.map(|f| f.reason.as_str()), Some("connectionError"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ConnectionCheckOutFailedEvent {
    /// The pool's server.
    pub address: ServerAddress,
    /// Why it failed.
    pub reason: ConnectionCheckOutFailedReason,
    /// The error returned to the caller.
    pub error: Option<Error>,
    /// Time from ConnectionCheckOutStarted to this event.
    pub duration: Duration,
}

/// Emitted when a check-out succeeds.
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
/// # use mongopool::CmapEvent;
/// let events = pool.subscribe();
/// pool.ready()?;
/// let conn = pool.check_out()?;
/// let out = events.try_iter().find_map(|e| match e {
///     CmapEvent::ConnectionCheckedOut(o) => Some(o),
///     _ => None,
/// });
/// assert_eq!(out.map(|o| o.connection_id), Some(conn.id())); // `duration`: the wait
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ConnectionCheckedOutEvent {
    /// The pool's server.
    pub address: ServerAddress,
    /// The connection's id.
    pub connection_id: u64,
    /// Time from ConnectionCheckOutStarted to this event.
    pub duration: Duration,
}

/// Emitted when a connection is checked back in.
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
/// # use mongopool::CmapEvent;
/// let events = pool.subscribe();
/// pool.ready()?;
/// drop(pool.check_out()?);
/// assert!(matches!(events.try_iter().last(), Some(CmapEvent::ConnectionCheckedIn(c)) if c.connection_id == 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ConnectionCheckedInEvent {
    /// The pool's server.
    pub address: ServerAddress,
    /// The connection's id.
    pub connection_id: u64,
}

/// Receives CMAP events through callbacks, in the shape of the official Rust driver's
/// `CmapEventHandler`. Every method has an empty default. Handlers run on a dedicated thread
/// (see [`crate::Pool::subscribe_handler`]), never under the pool's lock, so they may block or
/// call back into the pool.
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
/// use mongopool::events::ConnectionCheckOutFailedEvent;
/// use mongopool::CmapEventHandler;
/// /// Logs failed check-outs only; every other method keeps its empty default.
/// struct Failures;
/// impl CmapEventHandler for Failures {
///     fn handle_connection_checkout_failed_event(&self, event: ConnectionCheckOutFailedEvent) {
///         eprintln!("check-out failed after {:?}: {}", event.duration, event.reason.as_str());
///     }
/// }
/// let pool = Pool::builder("db:27017".parse()?).establisher(Arc::new(Fake)).event_handler(Arc::new(Failures)).build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[allow(unused_variables)]
pub trait CmapEventHandler: Send + Sync + 'static {
    /// A pool was created.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use mongopool::{Connection, Establisher, Interrupter, Pool, ServerAddress};
    /// # struct Fake;
    /// # impl Establisher for Fake {
    /// #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
    /// #         Ok(Connection::detached(a.clone()))
    /// #     }
    /// # }
    /// use std::sync::Mutex;
    /// use mongopool::events::{dispatch_to_handler, PoolCreatedEvent};
    /// use mongopool::CmapEventHandler;
    ///
    /// #[derive(Default)]
    /// struct Seen(Mutex<Vec<String>>);
    /// impl CmapEventHandler for Seen {
    ///     fn handle_pool_created_event(&self, event: PoolCreatedEvent) {
    ///         self.0.lock().unwrap().push(event.address.to_string());
    ///     }
    /// }
    /// let (tx, events) = crossbeam_channel::unbounded();
    /// let pool = Pool::builder("db:27017".parse()?).establisher(Arc::new(Fake)).event_sender(tx).build()?;
    ///
    /// let seen = Seen::default();
    /// events.try_iter().for_each(|event| dispatch_to_handler(&seen, event));
    /// assert_eq!(*seen.0.lock().unwrap(), ["db:27017"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn handle_pool_created_event(&self, event: PoolCreatedEvent) {}
    /// A pool was marked ready.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use mongopool::{Connection, Establisher, Interrupter, Pool, ServerAddress};
    /// # struct Fake;
    /// # impl Establisher for Fake {
    /// #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
    /// #         Ok(Connection::detached(a.clone()))
    /// #     }
    /// # }
    /// use std::sync::Mutex;
    /// use mongopool::events::{dispatch_to_handler, PoolReadyEvent};
    /// use mongopool::CmapEventHandler;
    ///
    /// #[derive(Default)]
    /// struct Seen(Mutex<Vec<String>>);
    /// impl CmapEventHandler for Seen {
    ///     fn handle_pool_ready_event(&self, event: PoolReadyEvent) {
    ///         self.0.lock().unwrap().push(event.address.to_string());
    ///     }
    /// }
    /// let (tx, events) = crossbeam_channel::unbounded();
    /// let pool = Pool::builder("db:27017".parse()?).establisher(Arc::new(Fake)).event_sender(tx).build()?;
    /// pool.ready()?;
    /// let seen = Seen::default();
    /// events.try_iter().for_each(|event| dispatch_to_handler(&seen, event));
    /// assert_eq!(*seen.0.lock().unwrap(), ["db:27017"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn handle_pool_ready_event(&self, event: PoolReadyEvent) {}
    /// A pool was cleared.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use mongopool::{Connection, Establisher, Interrupter, Pool, ServerAddress};
    /// # struct Fake;
    /// # impl Establisher for Fake {
    /// #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
    /// #         Ok(Connection::detached(a.clone()))
    /// #     }
    /// # }
    /// use std::sync::Mutex;
    /// use mongopool::events::{dispatch_to_handler, PoolClearedEvent};
    /// use mongopool::CmapEventHandler;
    ///
    /// #[derive(Default)]
    /// struct Seen(Mutex<Vec<bool>>);
    /// impl CmapEventHandler for Seen {
    ///     fn handle_pool_cleared_event(&self, event: PoolClearedEvent) {
    ///         self.0.lock().unwrap().push(event.interrupt_in_use_connections);
    ///     }
    /// }
    /// let (tx, events) = crossbeam_channel::unbounded();
    /// let pool = Pool::builder("db:27017".parse()?).establisher(Arc::new(Fake)).event_sender(tx).build()?;
    /// pool.ready()?;
    /// pool.clear(false);
    /// let seen = Seen::default();
    /// events.try_iter().for_each(|event| dispatch_to_handler(&seen, event));
    /// assert_eq!(*seen.0.lock().unwrap(), [false]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn handle_pool_cleared_event(&self, event: PoolClearedEvent) {}
    /// A pool was closed.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use mongopool::{Connection, Establisher, Interrupter, Pool, ServerAddress};
    /// # struct Fake;
    /// # impl Establisher for Fake {
    /// #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
    /// #         Ok(Connection::detached(a.clone()))
    /// #     }
    /// # }
    /// use std::sync::Mutex;
    /// use mongopool::events::{dispatch_to_handler, PoolClosedEvent};
    /// use mongopool::CmapEventHandler;
    ///
    /// #[derive(Default)]
    /// struct Seen(Mutex<Vec<String>>);
    /// impl CmapEventHandler for Seen {
    ///     fn handle_pool_closed_event(&self, event: PoolClosedEvent) {
    ///         self.0.lock().unwrap().push(event.address.to_string());
    ///     }
    /// }
    /// let (tx, events) = crossbeam_channel::unbounded();
    /// let pool = Pool::builder("db:27017".parse()?).establisher(Arc::new(Fake)).event_sender(tx).build()?;
    /// pool.close();
    /// let seen = Seen::default();
    /// events.try_iter().for_each(|event| dispatch_to_handler(&seen, event));
    /// assert_eq!(*seen.0.lock().unwrap(), ["db:27017"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn handle_pool_closed_event(&self, event: PoolClosedEvent) {}
    /// A connection was created.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use mongopool::{Connection, Establisher, Interrupter, Pool, ServerAddress};
    /// # struct Fake;
    /// # impl Establisher for Fake {
    /// #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
    /// #         Ok(Connection::detached(a.clone()))
    /// #     }
    /// # }
    /// use std::sync::Mutex;
    /// use mongopool::events::{dispatch_to_handler, ConnectionCreatedEvent};
    /// use mongopool::CmapEventHandler;
    ///
    /// #[derive(Default)]
    /// struct Seen(Mutex<Vec<u64>>);
    /// impl CmapEventHandler for Seen {
    ///     fn handle_connection_created_event(&self, event: ConnectionCreatedEvent) {
    ///         self.0.lock().unwrap().push(event.connection_id);
    ///     }
    /// }
    /// let (tx, events) = crossbeam_channel::unbounded();
    /// let pool = Pool::builder("db:27017".parse()?).establisher(Arc::new(Fake)).event_sender(tx).build()?;
    /// pool.ready()?;
    /// drop(pool.check_out()?);
    /// let seen = Seen::default();
    /// events.try_iter().for_each(|event| dispatch_to_handler(&seen, event));
    /// assert_eq!(*seen.0.lock().unwrap(), [1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn handle_connection_created_event(&self, event: ConnectionCreatedEvent) {}
    /// A connection is ready.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use mongopool::{Connection, Establisher, Interrupter, Pool, ServerAddress};
    /// # struct Fake;
    /// # impl Establisher for Fake {
    /// #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
    /// #         Ok(Connection::detached(a.clone()))
    /// #     }
    /// # }
    /// use std::sync::Mutex;
    /// use mongopool::events::{dispatch_to_handler, ConnectionReadyEvent};
    /// use mongopool::CmapEventHandler;
    ///
    /// #[derive(Default)]
    /// struct Seen(Mutex<Vec<u64>>);
    /// impl CmapEventHandler for Seen {
    ///     fn handle_connection_ready_event(&self, event: ConnectionReadyEvent) {
    ///         self.0.lock().unwrap().push(event.connection_id);
    ///     }
    /// }
    /// let (tx, events) = crossbeam_channel::unbounded();
    /// let pool = Pool::builder("db:27017".parse()?).establisher(Arc::new(Fake)).event_sender(tx).build()?;
    /// pool.ready()?;
    /// drop(pool.check_out()?);
    /// let seen = Seen::default();
    /// events.try_iter().for_each(|event| dispatch_to_handler(&seen, event));
    /// assert_eq!(*seen.0.lock().unwrap(), [1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn handle_connection_ready_event(&self, event: ConnectionReadyEvent) {}
    /// A connection was closed.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use mongopool::{Connection, Establisher, Interrupter, Pool, ServerAddress};
    /// # struct Fake;
    /// # impl Establisher for Fake {
    /// #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
    /// #         Ok(Connection::detached(a.clone()))
    /// #     }
    /// # }
    /// use std::sync::Mutex;
    /// use mongopool::events::{dispatch_to_handler, ConnectionClosedEvent};
    /// use mongopool::CmapEventHandler;
    ///
    /// #[derive(Default)]
    /// struct Seen(Mutex<Vec<&'static str>>);
    /// impl CmapEventHandler for Seen {
    ///     fn handle_connection_closed_event(&self, event: ConnectionClosedEvent) {
    ///         self.0.lock().unwrap().push(event.reason.as_str());
    ///     }
    /// }
    /// let (tx, events) = crossbeam_channel::unbounded();
    /// let pool = Pool::builder("db:27017".parse()?).establisher(Arc::new(Fake)).event_sender(tx).build()?;
    /// pool.ready()?;
    /// drop(pool.check_out()?);
    /// pool.close(); // closes the idle connection
    /// let seen = Seen::default();
    /// events.try_iter().for_each(|event| dispatch_to_handler(&seen, event));
    /// assert_eq!(*seen.0.lock().unwrap(), ["poolClosed"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn handle_connection_closed_event(&self, event: ConnectionClosedEvent) {}
    /// A check-out started.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use mongopool::{Connection, Establisher, Interrupter, Pool, ServerAddress};
    /// # struct Fake;
    /// # impl Establisher for Fake {
    /// #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
    /// #         Ok(Connection::detached(a.clone()))
    /// #     }
    /// # }
    /// use std::sync::Mutex;
    /// use mongopool::events::{dispatch_to_handler, ConnectionCheckOutStartedEvent};
    /// use mongopool::CmapEventHandler;
    ///
    /// #[derive(Default)]
    /// struct Seen(Mutex<Vec<String>>);
    /// impl CmapEventHandler for Seen {
    ///     fn handle_connection_checkout_started_event(&self, event: ConnectionCheckOutStartedEvent) {
    ///         self.0.lock().unwrap().push(event.address.to_string());
    ///     }
    /// }
    /// let (tx, events) = crossbeam_channel::unbounded();
    /// let pool = Pool::builder("db:27017".parse()?).establisher(Arc::new(Fake)).event_sender(tx).build()?;
    /// pool.ready()?;
    /// drop(pool.check_out()?);
    /// drop(pool.check_out()?);
    /// let seen = Seen::default();
    /// events.try_iter().for_each(|event| dispatch_to_handler(&seen, event));
    /// assert_eq!(*seen.0.lock().unwrap(), ["db:27017", "db:27017"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn handle_connection_checkout_started_event(&self, event: ConnectionCheckOutStartedEvent) {}
    /// A check-out failed.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use mongopool::{Connection, Establisher, Interrupter, Pool, ServerAddress};
    /// # struct Fake;
    /// # impl Establisher for Fake {
    /// #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
    /// #         Ok(Connection::detached(a.clone()))
    /// #     }
    /// # }
    /// use std::sync::Mutex;
    /// use mongopool::events::{dispatch_to_handler, ConnectionCheckOutFailedEvent};
    /// use mongopool::CmapEventHandler;
    ///
    /// #[derive(Default)]
    /// struct Seen(Mutex<Vec<&'static str>>);
    /// impl CmapEventHandler for Seen {
    ///     fn handle_connection_checkout_failed_event(&self, event: ConnectionCheckOutFailedEvent) {
    ///         self.0.lock().unwrap().push(event.reason.as_str());
    ///     }
    /// }
    /// let (tx, events) = crossbeam_channel::unbounded();
    /// let pool = Pool::builder("db:27017".parse()?).establisher(Arc::new(Fake)).event_sender(tx).build()?;
    /// pool.close();
    /// assert!(pool.check_out().is_err());
    /// let seen = Seen::default();
    /// events.try_iter().for_each(|event| dispatch_to_handler(&seen, event));
    /// assert_eq!(*seen.0.lock().unwrap(), ["poolClosed"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn handle_connection_checkout_failed_event(&self, event: ConnectionCheckOutFailedEvent) {}
    /// A check-out succeeded.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use mongopool::{Connection, Establisher, Interrupter, Pool, ServerAddress};
    /// # struct Fake;
    /// # impl Establisher for Fake {
    /// #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
    /// #         Ok(Connection::detached(a.clone()))
    /// #     }
    /// # }
    /// use std::sync::Mutex;
    /// use mongopool::events::{dispatch_to_handler, ConnectionCheckedOutEvent};
    /// use mongopool::CmapEventHandler;
    ///
    /// #[derive(Default)]
    /// struct Seen(Mutex<Vec<u64>>);
    /// impl CmapEventHandler for Seen {
    ///     fn handle_connection_checked_out_event(&self, event: ConnectionCheckedOutEvent) {
    ///         self.0.lock().unwrap().push(event.connection_id);
    ///     }
    /// }
    /// let (tx, events) = crossbeam_channel::unbounded();
    /// let pool = Pool::builder("db:27017".parse()?).establisher(Arc::new(Fake)).event_sender(tx).build()?;
    /// pool.ready()?;
    /// drop(pool.check_out()?);
    /// drop(pool.check_out()?); // the same connection, reused
    /// let seen = Seen::default();
    /// events.try_iter().for_each(|event| dispatch_to_handler(&seen, event));
    /// assert_eq!(*seen.0.lock().unwrap(), [1, 1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn handle_connection_checked_out_event(&self, event: ConnectionCheckedOutEvent) {}
    /// A connection was checked in.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use mongopool::{Connection, Establisher, Interrupter, Pool, ServerAddress};
    /// # struct Fake;
    /// # impl Establisher for Fake {
    /// #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
    /// #         Ok(Connection::detached(a.clone()))
    /// #     }
    /// # }
    /// use std::sync::Mutex;
    /// use mongopool::events::{dispatch_to_handler, ConnectionCheckedInEvent};
    /// use mongopool::CmapEventHandler;
    ///
    /// #[derive(Default)]
    /// struct Seen(Mutex<Vec<u64>>);
    /// impl CmapEventHandler for Seen {
    ///     fn handle_connection_checked_in_event(&self, event: ConnectionCheckedInEvent) {
    ///         self.0.lock().unwrap().push(event.connection_id);
    ///     }
    /// }
    /// let (tx, events) = crossbeam_channel::unbounded();
    /// let pool = Pool::builder("db:27017".parse()?).establisher(Arc::new(Fake)).event_sender(tx).build()?;
    /// pool.ready()?;
    /// let conn = pool.check_out()?;
    /// drop(conn);
    /// let seen = Seen::default();
    /// events.try_iter().for_each(|event| dispatch_to_handler(&seen, event));
    /// assert_eq!(*seen.0.lock().unwrap(), [1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn handle_connection_checked_in_event(&self, event: ConnectionCheckedInEvent) {}
}

/// Calls the handler method that matches `event`.
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
/// # use mongopool::CmapEvent;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use mongopool::events::{dispatch_to_handler, PoolReadyEvent};
/// use mongopool::CmapEventHandler;
/// #[derive(Default)]
/// struct Ready(AtomicBool);
/// impl CmapEventHandler for Ready {
///     fn handle_pool_ready_event(&self, _: PoolReadyEvent) {
///         self.0.store(true, Ordering::SeqCst);
///     }
/// }
/// let events = pool.subscribe();
/// pool.ready()?;
/// let handler = Ready::default();
/// for event in events.try_iter() {
///     dispatch_to_handler(&handler, event); // a channel reader that calls a handler
/// }
/// assert!(handler.0.load(Ordering::SeqCst));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn dispatch_to_handler(handler: &dyn CmapEventHandler, event: CmapEvent) {
    match event {
        CmapEvent::PoolCreated(e) => handler.handle_pool_created_event(e),
        CmapEvent::PoolReady(e) => handler.handle_pool_ready_event(e),
        CmapEvent::PoolCleared(e) => handler.handle_pool_cleared_event(e),
        CmapEvent::PoolClosed(e) => handler.handle_pool_closed_event(e),
        CmapEvent::ConnectionCreated(e) => handler.handle_connection_created_event(e),
        CmapEvent::ConnectionReady(e) => handler.handle_connection_ready_event(e),
        CmapEvent::ConnectionClosed(e) => handler.handle_connection_closed_event(e),
        CmapEvent::ConnectionCheckOutStarted(e) => handler.handle_connection_checkout_started_event(e),
        CmapEvent::ConnectionCheckOutFailed(e) => handler.handle_connection_checkout_failed_event(e),
        CmapEvent::ConnectionCheckedOut(e) => handler.handle_connection_checked_out_event(e),
        CmapEvent::ConnectionCheckedIn(e) => handler.handle_connection_checked_in_event(e),
    }
}

/// Counts the events a bounded subscriber lost because its channel was full.
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
/// # use mongopool::CmapEvent;
/// let (events, dropped) = pool.subscribe_bounded(16);
/// pool.ready()?;
/// assert_eq!((events.len(), dropped.count()), (1, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct DroppedEvents(Arc<AtomicU64>);

impl DroppedEvents {
    /// Events dropped so far.
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
    /// # use mongopool::CmapEvent;
    /// let (_events, dropped) = pool.subscribe_bounded(1);
    /// pool.ready()?;
    /// pool.close();
    /// assert_eq!(dropped.count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One subscriber's channel.
struct Subscriber {
    sender: Sender<CmapEvent>,
    /// Set for bounded channels: a full channel drops the event and counts it instead of
    /// blocking the pool.
    dropped: Option<DroppedEvents>,
}

/// The subscribers of one pool. Lives inside the pool's mutex, so events reach every
/// subscriber in the order the pool's state changed.
#[derive(Default)]
pub(crate) struct Subscribers {
    list: Vec<Subscriber>,
}

impl Subscribers {
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub(crate) fn add_unbounded(&mut self) -> Receiver<CmapEvent> {
        let (sender, receiver) = crossbeam_channel::unbounded();
        self.list.push(Subscriber { sender, dropped: None });
        receiver
    }

    pub(crate) fn add_sender(&mut self, sender: Sender<CmapEvent>) {
        self.list.push(Subscriber { sender, dropped: None });
    }

    pub(crate) fn add_bounded(&mut self, capacity: usize) -> (Receiver<CmapEvent>, DroppedEvents) {
        let (sender, receiver) = crossbeam_channel::bounded(capacity);
        let dropped = DroppedEvents::default();
        self.list.push(Subscriber {
            sender,
            dropped: Some(dropped.clone()),
        });
        (receiver, dropped)
    }

    /// Sends `event` to every subscriber without ever blocking; subscribers whose receiver
    /// is gone are removed.
    pub(crate) fn send(&mut self, event: CmapEvent) {
        let last = self.list.len().saturating_sub(1);
        let mut event = Some(event);
        let mut disconnected = Vec::new();
        for (i, sub) in self.list.iter().enumerate() {
            let ev = if i == last { event.take() } else { event.clone() };
            let Some(ev) = ev else { break };
            match sub.sender.try_send(ev) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    if let Some(d) = &sub.dropped {
                        d.0.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(TrySendError::Disconnected(_)) => disconnected.push(i),
            }
        }
        for i in disconnected.into_iter().rev() {
            self.list.remove(i);
        }
    }
}
