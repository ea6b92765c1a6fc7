//! Everything the pool's mutex guards, and the transitions made under it.
//!
//! Invariants (hold whenever the mutex is free):
//! - `total == pending + available.len() + in_use`, and `total <= maxPoolSize` when capped.
//! - `pending <= maxConnecting`.
//! - Waiters exist only while the pool is ready: `clear()` and `close()` evict them all.
//! - **No lost waiter:** after every critical section that could make a grant possible (a
//!   check-in, a closed connection, a finished establishment, a new waiter raising the
//!   demand that population covers) `dispatch()` runs, so if the queue
//!   is non-empty no grant is possible. A newcomer that finds a non-empty queue therefore joins
//!   its back without overtaking anyone, and a queued waiter is woken only by a grant placed in
//!   its own slot (a connection, the right to create one, or an error) or by its own deadline.
//! - Every live connection (pending, available or in use) has an entry in `live` with its
//!   generation and interrupter; closing a connection removes it.
//! - Load-balanced mode (`services` is `Some`): every established live connection has a
//!   `service_id` in `live`, and `services[id].connections` is the number of such entries; an
//!   entry whose count reaches 0 is removed (cmap.md "Load Balancer Mode"). `generation` (the
//!   pool's) never changes in this mode: each service has its own.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bson::oid::ObjectId;

use super::grant::{Grant, PendingConnection};
use super::guard::PinnedTo;
use super::logging;
use super::wait_queue::WaitQueue;
use crate::address::ServerAddress;
use crate::conn::{Connection, Interrupter};
use crate::error::{Error, ErrorKind, InUseByPurpose, RETRYABLE_ERROR};
use crate::events::{
    CmapEvent, ConnectionCheckOutFailedEvent, ConnectionCheckOutFailedReason, ConnectionCheckedOutEvent,
    ConnectionClosedEvent, ConnectionClosedReason, ConnectionCreatedEvent, ConnectionReadyEvent, PoolClearedEvent,
    Subscribers,
};
use crate::sync::Instant;

/// The pool's life-cycle state (cmap.md "ConnectionPool.state").
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
/// use mongopool::PoolState;
/// assert_eq!(pool.status().state, PoolState::Paused);
/// pool.ready()?;
/// assert_eq!(pool.status().state, PoolState::Ready);
/// pool.close();
/// assert_eq!(pool.status().state, PoolState::Closed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PoolState {
    /// Check-outs fail and nothing is created in the background (initial state; after clear).
    Paused,
    /// Check-outs are served and the background thread keeps minPoolSize.
    Ready,
    /// Final: check-outs fail, check-ins close their connection.
    Closed,
}

/// Bookkeeping for one live connection.
struct Live {
    generation: u32,
    interrupter: Arc<Interrupter>,
    /// Established by a population thread (not by a checking-out application thread).
    populating: bool,
    /// Load-balanced mode: the service this connection reached (set once established).
    service_id: Option<ObjectId>,
}

/// One service behind a load balancer (cmap.md "Load Balancer Mode": the map entry is the
/// tuple (generation, connection count)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ServiceEntry {
    pub(crate) generation: u32,
    pub(crate) connections: u32,
}

/// The error for a load-balanced handshake whose reply has no `serviceId`, with the message
/// that load-balancers.md prescribes.
pub(crate) fn load_balancing_unsupported(address: &ServerAddress) -> Error {
    Error::new(ErrorKind::LoadBalancingUnsupported).with_address(address)
}

pub(crate) struct State {
    pub(crate) address: ServerAddress,
    pub(crate) phase: PoolState,
    pub(crate) generation: u32,
    next_id: u64,
    pub(crate) total: u32,
    pub(crate) pending: u32,
    /// Pending connections that population threads are establishing: they will become
    /// available without an owner, so waiters count on them before creating more.
    pub(crate) populating: u32,
    /// Available connections, most recently checked in first (so the oldest idle ones sit at
    /// the back, where pruning finds them).
    pub(crate) available: VecDeque<Box<Connection>>,
    pub(crate) waiters: WaitQueue,
    live: HashMap<u64, Live>,
    /// Interrupt in-use connections of this generation and older on the next background run.
    pub(crate) interrupt_up_to: Option<u32>,
    /// Ask the background thread for a run now.
    pub(crate) bg_wake: bool,
    /// Why the pool was last cleared, for the PoolClearedError of later check-outs.
    clear_cause: Option<String>,
    pub(crate) subscribers: Subscribers,
    /// Connections closed on an application thread's check-out or check-in, for the background
    /// thread to drop outside the lock (see `Shared::bury`). Already out of every count and
    /// announced as closed; only their sockets remain to be shut.
    pub(crate) graveyard: Vec<Box<Connection>>,
    pub(crate) fork: super::fork::ForkDetector,
    /// Connections of a generation below this were inherited from a parent process: they are
    /// no longer counted, so their check-in must not touch the counts (see `forget_inherited`).
    pub(crate) fork_floor: u32,
    max_pool_size: u32,
    max_connecting: u32,
    max_idle_time: Option<Duration>,
    /// `Some` in load-balanced mode: serviceId -> (generation, connection count).
    pub(crate) services: Option<HashMap<ObjectId, ServiceEntry>>,
    /// In-use connections pinned to cursors and to transactions (a subset of `in_use()`).
    pinned_cursors: u32,
    pinned_transactions: u32,
}

