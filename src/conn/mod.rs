//! Connections: sockets, the handshake and the command round trip.

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
