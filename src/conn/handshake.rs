//! The MongoDB handshake (handshake.md): the client metadata document, the initial hello
//! command, and the parsed hello reply.

use bson::{doc, oid::ObjectId, Bson, Document};

use super::options::ConnectionOptions;
use crate::error::{Error, Result};
use crate::wire::{DEFAULT_MAX_MESSAGE_SIZE, MAX_MESSAGE_SIZE_CAP};

/// The driver name sent in the handshake.
///
/// ```
/// use mongopool::conn::{client_metadata, DRIVER_NAME};
/// use mongopool::ConnectionOptions;
///
/// let metadata = client_metadata(&ConnectionOptions::default())?;
/// assert_eq!(metadata.get_document("driver")?.get_str("name")?, DRIVER_NAME);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const DRIVER_NAME: &str = "mongopool";
/// The driver version sent in the handshake.
///
/// ```
/// use mongopool::conn::{client_metadata, DRIVER_VERSION};
/// use mongopool::ConnectionOptions;
///
/// let metadata = client_metadata(&ConnectionOptions::default())?;
/// assert_eq!(metadata.get_document("driver")?.get_str("version")?, DRIVER_VERSION);
/// assert_eq!(DRIVER_VERSION, env!("CARGO_PKG_VERSION"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const DRIVER_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The limit for the whole `client` document including BSON overhead (handshake.md, Limitations).
///
/// ```
/// use mongopool::conn::{client_metadata, MAX_CLIENT_METADATA_BYTES};
/// use mongopool::{ConnectionOptions, DriverInfo};
///
/// // A wrapping library with a very long platform string: the platform is truncated to fit.
/// let info = DriverInfo { name: "odm".into(), platform: Some("x".repeat(1000)), ..DriverInfo::default() };
/// let options = ConnectionOptions { driver_info: Some(info), ..ConnectionOptions::default() };
/// let metadata = client_metadata(&options)?;
/// let mut bytes = Vec::new();
/// metadata.to_writer(&mut bytes)?;
/// assert!(bytes.len() <= MAX_CLIENT_METADATA_BYTES);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_CLIENT_METADATA_BYTES: usize = 512;

/// Builds the `client` metadata document, kept within 512 bytes by the spec's order: omit `os`
/// fields other than `os.type`, then truncate `platform` (there is no `env` document).
///
/// ```
/// use mongopool::conn::client_metadata;
/// use mongopool::{ConnectionOptions, DriverInfo};
///
/// let options = ConnectionOptions {
///     app_name: Some("billing".into()),
///     driver_info: Some(DriverInfo { name: "odm".into(), version: Some("2.1".into()), platform: None }),
///     ..ConnectionOptions::default()
/// };
/// let metadata = client_metadata(&options)?;
/// assert_eq!(metadata.get_document("application")?.get_str("name")?, "billing");
/// assert_eq!(metadata.get_document("driver")?.get_str("name")?, "mongopool|odm");
/// assert!(metadata.get_document("os")?.contains_key("type"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn client_metadata(options: &ConnectionOptions) -> Result<Document> {
    let info = options.driver_info.as_ref();
    let append = |base: &str, extra: Option<&String>| match extra {
        Some(e) if !e.is_empty() => format!("{base}|{e}"),
        _ => base.to_owned(),
    };
    let mut doc = Document::new();
    if let Some(name) = &options.app_name {
        doc.insert("application", doc! { "name": name });
    }
    doc.insert(
        "driver",
        doc! {
            "name": append(DRIVER_NAME, info.map(|i| &i.name)),
            "version": append(DRIVER_VERSION, info.and_then(|i| i.version.as_ref())),
        },
    );
    doc.insert(
        "os",
        doc! {
            "type": os_type(),
            "name": std::env::consts::OS,
            "architecture": std::env::consts::ARCH,
        },
    );
    let platform = append("Rust, synchronous threads", info.and_then(|i| i.platform.as_ref()));
    doc.insert("platform", platform.clone());

    if bson_len(&doc)? <= MAX_CLIENT_METADATA_BYTES {
        return Ok(doc);
    }
    doc.insert("os", doc! { "type": os_type() });
    let over = bson_len(&doc)?.saturating_sub(MAX_CLIENT_METADATA_BYTES);
    if over > 0 {
        let keep = floor_char_boundary(&platform, platform.len().saturating_sub(over));
        doc.insert("platform", &platform[..keep]);
    }
    let len = bson_len(&doc)?;
    if len > MAX_CLIENT_METADATA_BYTES {
        return Err(Error::invalid_argument(format!(
            "client metadata is {len} bytes even after truncation (limit {MAX_CLIENT_METADATA_BYTES}); \
             shorten appName or the driver info"
        )));
    }
    Ok(doc)
}

