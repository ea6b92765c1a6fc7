//! A scripted MongoDB wire server for tests of what a real server rarely does: garbage,
//! truncated or oversized frames, connections closed mid-reply, slow replies, compressed
//! replies and load-balanced handshakes.
//!
//! ```ignore
//! let server = WireServer::start();                      // 127.0.0.1, a free port
//! server.add(Rule::on("ping", Action::Garbage));         // the next ping gets garbage
//! server.add(Rule::on("find", Action::Reply(doc! { "ok": 1 })).delay(ms(300)).times(2));
//! server.add(Rule::on_handshake(Action::Close).always()); // every hello/isMaster: close
//! // ... run a pool against server.address() ...
//! assert_eq!(server.count("ping"), 1);
//! ```
//!
//! - **Listening**: one accept thread, one thread per connection. Connections are numbered from
//!   1 in accept order; that number is the `connectionId` of the default hello reply.
//! - **Speaking**: requests are OP_MSG or OP_COMPRESSED wrapping OP_MSG (noop, snappy, zlib,
//!   zstd). The server decodes them with its own small codec and the compression crates
//!   directly (not mongopool's code), so a symmetric bug in the client cannot hide. A reply goes
//!   back compressed with the request's compressor when the request came compressed.
//! - **Script**: rules keyed by command name (the first key of the body), checked in the order
//!   they were added; the first with uses left applies ([`Rule::times`], [`Rule::always`];
//!   once by default). Without a matching rule, `hello`/`isMaster` get the default hello reply
//!   (see [`WireServerConfig`]: `maxWireVersion`, an optional `serviceId`, the `compression`
//!   list intersected with the client's, in the server's order, omitted when empty) and every
//!   other command gets `{ok: 1}`. Requests with `moreToCome` get no reply.
//! - **Record**: every decoded request is recorded ([`Received`]: connection number, command,
//!   database, body, the compressor id it arrived with) before the server acts on it, so when
//!   the client sees a reply or an error, the request is already in [`WireServer::received`].
//! - **Shutdown**: dropping the server stops accepting, shuts every socket down and joins every
//!   thread; a delay in progress is cut short. No thread or socket outlives the value.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bson::{doc, oid::ObjectId, Bson, Document};
use mongopool::ServerAddress;

/// OP_MSG.
pub const OP_MSG: i32 = 2013;
/// OP_COMPRESSED.
pub const OP_COMPRESSED: i32 = 2012;
/// Compressor ids (op-compressed.md, Compressor IDs).
pub const NOOP: u8 = 0;
/// snappy.
pub const SNAPPY: u8 = 1;
/// zlib.
pub const ZLIB: u8 = 2;
/// zstd.
pub const ZSTD: u8 = 3;

/// The largest request the server reads (the default maxMessageSizeBytes).
const MAX_MESSAGE: usize = 48_000_000;
const HANDSHAKE_COMMANDS: [&str; 3] = ["hello", "isMaster", "ismaster"];

/// What the server does with a command that a rule matched.
#[derive(Clone, Debug)]
pub enum Action {
    /// Replies with this OP_MSG body (compressed like the request, if it was).
    Reply(Document),
    /// Replies with this body in OP_COMPRESSED with compressor `.1`, whatever the request was.
    ReplyCompressed(Document, u8),
    /// Replies with an OP_COMPRESSED of compressor `.0` whose payload is not valid for it
    /// (for noop: shorter than its `uncompressedSize`).
    ReplyCorruptCompressed(u8),
    /// Closes the socket without replying.
    Close,
    /// Sends the first half of a valid reply frame, then closes the socket.
    CloseMidReply,
    /// Sends 64 bytes that are no wire message, and keeps the socket open.
    Garbage,
    /// Sends a whole frame whose `messageLength` cuts the OP_MSG body short, so its BSON
    /// document overruns the message; keeps the socket open.
    Truncated,
    /// Sends only a header announcing this `messageLength` (e.g. `i32::MAX`, 2 GiB) for an
    /// OP_MSG answering the request, and keeps the socket open.
    MessageLength(i32),
    /// Sends these bytes as they are.
    Raw(Vec<u8>),
}

/// How often a rule applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Times {
    Left(usize),
    Always,
}

/// A script entry: which commands it matches, what to do, after what delay, how often.
#[derive(Clone, Debug)]
pub struct Rule {
    commands: Vec<String>,
    action: Action,
    delay: Duration,
    times: Times,
    connection: Option<u64>,
}

