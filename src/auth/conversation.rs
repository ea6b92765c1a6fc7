//! SCRAM over MongoDB's SASL commands: what the handshake adds to `hello`, mechanism
//! negotiation, and the `saslStart` / `saslContinue` exchange (auth.md "SASL Mechanisms",
//! handshake.md "speculativeAuthenticate").

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use bson::spec::BinarySubtype;
use bson::{doc, Binary, Bson, Document};

use super::cache::ScramCache;
use super::credential::{AuthMechanism, Credential};
use super::crypto::PreparedPassword;
use super::message::{parse_server_final, parse_server_first};
use super::scram::ClientFirst;
use crate::error::{Error, ErrorKind, Result};

/// Runs a command on the connection being authenticated, so this module does not depend on the
/// connection type.
///
/// ```
/// use bson::{doc, Document};
/// use mongopool::auth::{authenticate, CommandRunner, Credential, ScramCache};
/// use mongopool::{CommandError, Error, ErrorKind};
///
/// /// A runner that records the commands and refuses them all, as a server would refuse an
/// /// unknown user.
/// struct Refuses(Vec<String>);
///
/// impl CommandRunner for Refuses {
///     fn run_command(&mut self, db: &str, command: Document) -> mongopool::Result<Document> {
///         self.0.push(format!("{db}.{}", command.keys().next().unwrap()));
///         let (code, code_name) = (18, "AuthenticationFailed".to_string());
///         Err(Error::new(ErrorKind::Command(CommandError { code, code_name, message: "no such user".into() })))
///     }
/// }
///
/// let mut runner = Refuses(Vec::new());
/// let credential = Credential::new("app", "example-only").with_source("orders");
/// let err = authenticate(&mut runner, &credential, &doc! {}, None, &ScramCache::new()).unwrap_err();
/// assert_eq!(runner.0, ["orders.saslStart"]);
/// // Command errors of the conversation become authentication errors.
/// assert!(matches!(err.kind(), ErrorKind::Authentication { .. }));
/// ```
pub trait CommandRunner {
    /// Runs `command` against database `db` and returns the server's reply document. A reply with
    /// `ok: 0` should come back as an [`ErrorKind::Command`] error.
    fn run_command(&mut self, db: &str, command: Document) -> Result<Document>;
}

impl<R: CommandRunner + ?Sized> CommandRunner for &mut R {
    fn run_command(&mut self, db: &str, command: Document) -> Result<Document> {
        (**self).run_command(db, command)
    }
}

/// What a credential adds to the initial `hello`, and the state to continue from its reply.
///
/// ```
/// use mongopool::auth::Credential;
/// let auth = Credential::new("user", "pencil").handshake_fields().unwrap();
/// let mut hello = bson::doc! { "hello": 1 };
/// auth.append_to(&mut hello);
/// assert_eq!(hello.get_str("saslSupportedMechs").unwrap(), "admin.user");
/// let spec = hello.get_document("speculativeAuthenticate").unwrap();
/// assert_eq!(spec.get_str("mechanism").unwrap(), "SCRAM-SHA-256");
/// assert_eq!(spec.get_str("db").unwrap(), "admin");
/// ```
#[derive(Clone, Debug)]
pub struct HandshakeAuth {
    /// `saslSupportedMechs: "<source>.<username>"`, present when no mechanism is configured.
    pub sasl_supported_mechs: Option<String>,
    /// The `speculativeAuthenticate` document: a `saslStart` command with a `db` field.
    pub speculative_authenticate: Document,
    /// The client-first state; pass it to [`authenticate`] with the `hello` reply.
    pub speculative: SpeculativeState,
}

impl HandshakeAuth {
    /// Adds `saslSupportedMechs` (if any) and `speculativeAuthenticate` to a `hello` command.
    ///
    /// ```
    /// use mongopool::auth::{AuthMechanism, Credential};
    ///
    /// let mut hello = bson::doc! { "hello": 1 };
    /// let sha1 = Credential::new("app", "example-only").with_mechanism(AuthMechanism::ScramSha1);
    /// sha1.handshake_fields()?.append_to(&mut hello);
    /// // With a configured mechanism, nothing is negotiated.
    /// assert!(!hello.contains_key("saslSupportedMechs"));
    /// assert_eq!(hello.get_document("speculativeAuthenticate")?.get_str("mechanism")?, "SCRAM-SHA-1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn append_to(&self, hello: &mut Document) {
        if let Some(mechs) = &self.sasl_supported_mechs {
            hello.insert("saslSupportedMechs", mechs.clone());
        }
        hello.insert("speculativeAuthenticate", self.speculative_authenticate.clone());
    }
}

/// The client-first-message sent speculatively in `hello`, needed to continue the conversation
/// from the server's `speculativeAuthenticate` reply. `Debug` shows only the mechanism.
///
/// ```
/// use mongopool::auth::{AuthMechanism, Credential};
///
/// let state = Credential::new("app", "example-only").handshake_fields()?.speculative;
/// assert_eq!(state.mechanism(), AuthMechanism::ScramSha256);
/// // Debug shows neither the nonce nor anything derived from the password.
/// assert!(!format!("{state:?}").contains("r="));
/// # Ok::<(), mongopool::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SpeculativeState {
    first: ClientFirst,
}

