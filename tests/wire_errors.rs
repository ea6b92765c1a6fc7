//! Error paths of a pool against the scripted wire server (tests/support/wire_server.rs):
//! garbage, truncated, oversized and half-sent replies, closed sockets and slow replies, after
//! the handshake and during it. Each asserts the exact error kind, that the connection is
//! errored and closed with reason `error` at check-in, that the pool's counts stay right and
//! that the next check-out gets a fresh, working connection.

mod support;

use std::time::Duration;

use bson::doc;
use crossbeam_channel::Receiver;
use mongopool::error::{RETRYABLE_ERROR, SYSTEM_OVERLOADED_ERROR};
use mongopool::events::{ConnectionCheckOutFailedReason, ConnectionClosedReason};
use mongopool::{CmapEvent, ConnectionOptions, Error, ErrorKind, Pool, PoolOptions, PoolState};
use support::pools::ready_pool;
use support::wire_server::{msg_frame, Action, Rule, WireServer};

const SOCKET_TIMEOUT: Duration = Duration::from_millis(200);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);

fn pool_for(server: &WireServer) -> (Pool, Receiver<CmapEvent>) {
    let options = PoolOptions::builder()
        .connection_options(ConnectionOptions {
            connect_timeout: Some(CONNECT_TIMEOUT),
            socket_timeout: Some(SOCKET_TIMEOUT),
            ..Default::default()
        })
        .build()
        .unwrap();
    ready_pool(server.address().clone(), options)
}

/// The events received so far, by name.
fn drain(events: &Receiver<CmapEvent>) -> Vec<CmapEvent> {
    events.try_iter().collect()
}

fn names(events: &[CmapEvent]) -> Vec<&'static str> {
    events.iter().map(CmapEvent::name).collect()
}

fn assert_counts(pool: &Pool, total: u32, available: u32, in_use: u32) {
    let s = pool.status();
    assert_eq!(
        (s.total, s.available, s.in_use, s.pending, s.waiters),
        (total, available, in_use, 0, 0),
        "{s:?}"
    );
    assert_eq!(s.state, PoolState::Ready, "a command error never pauses the pool");
    assert_eq!(s.generation, 0, "nor clears it");
}

