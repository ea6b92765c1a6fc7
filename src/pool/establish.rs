//! How a pool turns a pending connection into an established one (cmap.md "Establishing a
//! Connection"). The default opens a real socket and performs the handshake; tests and
//! benchmarks inject their own.

use std::sync::Arc;

use crate::address::ServerAddress;
use crate::auth::ScramCache;
use crate::conn::{Connection, ConnectionOptions, Interrupter};
use crate::error::{Error, Result};

/// Establishes connections for a pool: TCP/TLS, handshake, compression and authentication.
///
/// The pool calls it without holding its lock, from the checking-out thread or from a
/// short-lived population thread, and assigns the connection's id and generation itself.
/// An implementation should register its socket with `interrupter` (as
/// [`Connection::establish`] does) so that `clear(true)` and `close()` can abort it.
///
/// ```
/// use std::sync::Arc;
/// use mongopool::{Connection, Establisher, Interrupter, Pool, PoolOptions, ServerAddress};
///
/// /// Connections without sockets, for exercising pool logic.
/// struct Fake;
/// impl Establisher for Fake {
///     fn establish(&self, address: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
///         Ok(Connection::detached(address.clone()))
///     }
/// }
///
/// let pool = Pool::with_establisher("db:27017".parse()?, PoolOptions::default(), Arc::new(Fake))?;
/// pool.ready()?;
/// let conn = pool.check_out()?;
/// assert_eq!(conn.id(), 1);
/// # Ok::<(), mongopool::Error>(())
/// ```
pub trait Establisher: Send + Sync + 'static {
    /// Opens and establishes one connection to `address`.
    fn establish(&self, address: &ServerAddress, interrupter: Arc<Interrupter>) -> Result<Connection>;
}

/// The default establisher: a real connection with the given options.
///
/// One establisher serves a whole pool (or, in a [`crate::Client`], every pool): it builds the
/// TLS configuration once and keeps one SCRAM key cache, so a pool of 100 authenticated
/// connections runs PBKDF2 once, not 100 times (auth.md "Caching credentials in SCRAM").
///
/// ```no_run
/// use std::sync::Arc;
/// use mongopool::pool::TcpEstablisher;
/// use mongopool::{ConnectionOptions, Pool, PoolOptions};
/// // What Pool::new does: real TCP connections with the handshake.
/// let establisher = Arc::new(TcpEstablisher::new(ConnectionOptions::default()));
/// let pool = Pool::with_establisher("localhost:27017".parse()?, PoolOptions::default(), establisher)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TcpEstablisher {
    options: ConnectionOptions,
    /// The connector built from `options.tls`, or why it could not be built (reported by every
    /// establishment, as a TLS error).
    tls: Option<std::result::Result<native_tls::TlsConnector, Error>>,
    scram_cache: Arc<ScramCache>,
}

impl TcpEstablisher {
    /// An establisher that opens connections with `options` and its own SCRAM key cache.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mongopool::{pool::TcpEstablisher, ConnectionOptions};
    /// let establisher = TcpEstablisher::new(ConnectionOptions {
    ///     connect_timeout: Some(Duration::from_secs(2)),
    ///     ..Default::default()
    /// });
    /// # let _ = establisher;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(options: ConnectionOptions) -> Self {
        Self::with_scram_cache(options, Arc::new(ScramCache::new()))
    }

    /// An establisher sharing `cache` with others, e.g. the pools of one client.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use mongopool::{auth::ScramCache, ConnectionOptions, TcpEstablisher};
    /// let cache = Arc::new(ScramCache::new());
    /// let a = TcpEstablisher::with_scram_cache(ConnectionOptions::default(), cache.clone());
    /// let b = TcpEstablisher::with_scram_cache(ConnectionOptions::default(), cache.clone());
    /// assert!(Arc::ptr_eq(a.scram_cache(), b.scram_cache()));
    /// ```
    pub fn with_scram_cache(options: ConnectionOptions, cache: Arc<ScramCache>) -> Self {
        let tls = options.tls.as_ref().map(|t| t.connector());
        TcpEstablisher {
            options,
            tls,
            scram_cache: cache,
        }
    }

    /// The SCRAM key cache the connections share.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use mongopool::auth::ScramCache;
    /// use mongopool::{ConnectionOptions, TcpEstablisher};
    ///
    /// let shared = Arc::new(ScramCache::new());
    /// let a = TcpEstablisher::with_scram_cache(ConnectionOptions::default(), Arc::clone(&shared));
    /// let b = TcpEstablisher::with_scram_cache(ConnectionOptions::default(), Arc::clone(&shared));
    /// assert!(Arc::ptr_eq(a.scram_cache(), b.scram_cache()));
    /// assert!(!Arc::ptr_eq(TcpEstablisher::new(ConnectionOptions::default()).scram_cache(), &shared));
    /// ```
    pub fn scram_cache(&self) -> &Arc<ScramCache> {
        &self.scram_cache
    }
}

impl std::fmt::Debug for TcpEstablisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpEstablisher")
            .field("options", &self.options)
            .field("scram_cache", &self.scram_cache)
            .finish()
    }
}

impl Establisher for TcpEstablisher {
    fn establish(&self, address: &ServerAddress, interrupter: Arc<Interrupter>) -> Result<Connection> {
        let tls = match &self.tls {
            Some(Ok(connector)) => Some(connector),
            Some(Err(err)) => return Err(err.clone().with_address(address)),
            None => None,
        };
        Connection::establish_with(address, &self.options, interrupter, tls, &self.scram_cache)
    }
}
