//! An establisher of connections without sockets, for tests of pool logic.

use std::sync::Arc;

use mongopool::{Connection, Establisher, Interrupter, ServerAddress};

/// Establishes `Connection::detached` connections instantly.
pub struct Detached;

impl Establisher for Detached {
    fn establish(&self, address: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
        Ok(Connection::detached(address.clone()))
    }
}
