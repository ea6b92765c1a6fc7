//! Opening sockets: TCP through socket2 (every resolved address in order, connect timeout,
//! TCP_NODELAY, keepalive), TLS over TCP, and Unix domain sockets; and the handle that
//! interrupts a socket from another thread.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use native_tls::TlsStream;
use socket2::{Domain, Protocol, SockAddr, Socket, TcpKeepalive, Type};

use crate::address::ServerAddress;
use crate::error::{Error, ErrorKind, Result};
use crate::sync::Mutex;

/// Keepalive idle time: MongoDB recommends at most 120 s so that idle connections through
/// firewalls and load balancers are not dropped silently.
const KEEPALIVE_TIME: Duration = Duration::from_secs(120);

/// The byte stream under a connection.
pub(crate) enum Stream {
    Tcp(TcpStream),
    /// TLS over TCP (boxed: the TLS state is large).
    Tls(Box<TlsStream<TcpStream>>),
    Unix(UnixStream),
    /// No socket: used by connections made for tests and benchmarks. Every read and write
    /// fails with `NotConnected`.
    Detached,
}

impl Stream {
    /// A handle that can shut the socket down from another thread.
    pub(crate) fn shutdown_handle(&self) -> io::Result<Option<ShutdownHandle>> {
        Ok(match self {
            Stream::Tcp(s) => Some(ShutdownHandle::Tcp(s.try_clone()?)),
            Stream::Tls(s) => Some(ShutdownHandle::Tcp(s.get_ref().try_clone()?)),
            Stream::Unix(s) => Some(ShutdownHandle::Unix(s.try_clone()?)),
            Stream::Detached => None,
        })
    }

    pub(crate) fn set_timeouts(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
            Stream::Tls(s) => {
                s.get_ref().set_read_timeout(timeout)?;
                s.get_ref().set_write_timeout(timeout)
            }
            Stream::Unix(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
            Stream::Detached => Ok(()),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            Stream::Detached => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            Stream::Detached => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
            Stream::Detached => Ok(()),
        }
    }
}

/// A clone of a socket used only to shut it down, which makes a read or write blocked on the
/// original return at once.
pub(crate) enum ShutdownHandle {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl ShutdownHandle {
    fn shutdown(&self) {
        // An error here means the socket is already gone, which is the goal.
        let _ = match self {
            ShutdownHandle::Tcp(s) => s.shutdown(Shutdown::Both),
            ShutdownHandle::Unix(s) => s.shutdown(Shutdown::Both),
        };
    }
}

/// Lets the pool interrupt a connection (CMAP "Clearing a non-load balanced pool",
/// interruptInUseConnections) whether or not its socket exists yet.
///
/// Invariant: once `interrupt()` has been called, any socket registered then or later is shut
/// down, so an interrupt that races with establishment is never lost.
///
/// ```
/// use mongopool::Interrupter;
/// let interrupter = Interrupter::default();
/// interrupter.interrupt(); // before any socket exists: the next one registered is shut at once
/// assert!(interrupter.is_interrupted());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
pub struct Interrupter {
    state: Mutex<InterruptState>,
}

#[derive(Default)]
enum InterruptState {
    #[default]
    Empty,
    Armed(ShutdownHandle),
    Interrupted,
}

impl Interrupter {
    /// Registers the socket to shut down on interrupt. Returns false (and shuts it down) if the
    /// interrupt already happened.
    pub(crate) fn arm(&self, handle: ShutdownHandle) -> bool {
        let mut state = self.state.lock();
        match *state {
            InterruptState::Interrupted => {
                handle.shutdown();
                false
            }
            _ => {
                *state = InterruptState::Armed(handle);
                true
            }
        }
    }

    /// Shuts the socket down now, or as soon as it is registered.
    ///
    /// ```
    /// let interrupter = mongopool::Interrupter::default();
    /// interrupter.interrupt();
    /// interrupter.interrupt(); // idempotent
    /// assert!(interrupter.is_interrupted());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn interrupt(&self) {
        let previous = std::mem::replace(&mut *self.state.lock(), InterruptState::Interrupted);
        if let InterruptState::Armed(handle) = previous {
            handle.shutdown();
        }
    }

    /// Whether `interrupt()` was called.
    ///
    /// ```
    /// assert!(!mongopool::Interrupter::default().is_interrupted());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_interrupted(&self) -> bool {
        matches!(*self.state.lock(), InterruptState::Interrupted)
    }
}

impl std::fmt::Debug for Interrupter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interrupter")
            .field("interrupted", &self.is_interrupted())
            .finish()
    }
}

/// Opens a socket to `address`: for TCP, every resolved address in order until one connects.
pub(crate) fn connect(address: &ServerAddress, connect_timeout: Option<Duration>) -> Result<Stream> {
    match address {
        ServerAddress::Unix { path } => UnixStream::connect(path)
            .map(Stream::Unix)
            .map_err(|e| Error::from_io(e, "connect", connect_timeout).with_address(address)),
        ServerAddress::Tcp { host, port } => {
            let addrs: Vec<SocketAddr> = (&**host, *port)
                .to_socket_addrs()
                .map_err(|e| dns_error(address, e.to_string()))?
                .collect();
            if addrs.is_empty() {
                return Err(dns_error(address, "no addresses found".into()));
            }
            let mut last = None;
            for addr in addrs {
                match connect_one(addr, connect_timeout) {
                    Ok(s) => return Ok(Stream::Tcp(s)),
                    Err(e) => last = Some(e),
                }
            }
            let err = last.unwrap_or_else(|| io::Error::from(io::ErrorKind::NotConnected));
            Err(Error::from_io(err, "connect", connect_timeout).with_address(address))
        }
    }
}

/// Runs the TLS handshake over a freshly connected TCP socket, within `timeout`
/// (connectTimeoutMS). TLS over a Unix domain socket is refused.
pub(crate) fn start_tls(
    stream: Stream,
    address: &ServerAddress,
    connector: &native_tls::TlsConnector,
    timeout: Option<Duration>,
) -> Result<Stream> {
    match (stream, address) {
        (Stream::Tcp(tcp), ServerAddress::Tcp { host, .. }) => {
            tcp.set_read_timeout(timeout)
                .and_then(|_| tcp.set_write_timeout(timeout))
                .map_err(|e| Error::from_io(e, "configure socket", timeout).with_address(address))?;
            super::tls::handshake(connector, host, tcp, timeout)
                .map(|s| Stream::Tls(Box::new(s)))
                .map_err(|e| e.with_address(address))
        }
        _ => Err(
            Error::invalid_argument("TLS is supported over TCP only, not over a Unix domain socket")
                .with_address(address),
        ),
    }
}

fn dns_error(address: &ServerAddress, message: String) -> Error {
    Error::new(ErrorKind::Dns { message }).with_address(address)
}

fn connect_one(addr: SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_tcp_nodelay(true)?;
    socket.set_keepalive(true)?;
    socket.set_tcp_keepalive(&TcpKeepalive::new().with_time(KEEPALIVE_TIME))?;
    let target = SockAddr::from(addr);
    match timeout {
        Some(t) => socket.connect_timeout(&target, t)?,
        None => socket.connect(&target)?,
    }
    Ok(socket.into())
}