impl SpeculativeState {
    /// The mechanism the speculative `saslStart` used.
    ///
    /// ```
    /// use mongopool::auth::{AuthMechanism, Credential};
    ///
    /// let sha1 = Credential::new("app", "example-only").with_mechanism(AuthMechanism::ScramSha1);
    /// assert_eq!(sha1.handshake_fields()?.speculative.mechanism(), AuthMechanism::ScramSha1);
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn mechanism(&self) -> AuthMechanism {
        self.first.mechanism()
    }

    #[cfg(test)]
    pub(crate) fn from_first(first: ClientFirst) -> Self {
        SpeculativeState { first }
    }
}

impl Credential {
    /// The fields to add to the initial `hello`: `saslSupportedMechs` when no mechanism is
    /// configured, and a speculative `saslStart` with the configured mechanism, or SCRAM-SHA-256
    /// when none is (handshake.md). Fails on an invalid credential or if no nonce can be made.
    ///
    /// ```
    /// use mongopool::auth::Credential;
    /// use mongopool::ErrorKind;
    ///
    /// let auth = Credential::new("app", "example-only").with_source("orders").handshake_fields()?;
    /// assert_eq!(auth.sasl_supported_mechs.as_deref(), Some("orders.app"));
    /// assert_eq!(auth.speculative_authenticate.get_str("db")?, "orders");
    /// // An empty user name is rejected before anything is sent.
    /// let err = Credential::new("", "example-only").handshake_fields().unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::InvalidArgument { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handshake_fields(&self) -> Result<HandshakeAuth> {
        self.validate()?;
        let mechanism = self.mechanism.unwrap_or(AuthMechanism::ScramSha256);
        let first = ClientFirst::new(mechanism, &self.username)?;
        let mut speculative_authenticate = sasl_start(&first);
        speculative_authenticate.insert("db", self.source.clone());
        Ok(HandshakeAuth {
            sasl_supported_mechs: self
                .mechanism
                .is_none()
                .then(|| format!("{}.{}", self.source, self.username)),
            speculative_authenticate,
            speculative: SpeculativeState { first },
        })
    }
}

/// Authenticates the connection behind `runner` with `credential`.
///
/// `hello_reply` is the reply to the initial `hello` (its `saslSupportedMechs` picks the
/// mechanism when none is configured; its `speculativeAuthenticate` saves the `saslStart` round
/// trip), and `speculative` is the state from [`Credential::handshake_fields`], if its fields
/// were sent. Failures are [`ErrorKind::Authentication`] errors, malformed server messages
/// [`ErrorKind::Protocol`] ones, and errors of the runner other than command errors (network
/// errors, timeouts) are returned unchanged.
///
/// A server that accepts the client's nonce but rejects its proof (the runner stands in for a
/// connection):
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
/// let err = authenticate(&mut RejectsProof, &credential, &doc! {}, None, &cache).unwrap_err();
/// assert!(matches!(err.kind(), ErrorKind::Authentication { .. }));
/// // The message names the step and never contains the password.
/// assert!(err.to_string().contains("saslContinue"));
/// assert!(!err.to_string().contains("example-only"));
/// ```
pub fn authenticate(
    runner: &mut impl CommandRunner,
    credential: &Credential,
    hello_reply: &Document,
    speculative: Option<SpeculativeState>,
    cache: &ScramCache,
) -> Result<()> {
    authenticate_with(runner, credential, hello_reply, speculative, cache, ClientFirst::new)
}

/// [`authenticate`] with the client-first step injectable, so tests can fix the nonce.
pub(crate) fn authenticate_with(
    runner: &mut impl CommandRunner,
    credential: &Credential,
    hello_reply: &Document,
    speculative: Option<SpeculativeState>,
    cache: &ScramCache,
    new_first: impl FnOnce(AuthMechanism, &str) -> Result<ClientFirst>,
) -> Result<()> {
    credential.validate()?;
    let mechanism = negotiate(credential, hello_reply);
    // Prepared before any round trip, so a password SASLprep rejects costs no network time.
    let password = PreparedPassword::new(mechanism, &credential.username, &credential.password)?;
    let db = credential.source.as_str();

    let speculative_reply = match hello_reply.get("speculativeAuthenticate") {
        Some(Bson::Document(reply)) => Some(reply),
        _ => None,
    };
    // The speculative reply only continues a conversation of the mechanism we settled on.
    let (first, start) = match (speculative, speculative_reply) {
        (Some(state), Some(reply)) if state.first.mechanism() == mechanism => {
            log::debug!("continuing speculative {mechanism} authentication against {db}");
            (state.first, SaslReply::parse(reply, "speculativeAuthenticate")?)
        }
        _ => {
            log::debug!("starting {mechanism} authentication against {db}");
            let first = new_first(mechanism, &credential.username)?;
            let start = run(runner, db, sasl_start(&first), "saslStart")?;
            (first, start)
        }
    };
    if start.done {
        return Err(Error::authentication(
            "the server ended the SCRAM conversation before proving it knows the password",
        ));
    }

    let client_final = first.respond(&parse_server_first(&start.payload)?, &password, cache)?;
    let command = sasl_continue(&start.conversation_id, client_final.message().as_bytes());
    let reply = run(runner, db, command, "saslContinue")?;
    client_final.verify(&parse_server_final(&reply.payload)?)?;

    if !reply.done {
        // Servers before 4.4 ignore skipEmptyExchange and expect one more, empty, exchange.
        let command = sasl_continue(&start.conversation_id, &[]);
        if !run(runner, db, command, "saslContinue")?.done {
            return Err(Error::protocol(
                "the server did not finish the SCRAM conversation after the final exchange",
            ));
        }
    }
    log::debug!("{mechanism} authentication against {db} succeeded");
    Ok(())
}

