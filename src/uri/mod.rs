//! Parsing `mongodb://` connection strings (connection-string.md, uri-options.md, auth.md).
//!
//! [`ConnectionString`] records what a URI says: hosts, credential, default database and every
//! option mongopool understands, each `None` when the URI does not set it. Defaults are applied
//! later, by whoever turns a `ConnectionString` into pool options.
//!
//! Following the specs, an invalid value of a known option is ignored with a warning, while
//! malformed syntax, conflicting options and invalid credentials are errors
//! ([`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument), naming the option).
//! Warnings are collected in [`ConnectionString::warnings`], never printed or logged here.
//!
//! Neither the password nor other secret values (`tlsCertificateKeyFilePassword`,
//! `authMechanismProperties`) appear in `Debug` output, error messages, warnings or
//! [`ConnectionString::redacted`].
//!
//! ```
//! use mongopool::uri::ConnectionString;
//! let cs: ConnectionString = "mongodb://app:s3cr%40t@db1:27018,db2/inventory?maxPoolSize=20&appName=inv"
//!     .parse()
//!     .unwrap();
//! assert_eq!(cs.hosts.len(), 2);
//! assert_eq!(cs.max_pool_size, Some(20));
//! let cred = cs.credential.as_ref().unwrap();
//! assert_eq!(cred.password.as_deref(), Some("s3cr@t"));
//! assert_eq!(cred.source, "inventory");
//! assert!(!format!("{cs:?}").contains("s3cr"));
//! assert_eq!(cs.redacted(), "mongodb://app:***@db1:27018,db2/inventory?maxPoolSize=20&appName=inv");
//! ```

mod auth;
mod hosts;
mod options;
mod percent;
mod types;
mod values;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

pub use auth::Credential;
pub use types::{Acknowledgment, AuthMechanism, ReadPreferenceMode, ServerMonitoringMode, TagSet};

use crate::address::ServerAddress;
use crate::error::{Error, Result};

const SCHEME: &str = "mongodb://";
const SRV_SCHEME: &str = "mongodb+srv://";

/// Parses a `mongodb://` connection string. Same as [`ConnectionString::parse`].
///
/// ```
/// let cs = mongopool::uri::parse("mongodb://localhost/?connectTimeoutMS=2500").unwrap();
/// assert_eq!(cs.connect_timeout, Some(std::time::Duration::from_millis(2500)));
/// ```
pub fn parse(uri: &str) -> Result<ConnectionString> {
    ConnectionString::parse(uri)
}

