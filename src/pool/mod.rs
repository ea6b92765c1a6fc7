//! The CMAP connection pool.
//!
//! One mutex (parking_lot's, through `crate::sync` so that `tests/loom.rs` can model-check it)
//! guards the whole pool state (module `state`); a FIFO queue of waiter
//! slots, each with its own small mutex and `Condvar` (module `wait_queue`), hands connections to
//! check-outs in arrival order (a granted waiter leaves without retaking the pool's mutex); one
//! background thread per pool (module `background`) keeps minPoolSize, prunes perished
//! connections, performs interrupts and shuts the sockets of connections closed on application
//! threads. Establishment and socket teardown always happen outside the mutex.
//!
//! ```
//! # use std::sync::Arc;
//! # use mongopool::{Connection, Establisher, Interrupter, ServerAddress};
//! # struct Fake;
//! # impl Establisher for Fake {
//! #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
//! #         Ok(Connection::detached(a.clone()))
//! #     }
//! # }
//! use mongopool::{Pool, PoolOptions, PoolState};
//!
//! let pool = Pool::with_establisher("db:27017".parse()?, PoolOptions::default(), Arc::new(Fake))?;
//! assert_eq!(pool.status().state, PoolState::Paused);
//! pool.ready()?;
//! drop(pool.check_out()?);
//! assert_eq!((pool.status().total, pool.status().available), (1, 1));
//! pool.close();
//! assert_eq!(pool.status().state, PoolState::Closed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Connections stay boxed for their whole pooled life, so hand-offs move a pointer; the lists
// of closed connections hold those same boxes.
#![allow(clippy::vec_box)]

mod background;
mod establish;
mod fork;
mod grant;
mod guard;
mod logging;
mod options;
mod state;
mod wait_queue;

use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

pub use establish::{Establisher, TcpEstablisher};
pub use guard::{PinnedTo, PooledConnection};
pub use logging::LOG_TARGET;
pub use options::{
    PoolOptions, PoolOptionsBuilder, DEFAULT_MAINTENANCE_INTERVAL, DEFAULT_MAX_CONNECTING, DEFAULT_MAX_POOL_SIZE,
};
pub use state::PoolState;

use crate::address::ServerAddress;
use crate::conn::{Connection, Interrupter};
use crate::error::{Error, ErrorKind, Result, RETRYABLE_ERROR};
use crate::events::{
    dispatch_to_handler, CmapEvent, CmapEventHandler, ConnectionCheckOutFailedReason, ConnectionCheckOutStartedEvent,
    ConnectionCheckedInEvent, ConnectionClosedReason, DroppedEvents, PoolClosedEvent, PoolCreatedEvent,
    PoolCreatedOptions, PoolReadyEvent,
};
use crate::sync::thread::{self, JoinHandle};
use crate::sync::{Condvar, Instant, Mutex, MutexGuard};
use grant::{Grant, PendingConnection};
use state::State;
use wait_queue::WaiterSlot;

/// A snapshot of a pool's counters (see [`Pool::status`]).
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
/// let _conn = pool.check_out()?;
/// let s = pool.status();
/// assert_eq!(s.total, s.pending + s.available + s.in_use);
/// assert_eq!(s.in_use, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStatus {
    /// All connections: pending + available + in use.
    pub total: u32,
    /// Established connections waiting in the pool.
    pub available: u32,
    /// Connections being established.
    pub pending: u32,
    /// Connections checked out.
    pub in_use: u32,
    /// Threads waiting in the wait queue.
    pub waiters: u32,
    /// The pool's generation (incremented by every clear).
    pub generation: u32,
    /// The life-cycle state.
    pub state: PoolState,
}

/// A pool of connections to one server, implementing the CMAP specification.
///
/// A pool starts **paused**: check-outs fail with a retryable [`ErrorKind::PoolCleared`] until
/// [`Pool::ready`] is called (by you, or by a client's server monitor after a successful
/// server check). Cloning a `Pool` gives another handle to the same pool; dropping the last
/// handle closes it.
///
/// ```no_run
/// use mongopool::{Pool, PoolOptions};
/// let pool = Pool::new("localhost:27017".parse()?, PoolOptions::builder().max_pool_size(10).build()?)?;
/// pool.ready()?;
/// let mut conn = pool.check_out()?;
/// let reply = conn.run_command("admin", bson::doc! { "ping": 1 })?;
/// println!("{reply}");
/// # Ok::<(), mongopool::Error>(())
/// ```
#[derive(Clone)]
pub struct Pool {
    handle: Arc<Handle>,
}

/// Closes the pool when the last [`Pool`] handle goes away. Connection guards and pool
/// threads hold `Shared` directly, so they keep the state alive but not the pool open.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.close();
    }
}

pub(crate) struct Shared {
    pub(crate) address: ServerAddress,
    pub(crate) options: PoolOptions,
    pub(crate) establisher: Arc<dyn Establisher>,
    /// Told of a check-out's establishment error before the pool reports it (see
    /// [`EstablishmentErrorHook`]).
    on_establishment_error: Option<EstablishmentErrorHook>,
    /// The one mutex: see [`state`] for what it guards and the invariants it keeps.
    pub(crate) state: Mutex<State>,
    /// The background thread sleeps here; signalled with `bg_wake` set (or on close).
    pub(crate) bg_cv: Condvar,
    /// Join handles of the pool's threads. Never locked while `state` is held.
    threads: Mutex<Threads>,
}

