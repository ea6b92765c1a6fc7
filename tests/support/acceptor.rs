//! The accept loop of the small loopback servers in tests/support: a free port, one thread
//! accepting, the sockets to shut down, and a drop that stops it all.

use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use mongopool::ServerAddress;

/// The sockets an acceptor shuts down when dropped; handlers register theirs here.
pub type Sockets = Arc<Mutex<Vec<TcpStream>>>;

pub struct Acceptor {
    address: ServerAddress,
    stop: Arc<AtomicBool>,
    sockets: Sockets,
    accept: Option<JoinHandle<()>>,
}

impl Acceptor {
    /// Listens on a free loopback port and passes every accepted connection to `on_accept`.
    pub fn start(mut on_accept: impl FnMut(TcpStream, &Sockets) + Send + 'static) -> Acceptor {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let sockets: Sockets = Arc::new(Mutex::new(Vec::new()));
        let (s, socks) = (stop.clone(), sockets.clone());
        let accept = std::thread::spawn(move || {
            for socket in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(socket) = socket else { continue };
                on_accept(socket, &socks);
            }
        });
        Acceptor {
            address: ServerAddress::tcp("127.0.0.1", port),
            stop,
            sockets,
            accept: Some(accept),
        }
    }

    pub fn address(&self) -> &ServerAddress {
        &self.address
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.address.to_string());
        for s in self.sockets.lock().unwrap().iter() {
            let _ = s.shutdown(Shutdown::Both);
        }
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}
