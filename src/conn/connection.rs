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
use crate::error::{CommandError, Error, ErrorKind, Result, RETRYABLE_ERROR, SYSTEM_OVERLOADED_ERROR};
use crate::wire::{next_request_id, read_frame, OpCode, OpMsg, DEFAULT_MAX_MESSAGE_SIZE};

/// A connection to a MongoDB server.
///
/// A pooled connection is reached through [`crate::PooledConnection`], which dereferences to
/// this type. Any I/O or protocol error marks the connection *errored* (perished, in CMAP
/// terms): the pool closes it instead of reusing it.
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
    max_message_size: usize,
    socket_timeout: Option<Duration>,
    interrupter: Arc<Interrupter>,
}

impl Connection {
    /// Opens a socket to `address` and performs the MongoDB handshake.
    ///
    /// Network errors and timeouts during the TCP connect and the hello carry the
    /// `SystemOverloadedError` and `RetryableError` labels (CMAP "Backpressure-enabled"); DNS
    /// failures do not.
    ///
    /// ```no_run
    /// use mongopool::{Connection, ConnectionOptions};
    /// let mut conn = Connection::connect(&"localhost:27017".parse()?, &ConnectionOptions::default())?;
    /// let reply = conn.run_command("admin", bson::doc! { "ping": 1 })?;
    /// assert_eq!(reply.get_f64("ok").ok(), Some(1.0));
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn connect(address: &ServerAddress, options: &ConnectionOptions) -> Result<Connection> {
        Self::establish(address, options, Arc::new(Interrupter::default()))
    }

    /// Like [`Connection::connect`], with an interrupter that another thread may use to abort
    /// the establishment or any later command.
    pub fn establish(
        address: &ServerAddress,
        options: &ConnectionOptions,
        interrupter: Arc<Interrupter>,
    ) -> Result<Connection> {
        options.validate()?;
        let metadata = client_metadata(options)?;
        let stream = stream::connect(address, options.connect_timeout).map_err(backpressure)?;
        let mut conn = Connection::with_stream(address.clone(), stream, interrupter);
        conn.socket_timeout = options.connect_timeout;
        let handle = conn
            .stream
            .get_ref()
            .shutdown_handle()
            .map_err(|e| Error::from_io(e, "connect", None).with_address(address))?;
        if let Some(handle) = handle {
            if !conn.interrupter.arm(handle) {
                return Err(conn.interrupted_error());
            }
        }
        conn.apply_socket_timeout().map_err(backpressure)?;
        let hello = conn
            .run_command("admin", hello_command(options, &metadata))
            .map_err(backpressure)?;
        let hello = HelloReply::from_document(hello).map_err(|e| e.with_address(address))?;
        if options.load_balanced && hello.service_id.is_none() {
            // load-balancers.md "Connection Establishment": a MUST, with this message.
            return Err(Error::new(ErrorKind::LoadBalancingUnsupported).with_address(address));
        }
        conn.max_message_size = hello.max_message_size_bytes;
        conn.service_id = hello.service_id;
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
            OpCode::Compressed => Err(Error::protocol(
                "server sent OP_COMPRESSED but no compressor was negotiated",
            )),
        }
    }

    fn io_error(&self, e: std::io::Error, operation: &'static str) -> Error {
        Error::from_io(e, operation, self.socket_timeout).with_address(&self.address)
    }

    fn interrupted_error(&self) -> Error {
        Error::new(ErrorKind::ConnectionInterrupted)
            .with_address(&self.address)
            .with_label(RETRYABLE_ERROR)
    }

    /// The pool-assigned id (CMAP `connectionId`), 0 for a connection outside a pool.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The pool generation this connection belongs to.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// The server address.
    pub fn address(&self) -> &ServerAddress {
        &self.address
    }

    /// The server's id for this connection, from the hello reply.
    pub fn server_connection_id(&self) -> Option<i64> {
        self.hello.as_ref().and_then(|h| h.connection_id)
    }

    /// The `serviceId` of the service behind a load balancer that this connection reached
    /// (load-balanced mode only).
    pub fn service_id(&self) -> Option<bson::oid::ObjectId> {
        self.service_id
    }

    /// The hello reply of the handshake (`None` for a detached connection).
    pub fn hello_reply(&self) -> Option<&HelloReply> {
        self.hello.as_ref()
    }

    /// When the connection was created.
    pub fn created_at(&self) -> Instant {
        self.created
    }

    /// When the connection was last checked in to its pool (or created).
    pub fn last_used_at(&self) -> Instant {
        self.last_used
    }

    /// Whether the connection saw an error that makes it unfit for reuse.
    pub fn is_errored(&self) -> bool {
        self.errored
    }

    /// Marks the connection unfit for reuse: its pool will close it on check-in.
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
