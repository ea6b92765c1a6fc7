//! The one error type of the crate.
//!
//! Every fallible call returns [`Error`]: an [`ErrorKind`] a caller can match on, the server
//! address where there is one, and the error labels (`RetryableError`,
//! `SystemOverloadedError`, and those a server sent). Messages never carry credentials.
//!
//! ```
//! use mongopool::{ErrorKind, ServerAddress};
//!
//! let err = "db:70000".parse::<ServerAddress>().unwrap_err();
//! assert!(matches!(err.kind(), ErrorKind::InvalidArgument { .. }));
//! assert!(!err.is_retryable());
//! assert_eq!(err.error_labels().count(), 0);
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::address::ServerAddress;

/// The label the pool adds to retryable errors (CMAP "PoolClearedError extends RetryableError").
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
/// use mongopool::error::RETRYABLE_ERROR;
///
/// let pool = Pool::with_establisher("db:27017".parse()?, PoolOptions::default(), Arc::new(Fake))?;
/// // A new pool is paused: check-outs fail with a retryable PoolCleared error.
/// let err = pool.check_out().unwrap_err();
/// assert!(err.has_label(RETRYABLE_ERROR));
/// assert!(err.is_retryable());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const RETRYABLE_ERROR: &str = "RetryableError";
/// The label the pool adds to network errors during establishment (CMAP "Backpressure-enabled").
///
/// ```
/// use mongopool::error::SYSTEM_OVERLOADED_ERROR;
/// use mongopool::Error;
///
/// // Establishment errors that mean "the server may be overloaded" carry this label, so a
/// // caller can back off before retrying.
/// let err = Error::protocol("example").with_label(SYSTEM_OVERLOADED_ERROR);
/// assert!(err.has_label("SystemOverloadedError"));
/// ```
pub const SYSTEM_OVERLOADED_ERROR: &str = "SystemOverloadedError";

/// A convenience alias for `Result<T, mongopool::Error>`.
///
/// ```
/// use mongopool::{ErrorKind, Result, ServerAddress};
///
/// fn parse_seed(seed: &str) -> Result<ServerAddress> {
///     seed.parse()
/// }
/// assert_eq!(parse_seed("db:27018")?.to_string(), "db:27018");
/// assert!(matches!(parse_seed("db:99999").unwrap_err().kind(), ErrorKind::InvalidArgument { .. }));
/// # Ok::<(), mongopool::Error>(())
/// ```
pub type Result<T> = std::result::Result<T, Error>;

/// An error from mongopool.
///
/// ```
/// use mongopool::{Error, ErrorKind};
/// let err = Error::invalid_argument("maxConnecting must be greater than 0");
/// assert!(matches!(err.kind(), ErrorKind::InvalidArgument { .. }));
/// assert!(!err.is_retryable());
/// ```
#[derive(Clone)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    address: Option<ServerAddress>,
    labels: BTreeSet<String>,
}

