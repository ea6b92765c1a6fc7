//! A synchronous, thread-based MongoDB connection pool implementing the Connection Monitoring
//! and Pooling (CMAP) specification, for blocking Rust programs.
//!
//! ```no_run
//! use mongopool::{Pool, PoolOptions};
//!
//! let pool = Pool::new("localhost:27017".parse()?, PoolOptions::builder().max_pool_size(10).build()?)?;
//! pool.ready()?; // pools start paused
//! let mut conn = pool.check_out()?; // a RAII guard: dropping it checks the connection in
//! let reply = conn.run_command("admin", bson::doc! { "ping": 1 })?;
//! # Ok::<(), mongopool::Error>(())
//! ```
//!
//! # The pool's life cycle
//!
//! ```text
//!              ready()                     close()
//!   ┌────────┐ ──────────────▶ ┌───────┐ ───────────▶ ┌────────┐
//!   │ paused │                 │ ready │               │ closed │  (final)
//!   └────────┘ ◀────────────── └───────┘               └────────┘
//!     ▲   │      clear()           │                        ▲
//!     │   └─────────── close() ────┼────────────────────────┘
//!     └── new()
//! ```
//!
//! - **paused** (after [`Pool::new`] and every [`Pool::clear`]): check-outs fail at once with a
//!   retryable [`ErrorKind::PoolCleared`]; nothing is created in the background. A server
//!   monitor calls [`Pool::ready`] after a successful check.
//! - **ready**: check-outs are served in FIFO order; the background thread keeps
//!   `minPoolSize` connections and closes idle and stale ones.
//! - **closed**: check-outs fail with [`ErrorKind::PoolClosed`]; connections checked in are
//!   closed. Dropping the last [`Pool`] handle closes the pool.
//!
//! # A connection's life cycle
//!
//! ```text
//!   created ──▶ pending ──establish──▶ available ◀──check in── in use
//!               (TCP, handshake)          │  └──check out──────▶ ▲
//!                  │ error                │ stale / idle /       │
//!                  ▼                      ▼ pool closed          │ errored, stale or
//!                closed ◀─────────────────┴──────────────────────┘ pool closed at check-in
//! ```
//!
//! Every transition emits a CMAP event ([`CmapEvent`]) to subscribers ([`Pool::subscribe`],
//! [`PoolBuilder::event_sender`], [`CmapEventHandler`]) and a debug-level log message through
//! the `log` facade (target [`pool::LOG_TARGET`]). With no subscriber and no logger, no event
//! is built.
//!
//! # Waiting, timeouts and errors
//!
//! A check-out that finds no available connection either creates one (at most `maxConnecting`
//! at once, never past `maxPoolSize`) or joins a strict FIFO wait queue. It fails with
//! [`ErrorKind::WaitQueueTimeout`] after `waitQueueTimeoutMS`, with a message that gives the
//! pool's counts; with [`ErrorKind::PoolCleared`] when the pool is cleared meanwhile; or with
//! the error that establishing its connection met. [`Error::is_retryable`] tells whether a
//! retry on a fresh connection may succeed.
//!
//! # A client: pools for a deployment
//!
//! A [`Client`] built from a connection string creates one pool per server, all with the same
//! options, and one monitor thread per server (server-monitoring.md, polling protocol) that
//! marks the server's pool ready after a successful check and clears it after a failed one;
//! hosts that a replica set member lists get pools too, unless `directConnection=true`.
//!
//! ```no_run
//! let client = mongopool::Client::with_uri("mongodb://localhost:27017/?maxPoolSize=10")?;
//! let mut conn = client.check_out()?; // no ready() call: the monitor does it
//! conn.run_command("admin", bson::doc! { "ping": 1 })?;
//! # Ok::<(), mongopool::Error>(())
//! ```
//!
//! # Fork safety
//!
//! Connections are not fork-safe. A pool used in a forked child notices the fork at its next
//! check-out, clears itself (closing the inherited connections, which it stops counting) and
//! starts a new background thread. Forking a multi-threaded process is itself hazardous: the
//! safe way to fork is before creating any pool, or to `exec` in the child.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod address;
pub mod auth;
pub mod client;
pub mod conn;
pub mod error;
pub mod events;
pub mod pool;
pub mod timeline;
pub mod uri;
pub mod wire;

pub use address::ServerAddress;
pub use client::{Client, ClientBuilder, ClientOptions, ClientOptionsBuilder, ServerType, TlsOptions};
pub use conn::{Connection, ConnectionOptions, DriverInfo, HelloReply, Interrupter};
pub use error::{CommandError, Error, ErrorKind, InUseByPurpose, Result};
pub use events::{CmapEvent, CmapEventHandler};
pub use pool::{Establisher, PinnedTo, Pool, PoolBuilder, PoolOptions, PoolState, PoolStatus, PooledConnection};
