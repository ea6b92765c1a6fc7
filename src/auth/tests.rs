//! Whole conversations against a fake server that plays the server side of SCRAM with the same
//! primitives, and a replay of the MongoDB conversations auth.md shows.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use bson::spec::BinarySubtype;
use bson::{doc, Binary, Bson, Document};

use super::conversation::authenticate_with;
use super::crypto::{self, PreparedPassword};
use super::scram::ClientFirst;
use super::*;
use crate::error::{CommandError, Error, ErrorKind, Result};

const USER: &str = "user";
const PASSWORD: &str = "pencil";
const SALT: &[u8] = b"0123456789abcdef";

/// How the fake server misbehaves, if it does.
#[derive(Clone, Debug, PartialEq)]
enum Fault {
    None,
    WrongSignature,
    NonceNotExtended,
    ErrorFinal,
    Iterations(u32),
    ServerFirst(Vec<u8>),
    ServerFinal(Vec<u8>),
    /// Pre-4.4: `done: false` after `v=`, then an empty exchange.
    LegacyEmptyExchange,
    /// Never says `done`.
    NeverDone,
    /// `done: true` together with the server-first-message.
    DoneEarly,
    /// Answers `ok: 0` without the runner turning it into an error.
    OkZeroReply,
}

struct Conversation {
    mechanism: AuthMechanism,
    auth_prefix: String,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

struct FakeServer {
    mechanisms: Vec<AuthMechanism>,
    password: String,
    fault: Fault,
    commands: Vec<Document>,
    conversation: Option<Conversation>,
}

impl FakeServer {
    fn new(mechanisms: &[AuthMechanism]) -> Self {
        FakeServer {
            mechanisms: mechanisms.to_vec(),
            password: PASSWORD.to_owned(),
            fault: Fault::None,
            commands: Vec::new(),
            conversation: None,
        }
    }

    fn with_fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }

    fn round_trips(&self) -> usize {
        self.commands.len()
    }

    /// The reply to a `hello` carrying `auth`'s fields.
    fn hello(&mut self, auth: &HandshakeAuth) -> Document {
        let mut reply = doc! { "isWritablePrimary": true, "ok": 1 };
        if auth.sasl_supported_mechs.is_some() {
            let names: Vec<&str> = self.mechanisms.iter().map(|m| m.as_str()).collect();
            reply.insert("saslSupportedMechs", names);
        }
        // A server whose user lacks the mechanism answers hello without speculativeAuthenticate.
        if let Ok(start) = self.sasl_start(&auth.speculative_authenticate) {
            reply.insert("speculativeAuthenticate", start);
        }
        reply
    }

    fn sasl_start(&mut self, command: &Document) -> Result<Document> {
        let mechanism: AuthMechanism = command.get_str("mechanism").unwrap().parse()?;
        assert!(command
            .get_document("options")
            .unwrap()
            .get_bool("skipEmptyExchange")
            .unwrap());
        if !self.mechanisms.contains(&mechanism) {
            return Err(auth_failed());
        }
        let payload = String::from_utf8(payload(command)).unwrap();
        let bare = payload.strip_prefix("n,,").unwrap();
        let client_nonce = bare.split_once(",r=").unwrap().1;
        let iterations = match self.fault {
            Fault::Iterations(i) => i,
            _ => 4096,
        };
        let nonce = match self.fault {
            Fault::NonceNotExtended => format!("X{client_nonce}srv"),
            _ => format!("{client_nonce}srvNonce"),
        };
        let server_first = format!("r={nonce},s={},i={iterations}", BASE64.encode(SALT));
        let password = PreparedPassword::new(mechanism, USER, &self.password)?;
        let salted = crypto::hi(mechanism, &password, SALT, iterations);
        let client_key = crypto::hmac(mechanism, &salted, b"Client Key")?;
        self.conversation = Some(Conversation {
            mechanism,
            auth_prefix: format!("{bare},{server_first}"),
            stored_key: crypto::hash(mechanism, &client_key),
            server_key: crypto::hmac(mechanism, &salted, b"Server Key")?,
        });
        let out = match &self.fault {
            Fault::ServerFirst(bytes) => bytes.clone(),
            _ => server_first.into_bytes(),
        };
        Ok(doc! {
            "conversationId": 1, "done": self.fault == Fault::DoneEarly, "payload": bin(out)
        })
    }

