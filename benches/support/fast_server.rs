//! A minimal, fast in-process MongoDB wire server for the benchmarks (W1, W2).
//!
//! It speaks OP_MSG only (kind-0 body; kind-1 sections are skipped) on 127.0.0.1, one thread per
//! connection, and answers by command name: `hello`/`isMaster`/`ismaster` get a plausible
//! standalone hello reply (maxWireVersion 21, sessions supported, no `topologyVersion`, so
//! drivers poll instead of streaming), every other command (`ping`, `endSessions`, ...) gets
//! `{ok: 1.0}` from a pre-encoded buffer. A hello can be delayed (`handshake_delay`) to model
//! a slow handshake. Nothing is recorded, so the server adds no allocation per request beyond
//! its read buffer growing once. Dropping the server stops it and closes every socket.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

const OP_MSG: i32 = 2013;
const MORE_TO_COME: u32 = 1 << 1;
const CHECKSUM_PRESENT: u32 = 1;
const MAX_MESSAGE: usize = 48_000_000;

/// A running server; see the module docs.
pub struct FastServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    sockets: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<JoinHandle<()>>,
    /// Requests answered so far (all connections).
    pub requests: Arc<AtomicU64>,
}

impl FastServer {
    /// Starts a server on a free loopback port.
    pub fn start(handshake_delay: Duration) -> FastServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let sockets = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(AtomicU64::new(0));
        let (stop2, sockets2, requests2) = (stop.clone(), sockets.clone(), requests.clone());
        let accept = std::thread::Builder::new()
            .name("fast-server-accept".into())
            .spawn(move || {
                let mut next_conn = 1i64;
                for stream in listener.incoming() {
                    if stop2.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let _ = stream.set_nodelay(true);
                    if let Ok(clone) = stream.try_clone() {
                        sockets2.lock().unwrap().push(clone);
                    }
                    let conn_id = next_conn;
                    next_conn += 1;
                    let requests = requests2.clone();
                    let _ = std::thread::Builder::new()
                        .name("fast-server-conn".into())
                        .spawn(move || serve(stream, conn_id, handshake_delay, &requests));
                }
            })
            .expect("spawn accept thread");
        FastServer {
            addr,
            stop,
            sockets,
            accept: Some(accept),
            requests,
        }
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for FastServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop with one last connection.
        let _ = TcpStream::connect(self.addr);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        for s in self.sockets.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

static NEXT_REPLY_ID: AtomicI32 = AtomicI32::new(1);

/// Serves one connection until the peer closes it or the socket is shut down.
fn serve(mut stream: TcpStream, conn_id: i64, handshake_delay: Duration, requests: &AtomicU64) {
    let ok_body = encode_doc(&bson::doc! { "ok": 1.0 });
    let mut buf = Vec::with_capacity(4096);
    let mut out = Vec::with_capacity(1024);
    let mut header = [0u8; 16];
    loop {
        if stream.read_exact(&mut header).is_err() {
            return;
        }
        let len = i32::from_le_bytes(header[0..4].try_into().unwrap_or_default());
        let request_id = i32::from_le_bytes(header[4..8].try_into().unwrap_or_default());
        let op_code = i32::from_le_bytes(header[12..16].try_into().unwrap_or_default());
        if len < 16 || len as usize > MAX_MESSAGE || op_code != OP_MSG {
            return;
        }
        buf.resize(len as usize - 16, 0);
        if stream.read_exact(&mut buf).is_err() {
            return;
        }
        requests.fetch_add(1, Ordering::Relaxed);
        let Some((flags, body)) = body_section(&buf) else {
            return;
        };
        if flags & MORE_TO_COME != 0 {
            continue;
        }
        let name = first_key(body).unwrap_or("");
        let reply_body;
        let reply: &[u8] = if matches!(name, "hello" | "isMaster" | "ismaster") {
            if !handshake_delay.is_zero() {
                std::thread::sleep(handshake_delay);
            }
            reply_body = encode_doc(&hello_reply(conn_id));
            &reply_body
        } else {
            &ok_body
        };
        out.clear();
        let total = 16 + 4 + 1 + reply.len();
        out.extend_from_slice(&(total as i32).to_le_bytes());
        out.extend_from_slice(&NEXT_REPLY_ID.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        out.extend_from_slice(&request_id.to_le_bytes());
        out.extend_from_slice(&OP_MSG.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.push(0);
        out.extend_from_slice(reply);
        if stream.write_all(&out).is_err() {
            return;
        }
    }
}

/// The flag bits and the kind-0 body of an OP_MSG (after the header).
fn body_section(msg: &[u8]) -> Option<(u32, &[u8])> {
    let flags = u32::from_le_bytes(msg.get(0..4)?.try_into().ok()?);
    let end = if flags & CHECKSUM_PRESENT != 0 {
        msg.len().checked_sub(4)?
    } else {
        msg.len()
    };
    let mut at = 4;
    while at < end {
        let kind = *msg.get(at)?;
        at += 1;
        let size = i32::from_le_bytes(msg.get(at..at + 4)?.try_into().ok()?) as usize;
        if kind == 0 {
            return Some((flags, msg.get(at..at + size)?));
        }
        at += size;
    }
    None
}

/// The first key of a BSON document, without decoding the rest.
fn first_key(doc: &[u8]) -> Option<&str> {
    let rest = doc.get(5..)?;
    let nul = rest.iter().position(|&b| b == 0)?;
    std::str::from_utf8(&rest[..nul]).ok()
}

fn encode_doc(doc: &bson::Document) -> Vec<u8> {
    let mut v = Vec::new();
    doc.to_writer(&mut v).expect("encode bson");
    v
}

/// A standalone server's hello reply, plausible enough for the official driver.
fn hello_reply(conn_id: i64) -> bson::Document {
    bson::doc! {
        "helloOk": true,
        "isWritablePrimary": true,
        "ismaster": true,
        "maxBsonObjectSize": 16_777_216,
        "maxMessageSizeBytes": 48_000_000,
        "maxWriteBatchSize": 100_000,
        "localTime": bson::DateTime::now(),
        "logicalSessionTimeoutMinutes": 30,
        "connectionId": conn_id,
        "minWireVersion": 0,
        "maxWireVersion": 21,
        "readOnly": false,
        "ok": 1.0,
    }
}

/// An OP_MSG `ping` request frame for database `admin`, with request id `id`.
pub fn ping_frame(id: i32) -> Vec<u8> {
    let body = encode_doc(&bson::doc! { "ping": 1, "$db": "admin" });
    let total = 16 + 4 + 1 + body.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as i32).to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&OP_MSG.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.push(0);
    out.extend_from_slice(&body);
    out
}

/// The floor client: one socket, a pre-encoded `ping` frame, the reply read into a reused
/// buffer and checked only for its length and `responseTo` (no BSON decoding).
pub struct RawClient {
    stream: TcpStream,
    frame: Vec<u8>,
    buf: Vec<u8>,
}

impl RawClient {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect(addr).expect("connect to the fast server");
        stream.set_nodelay(true).expect("nodelay");
        RawClient {
            stream,
            frame: ping_frame(7),
            buf: Vec::with_capacity(256),
        }
    }

    /// One `ping` round trip.
    pub fn ping(&mut self) {
        self.stream.write_all(&self.frame).expect("write ping");
        let mut header = [0u8; 16];
        self.stream.read_exact(&mut header).expect("read reply header");
        let len = i32::from_le_bytes(header[0..4].try_into().unwrap_or_default()) as usize;
        let response_to = i32::from_le_bytes(header[8..12].try_into().unwrap_or_default());
        assert!(len >= 21 && response_to == 7, "bad ping reply");
        self.buf.resize(len - 16, 0);
        self.stream.read_exact(&mut self.buf).expect("read reply body");
    }
}