fn os_type() -> &'static str {
    match std::env::consts::OS {
        "linux" | "android" => "Linux",
        "macos" | "ios" => "Darwin",
        "windows" => "Windows",
        _ => "Unix",
    }
}

fn bson_len(doc: &Document) -> Result<usize> {
    let mut buf = Vec::with_capacity(MAX_CLIENT_METADATA_BYTES);
    crate::wire::write_document(doc, &mut buf)?;
    Ok(buf.len())
}

fn floor_char_boundary(s: &str, mut at: usize) -> usize {
    while at > 0 && !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The initial handshake command: legacy hello (`isMaster`) with `helloOk: true`, or `hello`
/// when load balanced (handshake.md, Connection handshake).
///
/// ```
/// use mongopool::conn::{client_metadata, hello_command};
/// use mongopool::ConnectionOptions;
///
/// let options = ConnectionOptions::default();
/// let hello = hello_command(&options, &client_metadata(&options)?);
/// assert_eq!(hello.keys().next().map(String::as_str), Some("isMaster"));
/// assert_eq!(hello.get_bool("helloOk")?, true);
/// assert!(hello.get_array("compression")?.is_empty());
///
/// let lb = ConnectionOptions { load_balanced: true, ..ConnectionOptions::default() };
/// let hello = hello_command(&lb, &client_metadata(&lb)?);
/// assert!(hello.contains_key("hello") && hello.get_bool("loadBalanced")?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn hello_command(options: &ConnectionOptions, metadata: &Document) -> Document {
    let mut cmd = if options.load_balanced {
        doc! { "hello": 1 }
    } else {
        doc! { "isMaster": 1, "helloOk": true }
    };
    cmd.insert("backpressure", "2");
    cmd.insert("client", metadata.clone());
    // op-compressed.md "MongoDB Handshake Amendment": the configured compressors in order, an
    // empty array when none.
    let compression: Vec<&str> = options.compressors.iter().map(|c| c.name()).collect();
    cmd.insert("compression", compression);
    if options.load_balanced {
        cmd.insert("loadBalanced", true);
    }
    cmd
}

/// The parts of a hello reply a pool and its connections use. Parsing never panics: missing
/// fields take the spec's defaults, fields of the wrong type are protocol errors.
///
/// ```
/// use mongopool::HelloReply;
///
/// let reply = HelloReply::from_document(bson::doc! {
///     "isWritablePrimary": true,
///     "maxWireVersion": 21,
///     "setName": "rs0",
///     "hosts": ["db1:27017", "db2:27017"],
///     "ok": 1.0,
/// })?;
/// assert!(reply.is_writable_primary);
/// assert_eq!(reply.max_wire_version, 21);
/// assert_eq!(reply.set_name.as_deref(), Some("rs0"));
/// assert_eq!(reply.hosts.len(), 2);
/// // Absent fields take the spec's defaults.
/// assert_eq!(reply.max_message_size_bytes, 48_000_000);
/// assert_eq!(reply.max_write_batch_size, 100_000);
/// # Ok::<(), mongopool::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct HelloReply {
    /// `maxWireVersion` (0 if absent).
    pub max_wire_version: i32,
    /// `minWireVersion` (0 if absent).
    pub min_wire_version: i32,
    /// `maxBsonObjectSize` (16 MiB if absent).
    pub max_bson_object_size: i64,
    /// `maxMessageSizeBytes`, clamped to mongopool's cap (48,000,000 if absent).
    pub max_message_size_bytes: usize,
    /// `maxWriteBatchSize` (100,000 if absent).
    pub max_write_batch_size: i64,
    /// The server's id for this connection (`connectionId`).
    pub connection_id: Option<i64>,
    /// Whether the server accepts `hello` for later checks.
    pub hello_ok: bool,
    /// `isWritablePrimary` / `ismaster`.
    pub is_writable_primary: bool,
    /// Compressors the server agreed to.
    pub compression: Vec<String>,
    /// `saslSupportedMechs`, if the handshake asked for it.
    pub sasl_supported_mechs: Option<Vec<String>>,
    /// The `speculativeAuthenticate` reply, if any.
    pub speculative_authenticate: Option<Document>,
    /// `serviceId` (load-balanced mode).
    pub service_id: Option<ObjectId>,
    /// Replica set members the server lists (`hosts`, `passives`, `arbiters`).
    pub hosts: Vec<String>,
    /// `setName`.
    pub set_name: Option<String>,
    /// The whole reply.
    pub raw: Document,
}

