//! Building and validating the [`Credential`] (auth.md, "Connection String Options" and the
//! per-mechanism "MongoCredential Properties").

use std::collections::BTreeMap;
use std::fmt;

use super::hosts::UserInfo;
use super::types::AuthMechanism;
use super::ConnectionString;
use crate::error::{Error, Result};

/// What secrets are replaced with in `Debug` output and `redacted()`.
pub(crate) const MASK: &str = "***";

/// Mechanism properties whose values are secrets.
const SECRET_PROPERTIES: &[&str] = &["AWS_SESSION_TOKEN"];

/// Authentication settings from a connection string.
///
/// `Debug` prints the password (and secret mechanism properties) as `"***"`.
///
/// ```
/// use mongopool::uri::{AuthMechanism, ConnectionString};
/// let cs = ConnectionString::parse("mongodb://ldap%40corp:pw@h/?authMechanism=PLAIN").unwrap();
/// let cred = cs.credential.unwrap();
/// assert_eq!(cred.username.as_deref(), Some("ldap@corp"));
/// assert_eq!(cred.mechanism, Some(AuthMechanism::Plain));
/// assert_eq!(cred.source, "$external");
/// assert!(format!("{cred:?}").contains("password: Some(\"***\")"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credential {
    /// The user name, percent-decoded. `None` for mechanisms that need none.
    pub username: Option<String>,
    /// The password, percent-decoded (`Some("")` for `user:@host`).
    pub password: Option<String>,
    /// The database authentication runs against: `authSource`, else the mechanism's default
    /// (the URI's database or `admin` for SCRAM, `$external` for external mechanisms).
    pub source: String,
    /// `authMechanism`; `None` means negotiate SCRAM-SHA-256 or SCRAM-SHA-1 with the server.
    pub mechanism: Option<AuthMechanism>,
    /// `authMechanismProperties`, with the mechanism's defaults filled in (GSSAPI's
    /// `SERVICE_NAME`). Empty when there are none.
    pub mechanism_properties: BTreeMap<String, String>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| MASK))
            .field("source", &self.source)
            .field("mechanism", &self.mechanism)
            .field("mechanism_properties", &masked_properties(&self.mechanism_properties))
            .finish()
    }
}

/// The properties with secret values replaced by [`MASK`].
pub(crate) fn masked_properties(props: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    props
        .iter()
        .map(|(k, v)| {
            let v = if SECRET_PROPERTIES.contains(&k.as_str()) {
                MASK
            } else {
                v.as_str()
            };
            (k.as_str(), v)
        })
        .collect()
}

/// The credential the URI asks for, if any. User information (even empty, as in `@host`) or
/// `authMechanism` asks for one; `authSource` or a database alone do not (auth.md).
pub(crate) fn credential(cs: &ConnectionString, userinfo: Option<&UserInfo>) -> Result<Option<Credential>> {
    if userinfo.is_none() && cs.auth_mechanism.is_none() {
        return Ok(None);
    }
    let mut cred = Credential {
        username: userinfo.map(|u| u.username.clone()),
        password: userinfo.and_then(|u| u.password.clone()),
        source: String::new(),
        mechanism: cs.auth_mechanism,
        mechanism_properties: cs.auth_mechanism_properties.clone().unwrap_or_default(),
    };
    let db_or = |fallback: &str| cs.default_database.clone().unwrap_or_else(|| fallback.to_owned());
    let source = cs.auth_source.clone();
    let rules = Rules::new(cred.mechanism);
    match cred.mechanism {
        None | Some(AuthMechanism::ScramSha1 | AuthMechanism::ScramSha256) => {
            rules.username_required(&cred)?;
            // Without authMechanism the connection-string suite accepts a missing password.
            if cred.mechanism.is_some() {
                rules.password_required(&cred)?;
            }
            rules.allowed_properties(&cred, &[])?;
            cred.source = source.unwrap_or_else(|| db_or("admin"));
        }
        Some(AuthMechanism::Plain) => {
            rules.username_required(&cred)?;
            rules.password_required(&cred)?;
            rules.allowed_properties(&cred, &[])?;
            cred.source = source.unwrap_or_else(|| db_or("$external"));
        }
        Some(AuthMechanism::Gssapi) => {
            rules.username_required(&cred)?;
            rules.allowed_properties(
                &cred,
                &[
                    "SERVICE_NAME",
                    "CANONICALIZE_HOST_NAME",
                    "SERVICE_REALM",
                    "SERVICE_HOST",
                ],
            )?;
            if let Some(v) = cred.mechanism_properties.get("CANONICALIZE_HOST_NAME") {
                if !["none", "forward", "forwardAndReverse", "true", "false"].contains(&v.as_str()) {
                    return Err(rules.error("CANONICALIZE_HOST_NAME must be none, forward or forwardAndReverse"));
                }
            }
            cred.mechanism_properties
                .entry("SERVICE_NAME".to_owned())
                .or_insert_with(|| "mongodb".to_owned());
            cred.source = rules.external_source(source)?;
        }
        Some(AuthMechanism::MongoDbX509) => {
            rules.no_password(&cred)?;
            if cred.username.as_deref() == Some("") {
                return Err(rules.error("the username must not be empty"));
            }
            rules.allowed_properties(&cred, &[])?;
            cred.source = rules.external_source(source)?;
        }
        Some(AuthMechanism::MongoDbAws) => {
            // auth.md (2025-09-30): AWS credentials come from the environment or the AWS SDK;
            // credentials in the URI must raise an error.
            if cred.username.is_some() || cred.password.is_some() {
                return Err(rules.error(
                    "credentials must not be given in the connection string; they are read from \
                     the environment",
                ));
            }
            if cred.mechanism_properties.contains_key("AWS_SESSION_TOKEN") {
                return Err(rules.error("AWS_SESSION_TOKEN must not be given in the connection string"));
            }
            rules.allowed_properties(&cred, &[])?;
            cred.source = rules.external_source(source)?;
        }
        Some(AuthMechanism::MongoDbOidc) => {
            oidc(&rules, &cred)?;
            cred.source = rules.external_source(source)?;
        }
    }
    Ok(Some(cred))
}