/// Scripts `action` for the next ping on an established pooled connection and checks the
/// whole error path; returns the error for kind-specific assertions.
fn command_error_path(action: Action, delay: Duration) -> Error {
    let server = WireServer::start();
    let (pool, events) = pool_for(&server);
    server.add(Rule::on("ping", action).delay(delay));

    let mut conn = pool.check_out().unwrap();
    let first_id = conn.id();
    assert_eq!(first_id, 1);
    let err = conn.run_command("admin", doc! { "ping": 1 }).unwrap_err();
    assert!(conn.is_errored(), "{err}");
    assert_eq!(err.address(), Some(server.address()));
    assert_eq!(
        err.error_labels().count(),
        0,
        "no backpressure labels after the handshake: {err}"
    );
    assert_counts(&pool, 1, 0, 1);

    // An errored connection refuses further commands without touching the socket.
    let again = conn.run_command("admin", doc! { "ping": 1 }).unwrap_err();
    assert!(matches!(again.kind(), ErrorKind::ConnectionClosed), "{again}");
    assert_eq!(server.count("ping"), 1);

    let _ = events.try_iter().count();
    drop(conn);
    let after_check_in = drain(&events);
    assert_eq!(names(&after_check_in), vec!["ConnectionCheckedIn", "ConnectionClosed"]);
    match &after_check_in[1] {
        CmapEvent::ConnectionClosed(e) => {
            assert_eq!(e.connection_id, first_id);
            assert_eq!(e.reason, ConnectionClosedReason::Error);
            assert_eq!(e.reason.as_str(), "error");
            let closed_with = e.error.as_ref().expect("the closing event carries the error");
            assert_eq!(closed_with.to_string(), err.to_string());
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_counts(&pool, 0, 0, 0);
    assert!(
        server.wait_for_open_connections(0, Duration::from_secs(5)),
        "the pool closed the errored socket"
    );

    // The next check-out opens a fresh connection that works.
    let mut fresh = pool.check_out().unwrap();
    assert_eq!(fresh.id(), 2);
    assert!(!fresh.is_errored());
    assert_eq!(
        fresh.run_command("admin", doc! { "ping": 1 }).unwrap(),
        doc! { "ok": 1.0 }
    );
    assert_eq!(server.connections_accepted(), 2);
    let pings: Vec<u64> = server
        .received()
        .iter()
        .filter(|r| r.command == "ping")
        .map(|r| r.connection)
        .collect();
    assert_eq!(pings, vec![1, 2], "the second ping went over a new socket");
    assert_counts(&pool, 1, 0, 1);
    drop(fresh);
    assert_counts(&pool, 1, 1, 0);
    err
}

fn protocol_message(err: &Error) -> &str {
    match err.kind() {
        ErrorKind::Protocol { message } => message,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[test]
fn garbage_reply_is_a_protocol_error() {
    let err = command_error_path(Action::Garbage, Duration::ZERO);
    // "GARBAGE!" read as a header: the opcode field holds "AGE!".
    let op = i32::from_le_bytes(*b"AGE!");
    assert_eq!(protocol_message(&err), format!("unsupported opCode {op} in reply"));
}

#[test]
fn truncated_reply_is_a_protocol_error() {
    let err = command_error_path(Action::Truncated, Duration::ZERO);
    let message = protocol_message(&err);
    assert!(message.starts_with("BSON document length"), "{message}");
    assert!(message.contains("overruns the message"), "{message}");
}

#[test]
fn a_2_gib_message_length_is_refused_before_reading() {
    let err = command_error_path(Action::MessageLength(i32::MAX), Duration::ZERO);
    assert_eq!(
        protocol_message(&err),
        "messageLength 2147483647 exceeds maxMessageSizeBytes 48000000"
    );
}

#[test]
fn a_negative_message_length_is_refused() {
    let err = command_error_path(Action::MessageLength(i32::MIN), Duration::ZERO);
    assert_eq!(
        protocol_message(&err),
        "messageLength -2147483648 is below the minimum of 21 for opCode 2013"
    );
}

#[test]
fn a_reply_to_another_request_is_a_protocol_error() {
    let err = command_error_path(Action::Raw(msg_frame(&doc! { "ok": 1.0 }, 0x7eadbeef)), Duration::ZERO);
    assert!(
        protocol_message(&err).starts_with("reply responseTo 2125315823 does not match request id"),
        "{err}"
    );
}

#[test]
fn close_mid_reply_is_an_unexpected_eof() {
    let err = command_error_path(Action::CloseMidReply, Duration::ZERO);
    match err.kind() {
        ErrorKind::Io { kind, source } => {
            assert_eq!(*kind, std::io::ErrorKind::UnexpectedEof);
            assert!(source.to_string().contains("message bytes"), "{source}");
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn close_without_reply_is_an_unexpected_eof() {
    let err = command_error_path(Action::Close, Duration::ZERO);
    assert_unexpected_eof(&err);
}

#[test]
fn slow_reply_past_socket_timeout_is_a_timeout() {
    let err = command_error_path(Action::Reply(doc! { "ok": 1.0 }), SOCKET_TIMEOUT * 3);
    match err.kind() {
        ErrorKind::Timeout { operation, after } => {
            assert_eq!(*operation, "read");
            assert_eq!(*after, SOCKET_TIMEOUT);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(err.is_timeout() && err.is_network_error());
}

/// Scripts `action` for the next handshake and checks the failed check-out; returns the error.
fn handshake_error_path(action: Action, delay: Duration) -> Error {
    let server = WireServer::start();
    let (pool, events) = pool_for(&server);
    server.add(Rule::on_handshake(action).delay(delay));
    let _ = events.try_iter().count();

    let err = pool.check_out().unwrap_err();
    assert_eq!(err.address(), Some(server.address()));
    let failed = drain(&events);
    assert_eq!(
        names(&failed),
        vec![
            "ConnectionCheckOutStarted",
            "ConnectionCreated",
            "ConnectionClosed",
            "ConnectionCheckOutFailed"
        ]
    );
    match (&failed[2], &failed[3]) {
        (CmapEvent::ConnectionClosed(closed), CmapEvent::ConnectionCheckOutFailed(out)) => {
            assert_eq!(closed.connection_id, 1);
            assert_eq!(closed.reason, ConnectionClosedReason::Error);
            assert_eq!(out.reason, ConnectionCheckOutFailedReason::ConnectionError);
            assert_eq!(out.reason.as_str(), "connectionError");
            assert_eq!(out.error.as_ref().map(ToString::to_string), Some(err.to_string()));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_counts(&pool, 0, 0, 0);
    assert!(server.wait_for_open_connections(0, Duration::from_secs(5)));

    let mut fresh = pool.check_out().unwrap();
    assert_eq!(fresh.id(), 2);
    fresh.run_command("admin", doc! { "ping": 1 }).unwrap();
    assert_eq!(server.commands(), vec!["isMaster", "isMaster", "ping"]);
    err
}

fn assert_unexpected_eof(err: &Error) {
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Io {
                kind: std::io::ErrorKind::UnexpectedEof,
                ..
            }
        ),
        "{err:?}"
    );
}

fn has_backpressure_labels(err: &Error) -> bool {
    err.has_label(SYSTEM_OVERLOADED_ERROR) && err.has_label(RETRYABLE_ERROR)
}

// CMAP "Backpressure-enabled": network errors and timeouts during the hello get the
// SystemOverloadedError and RetryableError labels; other errors (here: a reply that is no
// wire message, which no overload produces) do not.

#[test]
fn handshake_closed_is_a_labelled_network_error() {
    let err = handshake_error_path(Action::Close, Duration::ZERO);
    assert_unexpected_eof(&err);
    assert!(has_backpressure_labels(&err), "{err}");
    assert!(err.is_retryable());
}

#[test]
fn handshake_closed_mid_reply_is_a_labelled_network_error() {
    let err = handshake_error_path(Action::CloseMidReply, Duration::ZERO);
    assert!(matches!(err.kind(), ErrorKind::Io { .. }), "{err:?}");
    assert!(has_backpressure_labels(&err), "{err}");
}

#[test]
fn handshake_past_connect_timeout_is_a_labelled_timeout() {
    let err = handshake_error_path(Action::Reply(doc! { "ok": 1.0 }), CONNECT_TIMEOUT * 3);
    match err.kind() {
        ErrorKind::Timeout { operation, after } => {
            assert_eq!(*operation, "read");
            assert_eq!(*after, CONNECT_TIMEOUT, "the handshake runs under connectTimeoutMS");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(has_backpressure_labels(&err), "{err}");
}

#[test]
fn handshake_garbage_is_an_unlabelled_protocol_error() {
    let err = handshake_error_path(Action::Garbage, Duration::ZERO);
    assert!(protocol_message(&err).starts_with("unsupported opCode"), "{err}");
    assert_eq!(err.error_labels().count(), 0, "{err}");
    assert!(!err.is_retryable());
}

#[test]
fn handshake_oversized_length_is_an_unlabelled_protocol_error() {
    let err = handshake_error_path(Action::MessageLength(i32::MAX), Duration::ZERO);
    assert_eq!(
        protocol_message(&err),
        "messageLength 2147483647 exceeds maxMessageSizeBytes 48000000"
    );
    assert_eq!(err.error_labels().count(), 0, "{err}");
}

#[test]
fn handshake_command_error_is_not_labelled() {
    let err = handshake_error_path(
        Action::Reply(doc! { "ok": 0.0, "code": 18, "codeName": "AuthenticationFailed", "errmsg": "no" }),
        Duration::ZERO,
    );
    assert_eq!(err.code(), Some(18));
    assert_eq!(err.error_labels().count(), 0, "{err}");
}