impl HelloReply {
    /// Parses a hello reply document.
    ///
    /// ```
    /// use mongopool::{ErrorKind, HelloReply};
    ///
    /// let reply = HelloReply::from_document(bson::doc! { "maxMessageSizeBytes": i64::MAX, "ok": 1 })?;
    /// // A huge announced size is clamped to mongopool's cap.
    /// assert_eq!(reply.max_message_size_bytes, mongopool::wire::MAX_MESSAGE_SIZE_CAP);
    ///
    /// let err = HelloReply::from_document(bson::doc! { "maxWireVersion": "21" }).unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::Protocol { .. }));
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn from_document(raw: Document) -> Result<Self> {
        let int = |key: &str, default: i64| -> Result<i64> {
            match raw.get(key) {
                None | Some(Bson::Null) => Ok(default),
                Some(b) => as_i64(b).ok_or_else(|| Error::protocol(format!("hello reply field {key} is not a number"))),
            }
        };
        let boolean = |key: &str| matches!(raw.get(key), Some(Bson::Boolean(true)));
        let strings = |key: &str| -> Result<Option<Vec<String>>> {
            match raw.get(key) {
                None | Some(Bson::Null) => Ok(None),
                Some(Bson::Array(items)) => items
                    .iter()
                    .map(|b| {
                        b.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| Error::protocol(format!("hello reply field {key} has a non-string")))
                    })
                    .collect::<Result<Vec<_>>>()
                    .map(Some),
                Some(_) => Err(Error::protocol(format!("hello reply field {key} is not an array"))),
            }
        };
        let clamp_i32 = |v: i64| v.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
        let max_message = int("maxMessageSizeBytes", DEFAULT_MAX_MESSAGE_SIZE as i64)?;
        if max_message < 1024 {
            return Err(Error::protocol(format!(
                "hello reply maxMessageSizeBytes {max_message} is too small"
            )));
        }
        let mut hosts = Vec::new();
        for key in ["hosts", "passives", "arbiters"] {
            hosts.extend(strings(key)?.unwrap_or_default());
        }
        let service_id = match raw.get("serviceId") {
            None | Some(Bson::Null) => None,
            Some(Bson::ObjectId(id)) => Some(*id),
            Some(_) => return Err(Error::protocol("hello reply serviceId is not an ObjectId")),
        };
        let speculative_authenticate = match raw.get("speculativeAuthenticate") {
            None | Some(Bson::Null) => None,
            Some(Bson::Document(d)) => Some(d.clone()),
            Some(_) => return Err(Error::protocol("hello reply speculativeAuthenticate is not a document")),
        };
        Ok(HelloReply {
            max_wire_version: clamp_i32(int("maxWireVersion", 0)?),
            min_wire_version: clamp_i32(int("minWireVersion", 0)?),
            max_bson_object_size: int("maxBsonObjectSize", 16 * 1024 * 1024)?,
            max_message_size_bytes: (max_message as u64).min(MAX_MESSAGE_SIZE_CAP as u64) as usize,
            max_write_batch_size: int("maxWriteBatchSize", 100_000)?,
            connection_id: match raw.get("connectionId") {
                None | Some(Bson::Null) => None,
                Some(b) => Some(as_i64(b).ok_or_else(|| Error::protocol("hello reply connectionId is not a number"))?),
            },
            hello_ok: boolean("helloOk"),
            is_writable_primary: boolean("isWritablePrimary") || boolean("ismaster"),
            compression: strings("compression")?.unwrap_or_default(),
            sasl_supported_mechs: strings("saslSupportedMechs")?,
            speculative_authenticate,
            service_id,
            hosts,
            set_name: raw.get_str("setName").ok().map(str::to_owned),
            raw,
        })
    }
}

