//! A TCP proxy in front of a server that records every command the client sends (the OP_MSG
//! body; its first key is the command name), to count round trips. Plain TCP only.
//!
//! One accept thread and two copy threads per connection; dropping the proxy stops accepting
//! and shuts every socket down.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};

use bson::Document;
use mongopool::ServerAddress;

use super::acceptor::Acceptor;

const OP_MSG: i32 = 2013;
/// Frames larger than this are forwarded unparsed (the tests send small commands).
const MAX_PARSED: usize = 16 * 1024 * 1024;

pub struct CountingProxy {
    acceptor: Acceptor,
    commands: Arc<Mutex<Vec<Document>>>,
}

impl CountingProxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`.
    pub fn start(upstream: &ServerAddress) -> CountingProxy {
        let upstream = upstream.to_string();
        let commands = Arc::new(Mutex::new(Vec::new()));
        let c = commands.clone();
        let acceptor = Acceptor::start(move |client, sockets| {
            let Ok(server) = TcpStream::connect(&upstream) else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            {
                let mut all = sockets.lock().unwrap();
                all.push(client.try_clone().unwrap());
                all.push(server.try_clone().unwrap());
            }
            let (cr, sw) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let recorded = c.clone();
            std::thread::spawn(move || forward_requests(cr, sw, recorded));
            std::thread::spawn(move || {
                let (mut from, mut to) = (server, client);
                let _ = std::io::copy(&mut from, &mut to);
                let _ = to.shutdown(Shutdown::Both);
                let _ = from.shutdown(Shutdown::Both);
            });
        });
        CountingProxy { acceptor, commands }
    }

    pub fn address(&self) -> &ServerAddress {
        self.acceptor.address()
    }

    /// The command names seen so far, in order.
    pub fn commands(&self) -> Vec<String> {
        self.bodies().iter().filter_map(|d| d.keys().next().cloned()).collect()
    }

    /// The command bodies seen so far, in order.
    pub fn bodies(&self) -> Vec<Document> {
        self.commands.lock().unwrap().clone()
    }

    /// How many times `name` was seen.
    pub fn count(&self, name: &str) -> usize {
        self.commands().iter().filter(|c| c.as_str() == name).count()
    }

    pub fn clear(&self) {
        self.commands.lock().unwrap().clear();
    }
}

/// Copies client-to-server frames, recording the command name of each OP_MSG.
fn forward_requests(mut client: TcpStream, mut server: TcpStream, recorded: Arc<Mutex<Vec<Document>>>) {
    loop {
        let mut header = [0u8; 16];
        if client.read_exact(&mut header).is_err() {
            break;
        }
        let len = i32::from_le_bytes(header[0..4].try_into().unwrap());
        let op = i32::from_le_bytes(header[12..16].try_into().unwrap());
        let body_len = (len as usize).saturating_sub(16);
        if len < 16 || body_len > MAX_PARSED {
            break;
        }
        let mut body = vec![0u8; body_len];
        if client.read_exact(&mut body).is_err() {
            break;
        }
        // OP_MSG: flagBits (4 bytes), then section kind 0 and the body document.
        if op == OP_MSG && body.len() > 5 && body[4] == 0 {
            if let Ok(doc) = Document::from_reader(&mut &body[5..]) {
                recorded.lock().unwrap().push(doc);
            }
        }
        if server.write_all(&header).and_then(|_| server.write_all(&body)).is_err() {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
}