/// auth.md "Default Authentication Methods": the configured mechanism, else SCRAM-SHA-256 if the
/// server lists it for the user, else SCRAM-SHA-1. The list is not otherwise validated.
fn negotiate(credential: &Credential, hello_reply: &Document) -> AuthMechanism {
    if let Some(mechanism) = credential.mechanism {
        return mechanism;
    }
    let offers_sha256 = match hello_reply.get("saslSupportedMechs") {
        Some(Bson::Array(mechs)) => mechs
            .iter()
            .any(|m| m.as_str() == Some(AuthMechanism::ScramSha256.as_str())),
        _ => false,
    };
    if offers_sha256 {
        AuthMechanism::ScramSha256
    } else {
        AuthMechanism::ScramSha1
    }
}

fn sasl_start(first: &ClientFirst) -> Document {
    doc! {
        "saslStart": 1,
        "mechanism": first.mechanism().as_str(),
        "payload": binary(first.message().as_bytes()),
        "options": { "skipEmptyExchange": true },
    }
}

fn sasl_continue(conversation_id: &Bson, payload: &[u8]) -> Document {
    doc! {
        "saslContinue": 1,
        "conversationId": conversation_id.clone(),
        "payload": binary(payload),
    }
}

fn binary(bytes: &[u8]) -> Binary {
    Binary {
        subtype: BinarySubtype::Generic,
        bytes: bytes.to_vec(),
    }
}

/// Runs one SASL command. A command error (`ok: 0`, e.g. AuthenticationFailed) becomes an
/// authentication error keeping the address and labels; other errors pass through unchanged.
fn run(runner: &mut impl CommandRunner, db: &str, command: Document, what: &str) -> Result<SaslReply> {
    let reply = runner.run_command(db, command).map_err(|err| match err.kind() {
        ErrorKind::Command(_) => as_authentication(&err, what),
        _ => err,
    })?;
    // Defensive: the runner should already have turned `ok: 0` into an error.
    if reply.get("ok").is_some_and(|ok| !is_one(ok)) {
        let message = reply.get_str("errmsg").unwrap_or("no error message");
        return Err(Error::authentication(format!("{what} failed: {message}")));
    }
    SaslReply::parse(&reply, what)
}

fn as_authentication(err: &Error, what: &str) -> Error {
    let mut auth = Error::authentication(format!("{what} failed: {}", err.kind()));
    if let Some(address) = err.address() {
        auth = auth.with_address(address);
    }
    for label in err.error_labels() {
        auth.add_label(label);
    }
    auth
}

fn is_one(ok: &Bson) -> bool {
    match ok {
        Bson::Double(v) => *v == 1.0,
        Bson::Int32(v) => *v == 1,
        Bson::Int64(v) => *v == 1,
        Bson::Boolean(v) => *v,
        _ => false,
    }
}

/// The fields of a `saslStart` / `saslContinue` reply that SCRAM uses.
struct SaslReply {
    conversation_id: Bson,
    payload: Vec<u8>,
    done: bool,
}

impl SaslReply {
    fn parse(reply: &Document, what: &str) -> Result<Self> {
        let conversation_id = match reply.get("conversationId") {
            Some(id @ (Bson::Int32(_) | Bson::Int64(_))) => id.clone(),
            _ => return Err(bad_reply(what, "no integer conversationId")),
        };
        // We send BinData, so servers answer with it; auth.md allows a base64 string too.
        let payload = match reply.get("payload") {
            Some(Bson::Binary(binary)) => binary.bytes.clone(),
            Some(Bson::String(text)) => BASE64
                .decode(text)
                .map_err(|_| bad_reply(what, "a string payload that is not base64"))?,
            _ => return Err(bad_reply(what, "no payload")),
        };
        let done = match reply.get("done") {
            None => false,
            Some(Bson::Boolean(done)) => *done,
            Some(_) => return Err(bad_reply(what, "a done field that is not a boolean")),
        };
        Ok(SaslReply {
            conversation_id,
            payload,
            done,
        })
    }
}

fn bad_reply(what: &str, why: &str) -> Error {
    Error::protocol(format!("{what} reply has {why}"))
}
