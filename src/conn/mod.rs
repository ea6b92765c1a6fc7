//! Connections: sockets, the handshake and the command round trip.
//!
//! ```
//! use mongopool::conn::{client_metadata, hello_command};
//! use mongopool::{Connection, ConnectionOptions};
//!
//! let options = ConnectionOptions { app_name: Some("inventory".into()), ..ConnectionOptions::default() };
//! options.validate()?;
//! // What a connection sends first.
//! let hello = hello_command(&options, &client_metadata(&options)?);
//! assert_eq!(hello.get_document("client")?.get_document("application")?.get_str("name")?, "inventory");
//! // A connection without a socket, for code that only moves connections around.
//! let conn = Connection::detached("db:27017".parse()?);
//! assert_eq!(conn.address().to_string(), "db:27017");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod connection;
mod handshake;
mod options;
mod stream;
mod tls;

pub use connection::Connection;
pub use handshake::{
    client_metadata, hello_command, HelloReply, DRIVER_NAME, DRIVER_VERSION, MAX_CLIENT_METADATA_BYTES,
};
pub use options::{ConnectionOptions, DriverInfo, DEFAULT_CONNECT_TIMEOUT, MAX_APP_NAME_BYTES};
pub use stream::Interrupter;
pub use tls::TlsOptions;