/// How long `close()` waits for population threads to finish after interrupting them.
const POPULATOR_JOIN_GRACE: std::time::Duration = std::time::Duration::from_millis(50);

#[derive(Default)]
struct Threads {
    background: Option<JoinHandle<()>>,
    populators: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Creates a paused pool that opens real connections with `options.connection()`, and
    /// emits PoolCreated (cmap.md "Creating a Connection Pool").
    ///
    /// ```
    /// use mongopool::{Pool, PoolOptions};
    /// let pool = Pool::new("localhost:27017".parse()?, PoolOptions::builder().max_pool_size(4).build()?)?;
    /// assert_eq!(pool.status().state, mongopool::PoolState::Paused); // nothing connects yet
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(address: ServerAddress, options: PoolOptions) -> Result<Pool> {
        Self::builder(address).options(options).build()
    }

    /// Creates a paused pool that establishes connections with `establisher`.
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
    /// let pool = Pool::with_establisher("db:27017".parse()?, PoolOptions::default(), Arc::new(Fake))?;
    /// pool.ready()?;
    /// assert_eq!(pool.check_out()?.address().to_string(), "db:27017");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_establisher(
        address: ServerAddress,
        options: PoolOptions,
        establisher: Arc<dyn Establisher>,
    ) -> Result<Pool> {
        Self::builder(address).options(options).establisher(establisher).build()
    }

    /// A builder, for subscribing to events before the pool exists (so that the subscriber
    /// sees PoolCreated) or injecting an [`Establisher`].
    ///
    /// ```
    /// use mongopool::{CmapEvent, Pool, PoolOptions};
    /// let (tx, rx) = crossbeam_channel::unbounded();
    /// let pool = Pool::builder("localhost:27017".parse()?)
    ///     .options(PoolOptions::builder().max_pool_size(5).build()?)
    ///     .event_sender(tx)
    ///     .build()?;
    /// assert!(matches!(rx.try_recv(), Ok(CmapEvent::PoolCreated(_))));
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn builder(address: ServerAddress) -> PoolBuilder {
        PoolBuilder {
            address,
            options: PoolOptions::default(),
            establisher: None,
            on_establishment_error: None,
            senders: Vec::new(),
            handlers: Vec::new(),
            #[cfg(test)]
            pid: None,
        }
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    /// The server this pool connects to.
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
    /// assert_eq!(pool.address().to_string(), "db:27017");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn address(&self) -> &ServerAddress {
        &self.shared().address
    }

    /// The pool's options.
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
    /// assert_eq!(pool.options().max_pool_size(), 100); // the spec's default
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn options(&self) -> &PoolOptions {
        &self.shared().options
    }

    /// Marks the pool ready (cmap.md "Marking a Connection Pool as Ready"): check-outs are
    /// served and minPoolSize is populated. Does nothing if already ready; a closed pool
    /// cannot be made ready and returns [`ErrorKind::PoolClosed`].
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
    /// use mongopool::{ErrorKind, PoolState};
    /// assert!(matches!(pool.check_out().unwrap_err().kind(), ErrorKind::PoolCleared { .. }));
    /// pool.ready()?;
    /// assert_eq!(pool.status().state, PoolState::Ready);
    /// pool.check_out()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ready(&self) -> Result<()> {
        self.shared().ready()
    }

    /// Checks a connection out, waiting in FIFO order if none is available (cmap.md
    /// "Checking Out a Connection").
    ///
    /// Errors: [`ErrorKind::PoolClosed`]; [`ErrorKind::PoolCleared`] (retryable) when the pool
    /// is paused or is cleared while waiting; [`ErrorKind::WaitQueueTimeout`] with the pool's
    /// counts; or the error that establishing a new connection met.
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
    /// let conn = pool.check_out()?; // a guard: dropping it checks the connection in
    /// assert_eq!(pool.status().in_use, 1);
    /// drop(conn);
    /// assert_eq!((pool.status().in_use, pool.status().available), (0, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_out(&self) -> Result<PooledConnection> {
        self.shared().check_out(self.shared().options.wait_queue_timeout())
    }

    /// Like [`Pool::check_out`], with this call's own wait-queue timeout instead of the pool's
    /// `waitQueueTimeoutMS` (`None`: wait as long as it takes).
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
    /// use std::time::Duration;
    /// use mongopool::ErrorKind;
    /// let options = PoolOptions::builder().max_pool_size(1).build()?;
    /// let pool = Pool::with_establisher("db:27017".parse()?, options, Arc::new(Fake))?;
    /// pool.ready()?;
    /// let held = pool.check_out_with_timeout(None)?;
    /// let err = pool.check_out_with_timeout(Some(Duration::from_millis(10))).unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::WaitQueueTimeout { .. }), "{err}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_out_with_timeout(&self, timeout: Option<std::time::Duration>) -> Result<PooledConnection> {
        self.shared().check_out(timeout)
    }

    /// Clears the pool (cmap.md "Clearing a non-load balanced pool"): all current connections
    /// become stale, the pool pauses, every waiter fails at once with a retryable
    /// [`ErrorKind::PoolCleared`]. With `interrupt_in_use_connections`, the background thread
    /// immediately closes the sockets of connections in use, so their operations fail fast.
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
    /// use mongopool::{ErrorKind, PoolState};
    /// pool.ready()?;
    /// let conn = pool.check_out()?;
    /// pool.clear(false);
    /// assert_eq!(pool.status().state, PoolState::Paused);
    /// let err = pool.check_out().unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::PoolCleared { .. }) && err.is_retryable());
    /// drop(conn); // stale: closed, not pooled
    /// assert_eq!(pool.status().total, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clear(&self, interrupt_in_use_connections: bool) {
        self.clear_with_cause(interrupt_in_use_connections, "the pool was cleared by the application");
    }

    /// Like [`Pool::clear`], recording `cause` (the error that made the caller clear the pool)
    /// for the PoolClearedError of later check-outs.
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
    /// pool.clear_with_cause(false, "the monitor's check timed out");
    /// let err = pool.check_out().unwrap_err();
    /// assert!(err.to_string().contains("the monitor's check timed out"), "{err}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clear_with_cause(&self, interrupt_in_use_connections: bool, cause: impl std::fmt::Display) {
        self.shared().clear(interrupt_in_use_connections, cause.to_string());
    }

    /// Clears the connections of one service behind a load balancer (cmap.md "Clearing a load
    /// balanced pool"): that service's generation goes up, so its connections are closed
    /// instead of reused, and PoolCleared carries `service_id`. The pool is NOT paused and
    /// waiters keep waiting; connections to other services are untouched. With
    /// `interrupt_in_use_connections`, the service's in-use connections are interrupted too.
    ///
    /// In a load-balanced pool, [`Pool::clear`] clears every service this way. A pool that is not
    /// load balanced refuses this call with [`ErrorKind::InvalidArgument`].
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use mongopool::{Connection, Establisher, Interrupter, Pool, PoolOptions, ServerAddress};
    /// use bson::oid::ObjectId;
    /// /// Every connection reaches the same service behind the load balancer.
    /// struct Balanced(ObjectId);
    /// impl Establisher for Balanced {
    ///     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
    ///         Ok(Connection::detached_load_balanced(a.clone(), self.0))
    ///     }
    /// }
    /// let service = ObjectId::new();
    /// let options = PoolOptions::builder().load_balanced(true).build()?;
    /// let pool = Pool::with_establisher("lb:27017".parse()?, options, Arc::new(Balanced(service)))?;
    /// pool.ready()?;
    /// let conn = pool.check_out()?;
    /// pool.clear_service(service, false)?;
    /// assert_eq!(pool.status().state, mongopool::PoolState::Ready); // not paused
    /// drop(conn); // stale: closed at check-in
    /// assert_eq!(pool.status().total, 0);
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn clear_service(&self, service_id: bson::oid::ObjectId, interrupt_in_use_connections: bool) -> Result<()> {
        self.shared().clear_service(service_id, interrupt_in_use_connections)
    }

    /// In a load-balanced pool, the (generation, connection count) of `service_id`, or `None`
    /// if the pool has no connection to it (cmap.md "Load Balancer Mode"). Always `None` when
    /// the pool is not load balanced.
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
    /// let service = bson::oid::ObjectId::new();
    /// assert_eq!(pool.service_generation(&service), None); // this pool is not load balanced
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn service_generation(&self, service_id: &bson::oid::ObjectId) -> Option<(u32, u32)> {
        self.shared()
            .state
            .lock()
            .service_entry(service_id)
            .map(|e| (e.generation, e.connections))
    }

    /// Closes the pool (cmap.md "Closing a Connection Pool"): closes available connections,
    /// fails waiters, stops and joins the background thread and any population threads.
    /// Connections still checked out are closed when they are checked in.
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
    /// use mongopool::ErrorKind;
    /// pool.ready()?;
    /// pool.close();
    /// assert!(matches!(pool.check_out().unwrap_err().kind(), ErrorKind::PoolClosed { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) {
        self.shared().close();
    }

    /// Subscribes to the pool's events over an unbounded channel. Events are sent in the order
    /// the pool's state changed. With no subscriber (and no logger at debug level for
    /// [`LOG_TARGET`]) no event is built at all.
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
    /// let events = pool.subscribe();
    /// pool.ready()?;
    /// drop(pool.check_out()?);
    /// let names: Vec<&str> = events.try_iter().map(|e| e.name()).collect();
    /// assert_eq!(names[..3], ["ConnectionPoolReady", "ConnectionCheckOutStarted", "ConnectionCreated"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subscribe(&self) -> Receiver<CmapEvent> {
        self.shared().state.lock().subscribers.add_unbounded()
    }

    /// Subscribes over a bounded channel: when it is full, events are dropped (never blocking
    /// the pool) and counted in the returned [`DroppedEvents`].
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
    /// let (events, dropped) = pool.subscribe_bounded(1);
    /// pool.ready()?; // PoolReady fills the channel
    /// pool.close(); // PoolClosed is dropped
    /// assert_eq!(events.try_iter().count(), 1);
    /// assert_eq!(dropped.count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subscribe_bounded(&self, capacity: usize) -> (Receiver<CmapEvent>, DroppedEvents) {
        self.shared().state.lock().subscribers.add_bounded(capacity)
    }

    /// Sends every event from now on into `sender` as well. One sender may serve several pools:
    /// a [`crate::Client`] uses this to feed one merged stream from all of its pools.
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
    /// let (tx, events) = crossbeam_channel::unbounded();
    /// pool.add_event_sender(tx);
    /// pool.ready()?;
    /// assert_eq!(events.try_recv()?.name(), "ConnectionPoolReady");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_event_sender(&self, sender: Sender<CmapEvent>) {
        self.shared().state.lock().subscribers.add_sender(sender);
    }

    /// Delivers events to `handler` on a dedicated thread, in order. The thread ends when the
    /// pool's state is dropped (the pool closed and every connection returned).
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
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use mongopool::{events::PoolReadyEvent, CmapEventHandler};
    /// #[derive(Default)]
    /// struct Readies(AtomicU32);
    /// impl CmapEventHandler for Readies {
    ///     fn handle_pool_ready_event(&self, _: PoolReadyEvent) {
    ///         self.0.fetch_add(1, Ordering::SeqCst);
    ///     }
    /// }
    /// let handler = Arc::new(Readies::default());
    /// pool.subscribe_handler(handler.clone())?;
    /// pool.ready()?;
    /// pool.close();
    /// drop(pool); // the handler thread ends once the pool is gone
    /// # let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    /// # while handler.0.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
    /// #     std::thread::sleep(std::time::Duration::from_millis(5));
    /// # }
    /// assert_eq!(handler.0.load(Ordering::SeqCst), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn subscribe_handler(&self, handler: Arc<dyn CmapEventHandler>) -> Result<()> {
        spawn_handler(handler, self.subscribe())
    }

    /// The connections in use right now by what they are pinned to (see
    /// [`PooledConnection::pin`]).
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
    /// assert_eq!(pool.in_use_by_purpose().cursors, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn in_use_by_purpose(&self) -> crate::InUseByPurpose {
        self.shared().state.lock().in_use_by_purpose()
    }

    /// Moves the model clock of a `cfg(loom)` build forward by `by` and wakes every timed wait
    /// of the pool (queued check-outs and the background thread), which then time out if
    /// their deadline has passed. For `tests/loom.rs` only; absent from normal builds.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn loom_advance_clock(&self, by: std::time::Duration) {
        let shared = self.shared();
        let st = shared.state.lock();
        // Under the pool's mutex (the background thread waits with it) and, per waiter, its
        // slot's lock (`notify_all`), so that no timed wait checks the clock between the move
        // and the wake-up.
        Instant::advance(by);
        st.waiters.notify_all();
        shared.bg_cv.notify_all();
    }

    /// The pool's counters right now.
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
    /// let status = pool.status();
    /// assert_eq!((status.total, status.in_use, status.waiters, status.generation), (0, 0, 0, 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn status(&self) -> PoolStatus {
        let st = self.shared().state.lock();
        PoolStatus {
            total: st.total,
            available: st.available.len() as u32,
            pending: st.pending,
            in_use: st.in_use(),
            waiters: st.waiters.len() as u32,
            generation: st.generation,
            state: st.phase,
        }
    }
}

