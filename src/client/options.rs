//! [`ClientOptions`] and the conversions from a parsed connection string
//! ([`ConnectionString`]) into client, pool and connection options.
//!
//! Defaults are applied here, not in the parser: a `None` in the connection string means "use
//! the default", and a zero `...TimeoutMS` means "no limit" (uri-options.md), which is `None`
//! in [`ConnectionOptions`] and [`PoolOptions`].

use std::fmt;
use std::time::Duration;

use crate::address::ServerAddress;
pub use crate::conn::TlsOptions;
use crate::conn::{ConnectionOptions, DEFAULT_CONNECT_TIMEOUT};
use crate::error::{Error, Result};
use crate::pool::PoolOptions;
use crate::uri::{ConnectionString, Credential};
use crate::wire::Compressor;

/// The default `heartbeatFrequencyMS` for multi-threaded clients (server-monitoring.md
/// "heartbeatFrequencyMS": it MUST default to 10 seconds).
///
/// ```
/// use mongopool::client::DEFAULT_HEARTBEAT_FREQUENCY;
/// use mongopool::ClientOptions;
///
/// let opts = ClientOptions::parse("mongodb://localhost")?;
/// assert_eq!(opts.heartbeat_frequency(), DEFAULT_HEARTBEAT_FREQUENCY);
/// assert_eq!(DEFAULT_HEARTBEAT_FREQUENCY.as_secs(), 10);
/// # Ok::<(), mongopool::Error>(())
/// ```
pub const DEFAULT_HEARTBEAT_FREQUENCY: Duration = Duration::from_secs(10);
/// `minHeartbeatFrequencyMS`: the smallest allowed `heartbeatFrequencyMS`, and the shortest
/// pause between two checks of one server (server-monitoring.md: it MUST be 500 ms).
///
/// ```
/// use mongopool::client::MIN_HEARTBEAT_FREQUENCY;
/// use mongopool::{ClientOptions, ErrorKind};
///
/// assert!(ClientOptions::parse("mongodb://localhost/?heartbeatFrequencyMS=500").is_ok());
/// let too_often = ClientOptions::builder()
///     .host("localhost".parse()?)
///     .heartbeat_frequency(MIN_HEARTBEAT_FREQUENCY / 2)
///     .build()
///     .unwrap_err();
/// assert!(matches!(too_often.kind(), ErrorKind::InvalidArgument { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MIN_HEARTBEAT_FREQUENCY: Duration = Duration::from_millis(500);
/// The default `serverSelectionTimeoutMS`.
///
/// ```
/// use mongopool::client::DEFAULT_SERVER_SELECTION_TIMEOUT;
/// use mongopool::ClientOptions;
///
/// let opts = ClientOptions::parse("mongodb://localhost")?;
/// assert_eq!(opts.server_selection_timeout(), DEFAULT_SERVER_SELECTION_TIMEOUT);
/// assert_eq!(DEFAULT_SERVER_SELECTION_TIMEOUT.as_secs(), 30);
/// # Ok::<(), mongopool::Error>(())
/// ```
pub const DEFAULT_SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(30);
/// The `log` target of connection string warnings.
///
/// ```
/// use mongopool::client::URI_LOG_TARGET;
///
/// // Raise or silence connection string warnings with a logger filter on this target, e.g.
/// // `RUST_LOG=mongopool::uri=error` with env_logger.
/// assert_eq!(URI_LOG_TARGET, "mongopool::uri");
/// ```
pub const URI_LOG_TARGET: &str = "mongopool::uri";

/// Everything a [`crate::Client`] needs: the seed list, the options every pool gets (CMAP
/// prose tests 1 and 2: all pools of a client share the same options), monitoring and
/// topology settings, and the TLS, authentication and compression settings that connection
/// establishment will consume.
///
/// Built from a URI with [`ClientOptions::parse`] or by hand with [`ClientOptions::builder`].
/// `Debug` never shows the password or other secrets.
///
/// ```
/// use std::time::Duration;
/// use mongopool::ClientOptions;
///
/// let opts = ClientOptions::parse("mongodb://db1,db2:27018/?maxPoolSize=20&heartbeatFrequencyMS=2000")?;
/// assert_eq!(opts.hosts().len(), 2);
/// assert_eq!(opts.pool_options().max_pool_size(), 20);
/// assert_eq!(opts.heartbeat_frequency(), Duration::from_secs(2));
///
/// let opts = ClientOptions::builder()
///     .host("localhost:27017".parse()?)
///     .heartbeat_frequency(Duration::from_millis(500))
///     .direct_connection(true)
///     .build()?;
/// assert_eq!(opts.direct_connection(), Some(true));
/// assert!(ClientOptions::builder()
///     .host("localhost:27017".parse()?)
///     .heartbeat_frequency(Duration::from_millis(499))
///     .build()
///     .is_err());
/// # Ok::<(), mongopool::Error>(())
/// ```
#[derive(Clone, PartialEq)]
pub struct ClientOptions {
    hosts: Vec<ServerAddress>,
    pool: PoolOptions,
    heartbeat_frequency: Duration,
    server_selection_timeout: Duration,
    direct_connection: Option<bool>,
    load_balanced: bool,
    replica_set: Option<String>,
    credential: Option<Credential>,
    tls: Option<TlsOptions>,
    compressors: Option<Vec<String>>,
    zlib_compression_level: Option<i32>,
}

