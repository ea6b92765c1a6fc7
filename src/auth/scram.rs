//! The client side of one SCRAM conversation (RFC 5802 section 3, RFC 7677), independent of
//! how its messages travel.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use super::cache::ScramCache;
use super::credential::AuthMechanism;
use super::crypto::{self, PreparedPassword};
use super::message::{escape_username, server_error, ServerFinal, ServerFirst};
use crate::error::{Error, Result};

/// auth.md: drivers MUST reject fewer iterations, which would let a man in the middle downgrade
/// the cost of an offline attack.
pub(crate) const MIN_ITERATIONS: u32 = 4096;

/// No channel binding (auth.md: the client-first-message MUST start with `n,`).
const GS2_HEADER: &str = "n,,";
/// `c=` of the client-final-message: base64 of [`GS2_HEADER`].
const CHANNEL_BINDING: &str = "biws";
/// Random bytes in a client nonce (32 base64 characters).
const NONCE_BYTES: usize = 24;

/// The client-first-message and what is needed to continue after it.
#[derive(Clone)]
pub(crate) struct ClientFirst {
    mechanism: AuthMechanism,
    nonce: String,
    /// `n=<user>,r=<nonce>`: the client-first-message-bare, part of the AuthMessage.
    bare: String,
}

impl ClientFirst {
    /// Starts a conversation with a fresh nonce from the operating system's CSPRNG.
    pub(crate) fn new(mechanism: AuthMechanism, username: &str) -> Result<Self> {
        let mut random = [0u8; NONCE_BYTES];
        getrandom::fill(&mut random)
            .map_err(|e| Error::authentication(format!("cannot generate a SCRAM nonce: {e}")))?;
        Ok(Self::with_nonce(mechanism, username, BASE64.encode(random)))
    }

    /// Starts a conversation with the given nonce (the test vectors fix it).
    pub(crate) fn with_nonce(mechanism: AuthMechanism, username: &str, nonce: String) -> Self {
        let bare = format!("n={},r={nonce}", escape_username(username));
        ClientFirst { mechanism, nonce, bare }
    }

    pub(crate) fn mechanism(&self) -> AuthMechanism {
        self.mechanism
    }

    /// The client-first-message.
    pub(crate) fn message(&self) -> String {
        format!("{GS2_HEADER}{}", self.bare)
    }

    /// Checks the server-first-message and computes the client-final-message.
    pub(crate) fn respond(
        &self,
        server: &ServerFirst,
        password: &PreparedPassword,
        cache: &ScramCache,
    ) -> Result<ClientFinal> {
        // The server must extend our nonce; anything else may be a replayed conversation.
        if server.nonce().len() <= self.nonce.len() || !server.nonce().starts_with(&self.nonce) {
            return Err(Error::authentication(
                "the server's SCRAM nonce does not extend the client's nonce",
            ));
        }
        if server.iterations() < MIN_ITERATIONS {
            return Err(Error::authentication(format!(
                "the server asked for {} SCRAM iterations, fewer than the minimum {MIN_ITERATIONS}",
                server.iterations()
            )));
        }
        let m = self.mechanism;
        let keys = cache.keys(m, password, server.salt(), server.iterations())?;
        let without_proof = format!("c={CHANNEL_BINDING},r={}", server.nonce());
        let auth_message = format!("{},{},{without_proof}", self.bare, server.raw());
        let stored_key = crypto::hash(m, &keys.client_key);
        let signature = crypto::hmac(m, &stored_key, auth_message.as_bytes())?;
        let proof: Vec<u8> = keys.client_key.iter().zip(&signature).map(|(k, s)| k ^ s).collect();
        Ok(ClientFinal {
            mechanism: m,
            message: format!("{without_proof},p={}", BASE64.encode(proof)),
            server_key: keys.server_key,
            auth_message,
        })
    }
}

impl fmt::Debug for ClientFirst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientFirst")
            .field("mechanism", &self.mechanism)
            .finish_non_exhaustive()
    }
}

/// The client-final-message and what is needed to check the server's answer to it.
pub(crate) struct ClientFinal {
    mechanism: AuthMechanism,
    message: String,
    server_key: Vec<u8>,
    auth_message: String,
}