impl Rule {
    /// A rule for `command` (compared with the body's first key), applying once.
    pub fn on(command: &str, action: Action) -> Rule {
        Rule {
            commands: vec![command.to_owned()],
            action,
            delay: Duration::ZERO,
            times: Times::Left(1),
            connection: None,
        }
    }

    /// A rule for the handshake: `hello`, `isMaster` and `ismaster`.
    pub fn on_handshake(action: Action) -> Rule {
        Rule {
            commands: HANDSHAKE_COMMANDS.iter().map(|s| s.to_string()).collect(),
            ..Rule::on("", action)
        }
    }

    /// Applies `n` times.
    pub fn times(mut self, n: usize) -> Rule {
        self.times = Times::Left(n);
        self
    }

    /// Applies every time.
    pub fn always(mut self) -> Rule {
        self.times = Times::Always;
        self
    }

    /// Waits this long before acting.
    pub fn delay(mut self, delay: Duration) -> Rule {
        self.delay = delay;
        self
    }

    /// Applies only on the server's connection number `n` (from 1, in accept order).
    pub fn on_connection(mut self, n: u64) -> Rule {
        self.connection = Some(n);
        self
    }
}

/// The default hello reply's settings.
#[derive(Clone, Debug)]
pub struct WireServerConfig {
    /// `maxWireVersion` (default 21).
    pub max_wire_version: i32,
    /// `serviceId` to include, as a load balancer's server would.
    pub service_id: Option<ObjectId>,
    /// Compressors the server supports, in its order of preference (default none). The reply
    /// lists those the client asked for too, and omits `compression` when there are none.
    pub compression: Vec<String>,
    /// More fields for the hello reply (replacing the defaults of the same name).
    pub hello_extra: Document,
}

impl Default for WireServerConfig {
    fn default() -> Self {
        WireServerConfig {
            max_wire_version: 21,
            service_id: None,
            compression: Vec::new(),
            hello_extra: Document::new(),
        }
    }
}

/// One request the server decoded.
#[derive(Clone, Debug)]
pub struct Received {
    /// The server's connection number (from 1, in accept order).
    pub connection: u64,
    /// The command name: the body's first key.
    pub command: String,
    /// `$db`.
    pub database: Option<String>,
    /// The whole body (document sequences merged in as arrays).
    pub body: Document,
    /// The compressor id of the OP_COMPRESSED it came in, `None` if it came as plain OP_MSG.
    pub compressor: Option<u8>,
    /// The request id of its header.
    pub request_id: i32,
}

