//! The client's shared state: one entry per known server (its pool, its type from the last
//! check, its monitor), the event senders every pool feeds, and server selection.
//!
//! Locking: one mutex guards [`State`]. Pool methods (`ready`, `clear_with_cause`,
//! `add_event_sender`, `status`) are called with it held, so the order is always topology
//! lock, then pool lock; a pool never calls back into the topology. Holding it while a pool is
//! readied or cleared is what server-monitoring.md asks: marking the pool ready, and clearing
//! it, "MUST be synchronized" with the update of the server's description. No I/O and no
//! thread join ever happens under it.
//!
//! Who wakes whom: every change of a server's description (and `close`) calls
//! `changed.notify_all()`, which wakes the threads waiting in [`Topology::select`]. Monitors
//! are woken through their own [`MonitorControl`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use parking_lot::{Condvar, Mutex};

use super::app_errors::{self, Reaction};
use super::monitor::{self, MonitorControl};
use super::options::ClientOptions;
use super::server::ServerType;
use crate::address::ServerAddress;
use crate::auth::ScramCache;
use crate::conn::HelloReply;
use crate::error::{Error, ErrorKind, Result};
use crate::events::CmapEvent;
use crate::pool::{Pool, PoolState, TcpEstablisher};

/// The `log` target of the client's topology messages (server checks, discovered hosts).
///
/// ```
/// use mongopool::client::TOPOLOGY_LOG_TARGET;
///
/// // Server checks and discovered hosts are logged under this target, e.g.
/// // `RUST_LOG=mongopool::topology=debug` with env_logger.
/// assert_eq!(TOPOLOGY_LOG_TARGET, "mongopool::topology");
/// ```
pub const TOPOLOGY_LOG_TARGET: &str = "mongopool::topology";

pub(crate) struct Topology {
    options: ClientOptions,
    /// One SCRAM key cache for every pool of the client (auth.md "Caching credentials").
    scram_cache: Arc<ScramCache>,
    state: Mutex<State>,
    /// Signalled after every change of a server's description, and on close.
    changed: Condvar,
}

struct State {
    closed: bool,
    /// Ordered by address, so selection and iteration are deterministic.
    servers: BTreeMap<ServerAddress, Server>,
    /// Every pool sends its events to each of these (the client's merged stream).
    senders: Vec<Sender<CmapEvent>>,
    /// Monitor threads, joined by `close()`.
    monitor_threads: Vec<JoinHandle<()>>,
}

struct Server {
    pool: Pool,
    kind: ServerType,
    /// The last check's error, while the server is Unknown.
    error: Option<Error>,
    /// `None` in load-balanced mode, where servers are not monitored.
    monitor: Option<Arc<MonitorControl>>,
}

impl Topology {
    /// Creates the topology with a pool (and monitor) per seed.
    pub(crate) fn start(options: ClientOptions, senders: Vec<Sender<CmapEvent>>) -> Result<Arc<Topology>> {
        let topology = Arc::new(Topology {
            options,
            scram_cache: Arc::new(ScramCache::new()),
            state: Mutex::new(State {
                closed: false,
                servers: BTreeMap::new(),
                senders,
                monitor_threads: Vec::new(),
            }),
            changed: Condvar::new(),
        });
        let mut st = topology.state.lock();
        for address in topology.options.hosts().to_vec() {
            if let Err(e) = topology.add_server(&mut st, address) {
                drop(st);
                topology.close();
                return Err(e);
            }
        }
        drop(st);
        Ok(topology)
    }

    pub(crate) fn options(&self) -> &ClientOptions {
        &self.options
    }

    pub(crate) fn scram_cache(&self) -> &ScramCache {
        &self.scram_cache
    }

