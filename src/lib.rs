//! mongopool: a synchronous, thread-based MongoDB connection pool implementing the Connection
//! Monitoring and Pooling (CMAP) specification.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod address;
pub mod conn;
pub mod error;
pub mod wire;

pub use address::ServerAddress;
pub use conn::{Connection, ConnectionOptions, DriverInfo, HelloReply};
pub use error::{CommandError, Error, ErrorKind, Result};