impl State {
    pub(crate) fn new(address: ServerAddress, options: &super::PoolOptions, fork: super::fork::ForkDetector) -> Self {
        State {
            address,
            phase: PoolState::Paused,
            generation: 0,
            next_id: 1,
            total: 0,
            pending: 0,
            populating: 0,
            available: VecDeque::new(),
            waiters: WaitQueue::default(),
            live: HashMap::new(),
            interrupt_up_to: None,
            bg_wake: false,
            clear_cause: None,
            subscribers: Subscribers::default(),
            graveyard: Vec::new(),
            fork,
            fork_floor: 0,
            max_pool_size: options.max_pool_size(),
            max_connecting: options.max_connecting(),
            max_idle_time: options.max_idle_time(),
            services: options.connection().load_balanced.then(HashMap::new),
            pinned_cursors: 0,
            pinned_transactions: 0,
        }
    }

    /// Whether anyone consumes events or log messages (decides whether durations are timed).
    pub(crate) fn listening(&self) -> bool {
        !self.subscribers.is_empty() || logging::enabled()
    }

    /// Emits an event and its log message. The event is built only if someone listens; the
    /// check is inlined so that a pool nobody listens to pays two loads per event.
    #[inline]
    pub(crate) fn emit(&mut self, make: impl FnOnce(&ServerAddress) -> CmapEvent) {
        let log = logging::enabled();
        if self.subscribers.is_empty() && !log {
            return;
        }
        self.deliver(make(&self.address), log);
    }

    #[inline(never)]
    fn deliver(&mut self, event: CmapEvent, log: bool) {
        if log {
            logging::log_event(&event);
        }
        if !self.subscribers.is_empty() {
            self.subscribers.send(event);
        }
    }

    pub(crate) fn in_use(&self) -> u32 {
        self.total - self.pending - self.available.len() as u32
    }

    fn can_create(&self) -> bool {
        (self.max_pool_size == 0 || self.total < self.max_pool_size) && self.pending < self.max_connecting
    }

    /// Whether `conn` belongs to an older generation than the current one: the pool's, or in
    /// load-balanced mode its service's (cmap.md "Load Balancer Mode").
    #[inline]
    pub(crate) fn is_stale(&self, conn: &Connection) -> bool {
        match &self.services {
            None => conn.generation() != self.generation,
            Some(services) => conn
                .service_id()
                .and_then(|id| services.get(&id))
                .is_none_or(|entry| entry.generation != conn.generation()),
        }
    }

    /// Whether `conn` was inherited from a parent process and is no longer counted (see
    /// `forget_inherited`).
    #[inline]
    pub(crate) fn is_inherited(&self, conn: &Connection) -> bool {
        match &self.services {
            None => conn.generation() < self.fork_floor,
            // Service generations are not comparable with the fork floor; after a fork the
            // live set is empty, so an unknown id is an inherited connection.
            Some(_) => !self.live.contains_key(&conn.id()),
        }
    }

    pub(crate) fn pin(&mut self, purpose: PinnedTo) {
        match purpose {
            PinnedTo::Cursor => self.pinned_cursors += 1,
            PinnedTo::Transaction => self.pinned_transactions += 1,
        }
    }

    pub(crate) fn unpin(&mut self, purpose: Option<PinnedTo>) {
        match purpose {
            Some(PinnedTo::Cursor) => self.pinned_cursors -= 1,
            Some(PinnedTo::Transaction) => self.pinned_transactions -= 1,
            None => {}
        }
    }

    /// The connections in use by purpose (load-balancers.md "Connection Tracking").
    pub(crate) fn in_use_by_purpose(&self) -> InUseByPurpose {
        InUseByPurpose {
            cursors: self.pinned_cursors,
            transactions: self.pinned_transactions,
            other: self.in_use() - self.pinned_cursors - self.pinned_transactions,
        }
    }

