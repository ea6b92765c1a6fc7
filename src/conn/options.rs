//! What a connection needs to know to open and handshake.

use std::time::Duration;

use super::tls::TlsOptions;
use crate::auth::Credential;
use crate::error::{Error, Result};
use crate::wire::Compressor;

/// The default `connectTimeoutMS`.
///
/// ```
/// use mongopool::conn::DEFAULT_CONNECT_TIMEOUT;
/// use mongopool::ConnectionOptions;
///
/// assert_eq!(ConnectionOptions::default().connect_timeout, Some(DEFAULT_CONNECT_TIMEOUT));
/// assert_eq!(DEFAULT_CONNECT_TIMEOUT.as_secs(), 10);
/// ```
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest `appName` in bytes (handshake.md, Limitations).
///
/// ```
/// use mongopool::conn::MAX_APP_NAME_BYTES;
/// use mongopool::ConnectionOptions;
///
/// let fits = ConnectionOptions { app_name: Some("a".repeat(MAX_APP_NAME_BYTES)), ..Default::default() };
/// assert!(fits.validate().is_ok());
/// let too_long = ConnectionOptions { app_name: Some("a".repeat(MAX_APP_NAME_BYTES + 1)), ..Default::default() };
/// assert!(too_long.validate().is_err());
/// ```
pub const MAX_APP_NAME_BYTES: usize = 128;

/// Options for opening one connection.
///
/// ```
/// use std::time::Duration;
/// use mongopool::ConnectionOptions;
/// let opts = ConnectionOptions {
///     app_name: Some("inventory".into()),
///     socket_timeout: Some(Duration::from_secs(5)),
///     ..ConnectionOptions::default()
/// };
/// opts.validate().unwrap();
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionOptions {
    /// `connectTimeoutMS`: the limit for the TCP connect and the handshake. `None` means no limit.
    /// Default 10 s.
    pub connect_timeout: Option<Duration>,
    /// `socketTimeoutMS`: the read/write limit once established. `None` (the default) means none.
    pub socket_timeout: Option<Duration>,
    /// `appName`, sent in the handshake and visible in server logs (at most 128 bytes).
    pub app_name: Option<String>,
    /// `loadBalanced`: handshake with `hello` and `loadBalanced: true`.
    pub load_balanced: bool,
    /// A library wrapping mongopool, appended to the handshake's driver metadata.
    pub driver_info: Option<DriverInfo>,
    /// TLS settings; `Some` turns TLS on.
    pub tls: Option<TlsOptions>,
    /// The credential every connection authenticates with after the hello (SCRAM-SHA-256 or
    /// SCRAM-SHA-1); `None` means no authentication. `Debug` redacts the password.
    pub credential: Option<Credential>,
    /// `compressors`: offered in the handshake in this order; commands are compressed with the
    /// first one the server also lists (op-compressed.md). Each must be compiled in (its cargo
    /// feature). Empty (the default): no compression.
    pub compressors: Vec<Compressor>,
    /// `zlibCompressionLevel`, -1 (the library's default) to 9; used when zlib is negotiated.
    pub zlib_compression_level: Option<i32>,
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        ConnectionOptions {
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            socket_timeout: None,
            app_name: None,
            load_balanced: false,
            driver_info: None,
            tls: None,
            credential: None,
            compressors: Vec::new(),
            zlib_compression_level: None,
        }
    }
}

impl ConnectionOptions {
    /// Checks the options, returning a typed error naming the bad one.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mongopool::{ConnectionOptions, ErrorKind};
    ///
    /// // "No timeout" is spelled None; a zero duration is an error naming the option.
    /// let zero = ConnectionOptions { socket_timeout: Some(Duration::ZERO), ..Default::default() };
    /// let err = zero.validate().unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::InvalidArgument { .. }));
    /// assert!(err.to_string().contains("socketTimeoutMS"));
    /// let level = ConnectionOptions { zlib_compression_level: Some(10), ..Default::default() };
    /// assert!(level.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        if let Some(name) = &self.app_name {
            if name.len() > MAX_APP_NAME_BYTES {
                return Err(Error::invalid_argument(format!(
                    "appName must be at most {MAX_APP_NAME_BYTES} bytes, got {}",
                    name.len()
                )));
            }
        }
        for (what, t) in [
            ("connectTimeoutMS", self.connect_timeout),
            ("socketTimeoutMS", self.socket_timeout),
        ] {
            if t == Some(Duration::ZERO) {
                return Err(Error::invalid_argument(format!(
                    "{what}: use None for no timeout, not a zero duration"
                )));
            }
        }
        if let Some(info) = &self.driver_info {
            info.validate()?;
        }
        if let Some(credential) = &self.credential {
            credential.validate()?;
        }
        for c in &self.compressors {
            if *c == Compressor::Noop {
                return Err(Error::invalid_argument("compressors: noop cannot be negotiated"));
            }
            c.check_compiled_in()?;
        }
        if let Some(level) = self.zlib_compression_level {
            if !(-1..=9).contains(&level) {
                return Err(Error::invalid_argument(format!(
                    "zlibCompressionLevel must be from -1 to 9, got {level}"
                )));
            }
        }
        Ok(())
    }
}

/// Metadata of a library that wraps mongopool (handshake.md, Supporting Wrapping Libraries).
///
/// ```
/// use mongopool::{ConnectionOptions, DriverInfo};
///
/// let info = DriverInfo { name: "odm".into(), version: Some("2.1".into()), platform: None };
/// let options = ConnectionOptions { driver_info: Some(info), ..Default::default() };
/// assert!(options.validate().is_ok());
/// // '|' separates the names in the handshake, so it cannot appear in them.
/// let bad = DriverInfo { name: "odm|x".into(), ..DriverInfo::default() };
/// assert!(ConnectionOptions { driver_info: Some(bad), ..Default::default() }.validate().is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DriverInfo {
    /// The wrapping library's name.
    pub name: String,
    /// Its version.
    pub version: Option<String>,
    /// Its platform information.
    pub platform: Option<String>,
}

impl DriverInfo {
    fn validate(&self) -> Result<()> {
        let fields = [Some(&self.name), self.version.as_ref(), self.platform.as_ref()];
        if fields.into_iter().flatten().any(|s| s.contains('|')) {
            return Err(Error::invalid_argument("driver info fields must not contain '|'"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_password_and_the_key_password() {
        let opts = ConnectionOptions {
            credential: Some(Credential::new("app", "hunter2")),
            tls: Some(TlsOptions {
                certificate_key_file_password: Some("swordfish".into()),
                ..TlsOptions::default()
            }),
            ..ConnectionOptions::default()
        };
        let text = format!("{opts:?} {opts:#?}");
        assert!(text.contains("app"), "{text}");
        assert!(!text.contains("hunter2") && !text.contains("swordfish"), "{text}");
    }

    #[test]
    fn an_invalid_credential_is_refused() {
        let opts = ConnectionOptions {
            credential: Some(Credential::new("", "p")),
            ..ConnectionOptions::default()
        };
        assert!(opts.validate().is_err());
    }
}