fn oidc(rules: &Rules, cred: &Credential) -> Result<()> {
    rules.no_password(cred)?;
    rules.allowed_properties(cred, &["ENVIRONMENT", "TOKEN_RESOURCE"])?;
    let env = cred.mechanism_properties.get("ENVIRONMENT").ok_or_else(|| {
        rules.error("authMechanismProperties must set ENVIRONMENT (callbacks cannot be given in a URI)")
    })?;
    let token_resource = cred.mechanism_properties.contains_key("TOKEN_RESOURCE");
    let (username_allowed, needs_resource) = match env.as_str() {
        "test" | "k8s" => (false, false),
        "azure" => (true, true),
        "gcp" => (false, true),
        _ => return Err(rules.error("ENVIRONMENT must be test, azure, gcp or k8s")),
    };
    if cred.username.is_some() && !username_allowed {
        return Err(rules.error(&format!("a username is not allowed with ENVIRONMENT:{env}")));
    }
    match (needs_resource, token_resource) {
        (true, false) => Err(rules.error(&format!("ENVIRONMENT:{env} requires TOKEN_RESOURCE"))),
        (false, true) => Err(rules.error(&format!("TOKEN_RESOURCE is not allowed with ENVIRONMENT:{env}"))),
        _ => Ok(()),
    }
}

/// The per-mechanism checks, with error messages naming the mechanism. No message includes
/// the username, password or a property value.
struct Rules {
    mechanism: &'static str,
}

impl Rules {
    fn new(mechanism: Option<AuthMechanism>) -> Self {
        Rules {
            mechanism: mechanism.map_or("the default authentication mechanism", AuthMechanism::as_str),
        }
    }

    fn error(&self, why: &str) -> Error {
        Error::invalid_argument(format!("invalid credential for {}: {why}", self.mechanism))
    }

    fn username_required(&self, cred: &Credential) -> Result<()> {
        match cred.username.as_deref() {
            Some(u) if !u.is_empty() => Ok(()),
            _ => Err(self.error("a non-empty username is required")),
        }
    }

    fn password_required(&self, cred: &Credential) -> Result<()> {
        match cred.password {
            Some(_) => Ok(()),
            None => Err(self.error("a password is required")),
        }
    }

    fn no_password(&self, cred: &Credential) -> Result<()> {
        match cred.password {
            Some(_) => Err(self.error("a password must not be given")),
            None => Ok(()),
        }
    }

    fn allowed_properties(&self, cred: &Credential, allowed: &[&str]) -> Result<()> {
        match cred
            .mechanism_properties
            .keys()
            .find(|k| !allowed.contains(&k.as_str()))
        {
            Some(k) if k.len() <= 64 => Err(self.error(&format!("authMechanismProperties: {k:?} is not supported"))),
            Some(_) => Err(self.error("authMechanismProperties: unsupported property")),
            None => Ok(()),
        }
    }

    /// External mechanisms authenticate against `$external` only.
    fn external_source(&self, source: Option<String>) -> Result<String> {
        match source {
            Some(s) if s != "$external" => Err(self.error("authSource must be $external")),
            _ => Ok("$external".to_owned()),
        }
    }
}