    /// Why `conn` may not be handed out, if it is perished (cmap.md "Perishable").
    fn perished(&self, conn: &Connection) -> Option<ConnectionClosedReason> {
        if self.is_stale(conn) {
            Some(ConnectionClosedReason::Stale)
        } else if conn.is_errored() {
            Some(ConnectionClosedReason::Error)
        } else if self.max_idle_time.is_some_and(|max| conn.last_used.elapsed() > max) {
            Some(ConnectionClosedReason::Idle)
        } else {
            None
        }
    }

    /// Creates a pending connection (cmap.md "Creating a Connection").
    pub(crate) fn create_pending(&mut self, populating: bool) -> PendingConnection {
        let id = self.next_id;
        self.next_id += 1;
        self.total += 1;
        self.pending += 1;
        self.populating += u32::from(populating);
        let interrupter = Arc::new(Interrupter::default());
        self.live.insert(
            id,
            Live {
                generation: self.generation,
                interrupter: interrupter.clone(),
                populating,
                service_id: None,
            },
        );
        self.emit(|address| {
            CmapEvent::ConnectionCreated(ConnectionCreatedEvent {
                address: address.clone(),
                connection_id: id,
            })
        });
        PendingConnection {
            id,
            generation: self.generation,
            created: Instant::now(),
            interrupter,
        }
    }

    /// Closes a connection (cmap.md "Closing a Connection"): it leaves every count and its
    /// socket goes into `closed`, to be dropped by the caller after the mutex is released.
    pub(crate) fn close_connection(
        &mut self,
        conn: Box<Connection>,
        reason: ConnectionClosedReason,
        error: Option<Error>,
        closed: &mut Vec<Box<Connection>>,
    ) {
        self.forget(conn.id(), reason, error);
        closed.push(conn);
    }

    /// Forgets a pending connection whose establishment failed and reports it closed.
    pub(crate) fn discard_pending(&mut self, id: u64, reason: ConnectionClosedReason, error: Option<Error>) {
        self.finish_pending(id);
        self.forget(id, reason, error);
    }

    /// Admits an established connection (called under the lock when its establishment
    /// returns): gives it its id and generation and emits ConnectionReady. In load-balanced
    /// mode the generation is that of its serviceId, whose connection count goes up (cmap.md
    /// "Load Balancer Mode"); a connection without a serviceId is refused with
    /// [`ErrorKind::LoadBalancingUnsupported`] and leaves every count as it was.
    pub(crate) fn admit(&mut self, pending: &PendingConnection, conn: Connection) -> Result<Box<Connection>, Error> {
        let mut conn = Box::new(conn);
        let mut generation = pending.generation;
        if let Some(services) = &mut self.services {
            let Some(service_id) = conn.service_id() else {
                return Err(load_balancing_unsupported(&self.address));
            };
            let entry = services.entry(service_id).or_default();
            entry.connections += 1;
            generation = entry.generation;
            if let Some(live) = self.live.get_mut(&pending.id) {
                live.service_id = Some(service_id);
            }
        }
        conn.set_pool_identity(pending.id, generation);
        let id = pending.id;
        let duration = pending.created.elapsed();
        self.emit(|address| {
            CmapEvent::ConnectionReady(ConnectionReadyEvent {
                address: address.clone(),
                connection_id: id,
                duration,
            })
        });
        Ok(conn)
    }

    /// Removes connection `id` from the total and the live set and emits ConnectionClosed.
    fn forget(&mut self, id: u64, reason: ConnectionClosedReason, error: Option<Error>) {
        self.total -= 1;
        let service_id = self.live.remove(&id).and_then(|l| l.service_id);
        if let (Some(services), Some(service_id)) = (&mut self.services, service_id) {
            // cmap.md "Load Balancer Mode": remove the entry once its count reaches 0.
            if let Some(entry) = services.get_mut(&service_id) {
                entry.connections -= 1;
                if entry.connections == 0 {
                    services.remove(&service_id);
                }
            }
        }
        self.emit(|address| {
            CmapEvent::ConnectionClosed(ConnectionClosedEvent {
                address: address.clone(),
                connection_id: id,
                reason,
                error,
            })
        });
    }

    /// Ends the pending state of connection `id` (established or failed).
    pub(crate) fn finish_pending(&mut self, id: u64) {
        self.pending -= 1;
        if self.live.get(&id).is_some_and(|l| l.populating) {
            self.populating -= 1;
        }
    }