    fn sasl_continue(&mut self, command: &Document) -> Result<Document> {
        assert_eq!(command.get_i32("conversationId").unwrap(), 1);
        let payload = payload(command);
        if payload.is_empty() {
            let done = self.fault != Fault::NeverDone;
            return Ok(doc! { "conversationId": 1, "done": done, "payload": bin(vec![]) });
        }
        let c = self.conversation.as_ref().expect("saslStart first");
        let m = c.mechanism;
        let text = String::from_utf8(payload).unwrap();
        let (without_proof, proof) = text.split_once(",p=").unwrap();
        let auth_message = format!("{},{without_proof}", c.auth_prefix);
        let signature = crypto::hmac(m, &c.stored_key, auth_message.as_bytes())?;
        let client_key: Vec<u8> = BASE64
            .decode(proof)
            .unwrap()
            .iter()
            .zip(&signature)
            .map(|(p, s)| p ^ s)
            .collect();
        if crypto::hash(m, &client_key) != c.stored_key {
            return Err(auth_failed());
        }
        let mut server_signature = crypto::hmac(m, &c.server_key, auth_message.as_bytes())?;
        let out = match &self.fault {
            Fault::WrongSignature => {
                server_signature[0] ^= 1;
                format!("v={}", BASE64.encode(server_signature)).into_bytes()
            }
            Fault::ErrorFinal => b"e=invalid-proof".to_vec(),
            Fault::ServerFinal(bytes) => bytes.clone(),
            _ => format!("v={}", BASE64.encode(server_signature)).into_bytes(),
        };
        let done = !matches!(self.fault, Fault::LegacyEmptyExchange | Fault::NeverDone);
        Ok(doc! { "conversationId": 1, "done": done, "payload": bin(out) })
    }
}

impl CommandRunner for FakeServer {
    fn run_command(&mut self, db: &str, command: Document) -> Result<Document> {
        assert_eq!(db, "admin");
        self.commands.push(command.clone());
        if self.fault == Fault::OkZeroReply {
            return Ok(doc! { "ok": 0, "errmsg": "Authentication failed.", "code": 18 });
        }
        let mut reply = if command.contains_key("saslStart") {
            self.sasl_start(&command)?
        } else if command.contains_key("saslContinue") {
            self.sasl_continue(&command)?
        } else {
            panic!("unexpected command {command}");
        };
        reply.insert("ok", 1.0);
        Ok(reply)
    }
}

fn auth_failed() -> Error {
    Error::new(ErrorKind::Command(CommandError {
        code: 18,
        code_name: "AuthenticationFailed".into(),
        message: "Authentication failed.".into(),
    }))
}

fn bin(bytes: Vec<u8>) -> Binary {
    Binary {
        subtype: BinarySubtype::Generic,
        bytes,
    }
}

fn payload(command: &Document) -> Vec<u8> {
    match command.get("payload") {
        Some(Bson::Binary(b)) => b.bytes.clone(),
        other => panic!("payload {other:?}"),
    }
}

/// Handshake plus authentication, the way a connection does it.
fn connect(server: &mut FakeServer, credential: &Credential, speculative: bool, cache: &ScramCache) -> Result<()> {
    let auth = credential.handshake_fields()?;
    let mut hello = server.hello(&auth);
    if !speculative {
        hello.remove("speculativeAuthenticate");
    }
    authenticate(server, credential, &hello, Some(auth.speculative), cache)
}

fn kind_of(result: Result<()>) -> ErrorKind {
    result.unwrap_err().kind().clone()
}