/// What went wrong. Match on this to decide what to do with an [`Error`].
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
/// match pool.check_out() {
///     Ok(_conn) => unreachable!("the pool is paused"),
///     Err(e) => match e.kind() {
///         ErrorKind::PoolCleared { .. } => {} // paused or cleared: retry after the next ready()
///         ErrorKind::WaitQueueTimeout { .. } => {} // every connection busy: see the message's counts
///         ErrorKind::PoolClosed { .. } => {}
///         other => panic!("{other}"),
///     },
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A socket-level failure: refused, reset, closed by the peer, unreachable.
    #[error("I/O error: {source}")]
    Io {
        /// The operating system's classification.
        kind: std::io::ErrorKind,
        /// The underlying error.
        source: Arc<std::io::Error>,
    },
    /// A connect, read or write did not finish in time.
    #[error("{operation} timed out after {} ms", after.as_millis())]
    Timeout {
        /// What timed out (for example "connect" or "read").
        operation: &'static str,
        /// The limit that was exceeded.
        after: Duration,
    },
    /// The peer sent bytes that are not a valid MongoDB wire message.
    #[error("protocol error: {message}")]
    Protocol {
        /// What was wrong with the frame.
        message: String,
    },
    /// An OP_COMPRESSED message could not be decompressed: a compressor this build does not
    /// include (see the cargo features), an invalid payload, or an `uncompressedSize` that is
    /// out of bounds or does not match the payload (op-compressed.md).
    #[error("compression error: {message}")]
    Compression {
        /// What was wrong with the message.
        message: String,
    },
    /// The server answered a command with `ok: 0`.
    #[error("command failed with error {} ({}): {}", .0.code, .0.code_name, .0.message)]
    Command(CommandError),
    /// An option, URI or call argument is invalid.
    #[error("invalid argument: {message}")]
    InvalidArgument {
        /// What was wrong and with which option.
        message: String,
    },
    /// Host name resolution failed or produced no address.
    #[error("DNS resolution failed: {message}")]
    Dns {
        /// Why resolution failed.
        message: String,
    },
    /// A TLS certificate or host name could not be verified, or TLS could not be configured.
    #[error("TLS error: {message}")]
    Tls {
        /// The TLS library's explanation.
        message: String,
    },
    /// Authentication failed (wrong credentials, unsupported mechanism, a server that could not
    /// prove it knows the password).
    #[error("authentication failed: {message}")]
    Authentication {
        /// What failed.
        message: String,
    },
    /// `loadBalanced=true`, but the server's hello reply has no `serviceId` (load-balancers.md
    /// "Connection Establishment", which prescribes this message).
    #[error("Driver attempted to initialize in load balancing mode, but the server does not support this mode.")]
    LoadBalancingUnsupported,
    /// Check-out from a closed pool (CMAP `PoolClosedError`).
    #[error("Attempted to check out a connection from closed connection pool")]
    PoolClosed,
    /// Check-out from a paused pool, or a waiter evicted by `clear()` (CMAP `PoolClearedError`,
    /// retryable).
    #[error("Connection pool was cleared because another operation failed with: {cause}")]
    PoolCleared {
        /// Why the pool was cleared.
        cause: String,
    },
    /// No connection became available before the wait-queue timeout (CMAP
    /// `WaitQueueTimeoutError`).
    #[error(
        "{}",
        wait_queue_timeout_message(timeout, in_use, pending, available, waiters, max_pool_size, load_balanced)
    )]
    WaitQueueTimeout {
        /// The timeout that expired.
        timeout: Duration,
        /// Connections checked out at the moment of the timeout.
        in_use: u32,
        /// Connections being established.
        pending: u32,
        /// Connections idle in the pool.
        available: u32,
        /// Threads waiting in the queue, not counting the one that timed out.
        waiters: u32,
        /// The pool's maxPoolSize (0 = unlimited).
        max_pool_size: u32,
        /// In a load-balanced pool, what the connections in use are pinned to
        /// (load-balancers.md "Connection Tracking"); `None` otherwise.
        load_balanced: Option<InUseByPurpose>,
    },
    /// A connection was used after it had been closed or marked errored.
    #[error("the connection is closed")]
    ConnectionClosed,
    /// The pool interrupted this in-use connection while clearing with
    /// `interrupt_in_use_connections` (retryable, like [`ErrorKind::PoolCleared`]).
    #[error("Connection interrupted due to server monitor timeout")]
    ConnectionInterrupted,
    /// No server suitable for the operation was found within `serverSelectionTimeoutMS`
    /// (a [`crate::Client`] check-out).
    #[error("server selection timed out after {} ms: {message}", timeout.as_millis())]
    ServerSelectionTimeout {
        /// The timeout that expired.
        timeout: Duration,
        /// What the client knew about each server when it gave up.
        message: String,
    },
    /// The [`crate::Client`] was closed.
    #[error("the client is closed")]
    ClientClosed,
    /// An internal invariant did not hold. Seeing this is a bug in mongopool.
    #[error("internal error (a bug in mongopool): {message}")]
    Internal {
        /// What went wrong.
        message: String,
    },
}

