//! The client: a pool per server, each server watched by its own monitor thread, built from a
//! connection string or [`ClientOptions`].
//!
//! - [`options`](ClientOptions): the client's options and the conversions from a parsed URI.
//! - `topology`: the servers the client knows, their pools, server selection.
//! - `monitor`: one thread per server, checking it every `heartbeatFrequencyMS` on a
//!   dedicated connection (server-monitoring.md, polling protocol).
//! - `app_errors`: what an error seen by the application does to the topology.
//! - `server`: server types and which are suitable for a check-out.
//!
//! Threads: a client starts one monitor thread per server (named `mongopool-monitor-<host>`),
//! and each pool its own background thread. [`Client::close`] (or dropping the last handle)
//! stops and joins all of them.
//!
//! ```
//! use mongopool::ClientOptions;
//!
//! let options = ClientOptions::parse("mongodb://db1,db2/?replicaSet=rs0&maxPoolSize=10")?;
//! // Every server's pool gets the same pool options.
//! assert_eq!(options.pool_options().max_pool_size(), 10);
//! assert_eq!(options.hosts().len(), 2);
//! # Ok::<(), mongopool::Error>(())
//! ```

mod app_errors;
mod monitor;
mod options;
mod server;
mod topology;

use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

pub use options::{
    ClientOptions, ClientOptionsBuilder, TlsOptions, DEFAULT_HEARTBEAT_FREQUENCY, DEFAULT_SERVER_SELECTION_TIMEOUT,
    MIN_HEARTBEAT_FREQUENCY, URI_LOG_TARGET,
};
pub use server::ServerType;
pub use topology::TOPOLOGY_LOG_TARGET;

use crate::address::ServerAddress;
use crate::conn::Connection;
use crate::error::{Error, Result};
use crate::events::CmapEvent;
use crate::pool::{Pool, PooledConnection};
use topology::Topology;

/// A MongoDB client: one [`Pool`] per server, all with the same options, and one monitor
/// thread per server that marks its pool ready after a successful check and clears it after a
/// failed one. No call to [`Pool::ready`] is needed.
///
/// Cloning a `Client` gives another handle to the same client; [`Client::close`], or dropping
/// the last handle, closes every pool and stops every monitor.
///
/// ```no_run
/// use mongopool::Client;
///
/// let client = Client::with_uri("mongodb://localhost:27017/?maxPoolSize=20&appName=inventory")?;
/// let mut conn = client.check_out()?; // waits until a monitor has found the server
/// match conn.run_command("admin", bson::doc! { "ping": 1 }) {
///     Ok(reply) => println!("{reply}"),
///     // Lets the client clear the pool if the error says the server is gone.
///     Err(err) => client.handle_application_error(&conn, &err),
/// }
/// # Ok::<(), mongopool::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    handle: Arc<Handle>,
}

/// Closes the client when the last [`Client`] handle goes away. Monitor threads hold the
/// topology, not this handle, so they never keep a client open.
struct Handle {
    topology: Arc<Topology>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.topology.close();
    }
}