#[test]
fn negotiated_sha256_without_speculation_takes_two_round_trips() {
    let mut server = FakeServer::new(&[AuthMechanism::ScramSha1, AuthMechanism::ScramSha256]);
    connect(&mut server, &Credential::new(USER, PASSWORD), false, &ScramCache::new()).unwrap();
    assert_eq!(server.round_trips(), 2);
    assert_eq!(server.commands[0].get_str("mechanism").unwrap(), "SCRAM-SHA-256");
}

#[test]
fn speculative_authentication_saves_the_sasl_start_round_trip() {
    let mut server = FakeServer::new(&[AuthMechanism::ScramSha256]);
    connect(&mut server, &Credential::new(USER, PASSWORD), true, &ScramCache::new()).unwrap();
    assert_eq!(server.round_trips(), 1);
    assert!(server.commands[0].contains_key("saslContinue"));
}

#[test]
fn speculative_sha1_when_configured() {
    let mut server = FakeServer::new(&[AuthMechanism::ScramSha1]);
    let credential = Credential::new(USER, PASSWORD).with_mechanism(AuthMechanism::ScramSha1);
    connect(&mut server, &credential, true, &ScramCache::new()).unwrap();
    assert_eq!(server.round_trips(), 1);
}

#[test]
fn sha1_only_user_falls_back_to_sha1_with_a_fresh_sasl_start() {
    // The speculative SCRAM-SHA-256 attempt gets no reply; negotiation picks SCRAM-SHA-1.
    let mut server = FakeServer::new(&[AuthMechanism::ScramSha1]);
    connect(&mut server, &Credential::new(USER, PASSWORD), true, &ScramCache::new()).unwrap();
    assert_eq!(server.round_trips(), 2);
    assert_eq!(server.commands[0].get_str("mechanism").unwrap(), "SCRAM-SHA-1");
}

#[test]
fn a_speculative_reply_for_another_mechanism_is_not_continued() {
    // Speculation used SCRAM-SHA-256 but the server lists only SCRAM-SHA-1 for the user.
    let mut server = FakeServer::new(&[AuthMechanism::ScramSha1, AuthMechanism::ScramSha256]);
    let auth = Credential::new(USER, PASSWORD).handshake_fields().unwrap();
    let mut hello = server.hello(&auth);
    hello.insert("saslSupportedMechs", vec!["SCRAM-SHA-1"]);
    server.commands.clear();
    let credential = Credential::new(USER, PASSWORD);
    authenticate(
        &mut server,
        &credential,
        &hello,
        Some(auth.speculative),
        &ScramCache::new(),
    )
    .unwrap();
    assert_eq!(server.round_trips(), 2);
    assert_eq!(server.commands[0].get_str("mechanism").unwrap(), "SCRAM-SHA-1");
}

#[test]
fn negotiation_follows_auth_md() {
    let cache = ScramCache::new();
    let credential = Credential::new(USER, PASSWORD);
    let cases = [
        (None, "SCRAM-SHA-1"),
        (Some(Bson::from(vec!["SCRAM-SHA-1"])), "SCRAM-SHA-1"),
        (
            Some(Bson::from(vec!["PLAIN", "BOGUS", "SCRAM-SHA-256"])),
            "SCRAM-SHA-256",
        ),
        (Some(Bson::from(Vec::<String>::new())), "SCRAM-SHA-1"),
        (Some(Bson::from("SCRAM-SHA-256")), "SCRAM-SHA-1"),
    ];
    for (mechs, expected) in cases {
        let mut server = FakeServer::new(&[AuthMechanism::ScramSha1, AuthMechanism::ScramSha256]);
        let mut hello = doc! { "ok": 1 };
        if let Some(mechs) = mechs {
            hello.insert("saslSupportedMechs", mechs);
        }
        authenticate(&mut server, &credential, &hello, None, &cache).unwrap();
        assert_eq!(server.commands[0].get_str("mechanism").unwrap(), expected, "{hello}");
    }
    // A configured mechanism wins over the server's list.
    let mut server = FakeServer::new(&[AuthMechanism::ScramSha1, AuthMechanism::ScramSha256]);
    let sha1 = credential.clone().with_mechanism(AuthMechanism::ScramSha1);
    let hello = doc! { "ok": 1, "saslSupportedMechs": ["SCRAM-SHA-256"] };
    authenticate(&mut server, &sha1, &hello, None, &cache).unwrap();
    assert_eq!(server.commands[0].get_str("mechanism").unwrap(), "SCRAM-SHA-1");
}