    /// The next grant the front of the queue (or a newcomer facing an empty queue) may have:
    /// a non-perished available connection (perished ones are closed on the way), else the
    /// right to create one, else nothing (cmap.md "Checking Out a Connection").
    ///
    /// `demand` is the number of requests waiting, the one being served included. A request
    /// creates a connection only if population is not already establishing enough of them
    /// for everyone waiting: such connections become available within one handshake and go
    /// to the waiters in order, so creating more would only open surplus connections
    /// (pool-checkout-minPoolSize-connection-maxConnecting.json).
    #[inline]
    pub(crate) fn next_grant(&mut self, demand: usize, closed: &mut Vec<Box<Connection>>) -> Option<Grant> {
        while let Some(conn) = self.available.pop_front() {
            match self.perished(&conn) {
                Some(reason) => self.close_connection(conn, reason, None, closed),
                None => return Some(Grant::Connection(conn)),
            }
        }
        if self.can_create() && demand > self.populating as usize {
            return Some(Grant::Create(self.create_pending(false)));
        }
        None
    }

    /// Serves queued waiters, oldest first, for as long as grants are possible. Connection
    /// grants are announced (ConnectionCheckedOut) here, at the instant they are made, so the
    /// events follow the queue's order.
    #[inline]
    pub(crate) fn dispatch(&mut self, closed: &mut Vec<Box<Connection>>) {
        while let Some(started) = self.waiters.front_started() {
            let Some(grant) = self.next_grant(self.waiters.len(), closed) else {
                break;
            };
            if let Grant::Connection(conn) = &grant {
                self.emit_checked_out(conn.id(), started);
            }
            self.waiters.grant_front(grant);
        }
    }

    #[inline]
    pub(crate) fn emit_checked_out(&mut self, connection_id: u64, started: Option<Instant>) {
        self.emit(|address| {
            CmapEvent::ConnectionCheckedOut(ConnectionCheckedOutEvent {
                address: address.clone(),
                connection_id,
                duration: started.map(|s| s.elapsed()).unwrap_or_default(),
            })
        });
    }

    pub(crate) fn emit_check_out_failed(
        &mut self,
        reason: ConnectionCheckOutFailedReason,
        error: &Error,
        started: Option<Instant>,
    ) {
        self.emit(|address| {
            CmapEvent::ConnectionCheckOutFailed(ConnectionCheckOutFailedEvent {
                address: address.clone(),
                reason,
                error: Some(error.clone()),
                duration: started.map(|s| s.elapsed()).unwrap_or_default(),
            })
        });
    }

    /// The error of a check-out refused because the pool is paused or was cleared.
    pub(crate) fn cleared_error(&self) -> Error {
        let cause = self
            .clear_cause
            .clone()
            .unwrap_or_else(|| "the pool is paused: no server check has marked it ready yet".to_owned());
        Error::new(ErrorKind::PoolCleared { cause })
            .with_address(&self.address)
            .with_label(RETRYABLE_ERROR)
    }

    pub(crate) fn closed_error(&self) -> Error {
        Error::new(ErrorKind::PoolClosed).with_address(&self.address)
    }

    /// Evicts every waiter with `error`, announcing each failure in queue order.
    fn evict_waiters(&mut self, reason: ConnectionCheckOutFailedReason, error: &Error) {
        while let Some(started) = self.waiters.front_started() {
            self.emit_check_out_failed(reason, error, started);
            self.waiters.grant_front(Grant::Fail(error.clone()));
        }
    }

    /// Clears a non-load-balanced pool (cmap.md "Clearing a non-load balanced pool"):
    /// increments the generation, pauses the pool, emits PoolCleared only if it was ready,
    /// evicts the wait queue eagerly, and schedules interrupts and a background run.
    pub(crate) fn clear(&mut self, interrupt_in_use: bool, cause: String) {
        if self.phase == PoolState::Closed {
            return;
        }
        let old_generation = self.generation;
        self.generation += 1;
        self.clear_cause = Some(cause);
        let was_ready = self.phase == PoolState::Ready;
        self.phase = PoolState::Paused;
        if was_ready {
            self.emit(|address| {
                CmapEvent::PoolCleared(PoolClearedEvent {
                    address: address.clone(),
                    service_id: None,
                    interrupt_in_use_connections: interrupt_in_use,
                })
            });
        }
        let error = self.cleared_error();
        self.evict_waiters(ConnectionCheckOutFailedReason::ConnectionError, &error);
        if interrupt_in_use {
            self.interrupt_up_to = Some(self.interrupt_up_to.map_or(old_generation, |g| g.max(old_generation)));
        }
        self.bg_wake = true;
    }

