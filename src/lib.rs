//! mongopool: a synchronous, thread-based MongoDB connection pool implementing the Connection
//! Monitoring and Pooling (CMAP) specification.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod address;
pub mod auth;
pub mod conn;
pub mod error;
pub mod events;
pub mod pool;
pub mod uri;
pub mod wire;

pub use address::ServerAddress;
pub use conn::{Connection, ConnectionOptions, DriverInfo, HelloReply, Interrupter};
pub use error::{CommandError, Error, ErrorKind, Result};
pub use events::{CmapEvent, CmapEventHandler};
pub use pool::{Establisher, Pool, PoolBuilder, PoolOptions, PoolState, PoolStatus, PooledConnection};