#[test]
fn handshake_fields_follow_handshake_md() {
    let negotiated = Credential::new(USER, PASSWORD).with_source("app");
    let auth = negotiated.handshake_fields().unwrap();
    assert_eq!(auth.sasl_supported_mechs.as_deref(), Some("app.user"));
    let spec = &auth.speculative_authenticate;
    assert_eq!(spec.get_i32("saslStart").unwrap(), 1);
    assert_eq!(spec.get_str("mechanism").unwrap(), "SCRAM-SHA-256");
    assert_eq!(spec.get_str("db").unwrap(), "app");
    assert!(spec
        .get_document("options")
        .unwrap()
        .get_bool("skipEmptyExchange")
        .unwrap());
    assert!(payload(spec).starts_with(b"n,,n=user,r="));
    assert_eq!(auth.speculative.mechanism(), AuthMechanism::ScramSha256);

    let configured = negotiated.with_mechanism(AuthMechanism::ScramSha1);
    let auth = configured.handshake_fields().unwrap();
    assert_eq!(auth.sasl_supported_mechs, None);
    assert_eq!(
        auth.speculative_authenticate.get_str("mechanism").unwrap(),
        "SCRAM-SHA-1"
    );
    let mut hello = doc! { "hello": 1 };
    auth.append_to(&mut hello);
    assert!(!hello.contains_key("saslSupportedMechs"));

    assert!(Credential::new("", "p").handshake_fields().is_err());
}

#[test]
fn user_names_are_escaped_not_saslprepped() {
    let credential = Credential::new("a=b,c\u{00AD}", PASSWORD);
    let auth = credential.handshake_fields().unwrap();
    assert_eq!(auth.sasl_supported_mechs.as_deref(), Some("admin.a=b,c\u{00AD}"));
    let text = String::from_utf8(payload(&auth.speculative_authenticate)).unwrap();
    assert!(text.starts_with("n,,n=a=3Db=2Cc\u{00AD},r="), "{text}");
}

#[test]
fn misbehaving_servers_are_rejected() {
    let auth = |fault| {
        let mut server = FakeServer::new(&[AuthMechanism::ScramSha256]).with_fault(fault);
        connect(&mut server, &Credential::new(USER, PASSWORD), false, &ScramCache::new())
    };
    let authentication = [
        Fault::WrongSignature,
        Fault::NonceNotExtended,
        Fault::ErrorFinal,
        Fault::Iterations(1),
        Fault::Iterations(4095),
        Fault::DoneEarly,
        Fault::OkZeroReply,
        Fault::ServerFirst(b"m=ext,r=x,s=c2FsdA==,i=4096".to_vec()),
    ];
    for fault in authentication {
        let kind = kind_of(auth(fault.clone()));
        assert!(matches!(kind, ErrorKind::Authentication { .. }), "{fault:?}: {kind:?}");
    }
    let protocol = [
        Fault::ServerFirst(b"".to_vec()),
        Fault::ServerFirst(b"r=".to_vec()),
        Fault::ServerFirst(b"\xff\x00garbage".to_vec()),
        Fault::ServerFirst(b"r=abc,s=c2FsdA==".to_vec()),
        Fault::ServerFinal(b"".to_vec()),
        Fault::ServerFinal(b"v=".to_vec()),
        Fault::ServerFinal(b"v=%%%".to_vec()),
        Fault::ServerFinal(b"\x80".to_vec()),
        Fault::NeverDone,
    ];
    for fault in protocol {
        let kind = kind_of(auth(fault.clone()));
        assert!(matches!(kind, ErrorKind::Protocol { .. }), "{fault:?}: {kind:?}");
    }
}