impl Client {
    /// Creates a client and starts monitoring its seeds.
    ///
    /// With a credential, every pooled connection authenticates (SCRAM-SHA-256 or SCRAM-SHA-1),
    /// and all pools share one cache of derived SCRAM keys, so PBKDF2 runs once per credential
    /// and server salt; server monitors never authenticate. With TLS options, pools and monitors
    /// connect over TLS.
    ///
    /// Errors: [`crate::ErrorKind::InvalidArgument`] for invalid options.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mongopool::{Client, ClientOptions, ErrorKind};
    ///
    /// // Nothing listens on port 1: the client starts, but finds no server to select.
    /// let options = ClientOptions::builder()
    ///     .host("127.0.0.1:1".parse()?)
    ///     .server_selection_timeout(Duration::from_millis(200))
    ///     .build()?;
    /// let client = Client::new(options)?;
    /// let err = client.check_out().unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::ServerSelectionTimeout { .. }));
    /// client.close();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(options: ClientOptions) -> Result<Client> {
        Self::builder(options).build()
    }

    /// Parses `uri` (logging its warnings, see [`ClientOptions::parse`]) and creates a client.
    ///
    /// ```no_run
    /// let client = mongopool::Client::with_uri("mongodb://a:27017,b:27017/?replicaSet=rs0&maxPoolSize=20")?;
    /// assert_eq!(client.options().pool_options().max_pool_size(), 20);
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn with_uri(uri: &str) -> Result<Client> {
        Self::new(ClientOptions::parse(uri)?)
    }

    /// A builder, for subscribing to events before the pools exist, so that the subscriber
    /// sees every pool's `PoolCreated`.
    ///
    /// ```no_run
    /// use mongopool::{events::CmapEvent, Client, ClientOptions};
    ///
    /// let (tx, events) = crossbeam_channel::unbounded();
    /// let client = Client::builder(ClientOptions::parse("mongodb://localhost:27017")?)
    ///     .event_sender(tx)
    ///     .build()?;
    /// assert!(matches!(events.recv(), Ok(CmapEvent::PoolCreated(_))));
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn builder(options: ClientOptions) -> ClientBuilder {
        ClientBuilder {
            options,
            senders: Vec::new(),
        }
    }

    fn topology(&self) -> &Arc<Topology> {
        &self.handle.topology
    }

    /// The client's options.
    ///
    /// ```no_run
    /// let client = mongopool::Client::with_uri("mongodb://localhost:27017/?serverSelectionTimeoutMS=2000")?;
    /// assert_eq!(client.options().server_selection_timeout(), std::time::Duration::from_secs(2));
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn options(&self) -> &ClientOptions {
        self.topology().options()
    }

    /// Checks a connection out of a suitable server's pool: a primary, a mongos, a standalone
    /// (or, with `directConnection=true`, the one server), waiting up to
    /// `serverSelectionTimeoutMS` for a monitor to find one.
    ///
    /// A connection that cannot be established is handled like a failed server check (the
    /// server is marked Unknown and its pool cleared) unless the error carries the
    /// `SystemOverloadedError` label (cmap.md "Backpressure-enabled").
    ///
    /// Errors: [`crate::ErrorKind::ServerSelectionTimeout`] naming each server and its last
    /// error, [`crate::ErrorKind::ClientClosed`], or any error of [`Pool::check_out`].
    ///
    /// ```no_run
    /// # let client = mongopool::Client::with_uri("mongodb://localhost:27017")?;
    /// let mut conn = client.check_out()?;
    /// let reply = conn.run_command("admin", bson::doc! { "ping": 1 })?;
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn check_out(&self) -> Result<PooledConnection> {
        let topology = self.topology();
        let pool = topology.select(self.options().server_selection_timeout())?;
        // Establishment errors reach the topology through the pool's hook (topology.rs), before
        // the pool reports them.
        pool.check_out()
    }

    /// Reports an error that an operation on `conn` (a connection checked out of this client)
    /// met, so the client can react as SDAM would:
    ///
    /// - a network error (not a timeout) marks the server Unknown, clears its pool, cancels the
    ///   monitor's check and has it check again soon;
    /// - a "not writable primary" or "node is recovering" error marks the server Unknown and
    ///   has it checked soon; "shutdown in progress" also clears the pool;
    /// - errors labelled `SystemOverloadedError` never clear (cmap.md "Backpressure-enabled");
    /// - an error from a connection older than the pool's last clear is ignored;
    /// - with `loadBalanced=true` the load balancer is never marked Unknown, and a clear
    ///   applies only to the connection's service ([`Pool::clear_service`]).
    ///
    /// ```no_run
    /// # let client = mongopool::Client::with_uri("mongodb://localhost:27017")?;
    /// let mut conn = client.check_out()?;
    /// if let Err(err) = conn.run_command("admin", bson::doc! { "ping": 1 }) {
    ///     client.handle_application_error(&conn, &err); // a network error clears the server's pool
    /// }
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn handle_application_error(&self, conn: &Connection, err: &Error) {
        let reaction = app_errors::classify_operation_error(err);
        self.topology()
            .application_error(conn.address(), conn.generation(), conn.service_id(), reaction, err);
    }

    /// The pool of `address`, if the client knows that server: to subscribe to one pool's
    /// events, read its status or check out of it directly.
    ///
    /// ```no_run
    /// # let client = mongopool::Client::with_uri("mongodb://localhost:27017")?;
    /// let address = "localhost:27017".parse()?;
    /// if let Some(pool) = client.pool(&address) {
    ///     println!("{:?}", pool.status());
    /// }
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn pool(&self, address: &ServerAddress) -> Option<Pool> {
        self.topology().pool(address)
    }

    /// The cache of derived SCRAM keys that every pool of this client shares; its
    /// [`derivations`](crate::auth::ScramCache::derivations) count how often PBKDF2 ran.
    ///
    /// ```
    /// let client = mongopool::Client::with_uri("mongodb://u:p@127.0.0.1:9/?serverSelectionTimeoutMS=100")?;
    /// assert_eq!(client.scram_cache().derivations(), 0);
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn scram_cache(&self) -> &crate::auth::ScramCache {
        self.topology().scram_cache()
    }

    /// Every server the client knows: the seeds and the hosts discovered since.
    ///
    /// ```no_run
    /// # let client = mongopool::Client::with_uri("mongodb://localhost:27017")?;
    /// for address in client.servers() {
    ///     println!("{address}: {:?}", client.server_type(&address));
    /// }
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn servers(&self) -> Vec<ServerAddress> {
        self.topology().addresses()
    }

    /// The type of `address` from its last check.
    ///
    /// ```no_run
    /// # let client = mongopool::Client::with_uri("mongodb://localhost:27017")?;
    /// use mongopool::ServerType;
    /// let address = "localhost:27017".parse()?;
    /// let known = !matches!(client.server_type(&address), None | Some(ServerType::Unknown));
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn server_type(&self, address: &ServerAddress) -> Option<ServerType> {
        self.topology().server_type(address)
    }

    /// Subscribes to the events of every pool, current and future, merged into one unbounded
    /// channel from now on. To see every pool's `PoolCreated`, subscribe with
    /// [`ClientBuilder::event_sender`] instead.
    ///
    /// ```no_run
    /// # let client = mongopool::Client::with_uri("mongodb://localhost:27017")?;
    /// let events = client.subscribe();
    /// drop(client.check_out()?);
    /// for event in events.try_iter() {
    ///     println!("{} {}", event.address(), event.name());
    /// }
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn subscribe(&self) -> Receiver<CmapEvent> {
        let (tx, rx) = crossbeam_channel::unbounded();
        self.topology().add_sender(tx);
        rx
    }

    /// Closes the client: stops every monitor (waking it from its sleep and interrupting its
    /// check) and closes every pool, joining all the threads the client started. Connections
    /// still checked out are closed when checked in. Calling it again does nothing.
    ///
    /// A monitor in the middle of a TCP connect cannot be interrupted; `close` then waits for
    /// that connect to end, within `connectTimeoutMS`.
    ///
    /// ```no_run
    /// # let client = mongopool::Client::with_uri("mongodb://localhost:27017")?;
    /// client.close();
    /// assert!(matches!(client.check_out().unwrap_err().kind(), mongopool::ErrorKind::ClientClosed { .. }));
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn close(&self) {
        self.topology().close();
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let servers: Vec<String> = self.servers().iter().map(ToString::to_string).collect();
        f.debug_struct("Client")
            .field("options", self.options())
            .field("servers", &servers)
            .finish()
    }
}