impl ClientOptions {
    /// A builder with the defaults and no hosts.
    ///
    /// ```
    /// use mongopool::ClientOptions;
    ///
    /// let opts = ClientOptions::builder().host("localhost:27017".parse()?).build()?;
    /// assert_eq!(opts.hosts()[0].to_string(), "localhost:27017");
    /// // Without a host, build() fails.
    /// assert!(ClientOptions::builder().build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder() -> ClientOptionsBuilder {
        ClientOptionsBuilder {
            options: ClientOptions {
                hosts: Vec::new(),
                pool: PoolOptions::default(),
                heartbeat_frequency: DEFAULT_HEARTBEAT_FREQUENCY,
                server_selection_timeout: DEFAULT_SERVER_SELECTION_TIMEOUT,
                direct_connection: None,
                load_balanced: false,
                replica_set: None,
                credential: None,
                tls: None,
                compressors: None,
                zlib_compression_level: None,
            },
        }
    }

    /// Parses a `mongodb://` URI into options. Each warning of the parser (unknown options,
    /// ignored invalid values) is logged at warn level with target [`URI_LOG_TARGET`]; the
    /// warnings never contain secrets.
    ///
    /// ```
    /// use mongopool::{ClientOptions, ErrorKind};
    ///
    /// let opts = ClientOptions::parse("mongodb://db1:27017,db2:27017/?replicaSet=rs0&appName=billing")?;
    /// assert_eq!(opts.replica_set(), Some("rs0"));
    /// assert_eq!(opts.app_name(), Some("billing"));
    ///
    /// let err = ClientOptions::parse("http://localhost").unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::InvalidArgument { .. }));
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn parse(uri: &str) -> Result<ClientOptions> {
        ClientOptions::try_from(&ConnectionString::parse(uri)?)
    }

    /// The seed list.
    ///
    /// ```
    /// let opts = mongopool::ClientOptions::parse("mongodb://db1,db2:27018")?;
    /// let hosts: Vec<String> = opts.hosts().iter().map(ToString::to_string).collect();
    /// assert_eq!(hosts, ["db1:27017", "db2:27018"]);
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn hosts(&self) -> &[ServerAddress] {
        &self.hosts
    }

    /// The options of every pool (and, through [`PoolOptions::connection`], of every
    /// connection).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let opts = mongopool::ClientOptions::parse("mongodb://h/?maxPoolSize=5&minPoolSize=1&connectTimeoutMS=2500")?;
    /// assert_eq!(opts.pool_options().max_pool_size(), 5);
    /// assert_eq!(opts.pool_options().min_pool_size(), 1);
    /// assert_eq!(opts.pool_options().connection().connect_timeout, Some(Duration::from_millis(2500)));
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn pool_options(&self) -> &PoolOptions {
        &self.pool
    }

    /// `heartbeatFrequencyMS`: the pause between two checks of a server. Default 10 s, at
    /// least 500 ms.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let opts = mongopool::ClientOptions::parse("mongodb://h/?heartbeatFrequencyMS=2000")?;
    /// assert_eq!(opts.heartbeat_frequency(), Duration::from_secs(2));
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn heartbeat_frequency(&self) -> Duration {
        self.heartbeat_frequency
    }

    /// `serverSelectionTimeoutMS`: how long [`crate::Client::check_out`] waits for a suitable
    /// server. Default 30 s.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let opts = mongopool::ClientOptions::parse("mongodb://h/?serverSelectionTimeoutMS=1500")?;
    /// assert_eq!(opts.server_selection_timeout(), Duration::from_millis(1500));
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn server_selection_timeout(&self) -> Duration {
        self.server_selection_timeout
    }

    /// `directConnection`: `Some(true)` talks to the one seed only; unset or `false` discovers
    /// the replica set members the seeds list.
    ///
    /// ```
    /// use mongopool::ClientOptions;
    ///
    /// assert_eq!(ClientOptions::parse("mongodb://h")?.direct_connection(), None);
    /// assert_eq!(ClientOptions::parse("mongodb://h/?directConnection=true")?.direct_connection(), Some(true));
    /// // Only one host may be contacted directly.
    /// assert!(ClientOptions::parse("mongodb://h1,h2/?directConnection=true").is_err());
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn direct_connection(&self) -> Option<bool> {
        self.direct_connection
    }

    /// `loadBalanced`: the one seed is a load balancer, never monitored.
    ///
    /// ```
    /// use mongopool::ClientOptions;
    ///
    /// assert!(!ClientOptions::parse("mongodb://h")?.load_balanced());
    /// assert!(ClientOptions::parse("mongodb://lb/?loadBalanced=true")?.load_balanced());
    /// assert!(ClientOptions::parse("mongodb://lb/?loadBalanced=true&replicaSet=rs0").is_err());
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn load_balanced(&self) -> bool {
        self.load_balanced
    }

    /// `replicaSet`: servers that report another set name are never selected.
    ///
    /// ```
    /// use mongopool::ClientOptions;
    ///
    /// assert_eq!(ClientOptions::parse("mongodb://h/?replicaSet=rs0")?.replica_set(), Some("rs0"));
    /// assert_eq!(ClientOptions::parse("mongodb://h")?.replica_set(), None);
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn replica_set(&self) -> Option<&str> {
        self.replica_set.as_deref()
    }

    /// `appName`, sent in every handshake.
    ///
    /// ```
    /// use mongopool::ClientOptions;
    ///
    /// let opts = ClientOptions::parse("mongodb://h/?appName=billing")?;
    /// assert_eq!(opts.app_name(), Some("billing"));
    /// assert_eq!(opts.pool_options().connection().app_name.as_deref(), Some("billing"));
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn app_name(&self) -> Option<&str> {
        self.pool.connection().app_name.as_deref()
    }

    /// The credential every pooled connection authenticates with.
    ///
    /// ```
    /// use mongopool::ClientOptions;
    ///
    /// let opts = ClientOptions::parse("mongodb://app:secret@h/orders")?;
    /// let cred = opts.credential().unwrap();
    /// assert_eq!(cred.username.as_deref(), Some("app"));
    /// assert_eq!(cred.source, "orders");
    /// // Debug output, of the credential or the whole options, masks the password.
    /// assert!(!format!("{opts:?}").contains("secret"));
    /// // Only the SCRAM mechanisms are implemented.
    /// assert!(ClientOptions::parse("mongodb://app:secret@h/?authMechanism=PLAIN").is_err());
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn credential(&self) -> Option<&Credential> {
        self.credential.as_ref()
    }

    /// The TLS settings; `Some` means TLS is on.
    ///
    /// ```
    /// use mongopool::ClientOptions;
    ///
    /// assert!(ClientOptions::parse("mongodb://h")?.tls().is_none());
    /// let opts = ClientOptions::parse("mongodb://h/?tls=true&tlsAllowInvalidHostnames=true")?;
    /// let tls = opts.tls().unwrap();
    /// assert!(tls.allow_invalid_hostnames);
    /// assert!(!tls.allow_invalid_certificates);
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn tls(&self) -> Option<&TlsOptions> {
        self.tls.as_ref()
    }

    /// `compressors`, in order of preference: offered in every handshake, and the first one
    /// a server also lists compresses the commands sent to it (op-compressed.md). Parsed from a
    /// URI, only the compressors this build includes are kept.
    ///
    /// ```
    /// use mongopool::ClientOptions;
    ///
    /// use mongopool::wire::Compressor;
    ///
    /// // From a URI, names this build lacks (or does not know) are dropped with a logged warning.
    /// let opts = ClientOptions::parse("mongodb://h/?compressors=zstd,lz4,snappy")?;
    /// let kept: Vec<&str> = opts.compressors().unwrap().iter().map(String::as_str).collect();
    /// let compiled_in = |name: &&str| Compressor::from_name(name).is_some_and(Compressor::is_compiled_in);
    /// assert_eq!(kept, ["zstd", "snappy"].into_iter().filter(compiled_in).collect::<Vec<_>>());
    /// assert_eq!(ClientOptions::parse("mongodb://h")?.compressors(), None);
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn compressors(&self) -> Option<&[String]> {
        self.compressors.as_deref()
    }

    /// `zlibCompressionLevel`.
    ///
    /// ```
    /// use mongopool::ClientOptions;
    ///
    /// let opts = ClientOptions::parse("mongodb://h/?compressors=zlib&zlibCompressionLevel=6")?;
    /// assert_eq!(opts.zlib_compression_level(), Some(6));
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn zlib_compression_level(&self) -> Option<i32> {
        self.zlib_compression_level
    }

    /// Whether the client discovers servers from hello replies (neither `directConnection=true`
    /// nor `loadBalanced=true`; with one seed and `directConnection` unset the URI spec's
    /// default is to discover).
    pub(crate) fn discovers(&self) -> bool {
        self.direct_connection != Some(true) && !self.load_balanced
    }

    fn validate(&self) -> Result<()> {
        if self.hosts.is_empty() {
            return Err(Error::invalid_argument("a client needs at least one host"));
        }
        if self.heartbeat_frequency < MIN_HEARTBEAT_FREQUENCY {
            return Err(Error::invalid_argument(format!(
                "heartbeatFrequencyMS must be at least {} ms, got {} ms",
                MIN_HEARTBEAT_FREQUENCY.as_millis(),
                self.heartbeat_frequency.as_millis()
            )));
        }
        // uri-options.md: the same rules as for the URI options.
        if self.direct_connection == Some(true) && self.hosts.len() > 1 {
            return Err(Error::invalid_argument(
                "directConnection=true cannot be used with more than one host",
            ));
        }
        if self.load_balanced {
            if self.hosts.len() > 1 {
                return Err(Error::invalid_argument(
                    "loadBalanced=true cannot be used with more than one host",
                ));
            }
            if self.replica_set.is_some() {
                return Err(Error::invalid_argument(
                    "loadBalanced=true cannot be used with replicaSet",
                ));
            }
            if self.direct_connection == Some(true) {
                return Err(Error::invalid_argument(
                    "loadBalanced=true cannot be used with directConnection=true",
                ));
            }
        }
        self.pool.validate()
    }
}

