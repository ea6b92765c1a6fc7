//! One connection to one server: a socket that has completed the handshake, and the command
//! round trip over OP_MSG.

use std::io::{BufReader, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::{Bson, Document};

use super::handshake::{as_i64, client_metadata, hello_command, HelloReply};
use super::options::ConnectionOptions;
use super::stream::{self, Interrupter, Stream};
use crate::address::ServerAddress;
use crate::auth::{CommandRunner, ScramCache};
use crate::error::{CommandError, Error, ErrorKind, Result, RETRYABLE_ERROR, SYSTEM_OVERLOADED_ERROR};
use crate::wire::{
    compress_frame, decompress_body, may_compress, negotiate, next_request_id, read_frame, Compressor, OpCode, OpMsg,
    DEFAULT_MAX_MESSAGE_SIZE,
};

/// A connection to a MongoDB server.
///
/// A pooled connection is reached through [`crate::PooledConnection`], which dereferences to
/// this type. Any I/O or protocol error marks the connection *errored* (perished, in CMAP
/// terms): the pool closes it instead of reusing it.
///
/// ```no_run
/// use mongopool::{Connection, ConnectionOptions};
///
/// let mut conn = Connection::connect(&"localhost:27017".parse()?, &ConnectionOptions::default())?;
/// let reply = conn.run_command("admin", bson::doc! { "ping": 1 })?;
/// assert_eq!(reply.get_f64("ok")?, 1.0);
/// assert!(!conn.is_errored());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Connection {
    id: u64,
    generation: u32,
    address: ServerAddress,
    created: Instant,
    pub(crate) last_used: Instant,
    hello: Option<HelloReply>,
    /// The load balancer's `serviceId` from the hello reply (load-balancers.md).
    service_id: Option<bson::oid::ObjectId>,
    /// What a load-balanced pool's user pinned this connection to (counted by the pool).
    pub(crate) pinned: Option<crate::pool::PinnedTo>,
    errored: bool,
    /// The error that made the connection errored, reported when the pool closes it.
    error: Option<Error>,
    stream: BufReader<Stream>,
    write_buf: Vec<u8>,
    read_buf: Vec<u8>,
    /// The compressor the handshake negotiated, and the zlib level (op-compressed.md).
    compressor: Option<Compressor>,
    zlib_level: Option<i32>,
    /// Scratch for compressing requests and decompressing replies.
    compress_buf: Vec<u8>,
    max_message_size: usize,
    socket_timeout: Option<Duration>,
    interrupter: Arc<Interrupter>,
}

