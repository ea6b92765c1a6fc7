//! How a pool turns a pending connection into an established one (cmap.md "Establishing a
//! Connection"). The default opens a real socket and performs the handshake; tests and
//! benchmarks inject their own.

use std::sync::Arc;

use crate::address::ServerAddress;
use crate::conn::{Connection, ConnectionOptions, Interrupter};
use crate::error::Result;

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
/// ```no_run
/// use std::sync::Arc;
/// use mongopool::pool::TcpEstablisher;
/// use mongopool::{ConnectionOptions, Pool, PoolOptions};
/// // What Pool::new does: real TCP connections with the handshake.
/// let establisher = Arc::new(TcpEstablisher::new(ConnectionOptions::default()));
/// let pool = Pool::with_establisher("localhost:27017".parse()?, PoolOptions::default(), establisher)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct TcpEstablisher {
    options: ConnectionOptions,
}

impl TcpEstablisher {
    /// An establisher that opens connections with `options`.
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
        TcpEstablisher { options }
    }
}

impl Establisher for TcpEstablisher {
    fn establish(&self, address: &ServerAddress, interrupter: Arc<Interrupter>) -> Result<Connection> {
        Connection::establish(address, &self.options, interrupter)
    }
}
