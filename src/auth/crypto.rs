//! The SCRAM primitives of RFC 5802 section 2.2, over SHA-1 or SHA-256.
//!
//! All cryptography comes from RustCrypto crates; this file only picks the hash per mechanism.

use std::fmt;

use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::credential::AuthMechanism;
use super::saslprep::saslprep;
use crate::error::{Error, Result};

/// A password as it enters `Hi()`: MongoDB's hex digest (SCRAM-SHA-1) or the SASLprepped text
/// (SCRAM-SHA-256). `Debug` is redacted so it cannot leak through a derived `Debug`.
pub(crate) struct PreparedPassword(String);

impl PreparedPassword {
    /// Prepares `password` for `mechanism` as auth.md requires.
    pub(crate) fn new(mechanism: AuthMechanism, username: &str, password: &str) -> Result<Self> {
        match mechanism {
            AuthMechanism::ScramSha1 => Ok(Self::mongo_digest(username, password)),
            AuthMechanism::ScramSha256 => Ok(PreparedPassword(saslprep(password)?.into_owned())),
        }
    }

    /// Uses `password` as is (the RFC test vectors apply no MongoDB preparation).
    #[cfg(test)]
    pub(crate) fn raw(password: &str) -> Self {
        PreparedPassword(password.to_owned())
    }

    /// `HEX(MD5(username + ":mongo:" + password))`, the password MongoDB's SCRAM-SHA-1 uses.
    fn mongo_digest(username: &str, password: &str) -> Self {
        let mut md5 = Md5::new();
        md5.update(username.as_bytes());
        md5.update(b":mongo:");
        md5.update(password.as_bytes());
        let hex = md5.finalize().iter().map(|b| format!("{b:02x}")).collect();
        PreparedPassword(hex)
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for PreparedPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PreparedPassword(<redacted>)")
    }
}

/// `HMAC(key, data)`.
pub(crate) fn hmac(mechanism: AuthMechanism, key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    Ok(match mechanism {
        AuthMechanism::ScramSha1 => new_mac::<Hmac<Sha1>>(key)?
            .chain_update(data)
            .finalize()
            .into_bytes()
            .to_vec(),
        AuthMechanism::ScramSha256 => new_mac::<Hmac<Sha256>>(key)?
            .chain_update(data)
            .finalize()
            .into_bytes()
            .to_vec(),
    })
}

/// Whether `tag == HMAC(key, data)`, compared in constant time (`Mac::verify_slice`).
pub(crate) fn hmac_matches(mechanism: AuthMechanism, key: &[u8], data: &[u8], tag: &[u8]) -> Result<bool> {
    Ok(match mechanism {
        AuthMechanism::ScramSha1 => new_mac::<Hmac<Sha1>>(key)?.chain_update(data).verify_slice(tag).is_ok(),
        AuthMechanism::ScramSha256 => new_mac::<Hmac<Sha256>>(key)?
            .chain_update(data)
            .verify_slice(tag)
            .is_ok(),
    })
}

/// `H(data)`.
pub(crate) fn hash(mechanism: AuthMechanism, data: &[u8]) -> Vec<u8> {
    match mechanism {
        AuthMechanism::ScramSha1 => Sha1::digest(data).to_vec(),
        AuthMechanism::ScramSha256 => Sha256::digest(data).to_vec(),
    }
}

/// `Hi(password, salt, i)`: PBKDF2 with HMAC-H and an output as long as H's.
pub(crate) fn hi(mechanism: AuthMechanism, password: &PreparedPassword, salt: &[u8], iterations: u32) -> Vec<u8> {
    match mechanism {
        AuthMechanism::ScramSha1 => {
            let mut out = vec![0u8; 20];
            pbkdf2::pbkdf2_hmac::<Sha1>(password.as_bytes(), salt, iterations, &mut out);
            out
        }
        AuthMechanism::ScramSha256 => {
            let mut out = vec![0u8; 32];
            pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out);
            out
        }
    }
}

/// SHA-256 of the mechanism and prepared password: the cache's key for a password, so the cache
/// holds no second plain-text copy of it.
pub(crate) fn password_fingerprint(mechanism: AuthMechanism, password: &PreparedPassword) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(mechanism.as_str().as_bytes());
    h.update([0u8]);
    h.update(password.as_bytes());
    h.finalize().into()
}

// HMAC takes keys of any length, so this cannot fail; it stays fallible rather than panic.
fn new_mac<M: Mac + hmac::digest::KeyInit>(key: &[u8]) -> Result<M> {
    <M as hmac::digest::KeyInit>::new_from_slice(key).map_err(|_| Error::internal("HMAC rejected its key length"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mongo_password_digest() {
        // MongoDB's digest of user "user", password "pencil".
        let p = PreparedPassword::new(AuthMechanism::ScramSha1, "user", "pencil").unwrap();
        assert_eq!(p.0, "1c33006ec1ffd90f9cadcbcc0e118200");
        assert_eq!(format!("{p:?}"), "PreparedPassword(<redacted>)");
    }

    #[test]
    fn sha256_password_is_saslprepped_not_digested() {
        let p = PreparedPassword::new(AuthMechanism::ScramSha256, "u", "I\u{00AD}X").unwrap();
        assert_eq!(p.0, "IX");
    }

    #[test]
    fn hmac_matches_rejects_wrong_and_short_tags() {
        let tag = hmac(AuthMechanism::ScramSha256, b"k", b"d").unwrap();
        assert!(hmac_matches(AuthMechanism::ScramSha256, b"k", b"d", &tag).unwrap());
        assert!(!hmac_matches(AuthMechanism::ScramSha256, b"k", b"x", &tag).unwrap());
        assert!(!hmac_matches(AuthMechanism::ScramSha256, b"k", b"d", &tag[..10]).unwrap());
    }
}