/// A parsed `mongodb://` connection string.
///
/// Every option field is `None` unless the URI sets it to a valid value. Durations come from
/// the `...MS` options (`maxStalenessSeconds` is in seconds); a zero `connect_timeout`,
/// `socket_timeout` or `timeout` means "no timeout", as in the spec.
///
/// TLS is never enabled implicitly: `tls` is `Some(true)` only when `tls=true` or `ssl=true` is
/// written; other `tls*` options alone do not turn it on.
///
/// ```
/// use std::time::Duration;
/// let cs = mongopool::uri::parse("mongodb://a:27017,b:27018/app?maxPoolSize=20&waitQueueTimeoutMS=500")?;
/// assert_eq!(cs.hosts.len(), 2);
/// assert_eq!(cs.default_database.as_deref(), Some("app"));
/// assert_eq!((cs.max_pool_size, cs.wait_queue_timeout), (Some(20), Some(Duration::from_millis(500))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionString {
    /// The seed list, in URI order.
    pub hosts: Vec<ServerAddress>,
    /// The credential, when the URI has user information (`user@`) or `authMechanism`.
    pub credential: Option<Credential>,
    /// The database between the hosts and the options, percent-decoded.
    pub default_database: Option<String>,

    /// `maxPoolSize` (0 means unlimited).
    pub max_pool_size: Option<u32>,
    /// `minPoolSize`.
    pub min_pool_size: Option<u32>,
    /// `maxIdleTimeMS`.
    pub max_idle_time: Option<Duration>,
    /// `maxConnecting` (at least 1).
    pub max_connecting: Option<u32>,
    /// `waitQueueTimeoutMS`.
    pub wait_queue_timeout: Option<Duration>,

    /// `appName` (at most 128 bytes).
    pub app_name: Option<String>,
    /// `connectTimeoutMS` (zero: no timeout).
    pub connect_timeout: Option<Duration>,
    /// `socketTimeoutMS` (zero: no timeout).
    pub socket_timeout: Option<Duration>,
    /// `timeoutMS`, the client-side operation timeout (zero: no timeout).
    pub timeout: Option<Duration>,
    /// `compressors`, lower-cased, unknown names dropped with a warning.
    pub compressors: Option<Vec<String>>,
    /// `zlibCompressionLevel`, -1 to 9.
    pub zlib_compression_level: Option<i32>,
    /// `directConnection`.
    pub direct_connection: Option<bool>,
    /// `loadBalanced`.
    pub load_balanced: Option<bool>,
    /// `replicaSet`.
    pub replica_set: Option<String>,

    /// `heartbeatFrequencyMS` (at least 500 ms).
    pub heartbeat_frequency: Option<Duration>,
    /// `serverMonitoringMode`; see [`ServerMonitoringMode`] for how `stream` and `auto` behave.
    pub server_monitoring_mode: Option<ServerMonitoringMode>,
    /// `serverSelectionTimeoutMS`.
    pub server_selection_timeout: Option<Duration>,
    /// `serverSelectionTryOnce`.
    pub server_selection_try_once: Option<bool>,
    /// `localThresholdMS`.
    pub local_threshold: Option<Duration>,

    /// `tls`, or its alias `ssl` (all occurrences must agree).
    pub tls: Option<bool>,
    /// `tlsCAFile`.
    pub tls_ca_file: Option<PathBuf>,
    /// `tlsCertificateKeyFile`.
    pub tls_certificate_key_file: Option<PathBuf>,
    /// `tlsCertificateKeyFilePassword` (redacted in `Debug`).
    pub tls_certificate_key_file_password: Option<String>,
    /// `tlsAllowInvalidCertificates`.
    pub tls_allow_invalid_certificates: Option<bool>,
    /// `tlsAllowInvalidHostnames`.
    pub tls_allow_invalid_hostnames: Option<bool>,
    /// `tlsInsecure`: both of the above at once (the spec forbids combining them).
    pub tls_insecure: Option<bool>,
    /// `tlsDisableOCSPEndpointCheck`.
    pub tls_disable_ocsp_endpoint_check: Option<bool>,
    /// `tlsDisableCertificateRevocationCheck`.
    pub tls_disable_certificate_revocation_check: Option<bool>,

    /// `authSource` as written (the resolved source is [`Credential::source`]).
    pub auth_source: Option<String>,
    /// `authMechanism` as written.
    pub auth_mechanism: Option<AuthMechanism>,
    /// `authMechanismProperties` as written, known property names upper-cased (redacted in
    /// `Debug`).
    pub auth_mechanism_properties: Option<BTreeMap<String, String>>,

    /// `retryWrites`.
    pub retry_writes: Option<bool>,
    /// `retryReads`.
    pub retry_reads: Option<bool>,
    /// `w`.
    pub w: Option<Acknowledgment>,
    /// `wTimeoutMS`.
    pub w_timeout: Option<Duration>,
    /// `journal`.
    pub journal: Option<bool>,
    /// `readConcernLevel` (any string; the server validates it).
    pub read_concern_level: Option<String>,
    /// `readPreference`.
    pub read_preference: Option<ReadPreferenceMode>,
    /// `readPreferenceTags`, one tag set per occurrence, in order.
    pub read_preference_tags: Option<Vec<TagSet>>,
    /// `maxStalenessSeconds` (`-1`, "no maximum", leaves this `None`).
    pub max_staleness: Option<Duration>,
    /// `maxAdaptiveRetries` (client backpressure).
    pub max_adaptive_retries: Option<u32>,
    /// `enableOverloadRetargeting` (client backpressure).
    pub enable_overload_retargeting: Option<bool>,

    /// Problems that did not make the URI invalid: unknown options, ignored invalid values,
    /// repeated keys, accepted-but-unimplemented values. Never contains secret values.
    pub warnings: Vec<String>,

    /// The URI with secrets masked, built while parsing.
    redacted: String,
}

impl ConnectionString {
    /// Parses a `mongodb://` connection string.
    ///
    /// `mongodb+srv://` is rejected with an [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) error: DNS seed
    /// list discovery is not implemented yet.
    ///
    /// ```
    /// use mongopool::uri::ConnectionString;
    /// use mongopool::ErrorKind;
    ///
    /// let cs = ConnectionString::parse("mongodb://[::1]:27018/?replicaSet=rs0&fooBar=1").unwrap();
    /// assert_eq!(cs.hosts[0].to_string(), "[::1]:27018");
    /// assert_eq!(cs.replica_set.as_deref(), Some("rs0"));
    /// assert_eq!(cs.warnings.len(), 1); // the unknown option
    ///
    /// let err = ConnectionString::parse("mongodb://h/?minPoolSize=5&maxPoolSize=2").unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::InvalidArgument { .. }));
    /// assert!(err.to_string().contains("minPoolSize"));
    /// ```
    pub fn parse(uri: &str) -> Result<Self> {
        let rest = strip_scheme(uri)?;
        let parts = split(rest)?;

        let userinfo = parts.userinfo.map(hosts::parse_userinfo).transpose()?;
        let hosts = hosts::parse_hosts(parts.hosts)?;
        let default_database = parse_database(parts.database)?;

        let mut cs = ConnectionString::empty(hosts, default_database);
        let query = options::parse_query(&mut cs, parts.query)?;

        cs.credential = auth::credential(&cs, userinfo.as_ref())?;
        cs.redacted = redact(&parts, userinfo.as_ref(), &query);
        Ok(cs)
    }