/// Written by hand so that secrets print as `"***"` (the credential and TLS options mask
/// their own).
impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hosts: Vec<String> = self.hosts.iter().map(ToString::to_string).collect();
        f.debug_struct("ClientOptions")
            .field("hosts", &hosts)
            .field("pool", &self.pool)
            .field("heartbeat_frequency", &self.heartbeat_frequency)
            .field("server_selection_timeout", &self.server_selection_timeout)
            .field("direct_connection", &self.direct_connection)
            .field("load_balanced", &self.load_balanced)
            .field("replica_set", &self.replica_set)
            .field("credential", &self.credential)
            .field("tls", &self.tls)
            .field("compressors", &self.compressors)
            .field("zlib_compression_level", &self.zlib_compression_level)
            .finish()
    }
}

/// Builds [`ClientOptions`] (see [`ClientOptions::builder`]).
///
/// ```
/// use std::time::Duration;
/// use mongopool::{ClientOptions, PoolOptions};
///
/// let opts = ClientOptions::builder()
///     .hosts(["db1:27017".parse()?, "db2:27017".parse()?])
///     .replica_set("rs0")
///     .pool_options(PoolOptions::builder().max_pool_size(20).build()?)
///     .server_selection_timeout(Duration::from_secs(5))
///     .build()?;
/// assert_eq!(opts.hosts().len(), 2);
/// assert_eq!(opts.pool_options().max_pool_size(), 20);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ClientOptionsBuilder {
    options: ClientOptions,
}