/// What a client does with an error establishing a connection (for a check-out or for
/// minPoolSize), given the generation the connection was created in. It runs without the
/// pool's lock and before the pool emits ConnectionClosed (and ConnectionCheckOutFailed), so a
/// clear it triggers (SDAM error handling; auth.md "Authentication Handshake") comes first in
/// the event stream, as the CMAP logging tests expect.
pub(crate) type EstablishmentErrorHook = Arc<dyn Fn(&Error, u32) + Send + Sync>;

/// Builds a [`Pool`] (see [`Pool::builder`]).
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
/// let (tx, _events) = crossbeam_channel::unbounded();
/// let pool = Pool::builder("db:27017".parse()?)
///     .options(PoolOptions::builder().max_pool_size(4).build()?)
///     .establisher(Arc::new(Fake))
///     .event_sender(tx)
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PoolBuilder {
    address: ServerAddress,
    options: PoolOptions,
    establisher: Option<Arc<dyn Establisher>>,
    on_establishment_error: Option<EstablishmentErrorHook>,
    senders: Vec<Sender<CmapEvent>>,
    handlers: Vec<Arc<dyn CmapEventHandler>>,
    #[cfg(test)]
    pid: Option<fn() -> u32>,
}

impl PoolBuilder {
    /// The pool's options (default: [`PoolOptions::default`]).
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
    /// let pool = Pool::builder("db:27017".parse()?)
    ///     .options(PoolOptions::builder().max_pool_size(3).build()?)
    ///     .establisher(Arc::new(Fake))
    ///     .build()?;
    /// assert_eq!(pool.options().max_pool_size(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn options(mut self, options: PoolOptions) -> Self {
        self.options = options;
        self
    }

    /// How connections are established (default: [`TcpEstablisher`] with the options'
    /// connection settings).
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
    /// // Tests and simulations connect to nothing: Fake hands out detached connections.
    /// let pool = Pool::builder("db:27017".parse()?).establisher(Arc::new(Fake)).build()?;
    /// pool.ready()?;
    /// assert_eq!(pool.check_out()?.id(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn establisher(mut self, establisher: Arc<dyn Establisher>) -> Self {
        self.establisher = Some(establisher);
        self
    }

    /// Calls `hook` with each check-out's establishment error (see [`EstablishmentErrorHook`]).
    pub(crate) fn on_establishment_error(mut self, hook: EstablishmentErrorHook) -> Self {
        self.on_establishment_error = Some(hook);
        self
    }

    /// Sends every event, from PoolCreated on, into `sender`. One sender may serve several
    /// pools, giving one merged stream.
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
    /// let (tx, events) = crossbeam_channel::unbounded();
    /// let pool = Pool::builder("db:27017".parse()?).establisher(Arc::new(Fake)).event_sender(tx).build()?;
    /// assert_eq!(events.try_recv()?.name(), "ConnectionPoolCreated"); // seen from the very start
    /// # drop(pool);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn event_sender(mut self, sender: Sender<CmapEvent>) -> Self {
        self.senders.push(sender);
        self
    }

    /// Delivers every event, from PoolCreated on, to `handler` on a dedicated thread.
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
    /// use mongopool::timeline::TimelineRecorder;
    /// // Any CmapEventHandler; here the timeline recorder, writing JSON lines to memory.
    /// let recorder = Arc::new(TimelineRecorder::new(Vec::new()));
    /// let pool = Pool::builder("db:27017".parse()?).establisher(Arc::new(Fake)).event_handler(recorder.clone()).build()?;
    /// pool.close();
    /// drop(pool); // the handler thread delivers the rest and ends
    /// # let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    /// # while recorder.events_recorded() < 2 && std::time::Instant::now() < deadline {
    /// #     std::thread::sleep(std::time::Duration::from_millis(5));
    /// # }
    /// assert_eq!(recorder.events_recorded(), 2); // PoolCreated, PoolClosed
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn event_handler(mut self, handler: Arc<dyn CmapEventHandler>) -> Self {
        self.handlers.push(handler);
        self
    }

    /// Simulates forks in tests: the pool sees a fork whenever `pid()` changes.
    #[cfg(test)]
    pub(crate) fn pid_source(mut self, pid: fn() -> u32) -> Self {
        self.pid = Some(pid);
        self
    }

    /// Validates the options, creates the paused pool, emits PoolCreated and starts the
    /// background thread.
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
    /// use mongopool::PoolState;
    /// let pool = Pool::builder("db:27017".parse()?).establisher(Arc::new(Fake)).build()?;
    /// assert_eq!(pool.status().state, PoolState::Paused);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(mut self) -> Result<Pool> {
        self.options.validate()?;
        let establisher = self
            .establisher
            .take()
            .unwrap_or_else(|| Arc::new(TcpEstablisher::new(self.options.connection().clone())));
        #[cfg(test)]
        let fork = self.pid.map_or_else(fork::ForkDetector::new, fork::ForkDetector::fake);
        #[cfg(not(test))]
        let fork = fork::ForkDetector::new();
        let mut state = State::new(self.address.clone(), &self.options, fork);
        for sender in self.senders {
            state.subscribers.add_sender(sender);
        }
        for handler in self.handlers {
            spawn_handler(handler, state.subscribers.add_unbounded())?;
        }
        let shared = Arc::new(Shared {
            address: self.address,
            options: self.options,
            establisher,
            on_establishment_error: self.on_establishment_error,
            state: Mutex::new(state),
            bg_cv: Condvar::new(),
            threads: Mutex::new(Threads::default()),
        });
        shared.emit_pool_created();
        shared.start_background()?;
        Ok(Pool {
            handle: Arc::new(Handle { shared }),
        })
    }
}