    /// The connection string with the password and other secret option values replaced by
    /// `***`, for logs and error reports.
    ///
    /// ```
    /// use mongopool::uri::ConnectionString;
    /// let cs = ConnectionString::parse(
    ///     "mongodb://u:pw@h/?tls=true&tlsCertificateKeyFilePassword=hunter2",
    /// )
    /// .unwrap();
    /// assert_eq!(cs.redacted(), "mongodb://u:***@h/?tls=true&tlsCertificateKeyFilePassword=***");
    /// ```
    pub fn redacted(&self) -> String {
        self.redacted.clone()
    }

    fn empty(hosts: Vec<ServerAddress>, default_database: Option<String>) -> Self {
        ConnectionString {
            hosts,
            credential: None,
            default_database,
            max_pool_size: None,
            min_pool_size: None,
            max_idle_time: None,
            max_connecting: None,
            wait_queue_timeout: None,
            app_name: None,
            connect_timeout: None,
            socket_timeout: None,
            timeout: None,
            compressors: None,
            zlib_compression_level: None,
            direct_connection: None,
            load_balanced: None,
            replica_set: None,
            heartbeat_frequency: None,
            server_monitoring_mode: None,
            server_selection_timeout: None,
            server_selection_try_once: None,
            local_threshold: None,
            tls: None,
            tls_ca_file: None,
            tls_certificate_key_file: None,
            tls_certificate_key_file_password: None,
            tls_allow_invalid_certificates: None,
            tls_allow_invalid_hostnames: None,
            tls_insecure: None,
            tls_disable_ocsp_endpoint_check: None,
            tls_disable_certificate_revocation_check: None,
            auth_source: None,
            auth_mechanism: None,
            auth_mechanism_properties: None,
            retry_writes: None,
            retry_reads: None,
            w: None,
            w_timeout: None,
            journal: None,
            read_concern_level: None,
            read_preference: None,
            read_preference_tags: None,
            max_staleness: None,
            max_adaptive_retries: None,
            enable_overload_retargeting: None,
            warnings: Vec::new(),
            redacted: String::new(),
        }
    }
}

impl FromStr for ConnectionString {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ConnectionString::parse(s)
    }
}

/// Shows [`ConnectionString::redacted`].
impl fmt::Display for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

/// Written by hand so secrets print as `"***"`.
impl fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hosts: Vec<String> = self.hosts.iter().map(ToString::to_string).collect();
        f.debug_struct("ConnectionString")
            .field("hosts", &hosts)
            .field("credential", &self.credential)
            .field("default_database", &self.default_database)
            .field("max_pool_size", &self.max_pool_size)
            .field("min_pool_size", &self.min_pool_size)
            .field("max_idle_time", &self.max_idle_time)
            .field("max_connecting", &self.max_connecting)
            .field("wait_queue_timeout", &self.wait_queue_timeout)
            .field("app_name", &self.app_name)
            .field("connect_timeout", &self.connect_timeout)
            .field("socket_timeout", &self.socket_timeout)
            .field("timeout", &self.timeout)
            .field("compressors", &self.compressors)
            .field("zlib_compression_level", &self.zlib_compression_level)
            .field("direct_connection", &self.direct_connection)
            .field("load_balanced", &self.load_balanced)
            .field("replica_set", &self.replica_set)
            .field("heartbeat_frequency", &self.heartbeat_frequency)
            .field("server_monitoring_mode", &self.server_monitoring_mode)
            .field("server_selection_timeout", &self.server_selection_timeout)
            .field("server_selection_try_once", &self.server_selection_try_once)
            .field("local_threshold", &self.local_threshold)
            .field("tls", &self.tls)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("tls_certificate_key_file", &self.tls_certificate_key_file)
            .field(
                "tls_certificate_key_file_password",
                &self.tls_certificate_key_file_password.as_ref().map(|_| auth::MASK),
            )
            .field("tls_allow_invalid_certificates", &self.tls_allow_invalid_certificates)
            .field("tls_allow_invalid_hostnames", &self.tls_allow_invalid_hostnames)
            .field("tls_insecure", &self.tls_insecure)
            .field("tls_disable_ocsp_endpoint_check", &self.tls_disable_ocsp_endpoint_check)
            .field(
                "tls_disable_certificate_revocation_check",
                &self.tls_disable_certificate_revocation_check,
            )
            .field("auth_source", &self.auth_source)
            .field("auth_mechanism", &self.auth_mechanism)
            .field(
                "auth_mechanism_properties",
                &self.auth_mechanism_properties.as_ref().map(auth::masked_properties),
            )
            .field("retry_writes", &self.retry_writes)
            .field("retry_reads", &self.retry_reads)
            .field("w", &self.w)
            .field("w_timeout", &self.w_timeout)
            .field("journal", &self.journal)
            .field("read_concern_level", &self.read_concern_level)
            .field("read_preference", &self.read_preference)
            .field("read_preference_tags", &self.read_preference_tags)
            .field("max_staleness", &self.max_staleness)
            .field("max_adaptive_retries", &self.max_adaptive_retries)
            .field("enable_overload_retargeting", &self.enable_overload_retargeting)
            .field("warnings", &self.warnings)
            .finish()
    }
}