impl ClientOptionsBuilder {
    /// Replaces the seed list.
    ///
    /// ```
    /// use mongopool::ClientOptions;
    ///
    /// let opts = ClientOptions::builder()
    ///     .host("old:27017".parse()?)
    ///     .hosts(["db1:27017".parse()?, "db2:27017".parse()?])
    ///     .build()?;
    /// let hosts: Vec<String> = opts.hosts().iter().map(ToString::to_string).collect();
    /// assert_eq!(hosts, ["db1:27017", "db2:27017"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hosts(mut self, hosts: impl IntoIterator<Item = ServerAddress>) -> Self {
        self.options.hosts = hosts.into_iter().collect();
        self
    }

    /// Adds one seed.
    ///
    /// ```
    /// use mongopool::ClientOptions;
    ///
    /// let opts = ClientOptions::builder().host("db1".parse()?).host("db2:27018".parse()?).build()?;
    /// assert_eq!(opts.hosts().len(), 2);
    /// assert_eq!(opts.hosts()[1].to_string(), "db2:27018");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn host(mut self, host: ServerAddress) -> Self {
        self.options.hosts.push(host);
        self
    }

    /// The options every pool gets (CMAP prose test 1: all pool options are set at the client
    /// level).
    ///
    /// ```
    /// use mongopool::{ClientOptions, PoolOptions};
    ///
    /// let pool = PoolOptions::builder().max_pool_size(4).min_pool_size(1).build()?;
    /// let opts = ClientOptions::builder().host("h".parse()?).pool_options(pool).build()?;
    /// assert_eq!(opts.pool_options().max_pool_size(), 4);
    /// assert_eq!(opts.pool_options().min_pool_size(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pool_options(mut self, options: PoolOptions) -> Self {
        self.options.pool = options;
        self
    }

    /// `heartbeatFrequencyMS` (at least 500 ms; `build()` rejects less).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mongopool::ClientOptions;
    ///
    /// let opts = ClientOptions::builder().host("h".parse()?).heartbeat_frequency(Duration::from_secs(1)).build()?;
    /// assert_eq!(opts.heartbeat_frequency(), Duration::from_secs(1));
    /// let builder = ClientOptions::builder().host("h".parse()?);
    /// assert!(builder.heartbeat_frequency(Duration::from_millis(100)).build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn heartbeat_frequency(mut self, d: Duration) -> Self {
        self.options.heartbeat_frequency = d;
        self
    }

    /// `serverSelectionTimeoutMS`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mongopool::ClientOptions;
    ///
    /// let opts = ClientOptions::builder()
    ///     .host("h".parse()?)
    ///     .server_selection_timeout(Duration::from_secs(3))
    ///     .build()?;
    /// assert_eq!(opts.server_selection_timeout(), Duration::from_secs(3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn server_selection_timeout(mut self, d: Duration) -> Self {
        self.options.server_selection_timeout = d;
        self
    }

    /// `directConnection`.
    ///
    /// ```
    /// use mongopool::ClientOptions;
    ///
    /// let opts = ClientOptions::builder().host("h".parse()?).direct_connection(true).build()?;
    /// assert_eq!(opts.direct_connection(), Some(true));
    /// let two_hosts = ClientOptions::builder().host("h1".parse()?).host("h2".parse()?);
    /// assert!(two_hosts.direct_connection(true).build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn direct_connection(mut self, direct: bool) -> Self {
        self.options.direct_connection = Some(direct);
        self
    }

    /// `loadBalanced`.
    ///
    /// ```
    /// use mongopool::ClientOptions;
    ///
    /// let opts = ClientOptions::builder().host("lb".parse()?).load_balanced(true).build()?;
    /// assert!(opts.load_balanced());
    /// // Every connection handshakes as to a load balancer.
    /// assert!(opts.pool_options().connection().load_balanced);
    /// let with_set = ClientOptions::builder().host("lb".parse()?).replica_set("rs0");
    /// assert!(with_set.load_balanced(true).build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load_balanced(mut self, load_balanced: bool) -> Self {
        self.options.load_balanced = load_balanced;
        self
    }

    /// `replicaSet`.
    ///
    /// ```
    /// use mongopool::ClientOptions;
    ///
    /// let opts = ClientOptions::builder().host("h".parse()?).replica_set("rs0").build()?;
    /// assert_eq!(opts.replica_set(), Some("rs0"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn replica_set(mut self, name: impl Into<String>) -> Self {
        self.options.replica_set = Some(name.into());
        self
    }

    /// The credential to authenticate with.
    ///
    /// ```
    /// use mongopool::uri::Credential;
    /// use mongopool::ClientOptions;
    ///
    /// # let password = String::from("example-only");
    /// let credential = Credential {
    ///     username: Some("app".into()),
    ///     password: Some(password), // e.g. read from a secret store, never hard-coded
    ///     source: "admin".into(),
    ///     ..Credential::default()
    /// };
    /// let opts = ClientOptions::builder().host("h".parse()?).credential(credential).build()?;
    /// assert_eq!(opts.credential().and_then(|c| c.username.as_deref()), Some("app"));
    /// assert!(!format!("{opts:?}").contains("example-only"));
    /// // SCRAM needs a password.
    /// let no_password = Credential { username: Some("app".into()), ..Credential::default() };
    /// assert!(ClientOptions::builder().host("h".parse()?).credential(no_password).build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn credential(mut self, credential: Credential) -> Self {
        self.options.credential = Some(credential);
        self
    }

    /// Turns TLS on with these settings.
    ///
    /// ```
    /// use mongopool::{ClientOptions, TlsOptions};
    ///
    /// let tls = TlsOptions { ca_file: Some("/etc/ssl/mongo-ca.pem".into()), ..TlsOptions::default() };
    /// let opts = ClientOptions::builder().host("h".parse()?).tls(tls).build()?;
    /// assert!(opts.tls().is_some());
    /// assert!(opts.pool_options().connection().tls.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.options.tls = Some(tls);
        self
    }

    /// `compressors`, in order of preference: `snappy`, `zlib`, `zstd`, each only if compiled
    /// in (its cargo feature); `build()` rejects other names with a typed error.
    ///
    /// ```
    /// use mongopool::ClientOptions;
    ///
    /// let unknown = ClientOptions::builder().host("h".parse()?).compressors(["lz4".to_string()]);
    /// assert!(unknown.build().is_err());
    /// let zstd = ClientOptions::builder().host("h".parse()?).compressors(["zstd".to_string()]);
    /// // A known compressor is accepted only if its cargo feature is on.
    /// assert_eq!(zstd.build().is_ok(), cfg!(feature = "zstd"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compressors(mut self, names: impl IntoIterator<Item = String>) -> Self {
        self.options.compressors = Some(names.into_iter().collect());
        self
    }

    /// `zlibCompressionLevel` (-1 to 9).
    ///
    /// ```
    /// use mongopool::ClientOptions;
    ///
    /// let opts = ClientOptions::builder().host("h".parse()?).zlib_compression_level(9).build()?;
    /// assert_eq!(opts.zlib_compression_level(), Some(9));
    /// let builder = ClientOptions::builder().host("h".parse()?);
    /// assert!(builder.zlib_compression_level(10).build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn zlib_compression_level(mut self, level: i32) -> Self {
        self.options.zlib_compression_level = Some(level);
        self
    }

    /// Validates and returns the options: at least one host, `heartbeatFrequencyMS` of at
    /// least 500 ms, the `directConnection`/`loadBalanced` rules of uri-options.md, and valid
    /// pool options. Errors are [`crate::ErrorKind::InvalidArgument`] naming the option.
    ///
    /// ```
    /// use mongopool::{ClientOptions, ErrorKind};
    ///
    /// let err = ClientOptions::builder().build().unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::InvalidArgument { .. }));
    /// assert!(err.to_string().contains("at least one host"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(mut self) -> Result<ClientOptions> {
        if !(-1..=9).contains(&self.options.zlib_compression_level.unwrap_or(0)) {
            return Err(Error::invalid_argument("zlibCompressionLevel must be from -1 to 9"));
        }
        // Connections handshake differently to a load balancer (load-balancers.md).
        let load_balanced = self.options.load_balanced;
        self.options.pool.connection_mut().load_balanced = load_balanced;
        // What every connection of every pool uses to secure itself (monitors drop the
        // credential: they never authenticate).
        let credential = self.options.credential.as_ref().map(scram_credential).transpose()?;
        let tls = self.options.tls.clone();
        let compressors = parse_compressors(self.options.compressors.as_deref().unwrap_or_default())?;
        let connection = self.options.pool.connection_mut();
        connection.credential = credential;
        connection.tls = tls;
        connection.compressors = compressors;
        connection.zlib_compression_level = self.options.zlib_compression_level;
        self.options.validate()?;
        Ok(self.options)
    }
}