impl Connection {
    /// Opens a socket to `address` and performs the MongoDB handshake.
    ///
    /// With [`ConnectionOptions::tls`] the connection is TLS; with
    /// [`ConnectionOptions::credential`] it authenticates after the hello.
    ///
    /// Network errors and timeouts during the TCP connect, the TLS handshake and the hello
    /// carry the `SystemOverloadedError` and `RetryableError` labels (CMAP
    /// "Backpressure-enabled"); DNS failures, certificate and host name failures
    /// ([`ErrorKind::Tls`]) and authentication failures ([`ErrorKind::Authentication`]) do not.
    ///
    /// ```no_run
    /// use mongopool::{Connection, ConnectionOptions};
    /// let mut conn = Connection::connect(&"localhost:27017".parse()?, &ConnectionOptions::default())?;
    /// let reply = conn.run_command("admin", bson::doc! { "ping": 1 })?;
    /// assert_eq!(reply.get_f64("ok").ok(), Some(1.0));
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    ///
    /// ```no_run
    /// use mongopool::{Connection, ConnectionOptions};
    /// let options = ConnectionOptions { app_name: Some("tool".into()), ..Default::default() };
    /// let mut conn = Connection::connect(&"localhost:27017".parse()?, &options)?;
    /// println!("{}", conn.run_command("admin", bson::doc! { "ping": 1 })?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(address: &ServerAddress, options: &ConnectionOptions) -> Result<Connection> {
        Self::establish(address, options, Arc::new(Interrupter::default()))
    }

    /// Like [`Connection::connect`], with an interrupter that another thread may use to abort
    /// the establishment or any later command.
    ///
    /// With [`ConnectionOptions::tls`], the TLS configuration is built for this one call, and
    /// with [`ConnectionOptions::credential`] a fresh SCRAM key cache is used, so PBKDF2 runs
    /// every time; a pool's [`crate::TcpEstablisher`] shares both across its connections.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use mongopool::{Connection, ConnectionOptions, Interrupter};
    ///
    /// let interrupter = Arc::new(Interrupter::default());
    /// let watchdog = Arc::clone(&interrupter);
    /// // Gives up on a slow server after one second, whatever the connect timeout.
    /// std::thread::spawn(move || {
    ///     std::thread::sleep(Duration::from_secs(1));
    ///     watchdog.interrupt();
    /// });
    /// let mut conn = Connection::establish(&"localhost:27017".parse()?, &ConnectionOptions::default(), interrupter)?;
    /// conn.run_command("admin", bson::doc! { "ping": 1 })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn establish(
        address: &ServerAddress,
        options: &ConnectionOptions,
        interrupter: Arc<Interrupter>,
    ) -> Result<Connection> {
        let tls = options.tls.as_ref().map(|t| t.connector()).transpose()?;
        Self::establish_with(address, options, interrupter, tls.as_ref(), &ScramCache::new())
    }

    /// The establishment steps (cmap.md "Establishing a Connection"): TCP connect, TLS, the
    /// hello (with the speculative authentication fields), then authentication.
    ///
    /// Backpressure labels (cmap.md "Backpressure-enabled"): network errors and timeouts of the
    /// TCP connect, the TLS handshake and the hello get `SystemOverloadedError` and
    /// `RetryableError`; DNS, certificate and host name failures and anything in the
    /// authentication step after the hello get none.
    pub(crate) fn establish_with(
        address: &ServerAddress,
        options: &ConnectionOptions,
        interrupter: Arc<Interrupter>,
        tls: Option<&native_tls::TlsConnector>,
        scram_cache: &ScramCache,
    ) -> Result<Connection> {
        options.validate()?;
        let metadata = client_metadata(options)?;
        let stream = stream::connect(address, options.connect_timeout).map_err(backpressure)?;
        // Armed on the TCP socket before TLS, so an interrupt also aborts the TLS handshake.
        let handle = stream
            .shutdown_handle()
            .map_err(|e| Error::from_io(e, "connect", None).with_address(address))?;
        if let Some(handle) = handle {
            if !interrupter.arm(handle) {
                return Err(interrupted(address));
            }
        }
        let stream = match tls {
            Some(connector) => stream::start_tls(stream, address, connector, options.connect_timeout).map_err(|e| {
                if interrupter.is_interrupted() {
                    interrupted(address)
                } else {
                    backpressure(e)
                }
            })?,
            None => stream,
        };
        let mut conn = Connection::with_stream(address.clone(), stream, interrupter);
        conn.socket_timeout = options.connect_timeout;
        conn.apply_socket_timeout().map_err(backpressure)?;
        let mut command = hello_command(options, &metadata);
        let speculative = match &options.credential {
            Some(credential) => {
                let fields = credential.handshake_fields()?;
                fields.append_to(&mut command);
                Some(fields.speculative)
            }
            None => None,
        };
        let hello = conn.run_command("admin", command).map_err(backpressure)?;
        let hello = HelloReply::from_document(hello).map_err(|e| e.with_address(address))?;
        if options.load_balanced && hello.service_id.is_none() {
            // load-balancers.md "Connection Establishment": a MUST, with this message.
            return Err(Error::new(ErrorKind::LoadBalancingUnsupported).with_address(address));
        }
        conn.max_message_size = hello.max_message_size_bytes;
        conn.service_id = hello.service_id;
        conn.compressor = negotiate(&options.compressors, &hello.compression);
        conn.zlib_level = options.zlib_compression_level;
        if let Some(credential) = &options.credential {
            // auth.md "Authentication Handshake": an arbiter cannot authenticate. No
            // backpressure labels from here on (cmap.md: not during an authentication step).
            let arbiter = matches!(hello.raw.get("arbiterOnly"), Some(Bson::Boolean(true)));
            if !arbiter {
                crate::auth::authenticate(&mut conn, credential, &hello.raw, speculative, scram_cache)
                    .map_err(|e| e.with_address(address))?;
            }
        }
        conn.hello = Some(hello);
        conn.socket_timeout = options.socket_timeout;
        conn.apply_socket_timeout()?;
        Ok(conn)
    }

    /// A connection with no socket, for tests and benchmarks of code that only moves
    /// connections around: every command fails with an I/O error.
    ///
    /// ```
    /// let mut conn = mongopool::Connection::detached("localhost:27017".parse().unwrap());
    /// assert!(conn.run_command("admin", bson::doc! { "ping": 1 }).is_err());
    /// assert!(conn.is_errored());
    /// ```
    pub fn detached(address: ServerAddress) -> Connection {
        Connection::with_stream(address, Stream::Detached, Arc::new(Interrupter::default()))
    }

    /// A detached connection that reports `service_id` as the service a load balancer routed it
    /// to, for exercising load-balanced pools without sockets (see
    /// [`crate::Pool::clear_service`]).
    ///
    /// ```
    /// use bson::oid::ObjectId;
    /// use mongopool::Connection;
    ///
    /// let service = ObjectId::new();
    /// let conn = Connection::detached_load_balanced("lb:27017".parse()?, service);
    /// assert_eq!(conn.service_id(), Some(service));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn detached_load_balanced(address: ServerAddress, service_id: bson::oid::ObjectId) -> Connection {
        let mut conn = Connection::detached(address);
        conn.service_id = Some(service_id);
        conn
    }

    fn with_stream(address: ServerAddress, stream: Stream, interrupter: Arc<Interrupter>) -> Connection {
        let now = Instant::now();
        Connection {
            id: 0,
            generation: 0,
            address,
            created: now,
            last_used: now,
            hello: None,
            service_id: None,
            pinned: None,
            errored: false,
            error: None,
            stream: BufReader::with_capacity(16 * 1024, stream),
            write_buf: Vec::new(),
            read_buf: Vec::new(),
            compressor: None,
            zlib_level: None,
            compress_buf: Vec::new(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            socket_timeout: None,
            interrupter,
        }
    }

    fn apply_socket_timeout(&self) -> Result<()> {
        self.stream
            .get_ref()
            .set_timeouts(self.socket_timeout)
            .map_err(|e| self.io_error(e, "configure socket"))
    }

    /// Runs `command` against database `db` and returns the reply. A reply with `ok: 0` is a
    /// [`ErrorKind::Command`] error carrying the server's code, name, message and labels; the
    /// connection stays usable. Any I/O or protocol error marks the connection errored.
    ///
    /// ```no_run
    /// use mongopool::{Pool, PoolOptions};
    /// let pool = Pool::new("localhost:27017".parse()?, PoolOptions::default())?;
    /// pool.ready()?;
    /// let mut conn = pool.check_out()?;
    /// let reply = conn.run_command("admin", bson::doc! { "ping": 1 })?;
    /// assert_eq!(reply.get_f64("ok").ok().or(reply.get_i32("ok").ok().map(f64::from)), Some(1.0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run_command(&mut self, db: &str, mut command: Document) -> Result<Document> {
        if self.errored {
            return Err(Error::new(ErrorKind::ConnectionClosed).with_address(&self.address));
        }
        command.insert("$db", db);
        let reply = match self.round_trip(&OpMsg::new(command)) {
            Ok(reply) => reply,
            Err(err) => {
                self.errored = true;
                let err = if self.interrupter.is_interrupted() {
                    self.interrupted_error()
                } else {
                    err.with_address(&self.address)
                };
                self.error = Some(err.clone());
                return Err(err);
            }
        };
        command_result(reply).map_err(|e| e.with_address(&self.address))
    }

    /// Sends `msg` and reads its reply, checking `responseTo`.
    fn round_trip(&mut self, msg: &OpMsg) -> Result<Document> {
        let request_id = next_request_id();
        self.write_buf.clear();
        msg.encode(request_id, 0, &mut self.write_buf)?;
        if self.write_buf.len() > self.max_message_size {
            return Err(Error::invalid_argument(format!(
                "command of {} bytes exceeds maxMessageSizeBytes {}",
                self.write_buf.len(),
                self.max_message_size
            )));
        }
        let command_name = msg.body.keys().next().map_or("", String::as_str);
        if let Some(compressor) = self.compressor.filter(|_| may_compress(command_name)) {
            self.compress_buf.clear();
            compress_frame(&self.write_buf, compressor, self.zlib_level, &mut self.compress_buf)?;
            std::mem::swap(&mut self.write_buf, &mut self.compress_buf);
        }
        let timeout = self.socket_timeout;
        let stream = self.stream.get_mut();
        stream
            .write_all(&self.write_buf)
            .and_then(|_| stream.flush())
            .map_err(|e| Error::from_io(e, "write", timeout))?;
        let frame = read_frame(&mut self.stream, self.max_message_size, timeout, &mut self.read_buf)?;
        if frame.header.response_to != request_id {
            return Err(Error::protocol(format!(
                "reply responseTo {} does not match request id {request_id}",
                frame.header.response_to
            )));
        }
        match frame.op_code {
            OpCode::Msg => Ok(OpMsg::decode(&self.read_buf)?.body),
            // Whatever compressor the reply names, negotiated or not (op-compressed.md: clients
            // MUST decompress with the compressor of the OP_COMPRESSED header).
            OpCode::Compressed => {
                decompress_body(&self.read_buf, self.max_message_size, &mut self.compress_buf)?;
                Ok(OpMsg::decode(&self.compress_buf)?.body)
            }
        }
    }

    fn io_error(&self, e: std::io::Error, operation: &'static str) -> Error {
        Error::from_io(e, operation, self.socket_timeout).with_address(&self.address)
    }

    fn interrupted_error(&self) -> Error {
        interrupted(&self.address)
    }

    /// The pool-assigned id (CMAP `connectionId`), 0 for a connection outside a pool.
    ///
    /// ```
    /// # use mongopool::{Connection, ServerAddress};
    /// # let mut conn = Connection::detached("db:27017".parse()?);
    /// assert_eq!(conn.id(), 0); // detached: no pool numbered it
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The pool generation this connection belongs to.
    ///
    /// ```
    /// # use mongopool::{Connection, ServerAddress};
    /// # let mut conn = Connection::detached("db:27017".parse()?);
    /// assert_eq!(conn.generation(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// The server address.
    ///
    /// ```
    /// # use mongopool::{Connection, ServerAddress};
    /// # let mut conn = Connection::detached("db:27017".parse()?);
    /// assert_eq!(conn.address().to_string(), "db:27017");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn address(&self) -> &ServerAddress {
        &self.address
    }

    /// The server's id for this connection, from the hello reply.
    ///
    /// ```
    /// # use mongopool::{Connection, ServerAddress};
    /// # let mut conn = Connection::detached("db:27017".parse()?);
    /// assert_eq!(conn.server_connection_id(), None); // no handshake, no server id
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn server_connection_id(&self) -> Option<i64> {
        self.hello.as_ref().and_then(|h| h.connection_id)
    }

    /// The `serviceId` of the service behind a load balancer that this connection reached
    /// (load-balanced mode only).
    ///
    /// ```
    /// # use mongopool::{Connection, ServerAddress};
    /// # let mut conn = Connection::detached("db:27017".parse()?);
    /// assert_eq!(conn.service_id(), None); // not behind a load balancer
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn service_id(&self) -> Option<bson::oid::ObjectId> {
        self.service_id
    }

    /// The compressor the handshake negotiated for this connection's commands (`None`:
    /// uncompressed).
    ///
    /// ```
    /// # use mongopool::Connection;
    /// let conn = Connection::detached("db:27017".parse()?);
    /// assert_eq!(conn.compressor(), None); // no handshake, nothing negotiated
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compressor(&self) -> Option<Compressor> {
        self.compressor
    }

    /// The hello reply of the handshake (`None` for a detached connection).
    ///
    /// ```
    /// # use mongopool::{Connection, ServerAddress};
    /// # let mut conn = Connection::detached("db:27017".parse()?);
    /// assert!(conn.hello_reply().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hello_reply(&self) -> Option<&HelloReply> {
        self.hello.as_ref()
    }

    /// When the connection was created.
    ///
    /// ```
    /// # use mongopool::{Connection, ServerAddress};
    /// # let mut conn = Connection::detached("db:27017".parse()?);
    /// assert!(conn.created_at() <= std::time::Instant::now());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn created_at(&self) -> Instant {
        self.created
    }

    /// When the connection was last checked in to its pool (or created).
    ///
    /// ```
    /// # use mongopool::{Connection, ServerAddress};
    /// # let mut conn = Connection::detached("db:27017".parse()?);
    /// assert!(conn.last_used_at() >= conn.created_at());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn last_used_at(&self) -> Instant {
        self.last_used
    }

    /// Whether the connection saw an error that makes it unfit for reuse.
    ///
    /// ```
    /// # use mongopool::Connection;
    /// let mut conn = Connection::detached("db:27017".parse()?);
    /// assert!(!conn.is_errored());
    /// // A detached connection has no socket: the command fails with an I/O error ...
    /// assert!(conn.run_command("admin", bson::doc! { "ping": 1 }).unwrap_err().is_network_error());
    /// // ... which makes the connection unfit for reuse.
    /// assert!(conn.is_errored());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_errored(&self) -> bool {
        self.errored
    }

    /// Marks the connection unfit for reuse: its pool will close it on check-in.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use mongopool::{Connection, Establisher, Interrupter, Pool, PoolOptions, ServerAddress};
    /// # struct Fake;
    /// # impl Establisher for Fake {
    /// #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
    /// #         Ok(Connection::detached(a.clone()))
    /// #     }
    /// # }
    /// # let pool = Pool::with_establisher("db:27017".parse()?, PoolOptions::default(), Arc::new(Fake))?;
    /// # pool.ready()?;
    /// let mut conn = pool.check_out()?;
    /// // E.g. a reply left the connection in an unknown state.
    /// conn.mark_errored();
    /// drop(conn); // checked in: the pool closes it rather than reuse it
    /// assert_eq!(pool.status().total, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn mark_errored(&mut self) {
        self.errored = true;
    }

    /// The error that made the connection errored, if a command met one.
    pub(crate) fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    pub(crate) fn set_pool_identity(&mut self, id: u64, generation: u32) {
        self.id = id;
        self.generation = generation;
    }
}

