//! Server addresses: `host[:port]`, `[ipv6]:port` and Unix domain socket paths.
//!
//! ```
//! use mongopool::ServerAddress;
//!
//! let tcp: ServerAddress = "[::1]:27018".parse()?;
//! assert_eq!(tcp.port(), Some(27018));
//! assert_eq!(tcp.to_string(), "[::1]:27018");
//! assert!("db:0x1f".parse::<ServerAddress>().is_err());
//! # Ok::<(), mongopool::Error>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use crate::error::{Error, Result};

/// The port MongoDB listens on unless told otherwise.
///
/// ```
/// use mongopool::address::DEFAULT_PORT;
/// use mongopool::ServerAddress;
///
/// let address: ServerAddress = "db.example.com".parse()?;
/// assert_eq!(address.to_string(), format!("db.example.com:{DEFAULT_PORT}"));
/// # Ok::<(), mongopool::Error>(())
/// ```
pub const DEFAULT_PORT: u16 = 27017;

/// The address of one MongoDB server.
///
/// Cloning one is a reference-count increment (the host and path are shared, not copied), so
/// every CMAP event can carry its pool's address without allocating.
///
/// `Display` gives the form the CMAP events and log messages use: `host:port`, `[::1]:port` for
/// IPv6 literals, and the path for Unix domain sockets.
///
/// ```
/// use mongopool::ServerAddress;
/// let a: ServerAddress = "Example.COM".parse().unwrap();
/// assert_eq!(a.to_string(), "example.com:27017");
/// let b: ServerAddress = "[::1]:27018".parse().unwrap();
/// assert_eq!(b.port(), Some(27018));
/// assert_eq!(b.to_string(), "[::1]:27018");
/// let c: ServerAddress = "/tmp/mongodb-27017.sock".parse().unwrap();
/// assert!(c.is_unix());
/// assert!("host:99999".parse::<ServerAddress>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerAddress {
    /// A host name or IP literal and a port.
    Tcp {
        /// Host name (lower-cased) or IP literal, without brackets.
        host: Arc<str>,
        /// The port.
        port: u16,
    },
    /// A Unix domain socket.
    Unix {
        /// The socket's path.
        path: Arc<Path>,
    },
}