/// The SCRAM credential connections authenticate with, from the URI's credential: a user name
/// and password are required, and only the SCRAM mechanisms are implemented.
fn scram_credential(c: &Credential) -> Result<crate::auth::Credential> {
    use crate::uri::AuthMechanism as Uri;
    let mechanism = match c.mechanism {
        None => None,
        Some(Uri::ScramSha1) => Some(crate::auth::AuthMechanism::ScramSha1),
        Some(Uri::ScramSha256) => Some(crate::auth::AuthMechanism::ScramSha256),
        Some(other) => {
            return Err(Error::invalid_argument(format!(
                "authentication mechanism {other} is not supported by mongopool (supported: SCRAM-SHA-1, SCRAM-SHA-256)"
            )))
        }
    };
    let username = c
        .username
        .clone()
        .ok_or_else(|| Error::invalid_argument("SCRAM authentication requires a username"))?;
    let password = c
        .password
        .clone()
        .ok_or_else(|| Error::invalid_argument("SCRAM authentication requires a password"))?;
    let mut credential = crate::auth::Credential::new(username, password).with_source(c.source.clone());
    credential.mechanism = mechanism;
    Ok(credential)
}

/// A zero `...TimeoutMS` from a URI means "no limit" (uri-options.md), which the options
/// spell `None`.
fn limit(d: Duration) -> Option<Duration> {
    Some(d).filter(|d| !d.is_zero())
}

