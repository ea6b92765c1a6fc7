//! The cache of derived SCRAM keys (auth.md "Caching credentials in SCRAM").
//!
//! PBKDF2 with thousands of iterations is the slow part of SCRAM, and every connection of a pool
//! (and every pool of a replica set, whose members share the user document and so the salt)
//! would repeat it for the same inputs. The cache keeps `ClientKey` and `ServerKey`, keyed by the
//! mechanism, a SHA-256 fingerprint of the prepared password, the salt and the iteration count.
//!
//! The fingerprint rather than the password itself is the key so the cache holds no second
//! plain-text copy of the password. It is a fast hash, not a password hash: it guards against
//! casual exposure, not against someone who can read the process's memory (who could read the
//! credential itself).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::credential::AuthMechanism;
use super::crypto::{self, PreparedPassword};
use crate::error::Result;

/// At most this many entries are kept: a pool needs one per mechanism and server salt, and the
/// bound stops a hostile server that sends a new salt every time from growing the cache.
const MAX_ENTRIES: usize = 64;

#[derive(Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    mechanism: AuthMechanism,
    password: [u8; 32],
    salt: Vec<u8>,
    iterations: u32,
}

/// The keys derived from one salted password.
#[derive(Clone)]
pub(crate) struct ScramKeys {
    pub(crate) client_key: Vec<u8>,
    pub(crate) server_key: Vec<u8>,
}

/// A thread-safe, bounded cache of SCRAM keys; share one per credential (or per client) across
/// all connections so PBKDF2 runs once rather than once per connection.
///
/// ```
/// let cache = mongopool::auth::ScramCache::new();
/// assert!(cache.is_empty());
/// assert_eq!(cache.derivations(), 0);
/// ```
#[derive(Default)]
pub struct ScramCache {
    entries: Mutex<HashMap<CacheKey, ScramKeys>>,
    derivations: AtomicU64,
}

impl ScramCache {
    /// An empty cache.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use mongopool::auth::ScramCache;
    ///
    /// // One cache shared by every connection that authenticates with the same credential.
    /// let cache = Arc::new(ScramCache::new());
    /// assert!(cache.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// How many entries the cache holds.
    ///
    /// ```
    /// # use bson::{doc, spec::BinarySubtype, Binary, Document};
    /// # use mongopool::auth::{authenticate, CommandRunner, Credential, ScramCache};
    /// # use mongopool::{CommandError, Error, ErrorKind};
    /// # /// Answers saslStart with a valid server-first-message, then rejects the proof.
    /// # struct RejectsProof;
    /// # impl CommandRunner for RejectsProof {
    /// #     fn run_command(&mut self, _db: &str, command: Document) -> mongopool::Result<Document> {
    /// #         if command.contains_key("saslStart") {
    /// #             let first = String::from_utf8(command.get_binary_generic("payload").unwrap().clone()).unwrap();
    /// #             let nonce = first.split("r=").nth(1).unwrap();
    /// #             let reply = format!("r={nonce}srv,s=QSXCR+Q6sek8bf92,i=4096").into_bytes();
    /// #             let payload = Binary { subtype: BinarySubtype::Generic, bytes: reply };
    /// #             return Ok(doc! { "ok": 1, "conversationId": 1, "done": false, "payload": payload });
    /// #         }
    /// #         let (code, code_name) = (18, "AuthenticationFailed".to_string());
    /// #         Err(Error::new(ErrorKind::Command(CommandError { code, code_name, message: "bad proof".into() })))
    /// #     }
    /// # }
    /// let cache = ScramCache::new();
    /// let credential = Credential::new("app", "example-only");
    /// let _ = authenticate(&mut RejectsProof, &credential, &doc! {}, None, &cache);
    /// // The keys were derived before the server rejected the proof, and are kept.
    /// assert_eq!(cache.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// Whether the cache holds no entry.
    ///
    /// ```
    /// let cache = mongopool::auth::ScramCache::new();
    /// assert!(cache.is_empty());
    /// assert_eq!(cache.len(), 0);
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many times PBKDF2 has run for this cache (its misses); for tests and metrics.
    ///
    /// ```
    /// # use bson::{doc, spec::BinarySubtype, Binary, Document};
    /// # use mongopool::auth::{authenticate, CommandRunner, Credential, ScramCache};
    /// # use mongopool::{CommandError, Error, ErrorKind};
    /// # /// Answers saslStart with a valid server-first-message, then rejects the proof.
    /// # struct RejectsProof;
    /// # impl CommandRunner for RejectsProof {
    /// #     fn run_command(&mut self, _db: &str, command: Document) -> mongopool::Result<Document> {
    /// #         if command.contains_key("saslStart") {
    /// #             let first = String::from_utf8(command.get_binary_generic("payload").unwrap().clone()).unwrap();
    /// #             let nonce = first.split("r=").nth(1).unwrap();
    /// #             let reply = format!("r={nonce}srv,s=QSXCR+Q6sek8bf92,i=4096").into_bytes();
    /// #             let payload = Binary { subtype: BinarySubtype::Generic, bytes: reply };
    /// #             return Ok(doc! { "ok": 1, "conversationId": 1, "done": false, "payload": payload });
    /// #         }
    /// #         let (code, code_name) = (18, "AuthenticationFailed".to_string());
    /// #         Err(Error::new(ErrorKind::Command(CommandError { code, code_name, message: "bad proof".into() })))
    /// #     }
    /// # }
    /// let cache = ScramCache::new();
    /// let credential = Credential::new("app", "example-only");
    /// for _ in 0..3 {
    ///     let err = authenticate(&mut RejectsProof, &credential, &doc! {}, None, &cache).unwrap_err();
    ///     assert!(matches!(err.kind(), ErrorKind::Authentication { .. }));
    /// }
    /// // Three conversations with the same salt and iteration count: PBKDF2 ran once.
    /// assert_eq!(cache.derivations(), 1);
    /// ```
    pub fn derivations(&self) -> u64 {
        self.derivations.load(Ordering::Relaxed)
    }

