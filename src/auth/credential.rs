//! The user's credential and the SCRAM mechanisms mongopool supports.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The database SCRAM credentials authenticate against unless told otherwise.
///
/// ```
/// use mongopool::auth::{Credential, DEFAULT_SOURCE};
///
/// assert_eq!(DEFAULT_SOURCE, "admin");
/// assert_eq!(Credential::new("app", "example-only").source, DEFAULT_SOURCE);
/// ```
pub const DEFAULT_SOURCE: &str = "admin";

/// Mechanisms MongoDB defines that mongopool does not implement; naming one is a clear error
/// rather than an "unknown mechanism" one.
const UNSUPPORTED: &[&str] = &[
    "MONGODB-CR",
    "MONGODB-X509",
    "GSSAPI",
    "PLAIN",
    "MONGODB-AWS",
    "MONGODB-OIDC",
];

/// A SCRAM authentication mechanism.
///
/// ```
/// use mongopool::auth::AuthMechanism;
/// let m: AuthMechanism = "SCRAM-SHA-256".parse().unwrap();
/// assert_eq!(m, AuthMechanism::ScramSha256);
/// assert_eq!(m.to_string(), "SCRAM-SHA-256");
/// assert!("PLAIN".parse::<AuthMechanism>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthMechanism {
    /// SCRAM-SHA-1 (RFC 5802) over MongoDB's hashed password.
    ScramSha1,
    /// SCRAM-SHA-256 (RFC 7677) over the SASLprepped password.
    ScramSha256,
}

impl AuthMechanism {
    /// The name MongoDB uses for the mechanism, e.g. `"SCRAM-SHA-256"`.
    ///
    /// ```
    /// use mongopool::auth::AuthMechanism;
    ///
    /// assert_eq!(AuthMechanism::ScramSha1.as_str(), "SCRAM-SHA-1");
    /// assert_eq!(AuthMechanism::ScramSha256.as_str().parse::<AuthMechanism>()?, AuthMechanism::ScramSha256);
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMechanism::ScramSha1 => "SCRAM-SHA-1",
            AuthMechanism::ScramSha256 => "SCRAM-SHA-256",
        }
    }
}

impl fmt::Display for AuthMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthMechanism {
    type Err = Error;

    /// Parses a mechanism name as written in `authMechanism` (case-sensitive).
    fn from_str(name: &str) -> Result<Self> {
        match name {
            "SCRAM-SHA-1" => Ok(AuthMechanism::ScramSha1),
            "SCRAM-SHA-256" => Ok(AuthMechanism::ScramSha256),
            other if UNSUPPORTED.contains(&other) => Err(Error::invalid_argument(format!(
                "authentication mechanism {other} is not supported by mongopool \
                 (supported: SCRAM-SHA-1, SCRAM-SHA-256)"
            ))),
            other => Err(Error::invalid_argument(format!(
                "unknown authentication mechanism {other:?} (supported: SCRAM-SHA-1, SCRAM-SHA-256)"
            ))),
        }
    }
}

/// A username and password to authenticate every pooled connection with.
///
/// `Debug` never shows the password:
///
/// ```
/// use mongopool::auth::{AuthMechanism, Credential};
/// let c = Credential::new("app", "s3cret").with_source("appdb");
/// assert_eq!(c.source, "appdb");
/// assert_eq!(c.mechanism, None);
/// assert!(!format!("{c:?}").contains("s3cret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The user name, sent as given (MongoDB forbids SASLprep of user names).
    pub username: String,
    /// The plain-text password.
    pub password: String,
    /// The database holding the user (`authSource`); [`DEFAULT_SOURCE`] by default.
    pub source: String,
    /// The configured mechanism; `None` negotiates one with the server.
    pub mechanism: Option<AuthMechanism>,
}

impl Credential {
    /// A credential for `username` in the `admin` database, with the mechanism negotiated.
    ///
    /// ```
    /// use mongopool::auth::Credential;
    ///
    /// # let password = String::from("example-only");
    /// let c = Credential::new("app", password); // e.g. read from a secret store
    /// assert_eq!((c.username.as_str(), c.source.as_str(), c.mechanism), ("app", "admin", None));
    /// assert!(format!("{c:?}").contains("<redacted>"));
    /// ```
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credential {
            username: username.into(),
            password: password.into(),
            source: DEFAULT_SOURCE.to_owned(),
            mechanism: None,
        }
    }

    /// Sets the authentication database (`authSource`).
    ///
    /// ```
    /// use mongopool::auth::Credential;
    ///
    /// let c = Credential::new("app", "example-only").with_source("orders");
    /// assert_eq!(c.source, "orders");
    /// ```
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// Sets the mechanism instead of negotiating one.
    ///
    /// ```
    /// use mongopool::auth::{AuthMechanism, Credential};
    ///
    /// let c = Credential::new("app", "example-only").with_mechanism(AuthMechanism::ScramSha1);
    /// assert_eq!(c.mechanism, Some(AuthMechanism::ScramSha1));
    /// ```
    pub fn with_mechanism(mut self, mechanism: AuthMechanism) -> Self {
        self.mechanism = Some(mechanism);
        self
    }

    /// Checks what SCRAM requires: a non-empty user name and authentication database.
    ///
    /// ```
    /// use mongopool::auth::Credential;
    /// use mongopool::ErrorKind;
    ///
    /// assert!(Credential::new("app", "example-only").validate().is_ok());
    /// let err = Credential::new("app", "example-only").with_source("").validate().unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::InvalidArgument { .. }));
    /// assert!(err.to_string().contains("authSource"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        if self.username.is_empty() {
            return Err(Error::invalid_argument(
                "SCRAM authentication requires a non-empty username",
            ));
        }
        if self.source.is_empty() {
            return Err(Error::invalid_argument(
                "the authentication database (authSource) must not be empty",
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("source", &self.source)
            .field("mechanism", &self.mechanism)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn parses_scram_names_and_rejects_others_clearly() {
        assert_eq!(
            "SCRAM-SHA-1".parse::<AuthMechanism>().unwrap(),
            AuthMechanism::ScramSha1
        );
        let err = "MONGODB-X509".parse::<AuthMechanism>().unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidArgument { .. }));
        assert!(err.to_string().contains("not supported"), "{err}");
        let err = "scram-sha-1".parse::<AuthMechanism>().unwrap_err();
        assert!(err.to_string().contains("unknown"), "{err}");
    }

    #[test]
    fn validate_requires_username_and_source() {
        assert!(Credential::new("u", "").validate().is_ok());
        assert!(Credential::new("", "p").validate().is_err());
        assert!(Credential::new("u", "p").with_source("").validate().is_err());
    }

    #[test]
    fn debug_redacts_the_password() {
        let c = Credential::new("alice", "hunter2").with_mechanism(AuthMechanism::ScramSha1);
        let text = format!("{c:?} {c:#?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("alice") && text.contains("redacted"), "{text}");
    }
}