/// The compressors of `names`, in order: each must be known and compiled in.
fn parse_compressors(names: &[String]) -> Result<Vec<Compressor>> {
    names
        .iter()
        .map(|name| {
            let c = Compressor::from_name(name).ok_or_else(|| {
                Error::invalid_argument(format!(
                    "compressors: unknown compressor {name:?}; known: snappy, zlib, zstd"
                ))
            })?;
            c.check_compiled_in()?;
            Ok(c)
        })
        .collect()
}

/// The URI's compressors that this build includes, in order. [`log_warnings`] reports the
/// others, as for unknown names (op-compressed.md: unknown compressors MUST yield a warning and
/// MUST NOT be included in the handshake).
fn compiled_in_compressors(cs: &ConnectionString) -> Vec<Compressor> {
    let names = cs.compressors.as_deref().unwrap_or_default();
    names
        .iter()
        .filter_map(|name| Compressor::from_name(name))
        .filter(|c| c.is_compiled_in())
        .collect()
}

fn log_warnings(cs: &ConnectionString) {
    for warning in &cs.warnings {
        log::warn!(target: URI_LOG_TARGET, "connection string: {warning}");
    }
    let names = cs.compressors.as_deref().unwrap_or_default();
    for name in names
        .iter()
        .filter(|n| !Compressor::from_name(n).is_some_and(Compressor::is_compiled_in))
    {
        log::warn!(
            target: URI_LOG_TARGET,
            "connection string: compressor {name} is ignored: this build of mongopool does not include it \
             (cargo feature \"{name}\")"
        );
    }
}

fn connection_options(cs: &ConnectionString) -> ConnectionOptions {
    ConnectionOptions {
        connect_timeout: cs.connect_timeout.map_or(Some(DEFAULT_CONNECT_TIMEOUT), limit),
        socket_timeout: cs.socket_timeout.and_then(limit),
        app_name: cs.app_name.clone(),
        load_balanced: cs.load_balanced.unwrap_or(false),
        compressors: compiled_in_compressors(cs),
        zlib_compression_level: cs.zlib_compression_level,
        ..ConnectionOptions::default()
    }
}

