//! SCRAM-SHA-1 and SCRAM-SHA-256 authentication of pooled connections (auth.md).
//!
//! The connection code uses it in three steps:
//!
//! 1. [`Credential::handshake_fields`] gives what to add to the initial `hello`
//!    (`saslSupportedMechs` and `speculativeAuthenticate`), with a [`SpeculativeState`].
//! 2. The connection sends `hello`.
//! 3. [`authenticate`] negotiates the mechanism from the reply and finishes the conversation
//!    through a [`CommandRunner`], continuing from the speculative reply when the server gave
//!    one. A [`ScramCache`] shared by all connections makes PBKDF2 run once per credential.
//!
//! Nothing here puts the password, the salted password, keys or proofs in an error, a log line
//! or a `Debug` output.
//!
//! ```
//! use mongopool::auth::{AuthMechanism, Credential};
//!
//! # let password = String::from("example-only");
//! let credential = Credential::new("app", password).with_source("orders");
//! let fields = credential.handshake_fields()?; // step 1
//! let mut hello = bson::doc! { "isMaster": 1, "helloOk": true };
//! fields.append_to(&mut hello);
//! assert_eq!(hello.get_str("saslSupportedMechs")?, "orders.app");
//! assert_eq!(fields.speculative.mechanism(), AuthMechanism::ScramSha256);
//! assert!(!format!("{credential:?} {fields:?}").contains("example-only"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cache;
mod conversation;
mod credential;
mod crypto;
mod message;
mod saslprep;
mod scram;
#[cfg(test)]
mod tests;

pub use cache::ScramCache;
pub use conversation::{authenticate, CommandRunner, HandshakeAuth, SpeculativeState};
pub use credential::{AuthMechanism, Credential, DEFAULT_SOURCE};
pub use message::{parse_server_final, parse_server_first, ServerFinal, ServerFirst};