/// Builds a [`Client`] (see [`Client::builder`]).
///
/// ```
/// use mongopool::{Client, ClientOptions};
///
/// let (tx, events) = crossbeam_channel::unbounded();
/// // The pools exist, and report their creation, before any server answers.
/// let client = Client::builder(ClientOptions::parse("mongodb://127.0.0.1:1/?directConnection=true")?)
///     .event_sender(tx)
///     .build()?;
/// assert_eq!(events.recv()?.name(), "ConnectionPoolCreated");
/// client.close();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ClientBuilder {
    options: ClientOptions,
    senders: Vec<Sender<CmapEvent>>,
}

impl ClientBuilder {
    /// Sends every event of every pool, from each pool's `PoolCreated` on, into `sender`.
    ///
    /// ```no_run
    /// use mongopool::{Client, ClientOptions};
    /// let (tx, events) = crossbeam_channel::unbounded();
    /// let client = Client::builder(ClientOptions::parse("mongodb://localhost:27017")?).event_sender(tx).build()?;
    /// assert_eq!(events.recv().map(|e| e.name()).ok(), Some("ConnectionPoolCreated"));
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn event_sender(mut self, sender: Sender<CmapEvent>) -> Self {
        self.senders.push(sender);
        self
    }

    /// Creates the pools and starts the monitors (see [`Client::new`] for the errors).
    ///
    /// ```no_run
    /// let client = mongopool::Client::builder(mongopool::ClientOptions::parse("mongodb://localhost:27017")?).build()?;
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn build(self) -> Result<Client> {
        let topology = Topology::start(self.options, self.senders)?;
        Ok(Client {
            handle: Arc::new(Handle { topology }),
        })
    }
}
