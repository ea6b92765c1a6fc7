//! What a client knows about one server: its type from the last check, and which servers are
//! suitable for a check-out.

use bson::Bson;

use crate::conn::HelloReply;

/// A server's type, from the last hello reply (the SDAM `ServerType`).
///
/// ```no_run
/// use mongopool::{Client, ServerType};
/// let client = Client::with_uri("mongodb://localhost:27017")?;
/// drop(client.check_out()?); // waits for the monitor's first check
/// let address = &client.servers()[0];
/// assert!(matches!(client.server_type(address), Some(ServerType::Standalone | ServerType::RsPrimary)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerType {
    /// Not checked yet, or the last check failed.
    Unknown,
    /// A standalone `mongod`.
    Standalone,
    /// A `mongos` router.
    Mongos,
    /// The replica set primary.
    RsPrimary,
    /// A replica set secondary.
    RsSecondary,
    /// A replica set arbiter.
    RsArbiter,
    /// Another replica set member (hidden, starting up, recovering).
    RsOther,
    /// A member of a replica set that is not initialised yet.
    RsGhost,
    /// A load balancer (`loadBalanced=true`; never checked).
    LoadBalancer,
}

impl ServerType {
    /// Classifies a hello reply (SDAM "parsing a hello or legacy hello response").
    pub(crate) fn from_hello(reply: &HelloReply) -> ServerType {
        let raw = &reply.raw;
        let flag = |key: &str| matches!(raw.get(key), Some(Bson::Boolean(true)));
        if raw.get_str("msg").is_ok_and(|m| m == "isdbgrid") {
            ServerType::Mongos
        } else if flag("isreplicaset") {
            ServerType::RsGhost
        } else if reply.set_name.is_some() {
            if reply.is_writable_primary {
                ServerType::RsPrimary
            } else if flag("secondary") {
                ServerType::RsSecondary
            } else if flag("arbiterOnly") {
                ServerType::RsArbiter
            } else {
                ServerType::RsOther
            }
        } else {
            ServerType::Standalone
        }
    }

    /// Whether a check-out may use this server: what server selection with read preference
    /// `primary` accepts. In a direct connection (Single topology) any known server is
    /// suitable; otherwise a primary, a mongos, or a standalone when it is the only server.
    pub(crate) fn is_suitable(self, direct: bool, only_server: bool) -> bool {
        match self {
            ServerType::Unknown => false,
            _ if direct => true,
            ServerType::RsPrimary | ServerType::Mongos | ServerType::LoadBalancer => true,
            ServerType::Standalone => only_server,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn kind(raw: bson::Document) -> ServerType {
        ServerType::from_hello(&HelloReply::from_document(raw).unwrap())
    }

    #[test]
    fn classifies_hello_replies() {
        assert_eq!(kind(doc! { "ismaster": true }), ServerType::Standalone);
        assert_eq!(kind(doc! { "ismaster": true, "msg": "isdbgrid" }), ServerType::Mongos);
        assert_eq!(
            kind(doc! { "isWritablePrimary": true, "setName": "rs" }),
            ServerType::RsPrimary
        );
        assert_eq!(
            kind(doc! { "isWritablePrimary": false, "secondary": true, "setName": "rs" }),
            ServerType::RsSecondary
        );
        assert_eq!(
            kind(doc! { "arbiterOnly": true, "setName": "rs" }),
            ServerType::RsArbiter
        );
        assert_eq!(kind(doc! { "setName": "rs" }), ServerType::RsOther);
        assert_eq!(kind(doc! { "isreplicaset": true }), ServerType::RsGhost);
    }

    #[test]
    fn suitability_follows_primary_read_preference() {
        assert!(!ServerType::Unknown.is_suitable(true, true));
        assert!(ServerType::RsSecondary.is_suitable(true, true));
        assert!(!ServerType::RsSecondary.is_suitable(false, true));
        assert!(ServerType::RsPrimary.is_suitable(false, false));
        assert!(ServerType::Standalone.is_suitable(false, true));
        assert!(!ServerType::Standalone.is_suitable(false, false));
    }
}