/// A command failure reported by the server (`ok: 0`).
///
/// ```
/// use mongopool::{CommandError, Error, ErrorKind};
///
/// let err = Error::new(ErrorKind::Command(CommandError {
///     code: 11600,
///     code_name: "InterruptedAtShutdown".into(),
///     message: "interrupted at shutdown".into(),
/// }));
/// assert_eq!(err.code(), Some(11600));
/// match err.kind() {
///     ErrorKind::Command(c) => assert_eq!(c.code_name, "InterruptedAtShutdown"),
///     other => panic!("unexpected {other}"),
/// }
/// assert!(err.to_string().contains("11600 (InterruptedAtShutdown)"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CommandError {
    /// The numeric error code.
    pub code: i32,
    /// The error's name, e.g. `HostUnreachable`.
    pub code_name: String,
    /// The server's message.
    pub message: String,
}

impl Error {
    /// Creates an error of the given kind with no address and no labels.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mongopool::{Error, ErrorKind};
    /// let err = Error::new(ErrorKind::Timeout { operation: "read", after: Duration::from_secs(2) });
    /// assert_eq!(err.to_string(), "read timed out after 2000 ms");
    /// assert!(err.is_timeout() && err.is_network_error());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(kind: ErrorKind) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                address: None,
                labels: BTreeSet::new(),
            }),
        }
    }

    /// An [`ErrorKind::InvalidArgument`] error.
    ///
    /// ```
    /// let err = mongopool::Error::invalid_argument("maxPoolSize must be a number");
    /// assert!(matches!(err.kind(), mongopool::ErrorKind::InvalidArgument { .. }));
    /// assert!(!err.is_retryable());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument {
            message: message.into(),
        })
    }

    /// An [`ErrorKind::Protocol`] error.
    ///
    /// ```
    /// let err = mongopool::Error::protocol("reply shorter than its header");
    /// assert!(matches!(err.kind(), mongopool::ErrorKind::Protocol { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn protocol(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Protocol {
            message: message.into(),
        })
    }

    /// An [`ErrorKind::Authentication`] error.
    ///
    /// ```
    /// let err = mongopool::Error::authentication("server signature mismatch");
    /// assert!(matches!(err.kind(), mongopool::ErrorKind::Authentication { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn authentication(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Authentication {
            message: message.into(),
        })
    }

    /// An [`ErrorKind::Internal`] error.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal {
            message: message.into(),
        })
    }

    /// Classifies an I/O error, turning the socket timeouts into [`ErrorKind::Timeout`].
    pub(crate) fn from_io(err: std::io::Error, operation: &'static str, limit: Option<Duration>) -> Self {
        match (err.kind(), limit) {
            (std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut, Some(after)) => {
                Self::new(ErrorKind::Timeout { operation, after })
            }
            (kind, _) => Self::new(ErrorKind::Io {
                kind,
                source: Arc::new(err),
            }),
        }
    }

    /// What went wrong.
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
    /// pool.close();
    /// match pool.check_out().unwrap_err().kind() {
    ///     ErrorKind::PoolClosed { .. } => {} // expected
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }

    /// The server the error concerns, where known.
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
    /// pool.close();
    /// let err = pool.check_out().unwrap_err();
    /// assert_eq!(err.address().map(|a| a.to_string()).as_deref(), Some("db:27017"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn address(&self) -> Option<&ServerAddress> {
        self.inner.address.as_ref()
    }

    /// Sets the server address unless one is already set.
    ///
    /// ```
    /// let address: mongopool::ServerAddress = "db:27017".parse()?;
    /// let err = mongopool::Error::protocol("bad reply").with_address(&address);
    /// assert_eq!(err.address(), Some(&address));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_address(mut self, address: &ServerAddress) -> Self {
        if self.inner.address.is_none() {
            self.inner.address = Some(address.clone());
        }
        self
    }

    /// The error labels, sorted: those the pool added and those the server sent.
    ///
    /// ```
    /// let err = mongopool::Error::protocol("x").with_label("b").with_label("a");
    /// assert_eq!(err.error_labels().collect::<Vec<_>>(), ["a", "b"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn error_labels(&self) -> impl Iterator<Item = &str> {
        self.inner.labels.iter().map(String::as_str)
    }

    /// Whether the error carries `label`.
    ///
    /// ```
    /// use mongopool::error::RETRYABLE_ERROR;
    /// let err = mongopool::Error::protocol("x").with_label(RETRYABLE_ERROR);
    /// assert!(err.has_label(RETRYABLE_ERROR) && err.is_retryable());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn has_label(&self, label: &str) -> bool {
        self.inner.labels.contains(label)
    }

    /// Adds an error label.
    ///
    /// ```
    /// let mut err = mongopool::Error::protocol("x");
    /// err.add_label("TransientTransactionError");
    /// assert!(err.has_label("TransientTransactionError"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_label(&mut self, label: impl Into<String>) {
        self.inner.labels.insert(label.into());
    }

    /// Adds an error label, builder style.
    ///
    /// ```
    /// let err = mongopool::Error::protocol("x").with_label("SystemOverloadedError");
    /// assert!(err.has_label("SystemOverloadedError"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.add_label(label);
        self
    }

    /// Whether retrying the operation on a fresh connection may succeed: the error has the
    /// `RetryableError` label or is a [`ErrorKind::PoolCleared`].
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
    /// pool.clear(false); // a paused pool fails check-outs with a retryable PoolCleared error
    /// assert!(pool.check_out().unwrap_err().is_retryable());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_retryable(&self) -> bool {
        self.has_label(RETRYABLE_ERROR)
            || matches!(
                self.kind(),
                ErrorKind::PoolCleared { .. } | ErrorKind::ConnectionInterrupted
            )
    }

    /// Whether this is a network error or timeout (the connection that saw it is perished).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    /// let err = mongopool::Error::new(mongopool::ErrorKind::Io { kind: refused.kind(), source: Arc::new(refused) });
    /// assert!(err.is_network_error() && !err.is_timeout());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_network_error(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::Io { .. } | ErrorKind::Timeout { .. } | ErrorKind::ConnectionClosed
        )
    }

    /// Whether this is a network timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// let err = mongopool::Error::new(mongopool::ErrorKind::Timeout { operation: "connect", after: Duration::from_secs(1) });
    /// assert!(err.is_timeout());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind(), ErrorKind::Timeout { .. })
    }

    /// The server's error code for a [`ErrorKind::Command`] error.
    ///
    /// ```
    /// assert_eq!(mongopool::Error::protocol("x").code(), None); // only command errors have one
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn code(&self) -> Option<i32> {
        match self.kind() {
            ErrorKind::Command(c) => Some(c.code),
            _ => None,
        }
    }
}