    /// Adds a server: a pool with the client's options (CMAP prose test 2: the same options for
    /// every pool) and, unless load balanced, a monitor thread.
    fn add_server(self: &Arc<Self>, st: &mut State, address: ServerAddress) -> Result<()> {
        if st.servers.contains_key(&address) {
            return Ok(());
        }
        let establisher = TcpEstablisher::with_scram_cache(
            self.options.pool_options().connection().clone(),
            self.scram_cache.clone(),
        );
        // A failed establishment is handled like a failed server check (SDAM error handling,
        // auth.md "Authentication Handshake"), before the pool reports the check-out failure.
        // Weak: the topology owns the pool, so the pool must not keep the topology alive.
        let topology = Arc::downgrade(self);
        let failed = address.clone();
        let hook = move |err: &Error, generation: u32| {
            if let Some(topology) = topology.upgrade() {
                let reaction = app_errors::classify_check_out_error(err);
                topology.application_error(&failed, generation, None, reaction, err);
            }
        };
        let mut builder = Pool::builder(address.clone())
            .options(self.options.pool_options().clone())
            .establisher(Arc::new(establisher))
            .on_establishment_error(Arc::new(hook));
        for sender in &st.senders {
            builder = builder.event_sender(sender.clone());
        }
        let pool = builder.build()?;
        if self.options.load_balanced() {
            // load-balancers.md: no monitoring; the LoadBalancer server is always selected,
            // so its pool is ready from the start.
            pool.ready()?;
            st.servers.insert(
                address,
                Server {
                    pool,
                    kind: ServerType::LoadBalancer,
                    error: None,
                    monitor: None,
                },
            );
            return Ok(());
        }
        let control = Arc::new(MonitorControl::default());
        let (topology, control_for_thread, monitored) = (self.clone(), control.clone(), address.clone());
        let handle = std::thread::Builder::new()
            .name(format!("mongopool-monitor-{address}"))
            .spawn(move || monitor::run(topology, monitored, control_for_thread))
            .map_err(|e| Error::internal(format!("cannot start the monitor thread for {address}: {e}")));
        let handle = match handle {
            Ok(h) => h,
            Err(e) => {
                pool.close();
                return Err(e);
            }
        };
        st.monitor_threads.push(handle);
        st.servers.insert(
            address,
            Server {
                pool,
                kind: ServerType::Unknown,
                error: None,
                monitor: Some(control),
            },
        );
        Ok(())
    }

