//! The small value types a connection string option can hold.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{Error, Result};

/// A read preference tag set (`readPreferenceTags=dc:ny,rack:1`); empty matches any server.
///
/// ```
/// use mongopool::uri::{ConnectionString, TagSet};
///
/// let cs = ConnectionString::parse("mongodb://h/?readPreference=nearest&readPreferenceTags=dc:ny,rack:1&readPreferenceTags=")?;
/// let tags: Vec<TagSet> = cs.read_preference_tags.unwrap();
/// assert_eq!(tags[0].get("dc").map(String::as_str), Some("ny"));
/// assert_eq!(tags[0].len(), 2);
/// assert!(tags[1].is_empty()); // the empty set matches any server
/// # Ok::<(), mongopool::Error>(())
/// ```
pub type TagSet = BTreeMap<String, String>;

/// `serverMonitoringMode` (server-monitoring.md).
///
/// mongopool's monitors only implement the polling protocol. `stream` and `auto` are accepted
/// because the spec lists them as valid, but parsing them records a warning in
/// [`ConnectionString::warnings`](super::ConnectionString::warnings): they behave like `poll`.
///
/// ```
/// use mongopool::uri::ServerMonitoringMode;
/// let cs = mongopool::uri::parse("mongodb://db/?serverMonitoringMode=poll")?;
/// assert_eq!(cs.server_monitoring_mode, Some(ServerMonitoringMode::Poll));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerMonitoringMode {
    /// Poll with `hello` every `heartbeatFrequencyMS` (the only mode mongopool implements).
    Poll,
    /// Use the streaming protocol where the server supports it (treated as `Poll`).
    Stream,
    /// Stream unless running on a FaaS platform (treated as `Poll`).
    Auto,
}

impl ServerMonitoringMode {
    /// The option value as written in a connection string.
    ///
    /// ```
    /// assert_eq!(mongopool::uri::ServerMonitoringMode::Stream.as_str(), "stream");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ServerMonitoringMode::Poll => "poll",
            ServerMonitoringMode::Stream => "stream",
            ServerMonitoringMode::Auto => "auto",
        }
    }
}

/// `readPreference` modes (server selection spec).
///
/// ```
/// use mongopool::uri::ReadPreferenceMode;
/// let cs = mongopool::uri::parse("mongodb://db/?readPreference=secondaryPreferred")?;
/// assert_eq!(cs.read_preference, Some(ReadPreferenceMode::SecondaryPreferred));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadPreferenceMode {
    /// Only the primary.
    Primary,
    /// The primary if available, else a secondary.
    PrimaryPreferred,
    /// Only secondaries.
    Secondary,
    /// A secondary if available, else the primary.
    SecondaryPreferred,
    /// Any member within the latency window.
    Nearest,
}

impl ReadPreferenceMode {
    /// The option value as written in a connection string.
    ///
    /// ```
    /// assert_eq!(mongopool::uri::ReadPreferenceMode::Nearest.as_str(), "nearest");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ReadPreferenceMode::Primary => "primary",
            ReadPreferenceMode::PrimaryPreferred => "primaryPreferred",
            ReadPreferenceMode::Secondary => "secondary",
            ReadPreferenceMode::SecondaryPreferred => "secondaryPreferred",
            ReadPreferenceMode::Nearest => "nearest",
        }
    }

    pub(crate) fn parse(value: &str) -> Option<Self> {
        [
            ReadPreferenceMode::Primary,
            ReadPreferenceMode::PrimaryPreferred,
            ReadPreferenceMode::Secondary,
            ReadPreferenceMode::SecondaryPreferred,
            ReadPreferenceMode::Nearest,
        ]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(value))
    }
}

/// The `w` option: how many acknowledgements a write waits for.
///
/// ```
/// use mongopool::uri::Acknowledgment;
/// assert_eq!(mongopool::uri::parse("mongodb://db/?w=majority")?.w, Some(Acknowledgment::Majority));
/// assert_eq!(mongopool::uri::parse("mongodb://db/?w=2")?.w, Some(Acknowledgment::Nodes(2)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Acknowledgment {
    /// A number of members (`w=0` means unacknowledged).
    Nodes(u32),
    /// `w=majority`.
    Majority,
    /// A custom write concern name defined on the replica set.
    Custom(String),
}

/// An authentication mechanism (`authMechanism`, auth.md).
///
/// Parsing only validates the credential's shape; which mechanisms the handshake can perform
/// is decided when connecting.
///
/// ```
/// use mongopool::uri::AuthMechanism;
/// assert_eq!(AuthMechanism::parse("SCRAM-SHA-256")?, AuthMechanism::ScramSha256);
/// assert!(AuthMechanism::parse("SCRAM-MD5").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthMechanism {
    /// `SCRAM-SHA-1`.
    ScramSha1,
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `PLAIN` (LDAP).
    Plain,
    /// `GSSAPI` (Kerberos).
    Gssapi,
    /// `MONGODB-X509`.
    MongoDbX509,
    /// `MONGODB-AWS`.
    MongoDbAws,
    /// `MONGODB-OIDC`.
    MongoDbOidc,
}

impl AuthMechanism {
    const ALL: [AuthMechanism; 7] = [
        AuthMechanism::ScramSha1,
        AuthMechanism::ScramSha256,
        AuthMechanism::Plain,
        AuthMechanism::Gssapi,
        AuthMechanism::MongoDbX509,
        AuthMechanism::MongoDbAws,
        AuthMechanism::MongoDbOidc,
    ];

    /// The mechanism's name as written in `authMechanism`.
    ///
    /// ```
    /// assert_eq!(mongopool::uri::AuthMechanism::ScramSha1.as_str(), "SCRAM-SHA-1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMechanism::ScramSha1 => "SCRAM-SHA-1",
            AuthMechanism::ScramSha256 => "SCRAM-SHA-256",
            AuthMechanism::Plain => "PLAIN",
            AuthMechanism::Gssapi => "GSSAPI",
            AuthMechanism::MongoDbX509 => "MONGODB-X509",
            AuthMechanism::MongoDbAws => "MONGODB-AWS",
            AuthMechanism::MongoDbOidc => "MONGODB-OIDC",
        }
    }

    /// Parses a mechanism name (ASCII case-insensitively).
    ///
    /// ```
    /// use mongopool::uri::AuthMechanism;
    /// assert_eq!(AuthMechanism::parse("scram-sha-256").unwrap(), AuthMechanism::ScramSha256);
    /// assert!(AuthMechanism::parse("MONGODB-CR").is_err());
    /// ```
    ///
    /// ```
    /// use mongopool::uri::AuthMechanism;
    /// assert_eq!(AuthMechanism::parse("PLAIN")?, AuthMechanism::Plain);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|m| m.as_str()).collect();
                Error::invalid_argument(format!(
                    "authMechanism: unknown mechanism {name:?}; expected one of {}",
                    known.join(", ")
                ))
            })
    }
}

impl fmt::Display for AuthMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