impl ServerAddress {
    /// A TCP address.
    ///
    /// ```
    /// use mongopool::ServerAddress;
    /// assert_eq!(ServerAddress::tcp("DB.example", 27018).to_string(), "db.example:27018");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tcp(host: impl Into<String>, port: u16) -> Self {
        ServerAddress::Tcp {
            host: host.into().to_ascii_lowercase().into(),
            port,
        }
    }

    /// A Unix domain socket address.
    ///
    /// ```
    /// use mongopool::ServerAddress;
    /// let address = ServerAddress::unix("/tmp/mongodb-27017.sock");
    /// assert!(address.is_unix());
    /// assert_eq!(address.port(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unix(path: impl Into<PathBuf>) -> Self {
        ServerAddress::Unix {
            path: Arc::from(path.into()),
        }
    }

    /// The host name, IP literal or socket path (the CMAP log field `serverHost`).
    ///
    /// ```
    /// use mongopool::ServerAddress;
    /// assert_eq!(ServerAddress::parse("[::1]:27017")?.host(), "::1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn host(&self) -> std::borrow::Cow<'_, str> {
        match self {
            ServerAddress::Tcp { host, .. } => std::borrow::Cow::Borrowed(host),
            ServerAddress::Unix { path } => path.to_string_lossy(),
        }
    }

    /// The port; `None` for Unix domain sockets (the CMAP log field `serverPort`).
    ///
    /// ```
    /// use mongopool::ServerAddress;
    /// assert_eq!(ServerAddress::parse("db")?.port(), Some(mongopool::address::DEFAULT_PORT));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn port(&self) -> Option<u16> {
        match self {
            ServerAddress::Tcp { port, .. } => Some(*port),
            ServerAddress::Unix { .. } => None,
        }
    }

    /// Whether this is a Unix domain socket.
    ///
    /// ```
    /// use mongopool::ServerAddress;
    /// assert!(ServerAddress::parse("/run/mongodb.sock")?.is_unix());
    /// assert!(!ServerAddress::parse("db:27017")?.is_unix());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_unix(&self) -> bool {
        matches!(self, ServerAddress::Unix { .. })
    }

    /// The socket path of a Unix domain socket address.
    ///
    /// ```
    /// use mongopool::ServerAddress;
    /// let address = ServerAddress::parse("/run/mongodb.sock")?;
    /// assert_eq!(address.unix_path(), Some(std::path::Path::new("/run/mongodb.sock")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unix_path(&self) -> Option<&Path> {
        match self {
            ServerAddress::Unix { path } => Some(path),
            ServerAddress::Tcp { .. } => None,
        }
    }

    /// Parses `host`, `host:port`, `[v6]`, `[v6]:port` or a path ending in `.sock`.
    ///
    /// ```
    /// use mongopool::ServerAddress;
    /// assert_eq!(ServerAddress::parse("db.example:27018")?, ServerAddress::tcp("db.example", 27018));
    /// let err = ServerAddress::parse("db:notaport").unwrap_err();
    /// assert!(err.to_string().contains("db:notaport"), "{err}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(input: &str) -> Result<Self> {
        let bad = |why: &str| Error::invalid_argument(format!("invalid server address {input:?}: {why}"));
        if input.is_empty() {
            return Err(bad("empty"));
        }
        if input.ends_with(".sock") {
            if input.starts_with('/') || input.contains('/') {
                return Ok(ServerAddress::unix(input));
            }
            return Err(bad("a Unix domain socket path must contain '/'"));
        }
        let (host, port) = if let Some(rest) = input.strip_prefix('[') {
            let end = rest.find(']').ok_or_else(|| bad("missing ']' after IPv6 literal"))?;
            let host = &rest[..end];
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad("not an IPv6 literal"));
            }
            let after = &rest[end + 1..];
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| bad("unexpected text after ']'"))?),
            };
            (host, port)
        } else {
            match input.rsplit_once(':') {
                Some((h, _)) if h.contains(':') => return Err(bad("IPv6 literals must be enclosed in '[' and ']'")),
                Some((h, p)) => (h, Some(p)),
                None => (input, None),
            }
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        if host
            .chars()
            .any(|c| c.is_whitespace() || c == '/' || c == '?' || c == '@')
        {
            return Err(bad("host contains an invalid character"));
        }
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(bad("port must be an integer from 1 to 65535")),
                Ok(n) => n,
            },
        };
        Ok(ServerAddress::tcp(host, port))
    }
}

impl FromStr for ServerAddress {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ServerAddress::parse(s)
    }
}

impl fmt::Display for ServerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerAddress::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            ServerAddress::Tcp { host, port } => write!(f, "{host}:{port}"),
            ServerAddress::Unix { path } => write!(f, "{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms() {
        assert_eq!(
            ServerAddress::parse("localhost").unwrap(),
            ServerAddress::tcp("localhost", 27017)
        );
        assert_eq!(ServerAddress::parse("a.b:1").unwrap(), ServerAddress::tcp("a.b", 1));
        assert_eq!(
            ServerAddress::parse("127.0.0.1:27018").unwrap().to_string(),
            "127.0.0.1:27018"
        );
        assert_eq!(ServerAddress::parse("[::1]").unwrap().to_string(), "[::1]:27017");
        assert_eq!(ServerAddress::parse("[fe80::1]:9").unwrap().host(), "fe80::1");
        assert_eq!(
            ServerAddress::parse("/var/run/mongodb.sock").unwrap(),
            ServerAddress::unix("/var/run/mongodb.sock")
        );
    }

    #[test]
    fn rejects_bad_input_with_typed_errors() {
        for bad in [
            "",
            ":27017",
            "h:0",
            "h:65536",
            "h:x",
            "::1",
            "[::1",
            "[nothost]:1",
            "[::1]x",
            "a b:1",
        ] {
            let err = ServerAddress::parse(bad).unwrap_err();
            assert!(
                matches!(err.kind(), crate::ErrorKind::InvalidArgument { .. }),
                "{bad:?} gave {err:?}"
            );
        }
    }
}
