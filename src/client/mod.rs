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
    /// Errors: [`crate::ErrorKind::InvalidArgument`] for options connections cannot honour
    /// yet, rather than connecting without them: TLS ("TLS (tls=true) is not supported yet")
    /// and authentication ("authentication ... is not supported yet").
    pub fn new(options: ClientOptions) -> Result<Client> {
        Self::builder(options).build()
    }

    /// Parses `uri` (logging its warnings, see [`ClientOptions::parse`]) and creates a client.
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
    pub fn check_out(&self) -> Result<PooledConnection> {
        let topology = self.topology();
        let pool = topology.select(self.options().server_selection_timeout())?;
        let generation = pool.status().generation;
        pool.check_out().inspect_err(|err| {
            let reaction = app_errors::classify_check_out_error(err);
            topology.application_error(pool.address(), generation, None, reaction, err);
        })
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
    pub fn handle_application_error(&self, conn: &Connection, err: &Error) {
        let reaction = app_errors::classify_operation_error(err);
        self.topology()
            .application_error(conn.address(), conn.generation(), conn.service_id(), reaction, err);
    }

    /// The pool of `address`, if the client knows that server: to subscribe to one pool's
    /// events, read its status or check out of it directly.
    pub fn pool(&self, address: &ServerAddress) -> Option<Pool> {
        self.topology().pool(address)
    }

    /// Every server the client knows: the seeds and the hosts discovered since.
    pub fn servers(&self) -> Vec<ServerAddress> {
        self.topology().addresses()
    }

    /// The type of `address` from its last check.
    pub fn server_type(&self, address: &ServerAddress) -> Option<ServerType> {
        self.topology().server_type(address)
    }

    /// Subscribes to the events of every pool, current and future, merged into one unbounded
    /// channel from now on. To see every pool's `PoolCreated`, subscribe with
    /// [`ClientBuilder::event_sender`] instead.
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
pub struct ClientBuilder {
    options: ClientOptions,
    senders: Vec<Sender<CmapEvent>>,
}

impl ClientBuilder {
    /// Sends every event of every pool, from each pool's `PoolCreated` on, into `sender`.
    pub fn event_sender(mut self, sender: Sender<CmapEvent>) -> Self {
        self.senders.push(sender);
        self
    }

    /// Creates the pools and starts the monitors (see [`Client::new`] for the errors).
    pub fn build(self) -> Result<Client> {
        refuse_unsupported(&self.options)?;
        let topology = Topology::start(self.options, self.senders)?;
        Ok(Client {
            handle: Arc::new(Handle { topology }),
        })
    }
}

/// Options that connections cannot honour yet are refused rather than silently dropped: a
/// client asked for TLS or authentication must not talk in clear or unauthenticated.
fn refuse_unsupported(options: &ClientOptions) -> Result<()> {
    if options.tls().is_some() {
        return Err(Error::invalid_argument(
            "TLS (tls=true) is not supported yet: connections would not be encrypted",
        ));
    }
    if options.credential().is_some() {
        return Err(Error::invalid_argument(
            "authentication (a credential in the connection string or options) is not supported yet",
        ));
    }
    if options.compressors().is_some_and(|c| !c.is_empty()) {
        // Compression is negotiated, so going without it is what a server that supports none
        // of the compressors would do anyway.
        log::warn!(
            target: URI_LOG_TARGET,
            "compressors are not supported yet; connections are uncompressed"
        );
    }
    Ok(())
}