    /// A successful check: records the server's type, marks its pool ready (server-monitoring.md
    /// "Marking the connection pool as ready") and, when discovering, adds the hosts the reply
    /// lists.
    pub(crate) fn check_succeeded(self: &Arc<Self>, address: &ServerAddress, reply: &HelloReply) {
        let mut st = self.state.lock();
        if st.closed {
            return;
        }
        let Some(server) = st.servers.get_mut(address) else {
            return;
        };
        if let Some(wanted) = self.options.replica_set() {
            if reply.set_name.as_deref() != Some(wanted) {
                // SDAM drops such a server from the topology; here it stays Unknown with its
                // pool cleared and paused, so it is never selected.
                let message = format!(
                    "the server reports replica set {:?}, not the configured replicaSet {wanted:?}",
                    reply.set_name
                );
                log::warn!(target: TOPOLOGY_LOG_TARGET, "{address}: {message}");
                server.pool.clear_with_cause(false, &message);
                server.kind = ServerType::Unknown;
                server.error = Some(Error::invalid_argument(message).with_address(address));
                self.changed.notify_all();
                return;
            }
        }
        let kind = ServerType::from_hello(reply);
        if server.kind != kind {
            log::debug!(target: TOPOLOGY_LOG_TARGET, "{address} is now {kind:?}");
        }
        server.kind = kind;
        server.error = None;
        // Fails only if the pool is closed, which only `close()` does, after the monitors.
        let _ = server.pool.ready();
        if self.options.discovers() && reply.set_name.is_some() {
            for host in &reply.hosts {
                match ServerAddress::parse(host) {
                    Ok(found) if !st.servers.contains_key(&found) => {
                        log::debug!(target: TOPOLOGY_LOG_TARGET, "{address} lists {found}: adding it");
                        if let Err(e) = self.add_server(&mut st, found) {
                            log::warn!(target: TOPOLOGY_LOG_TARGET, "cannot add server {host}: {e}");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => log::warn!(target: TOPOLOGY_LOG_TARGET, "{address} lists an invalid host: {e}"),
                }
            }
        }
        self.changed.notify_all();
    }

    /// A failed check (server-monitoring.md "Network or command error during server check"):
    /// marks the server Unknown and clears its pool in the same critical section, interrupting
    /// in-use connections only if the check timed out. Returns whether the server was known
    /// before.
    pub(crate) fn check_failed(&self, address: &ServerAddress, err: &Error) -> bool {
        let mut st = self.state.lock();
        if st.closed {
            return false;
        }
        let Some(server) = st.servers.get_mut(address) else {
            return false;
        };
        let was_known = server.kind != ServerType::Unknown;
        if was_known {
            log::debug!(target: TOPOLOGY_LOG_TARGET, "{address} is now Unknown: {err}");
        }
        server.kind = ServerType::Unknown;
        server.error = Some(err.clone());
        server.pool.clear_with_cause(err.is_timeout(), err);
        self.changed.notify_all();
        was_known
    }

    /// Applies the reaction to an application error on `address`. `generation` is the pool
    /// generation the failed connection (or check-out) belonged to: an error from before the
    /// pool's last clear is stale and changes nothing (it was already handled).
    pub(crate) fn application_error(
        &self,
        address: &ServerAddress,
        generation: u32,
        service_id: Option<bson::oid::ObjectId>,
        reaction: Reaction,
        err: &Error,
    ) {
        let (clear, cancel) = match reaction {
            Reaction::Ignore => return,
            Reaction::MarkUnknownAndClear => (true, true),
            Reaction::StateChange { clear } => (clear, false),
        };
        if self.options.load_balanced() {
            // load-balancers.md "Error Handling": never mark the load balancer Unknown; clear
            // only the failed connection's service, and only if the error is not older than
            // that service's last clear. Check-out errors carry no serviceId (handshake errors
            // MUST be ignored anyway); the errored connection itself is closed at check-in.
            if let (true, Some(service_id)) = (clear, service_id) {
                let pool = self.state.lock().servers.get(address).map(|s| s.pool.clone());
                if let Some(pool) = pool {
                    let current = pool.service_generation(&service_id).map(|(g, _)| g);
                    if current == Some(generation) {
                        let _ = pool.clear_service(service_id, false);
                    }
                }
            }
            return;
        }
        let monitor = {
            let mut st = self.state.lock();
            if st.closed {
                return;
            }
            let Some(server) = st.servers.get_mut(address) else {
                return;
            };
            if generation < server.pool.status().generation {
                return;
            }
            server.kind = ServerType::Unknown;
            server.error = Some(err.clone());
            if clear {
                server.pool.clear_with_cause(false, err);
            }
            self.changed.notify_all();
            server.monitor.clone()
        };
        if let Some(m) = monitor {
            m.request_check(cancel);
        }
    }

    /// Server selection for a check-out: waits until a suitable server is known (see
    /// [`ServerType::is_suitable`]) or `timeout` passes. Among several suitable servers (a
    /// set of mongoses), the one with the fewest connections in use.
    pub(crate) fn select(&self, timeout: Duration) -> Result<Pool> {
        let deadline = Instant::now() + timeout;
        let direct = self.options.direct_connection() == Some(true);
        let mut st = self.state.lock();
        loop {
            if st.closed {
                return Err(Error::new(ErrorKind::ClientClosed));
            }
            let only_server = st.servers.len() == 1;
            let best = st
                .servers
                .values()
                .filter(|s| s.kind.is_suitable(direct, only_server))
                .filter(|s| s.pool.status().state == PoolState::Ready)
                .min_by_key(|s| s.pool.status().in_use);
            if let Some(server) = best {
                return Ok(server.pool.clone());
            }
            if self.changed.wait_until(&mut st, deadline).timed_out() {
                let summary: Vec<String> = st
                    .servers
                    .iter()
                    .map(|(address, s)| match &s.error {
                        Some(e) => format!("{address} ({:?}, last error: {e})", s.kind),
                        None => format!("{address} ({:?})", s.kind),
                    })
                    .collect();
                return Err(Error::new(ErrorKind::ServerSelectionTimeout {
                    timeout,
                    message: format!("no suitable server among {}", summary.join(", ")),
                }));
            }
        }
    }

    /// Registers a subscriber with every current pool and every pool added later.
    pub(crate) fn add_sender(&self, sender: Sender<CmapEvent>) {
        let mut st = self.state.lock();
        for server in st.servers.values() {
            server.pool.add_event_sender(sender.clone());
        }
        st.senders.push(sender);
    }

    pub(crate) fn pool(&self, address: &ServerAddress) -> Option<Pool> {
        self.state.lock().servers.get(address).map(|s| s.pool.clone())
    }

    pub(crate) fn addresses(&self) -> Vec<ServerAddress> {
        self.state.lock().servers.keys().cloned().collect()
    }

    pub(crate) fn server_type(&self, address: &ServerAddress) -> Option<ServerType> {
        self.state.lock().servers.get(address).map(|s| s.kind)
    }

    /// Closes the client: stops every monitor and joins its thread, then closes every pool
    /// (which joins the pools' threads). Monitors go first so that none marks a pool ready
    /// after it closed. Returns at once if already closed.
    pub(crate) fn close(&self) {
        let (controls, threads, pools) = {
            let mut st = self.state.lock();
            if st.closed {
                return;
            }
            st.closed = true;
            self.changed.notify_all();
            let controls: Vec<_> = st.servers.values().filter_map(|s| s.monitor.clone()).collect();
            let pools: Vec<_> = st.servers.values().map(|s| s.pool.clone()).collect();
            (controls, std::mem::take(&mut st.monitor_threads), pools)
        };
        for control in &controls {
            control.stop();
        }
        // Monitors hold the topology, never the client, so this never runs on one of them.
        for handle in threads {
            let _ = handle.join();
        }
        for pool in pools {
            pool.close();
        }
    }
}