fn pool_options(cs: &ConnectionString) -> Result<PoolOptions> {
    // Only the options the URI sets go through the builder, so that PoolCreated reports
    // exactly those (cmap.md "PoolCreatedEvent.options").
    let mut b = PoolOptions::builder().connection_options(connection_options(cs));
    if let Some(n) = cs.max_pool_size {
        b = b.max_pool_size(n);
    }
    if let Some(n) = cs.min_pool_size {
        b = b.min_pool_size(n);
    }
    if let Some(d) = cs.max_idle_time {
        b = b.max_idle_time(d);
    }
    if let Some(n) = cs.max_connecting {
        b = b.max_connecting(n);
    }
    if let Some(d) = cs.wait_queue_timeout {
        b = b.wait_queue_timeout(d);
    }
    b.build()
}

fn tls_options(cs: &ConnectionString) -> Option<TlsOptions> {
    let insecure = cs.tls_insecure == Some(true);
    let given = cs.tls_ca_file.is_some()
        || cs.tls_certificate_key_file.is_some()
        || cs.tls_certificate_key_file_password.is_some()
        || cs.tls_allow_invalid_certificates.is_some()
        || cs.tls_allow_invalid_hostnames.is_some()
        || cs.tls_insecure.is_some()
        || cs.tls_disable_ocsp_endpoint_check.is_some()
        || cs.tls_disable_certificate_revocation_check.is_some();
    if cs.tls != Some(true) {
        if given {
            log::warn!(
                target: URI_LOG_TARGET,
                "connection string: tls* options are ignored because TLS is off (tls=true is not set)"
            );
        }
        return None;
    }
    Some(TlsOptions {
        ca_file: cs.tls_ca_file.clone(),
        certificate_key_file: cs.tls_certificate_key_file.clone(),
        certificate_key_file_password: cs.tls_certificate_key_file_password.clone(),
        // uri-options.md: tlsInsecure relaxes certificate, host name and OCSP checks at once.
        allow_invalid_certificates: insecure || cs.tls_allow_invalid_certificates == Some(true),
        allow_invalid_hostnames: insecure || cs.tls_allow_invalid_hostnames == Some(true),
        disable_ocsp_endpoint_check: insecure || cs.tls_disable_ocsp_endpoint_check == Some(true),
        disable_certificate_revocation_check: cs.tls_disable_certificate_revocation_check == Some(true),
    })
}

/// `connectTimeoutMS` (default 10 s, `0`: none), `socketTimeoutMS` (`0`: none), `appName`
/// and `loadBalanced`. Logs the URI's warnings (target [`URI_LOG_TARGET`]).
///
/// ```
/// use mongopool::{uri::ConnectionString, ConnectionOptions};
/// let cs = ConnectionString::parse("mongodb://h/?connectTimeoutMS=0&socketTimeoutMS=2500&appName=a")?;
/// let opts = ConnectionOptions::try_from(&cs)?;
/// assert_eq!(opts.connect_timeout, None);
/// assert_eq!(opts.socket_timeout, Some(std::time::Duration::from_millis(2500)));
/// # Ok::<(), mongopool::Error>(())
/// ```
impl TryFrom<&ConnectionString> for ConnectionOptions {
    type Error = Error;
    fn try_from(cs: &ConnectionString) -> Result<Self> {
        log_warnings(cs);
        let options = connection_options(cs);
        options.validate()?;
        Ok(options)
    }
}

/// Every pool option the URI sets (`maxPoolSize`, `minPoolSize`, `maxIdleTimeMS`,
/// `maxConnecting`, `waitQueueTimeoutMS`) plus the connection options. Logs the URI's
/// warnings (target [`URI_LOG_TARGET`]).
///
/// ```
/// use mongopool::{uri::ConnectionString, PoolOptions};
/// let cs = ConnectionString::parse("mongodb://h/?maxPoolSize=7&waitQueueTimeoutMS=0")?;
/// let opts = PoolOptions::try_from(&cs)?;
/// assert_eq!(opts.max_pool_size(), 7);
/// assert_eq!(opts.wait_queue_timeout(), None);
/// # Ok::<(), mongopool::Error>(())
/// ```
impl TryFrom<&ConnectionString> for PoolOptions {
    type Error = Error;
    fn try_from(cs: &ConnectionString) -> Result<Self> {
        log_warnings(cs);
        pool_options(cs)
    }
}

