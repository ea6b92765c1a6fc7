//! CMAP events (cmap.md "Events") and the ways to subscribe to them: crossbeam channels
//! (unbounded, or bounded with a dropped-events counter) and a handler trait.

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
#[derive(Clone, Debug)]
pub struct PoolCreatedEvent {
    /// The pool's server.
    pub address: ServerAddress,
    /// The options the user set.
    pub options: PoolCreatedOptions,
}

/// Emitted when a pool is marked ready.
#[derive(Clone, Debug)]
pub struct PoolReadyEvent {
    /// The pool's server.
    pub address: ServerAddress,
}

/// Emitted when a pool is cleared.
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
#[derive(Clone, Debug)]
pub struct PoolClosedEvent {
    /// The pool's server.
    pub address: ServerAddress,
}

/// Emitted when a connection is created, before it is established.
#[derive(Clone, Debug)]
pub struct ConnectionCreatedEvent {
    /// The pool's server.
    pub address: ServerAddress,
    /// The connection's id.
    pub connection_id: u64,
}

/// Emitted when a connection has been established and is ready for use.
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
#[derive(Clone, Debug)]
pub struct ConnectionCheckOutStartedEvent {
    /// The pool's server.
    pub address: ServerAddress,
}

/// Why a check-out failed.
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
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionCheckOutFailedReason::PoolClosed => "poolClosed",
            ConnectionCheckOutFailedReason::Timeout => "timeout",
            ConnectionCheckOutFailedReason::ConnectionError => "connectionError",
        }
    }
}

/// Emitted when a check-out fails.
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
#[allow(unused_variables)]
pub trait CmapEventHandler: Send + Sync + 'static {
    /// A pool was created.
    fn handle_pool_created_event(&self, event: PoolCreatedEvent) {}
    /// A pool was marked ready.
    fn handle_pool_ready_event(&self, event: PoolReadyEvent) {}
    /// A pool was cleared.
    fn handle_pool_cleared_event(&self, event: PoolClearedEvent) {}
    /// A pool was closed.
    fn handle_pool_closed_event(&self, event: PoolClosedEvent) {}
    /// A connection was created.
    fn handle_connection_created_event(&self, event: ConnectionCreatedEvent) {}
    /// A connection is ready.
    fn handle_connection_ready_event(&self, event: ConnectionReadyEvent) {}
    /// A connection was closed.
    fn handle_connection_closed_event(&self, event: ConnectionClosedEvent) {}
    /// A check-out started.
    fn handle_connection_checkout_started_event(&self, event: ConnectionCheckOutStartedEvent) {}
    /// A check-out failed.
    fn handle_connection_checkout_failed_event(&self, event: ConnectionCheckOutFailedEvent) {}
    /// A check-out succeeded.
    fn handle_connection_checked_out_event(&self, event: ConnectionCheckedOutEvent) {}
    /// A connection was checked in.
    fn handle_connection_checked_in_event(&self, event: ConnectionCheckedInEvent) {}
}

/// Calls the handler method that matches `event`.
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
#[derive(Clone, Debug, Default)]
pub struct DroppedEvents(Arc<AtomicU64>);

impl DroppedEvents {
    /// Events dropped so far.
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