fn strip_scheme(uri: &str) -> Result<&str> {
    if let Some(rest) = uri.strip_prefix(SCHEME) {
        return Ok(rest);
    }
    let lower_prefix = |p: &str| uri.get(..p.len()).is_some_and(|s| s.eq_ignore_ascii_case(p));
    if lower_prefix(SRV_SCHEME) {
        return Err(Error::invalid_argument(
            "mongodb+srv:// is not supported yet; list the hosts in a mongodb:// connection string",
        ));
    }
    if lower_prefix(SCHEME) {
        return Err(Error::invalid_argument(
            "the connection string scheme must be lower-case \"mongodb://\"",
        ));
    }
    Err(Error::invalid_argument(
        "a connection string must start with \"mongodb://\"",
    ))
}

/// The raw (still percent-encoded) sections of a connection string.
struct Parts<'a> {
    userinfo: Option<&'a str>,
    hosts: &'a str,
    /// `Some` when a '/' follows the hosts, even if nothing follows it.
    database: Option<&'a str>,
    query: Option<&'a str>,
}

/// Splits what follows the scheme. The host list ends at the first '/' or '?' (the slash before
/// the options is optional), the user information at the last '@' of the host list.
fn split(rest: &str) -> Result<Parts<'_>> {
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (database, query) = match tail.strip_prefix('/') {
        Some(after) => match after.split_once('?') {
            Some((db, q)) => (Some(db), Some(q)),
            None => (Some(after), None),
        },
        None => (None, tail.strip_prefix('?')),
    };
    if authority.is_empty() && database.is_some_and(|d| d.contains(".sock")) {
        return Err(Error::invalid_argument(
            "Unix domain socket paths must be URL encoded, e.g. mongodb://%2Ftmp%2Fmongodb-27017.sock",
        ));
    }
    // An '@' after the first '/' means a '/' inside the user information (or an unencoded
    // '@' in the database name); splitting there would expose the password as a host.
    if database.is_some_and(|d| d.contains('@')) {
        return Err(Error::invalid_argument(
            "unexpected '@' after the host list: a username or password containing '/' must be \
             URL encoded (%2F), and so must an '@' in the database name (%40)",
        ));
    }
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    Ok(Parts {
        userinfo,
        hosts,
        database,
        query,
    })
}

fn parse_database(raw: Option<&str>) -> Result<Option<String>> {
    let raw = match raw {
        None | Some("") => return Ok(None),
        Some(raw) => raw,
    };
    let db = percent::decode(raw).map_err(|e| {
        Error::invalid_argument(format!("invalid database name in connection string: {}", e.describe()))
    })?;
    if let Some(c) = db.chars().find(|c| "/\\ \"$".contains(*c) || c.is_control()) {
        return Err(Error::invalid_argument(format!(
            "invalid database name {db:?} in connection string: it must not contain {c:?}"
        )));
    }
    Ok(Some(db))
}

/// Rebuilds the URI from its raw sections, masking the password and secret option values.
fn redact(parts: &Parts<'_>, userinfo: Option<&hosts::UserInfo>, query: &[options::RawPair<'_>]) -> String {
    let mut out = String::from(SCHEME);
    if let Some(u) = userinfo {
        out.push_str(&u.raw_username);
        if u.password.is_some() {
            out.push(':');
            out.push_str(auth::MASK);
        }
        out.push('@');
    }
    out.push_str(parts.hosts);
    if let Some(db) = parts.database {
        out.push('/');
        out.push_str(db);
    }
    if parts.query.is_some() {
        out.push('?');
        let pairs: Vec<String> = query
            .iter()
            .map(|p| {
                if options::is_secret(p.key) {
                    format!("{}={}", p.key, auth::MASK)
                } else {
                    format!("{}={}", p.key, p.value)
                }
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}