/// Everything a client uses from the URI. Command-level options (read and write concern,
/// read preference, retries, `timeoutMS`) stay in the [`ConnectionString`]: a `Client` hands
/// out connections and does not run operations itself. Logs the URI's warnings (target
/// [`URI_LOG_TARGET`]).
impl TryFrom<&ConnectionString> for ClientOptions {
    type Error = Error;
    fn try_from(cs: &ConnectionString) -> Result<Self> {
        log_warnings(cs);
        let mut b = ClientOptions::builder()
            .hosts(cs.hosts.iter().cloned())
            .pool_options(pool_options(cs)?)
            .load_balanced(cs.load_balanced.unwrap_or(false));
        if let Some(d) = cs.heartbeat_frequency {
            b = b.heartbeat_frequency(d);
        }
        if let Some(d) = cs.server_selection_timeout {
            b = b.server_selection_timeout(d);
        }
        if let Some(direct) = cs.direct_connection {
            b = b.direct_connection(direct);
        }
        if let Some(name) = &cs.replica_set {
            b = b.replica_set(name.clone());
        }
        if let Some(credential) = &cs.credential {
            b = b.credential(credential.clone());
        }
        if let Some(tls) = tls_options(cs) {
            b = b.tls(tls);
        }
        if cs.compressors.is_some() {
            b = b.compressors(compiled_in_compressors(cs).iter().map(|c| c.name().to_owned()));
        }
        if let Some(level) = cs.zlib_compression_level {
            b = b.zlib_compression_level(level);
        }
        b.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pool_option_comes_from_the_uri() {
        let o = ClientOptions::parse(
            "mongodb://a,b:2/?maxPoolSize=7&minPoolSize=2&maxIdleTimeMS=1234&maxConnecting=3\
             &waitQueueTimeoutMS=999&appName=app&connectTimeoutMS=1500&socketTimeoutMS=2500",
        )
        .unwrap();
        let p = o.pool_options();
        assert_eq!(p.max_pool_size(), 7);
        assert_eq!(p.min_pool_size(), 2);
        assert_eq!(p.max_idle_time(), Some(Duration::from_millis(1234)));
        assert_eq!(p.max_connecting(), 3);
        assert_eq!(p.wait_queue_timeout(), Some(Duration::from_millis(999)));
        assert_eq!(p.connection().app_name.as_deref(), Some("app"));
        assert_eq!(p.connection().connect_timeout, Some(Duration::from_millis(1500)));
        assert_eq!(p.connection().socket_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(p.user_specified().len(), 5);
        assert_eq!(o.heartbeat_frequency(), DEFAULT_HEARTBEAT_FREQUENCY);
    }

    #[test]
    fn zero_timeouts_mean_no_limit() {
        let o = ClientOptions::parse("mongodb://a/?connectTimeoutMS=0&socketTimeoutMS=0&waitQueueTimeoutMS=0").unwrap();
        let c = o.pool_options().connection();
        assert_eq!(c.connect_timeout, None);
        assert_eq!(c.socket_timeout, None);
        assert_eq!(o.pool_options().wait_queue_timeout(), None);
        // And the defaults when the URI says nothing.
        let o = ClientOptions::parse("mongodb://a").unwrap();
        assert_eq!(
            o.pool_options().connection().connect_timeout,
            Some(DEFAULT_CONNECT_TIMEOUT)
        );
        assert_eq!(o.pool_options(), &PoolOptions::default());
    }

    #[test]
    fn heartbeat_below_500_ms_is_a_typed_error() {
        let err = ClientOptions::builder()
            .host("a:1".parse().unwrap())
            .heartbeat_frequency(Duration::from_millis(100))
            .build()
            .unwrap_err();
        assert!(matches!(err.kind(), crate::ErrorKind::InvalidArgument { .. }));
        assert!(err.to_string().contains("heartbeatFrequencyMS"), "{err}");
        assert!(ClientOptions::builder().build().is_err(), "no hosts");
    }

    #[test]
    fn topology_options_and_load_balanced_handshake() {
        let o = ClientOptions::parse("mongodb://a/?loadBalanced=true").unwrap();
        assert!(o.load_balanced());
        assert!(o.pool_options().connection().load_balanced);
        assert!(!o.discovers());
        let o = ClientOptions::parse("mongodb://a/?directConnection=true&replicaSet=rs").unwrap();
        assert_eq!(o.direct_connection(), Some(true));
        assert_eq!(o.replica_set(), Some("rs"));
        assert!(!o.discovers());
        assert!(ClientOptions::parse("mongodb://a").unwrap().discovers());
        let err = ClientOptions::builder()
            .hosts(["a:1".parse().unwrap(), "b:1".parse().unwrap()])
            .load_balanced(true)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("loadBalanced"), "{err}");
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let o = ClientOptions::parse(
            "mongodb://user:hunter2@a/?tls=true&tlsCertificateKeyFilePassword=swordfish&tlsInsecure=true",
        )
        .unwrap();
        let debug = format!("{o:?}");
        assert!(!debug.contains("hunter2") && !debug.contains("swordfish"), "{debug}");
        let tls = o.tls().unwrap();
        assert!(tls.allow_invalid_certificates && tls.allow_invalid_hostnames);
        assert_eq!(o.credential().unwrap().username.as_deref(), Some("user"));
    }
}