#[test]
fn legacy_servers_get_the_extra_empty_exchange() {
    let mut server = FakeServer::new(&[AuthMechanism::ScramSha256]).with_fault(Fault::LegacyEmptyExchange);
    connect(&mut server, &Credential::new(USER, PASSWORD), false, &ScramCache::new()).unwrap();
    assert_eq!(server.round_trips(), 3);
    assert!(payload(&server.commands[2]).is_empty());
}

#[test]
fn wrong_password_fails_without_leaking_it() {
    let secret = "correct horse battery staple";
    for mechanism in [AuthMechanism::ScramSha1, AuthMechanism::ScramSha256] {
        let mut server = FakeServer::new(&[mechanism]);
        server.password = "something else".into();
        let credential = Credential::new(USER, secret).with_mechanism(mechanism);
        let err = connect(&mut server, &credential, false, &ScramCache::new()).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Authentication { .. }), "{err:?}");
        let text = format!("{err} {err:?} {credential:?}");
        for leak in [
            secret.to_owned(),
            BASE64.encode(secret),
            BASE64.encode(format!("{USER}:{secret}")),
        ] {
            assert!(!text.contains(&leak), "{text}");
        }
        assert!(text.contains("AuthenticationFailed"), "{text}");
    }
    // The same for failures the client detects itself.
    let mut server = FakeServer::new(&[AuthMechanism::ScramSha256]).with_fault(Fault::WrongSignature);
    let credential = Credential::new(USER, PASSWORD);
    let err = connect(&mut server, &credential, true, &ScramCache::new()).unwrap_err();
    let text = format!("{err} {err:?} {credential:?}");
    assert!(
        !text.contains(PASSWORD) && !text.contains(&BASE64.encode(PASSWORD)),
        "{text}"
    );
}

#[test]
fn network_errors_pass_through_unchanged() {
    struct Broken;
    impl CommandRunner for Broken {
        fn run_command(&mut self, _: &str, _: Document) -> Result<Document> {
            Err(Error::new(ErrorKind::ConnectionClosed))
        }
    }
    // Through `&mut dyn CommandRunner` too, as a connection behind a trait object would be.
    let mut runner: &mut dyn CommandRunner = &mut Broken;
    let err = authenticate(
        &mut runner,
        &Credential::new(USER, PASSWORD),
        &doc! { "ok": 1 },
        None,
        &ScramCache::new(),
    )
    .unwrap_err();
    assert!(err.is_network_error(), "{err:?}");
}

#[test]
fn prohibited_password_fails_before_any_round_trip() {
    let mut server = FakeServer::new(&[AuthMechanism::ScramSha256]);
    let credential = Credential::new(USER, "pass\u{0007}");
    let kind = kind_of(connect(&mut server, &credential, true, &ScramCache::new()));
    assert!(matches!(kind, ErrorKind::Authentication { .. }), "{kind:?}");
    assert_eq!(server.round_trips(), 0);
}

#[test]
fn saslprep_equivalent_passwords_authenticate() {
    // auth.md test plan step 4: "I\u00ADX" works for a user whose password is "IX".
    let mut server = FakeServer::new(&[AuthMechanism::ScramSha256]);
    server.password = "IX".into();
    connect(
        &mut server,
        &Credential::new(USER, "I\u{00AD}X"),
        true,
        &ScramCache::new(),
    )
    .unwrap();
}

#[test]
fn the_cache_makes_a_pool_derive_once() {
    let cache = ScramCache::new();
    let credential = Credential::new(USER, PASSWORD);
    for speculative in [true, false, true] {
        let mut server = FakeServer::new(&[AuthMechanism::ScramSha256]);
        connect(&mut server, &credential, speculative, &cache).unwrap();
    }
    assert_eq!(cache.derivations(), 1);
    assert_eq!(cache.len(), 1);
}

/// Plays back one of auth.md's MongoDB conversations: checks each command's payload and answers
/// with the recorded reply.
struct Replay {
    steps: Vec<(&'static str, &'static str)>,
    round_trips: usize,
}