/// The error of a connection the pool interrupted (retryable).
fn interrupted(address: &ServerAddress) -> Error {
    Error::new(ErrorKind::ConnectionInterrupted)
        .with_address(address)
        .with_label(RETRYABLE_ERROR)
}

impl CommandRunner for Connection {
    fn run_command(&mut self, db: &str, command: Document) -> Result<Document> {
        Connection::run_command(self, db, command)
    }
}

/// Adds the backpressure labels to network errors and timeouts (CMAP "Backpressure-enabled").
fn backpressure(err: Error) -> Error {
    if err.is_network_error() {
        err.with_label(SYSTEM_OVERLOADED_ERROR).with_label(RETRYABLE_ERROR)
    } else {
        err
    }
}

/// Turns an `ok: 0` reply into a command error.
fn command_result(reply: Document) -> Result<Document> {
    let ok = reply.get("ok").and_then(|b| match b {
        Bson::Double(v) => Some(*v),
        other => as_i64(other).map(|v| v as f64),
    });
    if ok == Some(1.0) {
        return Ok(reply);
    }
    let code = reply.get("code").and_then(as_i64).unwrap_or(0) as i32;
    let mut err = Error::new(ErrorKind::Command(CommandError {
        code,
        code_name: reply.get_str("codeName").unwrap_or_default().to_owned(),
        message: reply.get_str("errmsg").unwrap_or("command failed").to_owned(),
    }));
    if let Ok(labels) = reply.get_array("errorLabels") {
        for label in labels.iter().filter_map(Bson::as_str) {
            err.add_label(label);
        }
    }
    Err(err)
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.id)
            .field("address", &self.address.to_string())
            .field("generation", &self.generation)
            .field("server_connection_id", &self.server_connection_id())
            .field("service_id", &self.service_id)
            .field("errored", &self.errored)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn ok_zero_is_a_command_error_with_labels() {
        let err = command_result(doc! {
            "ok": 0.0, "code": 91, "codeName": "ShutdownInProgress", "errmsg": "going away",
            "errorLabels": ["RetryableWriteError"],
        })
        .unwrap_err();
        match err.kind() {
            ErrorKind::Command(c) => {
                assert_eq!(c.code, 91);
                assert_eq!(c.code_name, "ShutdownInProgress");
                assert_eq!(c.message, "going away");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.has_label("RetryableWriteError"));
        assert!(command_result(doc! { "ok": 1 }).is_ok());
        assert!(command_result(doc! { "ok": 1.0, "n": 3 }).is_ok());
        assert!(command_result(doc! { "n": 3 }).is_err());
    }

    #[test]
    fn backpressure_labels_only_network_errors() {
        let io = Error::from_io(std::io::ErrorKind::ConnectionRefused.into(), "connect", None);
        let labelled = backpressure(io);
        assert!(labelled.has_label(SYSTEM_OVERLOADED_ERROR) && labelled.has_label(RETRYABLE_ERROR));
        let dns = backpressure(Error::new(ErrorKind::Dns { message: "x".into() }));
        assert_eq!(dns.error_labels().count(), 0);
    }
}