fn spawn_handler(handler: Arc<dyn CmapEventHandler>, events: Receiver<CmapEvent>) -> Result<()> {
    std::thread::Builder::new()
        .name("mongopool-events".into())
        .spawn(move || {
            for event in events {
                dispatch_to_handler(handler.as_ref(), event);
            }
        })
        .map(|_| ())
        .map_err(|e| Error::internal(format!("cannot start the event handler thread: {e}")))
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("address", &self.address().to_string())
            .field("status", &self.status())
            .finish()
    }
}

impl Shared {
    fn emit_pool_created(&self) {
        let mut options = PoolCreatedOptions::default();
        for (key, value) in self.options.user_specified() {
            match key {
                "maxIdleTimeMS" => options.max_idle_time_ms = Some(value),
                "minPoolSize" => options.min_pool_size = Some(value),
                "maxPoolSize" => options.max_pool_size = Some(value),
                "maxConnecting" => options.max_connecting = Some(value),
                _ => options.wait_queue_timeout_ms = Some(value),
            }
        }
        self.state.lock().emit(|address| {
            CmapEvent::PoolCreated(PoolCreatedEvent {
                address: address.clone(),
                options,
            })
        });
    }

    fn start_background(self: &Arc<Self>) -> Result<()> {
        if self.options.maintenance_interval().is_none() {
            return Ok(());
        }
        let shared = self.clone();
        let handle = thread::Builder::new()
            .name(format!("mongopool-bg-{}", self.address))
            .spawn(move || background::run(shared))
            .map_err(|e| Error::internal(format!("cannot start the pool's background thread: {e}")))?;
        self.threads.lock().background = Some(handle);
        Ok(())
    }