impl ClientFinal {
    /// The client-final-message (carries the proof: never log it).
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// Accepts the server only if its signature proves it knows the password.
    pub(crate) fn verify(&self, server: &ServerFinal) -> Result<()> {
        match server {
            ServerFinal::Error(value) => Err(server_error(value)),
            ServerFinal::Verifier(signature) => {
                let m = self.mechanism;
                if crypto::hmac_matches(m, &self.server_key, self.auth_message.as_bytes(), signature)? {
                    Ok(())
                } else {
                    Err(Error::authentication(
                        "the server's SCRAM signature is wrong: it could not prove it knows the \
                         password",
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::message::{parse_server_final, parse_server_first};
    use crate::ErrorKind;

    /// Runs the client side of a conversation with a fixed nonce and returns
    /// (client-first, client-final), after verifying `server_final`.
    fn converse(
        mechanism: AuthMechanism,
        password: &PreparedPassword,
        nonce: &str,
        server_first: &str,
        server_final: &str,
    ) -> (String, String) {
        let first = ClientFirst::with_nonce(mechanism, "user", nonce.to_owned());
        let server = parse_server_first(server_first.as_bytes()).unwrap();
        let last = first.respond(&server, password, &ScramCache::new()).unwrap();
        last.verify(&parse_server_final(server_final.as_bytes()).unwrap())
            .unwrap();
        (first.message(), last.message().to_owned())
    }

    #[test]
    fn rfc5802_scram_sha1_vector() {
        let (first, last) = converse(
            AuthMechanism::ScramSha1,
            &PreparedPassword::raw("pencil"),
            "fyko+d2lbbFgONRv9qkxdawL",
            "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
            "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
        );
        assert_eq!(first, "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
        assert_eq!(
            last,
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        );
    }

    #[test]
    fn rfc7677_scram_sha256_vector_which_is_also_the_auth_md_example() {
        let password = PreparedPassword::new(AuthMechanism::ScramSha256, "user", "pencil").unwrap();
        let (first, last) = converse(
            AuthMechanism::ScramSha256,
            &password,
            "rOprNGfwEbeRWgbNEkqO",
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        );
        assert_eq!(first, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        assert_eq!(
            last,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
    }

    #[test]
    fn auth_md_mongodb_scram_sha1_example() {
        let password = PreparedPassword::new(AuthMechanism::ScramSha1, "user", "pencil").unwrap();
        let (first, last) = converse(
            AuthMechanism::ScramSha1,
            &password,
            "fyko+d2lbbFgONRv9qkxdawL",
            "r=fyko+d2lbbFgONRv9qkxdawLHo+Vgk7qvUOKUwuWLIWg4l/9SraGMHEE,s=rQ9ZY3MntBeuP3E1TDVC4w==,i=10000",
            "v=UMWeI25JD1yNYZRMpZ4VHvhZ9e0=",
        );
        assert_eq!(first, "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
        assert_eq!(
            last,
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawLHo+Vgk7qvUOKUwuWLIWg4l/9SraGMHEE,\
             p=MC2T8BvbmWRckDw8oWl5IVghwCY="
        );
    }

    #[test]
    fn generated_nonces_are_random_and_printable() {
        let a = ClientFirst::new(AuthMechanism::ScramSha256, "u").unwrap();
        let b = ClientFirst::new(AuthMechanism::ScramSha256, "u").unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_eq!(a.nonce.len(), 32);
        assert!(!a.nonce.contains(','));
        assert!(!format!("{a:?}").contains(&a.nonce));
    }

    fn respond_err(server_first: &str) -> crate::Error {
        let first = ClientFirst::with_nonce(AuthMechanism::ScramSha1, "user", "abc".to_owned());
        let server = parse_server_first(server_first.as_bytes()).unwrap();
        match first.respond(&server, &PreparedPassword::raw("p"), &ScramCache::new()) {
            Ok(_) => panic!("accepted {server_first}"),
            Err(e) => e,
        }
    }

    #[test]
    fn rejects_bad_nonces_and_low_iteration_counts() {
        for bad in [
            "r=abd123,s=c2FsdA==,i=4096",
            "r=abc,s=c2FsdA==,i=4096",
            "r=xabc,s=c2FsdA==,i=4096",
            "r=abc123,s=c2FsdA==,i=1",
            "r=abc123,s=c2FsdA==,i=4095",
        ] {
            let err = respond_err(bad);
            assert!(matches!(err.kind(), ErrorKind::Authentication { .. }), "{err:?}");
        }
    }

    #[test]
    fn rejects_wrong_and_error_server_finals() {
        let first = ClientFirst::with_nonce(AuthMechanism::ScramSha1, "user", "abc".to_owned());
        let server = parse_server_first(b"r=abc123,s=c2FsdA==,i=4096").unwrap();
        let last = first
            .respond(&server, &PreparedPassword::raw("p"), &ScramCache::new())
            .unwrap();
        for bad in [
            ServerFinal::Verifier(vec![0; 20]),
            ServerFinal::Verifier(vec![1]),
            ServerFinal::Error("invalid-proof".into()),
        ] {
            let err = last.verify(&bad).unwrap_err();
            assert!(matches!(err.kind(), ErrorKind::Authentication { .. }), "{err:?}");
        }
    }
}
