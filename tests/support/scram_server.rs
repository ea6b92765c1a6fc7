//! A minimal SCRAM-SHA-256 server speaking OP_MSG on loopback, built from the RustCrypto crates
//! (not from mongopool's SCRAM code), for what SecantusDB cannot be made to do: ignore
//! `speculativeAuthenticate`, or answer with a server signature that does not prove it knows
//! the password.
//!
//! One user, [`USER`] / [`PASSWORD`]. `hello`/`isMaster` gets a primary's reply listing
//! SCRAM-SHA-256 and, if [`ScramServerConfig::speculative`] and the client sent one, the
//! `speculativeAuthenticate` reply; `saslStart`/`saslContinue` run the conversation; anything
//! else gets `{ok: 1}`. Every command name is recorded. One thread per connection; dropping the
//! server shuts every socket down.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use bson::spec::BinarySubtype;
use bson::{doc, Binary, Bson, Document};
use hmac::{Hmac, Mac};
use mongopool::ServerAddress;
use sha2::{Digest, Sha256};

use super::acceptor::Acceptor;

pub const USER: &str = "scram-user";
pub const PASSWORD: &str = "scram-password";
const SALT: &[u8] = b"mongopool-salt!!";
const ITERATIONS: u32 = 4096;
const OP_MSG: i32 = 2013;

#[derive(Clone, Copy, Debug, Default)]
pub struct ScramServerConfig {
    /// Answer a `speculativeAuthenticate` in the hello (else ignore it, as old servers do).
    pub speculative: bool,
    /// Send a server signature that is off by one bit.
    pub bad_signature: bool,
}

pub struct ScramServer {
    acceptor: Acceptor,
    commands: Arc<Mutex<Vec<String>>>,
}

struct Keys {
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn keys() -> Keys {
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(PASSWORD.as_bytes(), SALT, ITERATIONS, &mut salted);
    let client_key = hmac(&salted, b"Client Key");
    Keys {
        stored_key: Sha256::digest(&client_key).to_vec(),
        server_key: hmac(&salted, b"Server Key"),
    }
}

impl ScramServer {
    pub fn start(config: ScramServerConfig) -> ScramServer {
        let commands = Arc::new(Mutex::new(Vec::new()));
        let c = commands.clone();
        let keys = Arc::new(keys());
        let acceptor = Acceptor::start(move |socket, sockets| {
            sockets.lock().unwrap().push(socket.try_clone().unwrap());
            let (c, keys) = (c.clone(), keys.clone());
            std::thread::spawn(move || serve(socket, config, &keys, &c));
        });
        ScramServer { acceptor, commands }
    }

    pub fn address(&self) -> &ServerAddress {
        self.acceptor.address()
    }

    /// The command names received, in order.
    pub fn commands(&self) -> Vec<String> {
        self.commands.lock().unwrap().clone()
    }
}

/// The conversation state of one connection.
#[derive(Default)]
struct Conversation {
    client_first_bare: String,
    server_first: String,
}

fn serve(mut socket: TcpStream, config: ScramServerConfig, keys: &Keys, commands: &Mutex<Vec<String>>) {
    let mut conversation = Conversation::default();
    while let Some((request_id, body)) = read_request(&mut socket) {
        let name = body.keys().next().cloned().unwrap_or_default();
        commands.lock().unwrap().push(name.clone());
        let reply = match name.as_str() {
            "hello" | "isMaster" | "ismaster" => {
                let mut reply = doc! {
                    "ok": 1, "isWritablePrimary": true, "helloOk": true, "maxWireVersion": 21,
                    "saslSupportedMechs": ["SCRAM-SHA-256"],
                };
                if let (true, Ok(start)) = (config.speculative, body.get_document("speculativeAuthenticate")) {
                    reply.insert("speculativeAuthenticate", sasl_start(start, &mut conversation));
                }
                reply
            }
            "saslStart" => sasl_start(&body, &mut conversation),
            "saslContinue" => sasl_continue(&body, &conversation, keys, config.bad_signature),
            _ => doc! { "ok": 1 },
        };
        if write_reply(&mut socket, request_id, &reply).is_err() {
            break;
        }
    }
}

fn payload(body: &Document) -> String {
    match body.get("payload") {
        Some(Bson::Binary(b)) => String::from_utf8_lossy(&b.bytes).into_owned(),
        _ => String::new(),
    }
}

fn binary(text: &str) -> Binary {
    Binary {
        subtype: BinarySubtype::Generic,
        bytes: text.as_bytes().to_vec(),
    }
}

fn sasl_start(body: &Document, conversation: &mut Conversation) -> Document {
    let first = payload(body);
    let bare = first.strip_prefix("n,,").unwrap_or(&first).to_owned();
    let client_nonce = bare.split(",r=").nth(1).unwrap_or_default().to_owned();
    conversation.server_first = format!("r={client_nonce}server-nonce,s={},i={ITERATIONS}", B64.encode(SALT));
    conversation.client_first_bare = bare;
    doc! { "ok": 1, "conversationId": 1, "done": false, "payload": binary(&conversation.server_first) }
}

fn sasl_continue(body: &Document, conversation: &Conversation, keys: &Keys, bad_signature: bool) -> Document {
    let client_final = payload(body);
    let Some((without_proof, proof)) = client_final.split_once(",p=") else {
        return failed();
    };
    let auth_message = format!(
        "{},{},{without_proof}",
        conversation.client_first_bare, conversation.server_first
    );
    let signature = hmac(&keys.stored_key, auth_message.as_bytes());
    let Ok(proof) = B64.decode(proof) else { return failed() };
    let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
    if Sha256::digest(&client_key).as_slice() != keys.stored_key.as_slice() {
        return failed();
    }
    let mut server_signature = hmac(&keys.server_key, auth_message.as_bytes());
    if bad_signature {
        server_signature[0] ^= 1;
    }
    let server_final = format!("v={}", B64.encode(server_signature));
    doc! { "ok": 1, "conversationId": 1, "done": true, "payload": binary(&server_final) }
}

fn failed() -> Document {
    doc! { "ok": 0, "code": 18, "codeName": "AuthenticationFailed", "errmsg": "Authentication failed." }
}

fn read_request(socket: &mut TcpStream) -> Option<(i32, Document)> {
    let mut header = [0u8; 16];
    socket.read_exact(&mut header).ok()?;
    let len = i32::from_le_bytes(header[0..4].try_into().unwrap());
    let request_id = i32::from_le_bytes(header[4..8].try_into().unwrap());
    let op = i32::from_le_bytes(header[12..16].try_into().unwrap());
    if !(21..=16 * 1024 * 1024).contains(&len) || op != OP_MSG {
        return None;
    }
    let mut body = vec![0u8; len as usize - 16];
    socket.read_exact(&mut body).ok()?;
    if body[4] != 0 {
        return None;
    }
    Document::from_reader(&mut &body[5..]).ok().map(|d| (request_id, d))
}

fn write_reply(socket: &mut TcpStream, response_to: i32, reply: &Document) -> std::io::Result<()> {
    let mut doc = Vec::new();
    reply.to_writer(&mut doc).map_err(std::io::Error::other)?;
    let len = (16 + 4 + 1 + doc.len()) as i32;
    let mut frame = Vec::with_capacity(len as usize);
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&1i32.to_le_bytes());
    frame.extend_from_slice(&response_to.to_le_bytes());
    frame.extend_from_slice(&OP_MSG.to_le_bytes());
    frame.extend_from_slice(&0u32.to_le_bytes());
    frame.push(0);
    frame.extend_from_slice(&doc);
    socket.write_all(&frame)
}