/// The scripted server (see the module documentation).
pub struct WireServer {
    address: ServerAddress,
    socket_addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    config: WireServerConfig,
    rules: Mutex<Vec<Rule>>,
    received: Mutex<Vec<Received>>,
    /// Set once on drop; delays wait on `stop_cv` so that they end at once.
    stopping: Mutex<bool>,
    stop_cv: Condvar,
    /// Clones of the live sockets by connection number, so drop can shut them down.
    sockets: Mutex<HashMap<u64, TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    accepted: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking connection thread must not hide what the others recorded.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl WireServer {
    /// Starts a server with the default configuration.
    pub fn start() -> WireServer {
        Self::start_with(WireServerConfig::default())
    }

    /// Starts a server on 127.0.0.1 and a free port. Panics (failing the test) if it cannot.
    pub fn start_with(config: WireServerConfig) -> WireServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("wire server: bind 127.0.0.1:0");
        let socket_addr = listener.local_addr().expect("wire server: local address");
        let shared = Arc::new(Shared {
            config,
            rules: Mutex::new(Vec::new()),
            received: Mutex::new(Vec::new()),
            stopping: Mutex::new(false),
            stop_cv: Condvar::new(),
            sockets: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
            accepted: AtomicU64::new(0),
        });
        let acceptor_shared = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name("wire-server-accept".into())
            .spawn(move || accept_loop(listener, acceptor_shared))
            .expect("wire server: spawn the accept thread");
        WireServer {
            address: format!("127.0.0.1:{}", socket_addr.port()).parse().expect("address"),
            socket_addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// The address to connect to.
    pub fn address(&self) -> &ServerAddress {
        &self.address
    }

    /// A `mongodb://` URI for the server.
    pub fn uri(&self) -> String {
        format!("mongodb://{}", self.address)
    }

    /// Adds a rule after the existing ones.
    pub fn add(&self, rule: Rule) {
        lock(&self.shared.rules).push(rule);
    }

    /// Removes every rule.
    pub fn clear_rules(&self) {
        lock(&self.shared.rules).clear();
    }

    /// Every request decoded so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.shared.received).clone()
    }

    /// The command names received so far, in arrival order.
    pub fn commands(&self) -> Vec<String> {
        lock(&self.shared.received).iter().map(|r| r.command.clone()).collect()
    }

    /// How many `command` requests arrived.
    pub fn count(&self, command: &str) -> usize {
        lock(&self.shared.received)
            .iter()
            .filter(|r| r.command == command)
            .count()
    }

    /// Forgets the requests received so far.
    pub fn clear_received(&self) {
        lock(&self.shared.received).clear();
    }

    /// Connections accepted so far.
    pub fn connections_accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Connections whose thread still runs (the client has not closed them).
    pub fn open_connections(&self) -> usize {
        lock(&self.shared.sockets).len()
    }

    /// Waits until exactly `n` connections are open; false if that did not happen in `timeout`.
    pub fn wait_for_open_connections(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.open_connections() == n {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for WireServer {
    fn drop(&mut self) {
        *lock(&self.shared.stopping) = true;
        self.shared.stop_cv.notify_all();
        // Wake the blocking accept; it sees the flag and returns.
        let _ = TcpStream::connect_timeout(&self.socket_addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        // No new connection threads from here on: shut every socket down, join every thread.
        for socket in lock(&self.shared.sockets).values() {
            let _ = socket.shutdown(Shutdown::Both);
        }
        let threads = std::mem::take(&mut *lock(&self.shared.threads));
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Shared {
    fn stopping(&self) -> bool {
        *lock(&self.stopping)
    }

    /// Sleeps for `d` unless the server stops first; returns false if it is stopping.
    fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut stopping = lock(&self.stopping);
        while !*stopping {
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            stopping = self
                .stop_cv
                .wait_timeout(stopping, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        false
    }

    /// The first rule for this command with uses left, used up by one.
    fn take_rule(&self, command: &str, connection: u64) -> Option<(Action, Duration)> {
        let mut rules = lock(&self.rules);
        let rule = rules.iter_mut().find(|r| {
            r.commands.iter().any(|c| c == command)
                && r.connection.is_none_or(|n| n == connection)
                && r.times != Times::Left(0)
        })?;
        if let Times::Left(n) = &mut rule.times {
            *n -= 1;
        }
        Some((rule.action.clone(), rule.delay))
    }

    fn default_reply(&self, request: &Document, command: &str, connection: u64) -> Document {
        if !HANDSHAKE_COMMANDS.contains(&command) {
            return doc! { "ok": 1.0 };
        }
        let config = &self.config;
        let mut reply = doc! {
            "helloOk": true,
            "isWritablePrimary": true,
            "maxBsonObjectSize": 16 * 1024 * 1024,
            "maxMessageSizeBytes": MAX_MESSAGE as i32,
            "maxWriteBatchSize": 100_000,
            "localTime": bson::DateTime::now(),
            "logicalSessionTimeoutMinutes": 30,
            "connectionId": connection as i64,
            "minWireVersion": 0,
            "maxWireVersion": config.max_wire_version,
            "readOnly": false,
        };
        if command != "hello" {
            reply.insert("ismaster", true);
        }
        if let Some(id) = config.service_id {
            reply.insert("serviceId", id);
        }
        let asked: Vec<&str> = match request.get("compression") {
            Some(Bson::Array(names)) => names.iter().filter_map(Bson::as_str).collect(),
            _ => Vec::new(),
        };
        let agreed: Vec<&String> = config
            .compression
            .iter()
            .filter(|c| asked.contains(&c.as_str()))
            .collect();
        if !agreed.is_empty() {
            reply.insert("compression", agreed);
        }
        for (k, v) in &config.hello_extra {
            reply.insert(k.clone(), v.clone());
        }
        reply.insert("ok", 1.0);
        reply
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping() {
            return;
        }
        let Ok(stream) = stream else { continue };
        let n = shared.accepted.fetch_add(1, Ordering::SeqCst) + 1;
        let Ok(clone) = stream.try_clone() else { continue };
        let _ = stream.set_nodelay(true);
        lock(&shared.sockets).insert(n, clone);
        let conn_shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("wire-server-conn-{n}"))
            .spawn(move || {
                serve(stream, n, &conn_shared);
                lock(&conn_shared.sockets).remove(&n);
            });
        match spawned {
            Ok(handle) => {
                let mut threads = lock(&shared.threads);
                // Finished threads are joined as new ones start, so the list stays short.
                let (done, running): (Vec<_>, Vec<_>) = threads.drain(..).partition(|t| t.is_finished());
                *threads = running;
                threads.push(handle);
                drop(threads);
                done.into_iter().for_each(|t| {
                    let _ = t.join();
                });
            }
            Err(_) => {
                lock(&shared.sockets).remove(&n);
            }
        }
    }
}

/// One request as read off the wire.
struct Request {
    request_id: i32,
    flags: u32,
    body: Document,
    compressor: Option<u8>,
}

/// Serves one connection until the client closes it, a rule closes it, or the server stops.
fn serve(mut stream: TcpStream, connection: u64, shared: &Shared) {
    loop {
        let Some(request) = read_request(&mut stream) else {
            return;
        };
        let command = request.body.keys().next().cloned().unwrap_or_default();
        lock(&shared.received).push(Received {
            connection,
            command: command.clone(),
            database: request.body.get_str("$db").ok().map(str::to_owned),
            body: request.body.clone(),
            compressor: request.compressor,
            request_id: request.request_id,
        });
        let (action, delay) = shared.take_rule(&command, connection).unwrap_or_else(|| {
            (
                Action::Reply(shared.default_reply(&request.body, &command, connection)),
                Duration::ZERO,
            )
        });
        if !delay.is_zero() && !shared.sleep(delay) {
            return;
        }
        if shared.stopping() {
            return;
        }
        let more_to_come = request.flags & 2 != 0;
        let rid = request.request_id;
        let result = match action {
            Action::Reply(body) if more_to_come => {
                let _ = body;
                Ok(())
            }
            Action::Reply(body) => {
                let frame = match request.compressor {
                    Some(id) => compressed_frame(&body, rid, id),
                    None => msg_frame(&body, rid),
                };
                stream.write_all(&frame)
            }
            Action::ReplyCompressed(body, id) => stream.write_all(&compressed_frame(&body, rid, id)),
            Action::ReplyCorruptCompressed(id) => stream.write_all(&corrupt_compressed_frame(rid, id)),
            Action::Close => {
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
            Action::CloseMidReply => {
                let frame = msg_frame(&doc! { "ok": 1.0, "padding": "x".repeat(64) }, rid);
                let _ = stream.write_all(&frame[..frame.len() / 2]);
                let _ = stream.flush();
                // Write side first: the half frame goes out before the FIN, never an RST.
                let _ = stream.shutdown(Shutdown::Write);
                return;
            }
            Action::Garbage => stream.write_all(&b"GARBAGE!".repeat(8)),
            Action::Truncated => {
                let mut frame = msg_frame(&doc! { "ok": 1.0, "padding": "x".repeat(64) }, rid);
                let cut = frame.len() - 10;
                frame.truncate(cut);
                frame[..4].copy_from_slice(&(cut as i32).to_le_bytes());
                stream.write_all(&frame)
            }
            Action::MessageLength(len) => stream.write_all(&header(len, rid, OP_MSG)),
            Action::Raw(bytes) => stream.write_all(&bytes),
        };
        if result.is_err() {
            return;
        }
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut head = [0u8; 16];
    stream.read_exact(&mut head).ok()?;
    let field = |i: usize| i32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    let (len, request_id, op) = (field(0), field(4), field(12));
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| (16 + 5..=MAX_MESSAGE).contains(&l))?;
    let mut body = vec![0u8; len - 16];
    stream.read_exact(&mut body).ok()?;
    let (payload, compressor) = match op {
        OP_MSG => (body, None),
        OP_COMPRESSED => {
            if body.len() < 9 {
                return None;
            }
            let original = i32::from_le_bytes(body[0..4].try_into().ok()?);
            let size = usize::try_from(i32::from_le_bytes(body[4..8].try_into().ok()?)).ok()?;
            if original != OP_MSG || size > MAX_MESSAGE {
                return None;
            }
            let id = body[8];
            (decompress(id, &body[9..], size)?, Some(id))
        }
        _ => return None,
    };
    let (flags, body) = parse_op_msg(&payload)?;
    Some(Request {
        request_id,
        flags,
        body,
        compressor,
    })
}

/// The body document of an OP_MSG (after the header), with document sequences merged in.
fn parse_op_msg(bytes: &[u8]) -> Option<(u32, Document)> {
    let flags = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?);
    let end = if flags & 1 != 0 {
        bytes.len().checked_sub(4)?
    } else {
        bytes.len()
    };
    let mut pos = 4;
    let mut body: Option<Document> = None;
    let mut sequences = Vec::new();
    let doc_at = |pos: usize, limit: usize| -> Option<(Document, usize)> {
        let len = i32::from_le_bytes(bytes.get(pos..pos + 4)?.try_into().ok()?);
        let len = usize::try_from(len).ok().filter(|&l| l >= 5 && pos + l <= limit)?;
        let doc = Document::from_reader(&bytes[pos..pos + len]).ok()?;
        Some((doc, pos + len))
    };
    while pos < end {
        let kind = bytes[pos];
        pos += 1;
        match kind {
            0 => {
                let (doc, next) = doc_at(pos, end)?;
                body = Some(doc);
                pos = next;
            }
            1 => {
                let size = i32::from_le_bytes(bytes.get(pos..pos + 4)?.try_into().ok()?);
                let section_end = pos + usize::try_from(size).ok().filter(|&s| s >= 5 && pos + s <= end)?;
                let rest = &bytes[pos + 4..section_end];
                let nul = rest.iter().position(|&b| b == 0)?;
                let name = String::from_utf8(rest[..nul].to_vec()).ok()?;
                let mut at = pos + 4 + nul + 1;
                let mut docs = Vec::new();
                while at < section_end {
                    let (doc, next) = doc_at(at, section_end)?;
                    docs.push(Bson::Document(doc));
                    at = next;
                }
                sequences.push((name, docs));
                pos = section_end;
            }
            _ => return None,
        }
    }
    let mut body = body?;
    for (name, docs) in sequences {
        body.insert(name, docs);
    }
    Some((flags, body))
}

fn header(len: i32, response_to: i32, op: i32) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(response_to.wrapping_add(1_000_000)).to_le_bytes());
    out.extend_from_slice(&response_to.to_le_bytes());
    out.extend_from_slice(&op.to_le_bytes());
    out
}

/// The OP_MSG body (flags, one kind-0 section) of `doc`, without a header.
fn msg_payload(doc: &Document) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 0, 0];
    doc.to_writer(&mut out).expect("serialise reply");
    out
}

/// A whole OP_MSG frame answering request `response_to`.
pub fn msg_frame(doc: &Document, response_to: i32) -> Vec<u8> {
    let payload = msg_payload(doc);
    let mut out = header((16 + payload.len()) as i32, response_to, OP_MSG);
    out.extend_from_slice(&payload);
    out
}

/// A whole OP_COMPRESSED frame (wrapping an OP_MSG of `doc`) answering `response_to`.
pub fn compressed_frame(doc: &Document, response_to: i32, compressor: u8) -> Vec<u8> {
    let payload = msg_payload(doc);
    let compressed = compress(compressor, &payload);
    compressed_frame_raw(response_to, compressor, payload.len() as i32, &compressed)
}

fn compressed_frame_raw(response_to: i32, compressor: u8, uncompressed: i32, data: &[u8]) -> Vec<u8> {
    let mut out = header((16 + 9 + data.len()) as i32, response_to, OP_COMPRESSED);
    out.extend_from_slice(&OP_MSG.to_le_bytes());
    out.extend_from_slice(&uncompressed.to_le_bytes());
    out.push(compressor);
    out.extend_from_slice(data);
    out
}

fn corrupt_compressed_frame(response_to: i32, compressor: u8) -> Vec<u8> {
    // 0xff bytes: no valid zlib header, no zstd magic, a snappy length varint that overflows;
    // for noop, 32 bytes where 100 are announced.
    compressed_frame_raw(response_to, compressor, 100, &[0xff; 32])
}

/// Compresses with the compressor of this id (the compression crates, not mongopool's code).
pub fn compress(id: u8, data: &[u8]) -> Vec<u8> {
    match id {
        NOOP => data.to_vec(),
        SNAPPY => snap::raw::Encoder::new().compress_vec(data).expect("snappy"),
        ZLIB => {
            let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(data).expect("zlib");
            enc.finish().expect("zlib")
        }
        ZSTD => zstd::bulk::compress(data, 0).expect("zstd"),
        other => panic!("wire server: no compressor {other}"),
    }
}

/// Decompresses, `None` if the data is invalid or does not have exactly `size` bytes.
pub fn decompress(id: u8, data: &[u8], size: usize) -> Option<Vec<u8>> {
    let out = match id {
        NOOP => data.to_vec(),
        SNAPPY => {
            if snap::raw::decompress_len(data).ok()? != size {
                return None;
            }
            snap::raw::Decoder::new().decompress_vec(data).ok()?
        }
        ZLIB => {
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(data)
                .take(size as u64 + 1)
                .read_to_end(&mut out)
                .ok()?;
            out
        }
        ZSTD => zstd::bulk::decompress(data, size).ok()?,
        _ => return None,
    };
    (out.len() == size).then_some(out)
}