    /// Forgets every entry, e.g. after the password changed.
    ///
    /// ```
    /// # use bson::{doc, spec::BinarySubtype, Binary, Document};
    /// # use mongopool::auth::{authenticate, CommandRunner, Credential, ScramCache};
    /// # use mongopool::{CommandError, Error, ErrorKind};
    /// # /// Answers saslStart with a valid server-first-message, then rejects the proof.
    /// # struct RejectsProof;
    /// # impl CommandRunner for RejectsProof {
    /// #     fn run_command(&mut self, _db: &str, command: Document) -> mongopool::Result<Document> {
    /// #         if command.contains_key("saslStart") {
    /// #             let first = String::from_utf8(command.get_binary_generic("payload").unwrap().clone()).unwrap();
    /// #             let nonce = first.split("r=").nth(1).unwrap();
    /// #             let reply = format!("r={nonce}srv,s=QSXCR+Q6sek8bf92,i=4096").into_bytes();
    /// #             let payload = Binary { subtype: BinarySubtype::Generic, bytes: reply };
    /// #             return Ok(doc! { "ok": 1, "conversationId": 1, "done": false, "payload": payload });
    /// #         }
    /// #         let (code, code_name) = (18, "AuthenticationFailed".to_string());
    /// #         Err(Error::new(ErrorKind::Command(CommandError { code, code_name, message: "bad proof".into() })))
    /// #     }
    /// # }
    /// let cache = ScramCache::new();
    /// let credential = Credential::new("app", "example-only");
    /// let _ = authenticate(&mut RejectsProof, &credential, &doc! {}, None, &cache);
    /// assert_eq!(cache.len(), 1);
    /// cache.clear();
    /// assert!(cache.is_empty());
    /// let _ = authenticate(&mut RejectsProof, &credential, &doc! {}, None, &cache);
    /// assert_eq!(cache.derivations(), 2);
    /// ```
    pub fn clear(&self) {
        self.entries.lock().clear();
    }

    /// The keys for these inputs, derived on a miss.
    ///
    /// The lock is not held during PBKDF2, so unrelated authentications do not queue behind it;
    /// two simultaneous misses for the same inputs may both derive, which is harmless.
    pub(crate) fn keys(
        &self,
        mechanism: AuthMechanism,
        password: &PreparedPassword,
        salt: &[u8],
        iterations: u32,
    ) -> Result<ScramKeys> {
        let key = CacheKey {
            mechanism,
            password: crypto::password_fingerprint(mechanism, password),
            salt: salt.to_vec(),
            iterations,
        };
        if let Some(keys) = self.entries.lock().get(&key) {
            return Ok(keys.clone());
        }
        self.derivations.fetch_add(1, Ordering::Relaxed);
        let salted = crypto::hi(mechanism, password, salt, iterations);
        let keys = ScramKeys {
            client_key: crypto::hmac(mechanism, &salted, b"Client Key")?,
            server_key: crypto::hmac(mechanism, &salted, b"Server Key")?,
        };
        let mut entries = self.entries.lock();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            // Any victim will do: a pool's working set is one or two entries.
            if let Some(victim) = entries.keys().next().cloned() {
                entries.remove(&victim);
            }
        }
        entries.insert(key, keys.clone());
        Ok(keys)
    }
}

impl fmt::Debug for ScramCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramCache")
            .field("entries", &self.len())
            .field("derivations", &self.derivations())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_derive_once_and_different_salts_derive_again() {
        let cache = ScramCache::new();
        let pw = PreparedPassword::raw("pencil");
        let m = AuthMechanism::ScramSha256;
        let a = cache.keys(m, &pw, b"salt", 4096).unwrap();
        let b = cache.keys(m, &pw, b"salt", 4096).unwrap();
        assert_eq!(cache.derivations(), 1);
        assert_eq!(a.client_key, b.client_key);
        cache.keys(m, &pw, b"other", 4096).unwrap();
        cache.keys(m, &pw, b"salt", 4097).unwrap();
        cache.keys(AuthMechanism::ScramSha1, &pw, b"salt", 4096).unwrap();
        cache.keys(m, &PreparedPassword::raw("pencil2"), b"salt", 4096).unwrap();
        assert_eq!(cache.derivations(), 5);
        assert_eq!(cache.len(), 5);
        assert!(!format!("{cache:?}").contains("pencil"));
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = ScramCache::new();
        let pw = PreparedPassword::raw("p");
        for i in 0..(MAX_ENTRIES as u32 + 10) {
            cache.keys(AuthMechanism::ScramSha1, &pw, &i.to_be_bytes(), 1).unwrap();
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
    }
}