impl CommandRunner for Replay {
    fn run_command(&mut self, db: &str, command: Document) -> Result<Document> {
        assert_eq!(db, "admin");
        let (expected, reply) = self.steps.remove(0);
        assert_eq!(BASE64.encode(payload(&command)), expected, "{command}");
        self.round_trips += 1;
        let done = self.steps.is_empty();
        Ok(doc! { "conversationId": 1, "done": done, "payload": b64(reply), "ok": 1 })
    }
}

fn b64(text: &str) -> Binary {
    bin(BASE64.decode(text).unwrap())
}

const SHA1_START: &str = "biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM";
const SHA1_FIRST: &str = "cj1meWtvK2QybGJiRmdPTlJ2OXFreGRhd0xIbytWZ2s3cXZVT0tVd3VXTElXZzRsLzlTcmFHTUhFRSxzPXJROVpZM01udEJldVAzRTFURFZDNHc9PSxpPTEwMDAw";
const SHA1_CONTINUE: &str = "Yz1iaXdzLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdMSG8rVmdrN3F2VU9LVXd1V0xJV2c0bC85U3JhR01IRUUscD1NQzJUOEJ2Ym1XUmNrRHc4b1dsNUlWZ2h3Q1k9";
const SHA1_FINAL: &str = "dj1VTVdlSTI1SkQxeU5ZWlJNcFo0Vkh2aFo5ZTA9";
const SHA256_START: &str = "biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8=";
const SHA256_FIRST: &str = "cj1yT3ByTkdmd0ViZVJXZ2JORWtxTyVodllEcFdVYTJSYVRDQWZ1eEZJbGopaE5sRiRrMCxzPVcyMlphSjBTTlk3c29Fc1VFamI2Z1E9PSxpPTQwOTY=";
const SHA256_CONTINUE: &str = "Yz1iaXdzLHI9ck9wck5HZndFYmVSV2diTkVrcU8laHZZRHBXVWEyUmFUQ0FmdXhGSWxqKWhObEYkazAscD1kSHpiWmFwV0lrNGpVaE4rVXRlOXl0YWc5empmTUhnc3FtbWl6N0FuZFZRPQ==";
const SHA256_FINAL: &str = "dj02cnJpVFJCaTIzV3BSUi93dHVwK21NaFVaVW4vZEI1bkxUSlJzamw5NUc0PQ==";

#[test]
fn auth_md_mongodb_conversations_replay() {
    let cases = [
        (
            AuthMechanism::ScramSha1,
            "fyko+d2lbbFgONRv9qkxdawL",
            [SHA1_START, SHA1_FIRST, SHA1_CONTINUE, SHA1_FINAL],
        ),
        (
            AuthMechanism::ScramSha256,
            "rOprNGfwEbeRWgbNEkqO",
            [SHA256_START, SHA256_FIRST, SHA256_CONTINUE, SHA256_FINAL],
        ),
    ];
    for (mechanism, nonce, [start, first, cont, last]) in cases {
        let credential = Credential::new(USER, PASSWORD).with_mechanism(mechanism);
        let fixed = |m: AuthMechanism, user: &str| -> Result<ClientFirst> {
            Ok(ClientFirst::with_nonce(m, user, nonce.to_owned()))
        };

        // Without speculation: saslStart, saslContinue.
        let mut replay = Replay {
            steps: vec![(start, first), (cont, last)],
            round_trips: 0,
        };
        let cache = ScramCache::new();
        authenticate_with(&mut replay, &credential, &doc! { "ok": 1 }, None, &cache, fixed).unwrap();
        assert_eq!(replay.round_trips, 2);

        // Speculative: hello carried saslStart, so only saslContinue remains.
        let state = SpeculativeState::from_first(fixed(mechanism, USER).unwrap());
        let hello = doc! {
            "ok": 1,
            "speculativeAuthenticate": { "conversationId": 1, "done": false, "payload": b64(first) },
        };
        let mut replay = Replay {
            steps: vec![(cont, last)],
            round_trips: 0,
        };
        authenticate(&mut replay, &credential, &hello, Some(state), &cache).unwrap();
        assert_eq!(replay.round_trips, 1);
    }
}