    fn wake_background(&self, st: &mut State) {
        st.bg_wake = true;
        self.bg_cv.notify_one();
    }

    fn ready(&self) -> Result<()> {
        let mut st = self.state.lock();
        match st.phase {
            PoolState::Closed => Err(st.closed_error()),
            PoolState::Ready => Ok(()),
            PoolState::Paused => {
                st.phase = PoolState::Ready;
                // PoolReady is emitted before the background thread may create anything
                // (cmap.md "Marking a Connection Pool as Ready"): it needs this same lock.
                st.emit(|address| {
                    CmapEvent::PoolReady(PoolReadyEvent {
                        address: address.clone(),
                    })
                });
                self.wake_background(&mut st);
                Ok(())
            }
        }
    }

    /// Detects a fork (cmap.md "Forking", "Not Fork-Safe"): in a child process the inherited
    /// connections and threads are unusable, so the pool clears itself and starts a new
    /// background thread. Returns the inherited connections to drop outside the lock.
    fn after_fork(self: &Arc<Self>, st: &mut MutexGuard<'_, State>) -> Vec<Box<Connection>> {
        let mut closed = Vec::new();
        let phase = st.phase;
        if st.services.is_some() {
            // Load-balanced pools are cleared per service and never paused.
            st.clear_all_services(false);
        } else {
            st.clear(
                false,
                "the process forked; connections inherited from the parent were closed".into(),
            );
        }
        st.prune(&mut closed);
        st.forget_inherited();
        if phase == PoolState::Ready && st.phase == PoolState::Paused {
            st.phase = PoolState::Ready;
            st.emit(|address| {
                CmapEvent::PoolReady(PoolReadyEvent {
                    address: address.clone(),
                })
            });
        }
        // The parent's threads do not exist here: forget their handles and start anew.
        let mut threads = self.threads.lock();
        std::mem::forget(std::mem::take(&mut *threads));
        drop(threads);
        if phase != PoolState::Closed {
            if let Err(e) = MutexGuard::unlocked(st, || self.start_background()) {
                log::warn!(target: LOG_TARGET, "after fork: {e}");
            }
        }
        closed
    }