/// The connections in use of a load-balanced pool by what they are pinned to
/// (load-balancers.md "Connection Tracking"; see [`crate::PooledConnection::pin`]).
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
/// use mongopool::{InUseByPurpose, PinnedTo};
/// pool.ready()?;
/// let mut conn = pool.check_out()?;
/// conn.pin(PinnedTo::Transaction);
/// assert_eq!(pool.in_use_by_purpose(), InUseByPurpose { cursors: 0, transactions: 1, other: 0 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InUseByPurpose {
    /// Connections pinned to cursors.
    pub cursors: u32,
    /// Connections pinned to transactions.
    pub transactions: u32,
    /// Connections in use for anything else.
    pub other: u32,
}

fn wait_queue_timeout_message(
    timeout: &Duration,
    in_use: &u32,
    pending: &u32,
    available: &u32,
    waiters: &u32,
    max_pool_size: &u32,
    load_balanced: &Option<InUseByPurpose>,
) -> String {
    if let Some(usage) = load_balanced {
        // The message load-balancers.md prescribes, then the counts the others share.
        return format!(
            "Timeout waiting for connection from the connection pool. maxPoolSize: {max_pool_size}, \
             connections in use by cursors: {}, connections in use by transactions: {}, \
             connections in use by other operations: {} (waited {} ms; {pending} pending, \
             {available} available, {waiters} other threads waiting)",
            usage.cursors,
            usage.transactions,
            usage.other,
            timeout.as_millis()
        );
    }
    let mut text = format!(
        "Timed out while checking out a connection from connection pool after {} ms: \
         {in_use} in use, {pending} pending, {available} available, {waiters} other threads waiting",
        timeout.as_millis()
    );
    if *max_pool_size > 0 {
        text.push_str(&format!(" (maxPoolSize {max_pool_size})"));
    }
    text
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The CMAP messages name the address first ("Connection pool for <address> was cleared").
        match (&self.inner.address, &self.inner.kind) {
            (Some(addr), ErrorKind::PoolCleared { cause }) => write!(
                f,
                "Connection pool for {addr} was cleared because another operation failed with: {cause}"
            )?,
            (Some(addr), ErrorKind::ConnectionInterrupted) => {
                write!(f, "Connection to {addr} interrupted due to server monitor timeout")?
            }
            (Some(addr), kind) => write!(f, "{addr}: {kind}")?,
            (None, kind) => write!(f, "{kind}")?,
        }
        if !self.inner.labels.is_empty() {
            let labels: Vec<&str> = self.error_labels().collect();
            write!(f, " [labels: {}]", labels.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("address", &self.inner.address.as_ref().map(|a| a.to_string()))
            .field("labels", &self.inner.labels)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.inner.kind {
            ErrorKind::Io { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_cleared_is_retryable_and_names_the_address() {
        let addr: ServerAddress = "db.example:27018".parse().unwrap();
        let err = Error::new(ErrorKind::PoolCleared {
            cause: "connection refused".into(),
        })
        .with_address(&addr);
        assert!(err.is_retryable());
        assert_eq!(
            err.to_string(),
            "Connection pool for db.example:27018 was cleared because another operation failed with: connection refused"
        );
    }

    #[test]
    fn wait_queue_timeout_message_has_the_counts() {
        let err = Error::new(ErrorKind::WaitQueueTimeout {
            timeout: Duration::from_millis(50),
            in_use: 4,
            pending: 1,
            available: 0,
            waiters: 7,
            max_pool_size: 5,
            load_balanced: None,
        });
        let text = err.to_string();
        assert!(text.starts_with("Timed out while checking out a connection from connection pool"));
        assert!(
            text.contains("4 in use, 1 pending, 0 available, 7 other threads waiting"),
            "{text}"
        );
    }

    #[test]
    fn load_balanced_wait_queue_timeout_message_is_the_specs() {
        let err = Error::new(ErrorKind::WaitQueueTimeout {
            timeout: Duration::from_millis(50),
            in_use: 6,
            pending: 0,
            available: 0,
            waiters: 2,
            max_pool_size: 6,
            load_balanced: Some(InUseByPurpose {
                cursors: 1,
                transactions: 2,
                other: 3,
            }),
        });
        assert!(
            err.to_string().starts_with(
                "Timeout waiting for connection from the connection pool. maxPoolSize: 6, connections in use \
                 by cursors: 1, connections in use by transactions: 2, connections in use by other operations: 3"
            ),
            "{err}"
        );
    }

    #[test]
    fn labels_are_kept_sorted_and_unique() {
        let err = Error::protocol("x")
            .with_label(SYSTEM_OVERLOADED_ERROR)
            .with_label(RETRYABLE_ERROR)
            .with_label(RETRYABLE_ERROR);
        let labels: Vec<&str> = err.error_labels().collect();
        assert_eq!(labels, vec![RETRYABLE_ERROR, SYSTEM_OVERLOADED_ERROR]);
        assert!(err.is_retryable());
    }

    #[test]
    fn io_timeouts_become_timeout_kind() {
        let io = std::io::Error::from(std::io::ErrorKind::WouldBlock);
        let err = Error::from_io(io, "read", Some(Duration::from_millis(10)));
        assert!(err.is_timeout());
        assert!(err.is_network_error());
    }
}