    /// Clears one service of a load-balanced pool (cmap.md "Clearing a load balanced pool"):
    /// increments that service's generation and emits PoolCleared with its serviceId; it MUST
    /// NOT pause the pool nor clear the wait queue, and does neither. Stale available
    /// connections are closed at check-out or by the next background run. Returns the
    /// interrupters of the service's connections when `interrupt_in_use` is set.
    pub(crate) fn clear_service(&mut self, service_id: ObjectId, interrupt_in_use: bool) -> Vec<Arc<Interrupter>> {
        if self.phase == PoolState::Closed {
            return Vec::new();
        }
        if let Some(entry) = self.services.as_mut().and_then(|s| s.get_mut(&service_id)) {
            entry.generation = entry.generation.wrapping_add(1);
        }
        self.emit(|address| {
            CmapEvent::PoolCleared(PoolClearedEvent {
                address: address.clone(),
                service_id: Some(service_id),
                interrupt_in_use_connections: interrupt_in_use,
            })
        });
        self.bg_wake = true;
        if !interrupt_in_use {
            return Vec::new();
        }
        self.live
            .values()
            .filter(|l| l.service_id == Some(service_id))
            .map(|l| l.interrupter.clone())
            .collect()
    }

    /// `clear()` of a load-balanced pool: the traditional clear MUST NOT be used in this mode
    /// (cmap.md "Clearing a Connection Pool"), so every known service is cleared on its own.
    pub(crate) fn clear_all_services(&mut self, interrupt_in_use: bool) -> Vec<Arc<Interrupter>> {
        let ids: Vec<ObjectId> = self.services.iter().flat_map(|s| s.keys().copied()).collect();
        ids.into_iter()
            .flat_map(|id| self.clear_service(id, interrupt_in_use))
            .collect()
    }

    /// The generation of `service_id` in a load-balanced pool, if it has connections.
    pub(crate) fn service_entry(&self, service_id: &ObjectId) -> Option<ServiceEntry> {
        self.services.as_ref().and_then(|s| s.get(service_id)).copied()
    }

    /// Marks the pool closed, closes the available connections and evicts the waiters
    /// (cmap.md "Closing a Connection Pool"). Returns the interrupters of connections that
    /// population threads are establishing, so `close()` can abort and join them.
    pub(crate) fn close(&mut self, closed: &mut Vec<Box<Connection>>) -> Vec<Arc<Interrupter>> {
        self.phase = PoolState::Closed;
        while let Some(conn) = self.available.pop_front() {
            self.close_connection(conn, ConnectionClosedReason::PoolClosed, None, closed);
        }
        let error = self.closed_error();
        self.evict_waiters(ConnectionCheckOutFailedReason::PoolClosed, &error);
        self.live
            .values()
            .filter(|l| l.populating)
            .map(|l| l.interrupter.clone())
            .collect()
    }

    /// The interrupters of live connections of generation `up_to` or older.
    pub(crate) fn take_interrupts(&mut self) -> Vec<Arc<Interrupter>> {
        match self.interrupt_up_to.take() {
            Some(up_to) => self
                .live
                .values()
                .filter(|l| l.generation <= up_to)
                .map(|l| l.interrupter.clone())
                .collect(),
            None => Vec::new(),
        }
    }

    /// After a fork: the connections that were in use or pending belong to threads that do not
    /// exist in this process, so they stop counting (otherwise a child could stay at
    /// maxPoolSize forever). Must run after `clear()` (which evicted the waiters of the
    /// parent's threads and bumped the generation) and `prune()` (which closed the available
    /// ones).
    pub(crate) fn forget_inherited(&mut self) {
        self.total = self.available.len() as u32;
        self.pending = 0;
        self.populating = 0;
        self.live.clear();
        self.pinned_cursors = 0;
        self.pinned_transactions = 0;
        if let Some(services) = &mut self.services {
            services.clear();
        }
        self.fork_floor = self.generation;
    }

    /// Closes perished available connections (stale, idle), oldest first.
    pub(crate) fn prune(&mut self, closed: &mut Vec<Box<Connection>>) {
        let mut i = self.available.len();
        while i > 0 {
            i -= 1;
            if let Some(reason) = self.available.get(i).and_then(|c| self.perished(c)) {
                if let Some(conn) = self.available.remove(i) {
                    self.close_connection(conn, reason, None, closed);
                }
            }
        }
    }
}