    fn check_out(self: &Arc<Self>, wait_timeout: Option<std::time::Duration>) -> Result<PooledConnection> {
        let mut st = self.state.lock();
        let mut closed = Vec::new();
        if st.fork.forked() {
            closed = self.after_fork(&mut st);
        }
        let started = (st.listening() || wait_timeout.is_some()).then(Instant::now);
        st.emit(|address| {
            CmapEvent::ConnectionCheckOutStarted(ConnectionCheckOutStartedEvent {
                address: address.clone(),
            })
        });
        let grant = match st.phase {
            PoolState::Closed => {
                let err = st.closed_error();
                st.emit_check_out_failed(ConnectionCheckOutFailedReason::PoolClosed, &err, started);
                return Err(err);
            }
            PoolState::Paused => {
                let err = st.cleared_error();
                st.emit_check_out_failed(ConnectionCheckOutFailedReason::ConnectionError, &err, started);
                return Err(err);
            }
            PoolState::Ready => {
                // Only a newcomer facing an empty queue may serve itself (no overtaking).
                let immediate = if st.waiters.is_empty() {
                    st.next_grant(1, &mut closed)
                } else {
                    None
                };
                match immediate {
                    Some(Grant::Connection(conn)) => {
                        st.emit_checked_out(conn.id(), started);
                        Grant::Connection(conn)
                    }
                    Some(other) => other,
                    None => {
                        self.bury(&mut st, &mut closed);
                        // `wait` releases the lock: a granted waiter never takes it again.
                        let result = self.wait(st, started, wait_timeout);
                        drop(closed);
                        return self.finish_grant(result?, started);
                    }
                }
            }
        };
        self.bury(&mut st, &mut closed);
        drop(st);
        drop(closed);
        self.finish_grant(grant, started)
    }

    /// Turns a grant into the check-out's outcome, outside the lock.
    fn finish_grant(self: &Arc<Self>, grant: Grant, started: Option<Instant>) -> Result<PooledConnection> {
        match grant {
            // The CheckedOut event was emitted when the grant was made.
            Grant::Connection(conn) => Ok(PooledConnection::new(conn, self.clone())),
            Grant::Fail(err) => Err(err),
            Grant::Create(pending) => self.establish_for_check_out(pending, started),
        }
    }