/// A BSON number as i64 (doubles must be integral).
pub(crate) fn as_i64(b: &Bson) -> Option<i64> {
    match b {
        Bson::Int32(v) => Some(*v as i64),
        Bson::Int64(v) => Some(*v),
        Bson::Double(v) if v.fract() == 0.0 && v.is_finite() && v.abs() < 9.0e18 => Some(*v as i64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::options::DriverInfo;

    #[test]
    fn metadata_has_the_required_fields() {
        let opts = ConnectionOptions {
            app_name: Some("app".into()),
            ..Default::default()
        };
        let doc = client_metadata(&opts).unwrap();
        assert_eq!(doc.get_document("application").unwrap().get_str("name").unwrap(), "app");
        assert_eq!(
            doc.get_document("driver").unwrap().get_str("name").unwrap(),
            "mongopool"
        );
        assert!(doc.get_document("os").unwrap().get_str("type").is_ok());
        assert!(doc.get_str("platform").is_ok());
    }

    #[test]
    fn metadata_is_truncated_to_512_bytes_in_spec_order() {
        let opts = ConnectionOptions {
            app_name: Some("a".repeat(128)),
            driver_info: Some(DriverInfo {
                name: "wrapper".into(),
                version: Some("9.9".into()),
                platform: Some("p".repeat(600)),
            }),
            ..Default::default()
        };
        let doc = client_metadata(&opts).unwrap();
        assert!(bson_len(&doc).unwrap() <= MAX_CLIENT_METADATA_BYTES);
        // os is reduced to its type before platform is cut; the app name and driver survive.
        let os = doc.get_document("os").unwrap();
        assert_eq!(os.keys().collect::<Vec<_>>(), vec!["type"]);
        assert_eq!(
            doc.get_document("application").unwrap().get_str("name").unwrap().len(),
            128
        );
        assert_eq!(
            doc.get_document("driver").unwrap().get_str("name").unwrap(),
            "mongopool|wrapper"
        );
        assert!(doc.get_str("platform").unwrap().starts_with("Rust"));
        // Multi-byte characters are cut on a character boundary.
        let opts = ConnectionOptions {
            driver_info: Some(DriverInfo {
                name: "w".into(),
                version: None,
                platform: Some("é".repeat(400)),
            }),
            ..Default::default()
        };
        let doc = client_metadata(&opts).unwrap();
        assert!(bson_len(&doc).unwrap() <= MAX_CLIENT_METADATA_BYTES);
    }

    #[test]
    fn hello_command_shapes() {
        let opts = ConnectionOptions::default();
        let md = client_metadata(&opts).unwrap();
        let cmd = hello_command(&opts, &md);
        assert_eq!(cmd.keys().next().unwrap(), "isMaster");
        assert!(cmd.get_bool("helloOk").unwrap());
        assert_eq!(cmd.get_str("backpressure").unwrap(), "2");
        assert!(cmd.get_array("compression").unwrap().is_empty());
        let lb = ConnectionOptions {
            load_balanced: true,
            ..Default::default()
        };
        let cmd = hello_command(&lb, &md);
        assert_eq!(cmd.keys().next().unwrap(), "hello");
        assert!(cmd.get_bool("loadBalanced").unwrap());
    }

    #[test]
    fn hello_reply_parsing_is_total() {
        let reply = HelloReply::from_document(doc! {
            "ismaster": true, "maxWireVersion": 21, "connectionId": 7i64,
            "maxMessageSizeBytes": 48000000, "hosts": ["a:1", "b:2"], "compression": ["zlib"],
        })
        .unwrap();
        assert_eq!(reply.max_wire_version, 21);
        assert_eq!(reply.connection_id, Some(7));
        assert!(reply.is_writable_primary);
        assert_eq!(reply.hosts.len(), 2);
        let huge = HelloReply::from_document(doc! { "maxMessageSizeBytes": i64::MAX }).unwrap();
        assert_eq!(huge.max_message_size_bytes, MAX_MESSAGE_SIZE_CAP);
        for bad in [
            doc! { "maxWireVersion": "x" },
            doc! { "maxMessageSizeBytes": -1 },
            doc! { "hosts": 5 },
            doc! { "hosts": [1] },
            doc! { "serviceId": "nope" },
        ] {
            assert!(HelloReply::from_document(bad).is_err());
        }
    }
}