    /// Waits in the queue until granted or until the deadline (cmap.md "WaitQueue": timeout
    /// aggressively). A waiter that times out leaves the queue at once; a grant that raced
    /// with the timeout is still taken, so nothing granted is ever lost.
    ///
    /// Takes the pool's lock and returns with it released. The waiter sleeps on its slot's own
    /// lock, so a granted waiter wakes, takes its grant and leaves without touching the pool's
    /// lock (which would otherwise be handed around between waking waiters under contention).
    /// No lost wake-up: the slot's lock is taken before the pool's is released, and a granter
    /// needs both (lock order: pool, then slot), so it cannot give before the waiter sleeps.
    fn wait(
        &self,
        mut st: MutexGuard<'_, State>,
        started: Option<Instant>,
        timeout: Option<std::time::Duration>,
    ) -> Result<Grant> {
        let slot = WaiterSlot::for_this_thread(started);
        st.waiters.push(slot.clone());
        // A longer queue can make a create-grant possible (see `State::next_grant`).
        let mut closed = Vec::new();
        st.dispatch(&mut closed);
        self.bury(&mut st, &mut closed);
        let deadline = timeout.and_then(|t| started.map(|s| s + t));
        let mut inner = slot.lock();
        drop(st);
        drop(closed);
        loop {
            if let Some(grant) = inner.grant.take() {
                return Ok(grant);
            }
            match deadline {
                None => slot.cv.wait(&mut inner),
                Some(deadline) => {
                    if slot.cv.wait_until(&mut inner, deadline).timed_out() {
                        break;
                    }
                }
            }
        }
        // Timed out: leave the queue under the pool's lock, unless a grant came first.
        drop(inner);
        let mut st = self.state.lock();
        if let Some(grant) = slot.take() {
            return Ok(grant);
        }
        st.waiters.remove(&slot);
        let err = Error::new(ErrorKind::WaitQueueTimeout {
            timeout: timeout.unwrap_or_default(),
            in_use: st.in_use(),
            pending: st.pending,
            available: st.available.len() as u32,
            waiters: st.waiters.len() as u32,
            max_pool_size: self.options.max_pool_size(),
            load_balanced: st.services.is_some().then(|| st.in_use_by_purpose()),
        })
        .with_address(&self.address);
        st.emit_check_out_failed(ConnectionCheckOutFailedReason::Timeout, &err, started);
        Err(err)
    }

    /// Hands a failed establishment to the owner's SDAM error handling, if there is an owner
    /// (see [`EstablishmentErrorHook`]). Called without the pool's lock: the hook may clear it.
    pub(crate) fn report_establishment_error<T>(&self, result: &Result<T>, pending: &PendingConnection) {
        if let (Err(err), Some(hook)) = (result, &self.on_establishment_error) {
            // An interrupted establishment is the pool's own doing, not news about the server.
            if !pending.interrupter.is_interrupted() {
                hook(&err.clone().with_address(&self.address), pending.generation);
            }
        }
    }

    /// Whether an owner (a `Client`) handles establishment errors through SDAM.
    pub(crate) fn has_sdam_owner(&self) -> bool {
        self.on_establishment_error.is_some()
    }

    /// Establishes a pending connection for the thread that checks it out, outside the lock.
    fn establish_for_check_out(
        self: &Arc<Self>,
        pending: PendingConnection,
        started: Option<Instant>,
    ) -> Result<PooledConnection> {
        let result = self.establisher.establish(&self.address, pending.interrupter.clone());
        self.report_establishment_error(&result, &pending);
        let mut st = self.state.lock();
        let mut closed = Vec::new();
        let result = result.and_then(|conn| st.admit(&pending, conn));
        let outcome = match result {
            Ok(conn) => {
                st.finish_pending(pending.id);
                st.emit_checked_out(pending.id, started);
                Ok(conn)
            }
            Err(err) => {
                let err = if pending.interrupter.is_interrupted() {
                    Error::new(ErrorKind::ConnectionInterrupted)
                        .with_address(&self.address)
                        .with_label(RETRYABLE_ERROR)
                } else {
                    err.with_address(&self.address)
                };
                st.discard_pending(pending.id, ConnectionClosedReason::Error, Some(err.clone()));
                st.emit_check_out_failed(ConnectionCheckOutFailedReason::ConnectionError, &err, started);
                Err(err)
            }
        };
        // The pending slot is free: a waiter held back by maxConnecting may proceed.
        st.dispatch(&mut closed);
        self.bury(&mut st, &mut closed);
        drop(st);
        drop(closed);
        outcome.map(|conn| PooledConnection::new(conn, self.clone()))
    }

    /// Checks a connection in (cmap.md "Checking In a Connection").
    pub(crate) fn check_in(&self, mut conn: Box<Connection>) {
        let mut st = self.state.lock();
        let mut closed = Vec::new();
        let id = conn.id();
        st.emit(|address| {
            CmapEvent::ConnectionCheckedIn(ConnectionCheckedInEvent {
                address: address.clone(),
                connection_id: id,
            })
        });
        if st.is_inherited(&conn) {
            // Inherited from a parent process and no longer counted: just close the socket.
            drop(st);
            return;
        }
        if conn.pinned.is_some() {
            st.unpin(conn.pinned.take());
        }
        let reason = if st.phase == PoolState::Closed {
            Some(ConnectionClosedReason::PoolClosed)
        } else if st.is_stale(&conn) {
            Some(ConnectionClosedReason::Stale)
        } else if conn.is_errored() {
            Some(ConnectionClosedReason::Error)
        } else {
            None
        };
        match reason {
            Some(reason) => {
                let error = (reason == ConnectionClosedReason::Error)
                    .then(|| conn.take_error())
                    .flatten();
                st.close_connection(conn, reason, error, &mut closed);
                if st.total < self.options.min_pool_size() && st.phase == PoolState::Ready {
                    self.wake_background(&mut st);
                }
            }
            None => {
                if self.options.max_idle_time().is_some() {
                    // Idle time is real time (not modelled under loom).
                    conn.last_used = std::time::Instant::now();
                }
                st.available.push_front(conn);
            }
        }
        st.dispatch(&mut closed);
        self.bury(&mut st, &mut closed);
        drop(st);
        drop(closed);
    }

    /// Hands connections closed during a check-out or check-in to the background thread, which
    /// drops them (shutting their sockets) outside the lock, so the application thread does not
    /// pay for socket teardown. Without a background thread (or once closed) they stay in
    /// `closed`, for the caller to drop after releasing the lock. Costs nothing when `closed`
    /// is empty, which it is on every check-out and check-in of a healthy connection.
    #[inline]
    fn bury(&self, st: &mut State, closed: &mut Vec<Box<Connection>>) {
        if closed.is_empty() || self.options.maintenance_interval().is_none() || st.phase == PoolState::Closed {
            return;
        }
        st.graveyard.append(closed);
        self.wake_background(st);
    }

    fn clear(&self, interrupt_in_use: bool, cause: String) {
        let mut st = self.state.lock();
        if st.services.is_some() {
            let interrupts = st.clear_all_services(interrupt_in_use);
            self.finish_service_clear(st, interrupts);
            return;
        }
        st.clear(interrupt_in_use, cause);
        if self.options.maintenance_interval().is_some() {
            self.bg_cv.notify_one();
        } else {
            // No background thread: interrupt right here (socket shutdowns do not block).
            let interrupts = st.take_interrupts();
            drop(st);
            interrupts.iter().for_each(|i| i.interrupt());
        }
    }

    fn clear_service(&self, service_id: bson::oid::ObjectId, interrupt_in_use: bool) -> Result<()> {
        let mut st = self.state.lock();
        if st.services.is_none() {
            // cmap.md "Clearing a Connection Pool": the load-balanced clear MUST NOT be used
            // in a non-load-balanced pool.
            return Err(Error::invalid_argument(
                "clear_service is only for load-balanced pools (loadBalanced=true); use clear()",
            )
            .with_address(&self.address));
        }
        let interrupts = st.clear_service(service_id, interrupt_in_use);
        self.finish_service_clear(st, interrupts);
        Ok(())
    }

    /// After a load-balanced clear: wake the background thread to prune the stale available
    /// connections, and shut the interrupted sockets outside the lock (this never blocks).
    fn finish_service_clear(&self, st: MutexGuard<'_, State>, interrupts: Vec<Arc<Interrupter>>) {
        self.bg_cv.notify_one();
        drop(st);
        interrupts.iter().for_each(|i| i.interrupt());
    }

    fn close(&self) {
        let mut st = self.state.lock();
        if st.phase == PoolState::Closed {
            return;
        }
        let mut closed = std::mem::take(&mut st.graveyard);
        let populating = st.close(&mut closed);
        st.emit(|address| {
            CmapEvent::PoolClosed(PoolClosedEvent {
                address: address.clone(),
            })
        });
        self.bg_cv.notify_all();
        drop(st);
        drop(closed);
        populating.iter().for_each(|i| i.interrupt());
        let background = self.threads.lock().background.take();
        let current = thread::current().id();
        // The background thread only ever waits on the condvar, so it ends at once.
        if let Some(handle) = background.filter(|h| h.thread().id() != current) {
            let _ = handle.join();
        }
        // Only the background thread starts population threads, and it may have started one
        // after this close began (its run was already past the Closed check): so the list is
        // complete only now that it has ended (found by tests/loom.rs).
        let populators = std::mem::take(&mut self.threads.lock().populators);
        // Population threads end within moments of their interrupt, unless one is still in a
        // TCP connect, which a socket shutdown cannot abort: wait a little, then let it finish
        // on its own (within connectTimeoutMS; it closes its connection as poolClosed).
        let deadline = Instant::now() + POPULATOR_JOIN_GRACE;
        for handle in populators {
            thread::join_until(handle, deadline);
        }
    }

    /// Records a population thread so `close()` can join it; forgets finished ones.
    fn track_populator(&self, handle: JoinHandle<()>) {
        let mut threads = self.threads.lock();
        threads.populators.retain(|h| !thread::is_finished(h));
        threads.populators.push(handle);
    }
}

#[cfg(test)]
mod tests;
