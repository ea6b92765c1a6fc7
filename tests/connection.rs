//! Integration tests of a single connection against a live server (SecantusDB by default,
//! `MONGOPOOL_TEST_URI` for another).

mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use bson::doc;
use mongopool::{Connection, ConnectionOptions, ErrorKind, ServerAddress};
use support::server::{free_port, TestServer};

fn opts() -> ConnectionOptions {
    ConnectionOptions {
        connect_timeout: Some(Duration::from_secs(5)),
        ..Default::default()
    }
}

#[test]
fn handshake_exposes_the_hello_reply() {
    let server = TestServer::shared();
    let conn = Connection::connect(server.address(), &opts()).unwrap();
    let hello = conn.hello_reply().expect("hello reply");
    assert!(hello.max_wire_version >= 6, "maxWireVersion {}", hello.max_wire_version);
    assert!(hello.max_message_size_bytes >= 1024 * 1024);
    assert!(
        conn.server_connection_id().is_some(),
        "connectionId missing: {:?}",
        hello.raw
    );
    assert!(!conn.is_errored());
}

#[test]
fn ping_and_insert_find_round_trip() {
    let server = TestServer::shared();
    let mut conn = Connection::connect(server.address(), &opts()).unwrap();
    let reply = conn.run_command("admin", doc! { "ping": 1 }).unwrap();
    assert_eq!(reply.get("ok").and_then(|b| b.as_f64()), Some(1.0));

    let coll = format!("roundtrip_{}", std::process::id());
    let inserted = conn
        .run_command(
            "mongopool_test",
            doc! { "insert": &coll, "documents": [ { "_id": 1, "name": "ada" }, { "_id": 2, "name": "grace" } ] },
        )
        .unwrap();
    assert_eq!(
        inserted.get_i32("n").ok().map(i64::from).or(inserted.get_i64("n").ok()),
        Some(2)
    );
    let found = conn
        .run_command("mongopool_test", doc! { "find": &coll, "filter": { "name": "grace" } })
        .unwrap();
    let batch = found.get_document("cursor").unwrap().get_array("firstBatch").unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].as_document().unwrap().get_i32("_id").unwrap(), 2);
    conn.run_command("mongopool_test", doc! { "drop": &coll }).unwrap();
}

#[test]
fn a_command_error_is_typed_and_keeps_the_connection() {
    let server = TestServer::shared();
    let mut conn = Connection::connect(server.address(), &opts()).unwrap();
    let err = conn.run_command("admin", doc! { "noSuchCommand": 1 }).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Command(_)), "{err:?}");
    assert!(!conn.is_errored());
    conn.run_command("admin", doc! { "ping": 1 }).unwrap();
}

#[test]
fn wrong_port_is_refused_within_the_connect_timeout() {
    let port = free_port();
    let addr = ServerAddress::tcp("127.0.0.1", port);
    let start = Instant::now();
    let err = Connection::connect(&addr, &opts()).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(5));
    match err.kind() {
        ErrorKind::Io { kind, .. } => assert_eq!(*kind, std::io::ErrorKind::ConnectionRefused),
        other => panic!("expected connection refused, got {other:?}"),
    }
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    assert!(err.has_label("SystemOverloadedError") && err.has_label("RetryableError"));
}

#[test]
fn a_server_that_never_answers_hits_the_timeout() {
    // The kernel accepts connections into the backlog; nobody ever reads or writes.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ServerAddress::tcp("127.0.0.1", listener.local_addr().unwrap().port());
    let options = ConnectionOptions {
        connect_timeout: Some(Duration::from_millis(300)),
        ..Default::default()
    };
    let start = Instant::now();
    let err = Connection::connect(&addr, &options).unwrap_err();
    let took = start.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "{took:?}"
    );
    drop(listener);
}

#[test]
fn socket_timeout_applies_to_commands() {
    let server = TestServer::start();
    let options = ConnectionOptions {
        socket_timeout: Some(Duration::from_millis(300)),
        app_name: Some("socketTimeoutTest".into()),
        ..opts()
    };
    let mut conn = Connection::connect(server.address(), &options).unwrap();
    let _fp = server.fail_point(doc! {
        "configureFailPoint": "failCommand", "mode": { "times": 1 },
        "data": { "failCommands": ["ping"], "blockConnection": true, "blockTimeMS": 2000, "appName": "socketTimeoutTest" },
    });
    let start = Instant::now();
    let err = conn.run_command("admin", doc! { "ping": 1 }).unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(start.elapsed() < Duration::from_millis(1500));
    assert!(conn.is_errored());
}

#[test]
fn close_connection_failpoint_is_an_io_error_and_marks_errored() {
    let server = TestServer::start();
    let options = ConnectionOptions {
        app_name: Some("closeConnectionTest".into()),
        ..opts()
    };
    let mut conn = Connection::connect(server.address(), &options).unwrap();
    let _fp = server.fail_point(doc! {
        "configureFailPoint": "failCommand", "mode": { "times": 1 },
        "data": { "failCommands": ["ping"], "closeConnection": true, "appName": "closeConnectionTest" },
    });
    let err = conn.run_command("admin", doc! { "ping": 1 }).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Io { .. }), "{err:?}");
    assert!(conn.is_errored());
    let again = conn.run_command("admin", doc! { "ping": 1 }).unwrap_err();
    assert!(matches!(again.kind(), ErrorKind::ConnectionClosed), "{again:?}");
}

#[test]
fn app_name_reaches_the_server() {
    let server = TestServer::start();
    let named = ConnectionOptions {
        app_name: Some("appNameVisible".into()),
        ..opts()
    };
    let mut with_name = Connection::connect(server.address(), &named).unwrap();
    let mut without = Connection::connect(server.address(), &opts()).unwrap();
    let _fp = server.fail_point(doc! {
        "configureFailPoint": "failCommand", "mode": "alwaysOn",
        "data": { "failCommands": ["ping"], "errorCode": 2, "appName": "appNameVisible" },
    });
    assert!(without.run_command("admin", doc! { "ping": 1 }).is_ok());
    let err = with_name.run_command("admin", doc! { "ping": 1 }).unwrap_err();
    assert_eq!(err.code(), Some(2), "{err:?}");
}

/// A one-connection fake server: answers the handshake properly, then answers the next
/// request with `reply(request_id)` raw bytes.
fn fake_server(reply: impl Fn(i32) -> Vec<u8> + Send + 'static) -> ServerAddress {
    use mongopool::wire::{encode_to_vec, read_frame, OpMsg, MAX_MESSAGE_SIZE_CAP};
    use std::io::Write;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ServerAddress::tcp("127.0.0.1", listener.local_addr().unwrap().port());
    std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        let mut body = Vec::new();
        let hello = read_frame(&mut sock, MAX_MESSAGE_SIZE_CAP, None, &mut body).unwrap();
        let ok = OpMsg::new(doc! { "ok": 1.0, "isWritablePrimary": true, "maxWireVersion": 21 });
        sock.write_all(&encode_to_vec(&ok, 1, hello.header.request_id).unwrap())
            .unwrap();
        let request = read_frame(&mut sock, MAX_MESSAGE_SIZE_CAP, None, &mut body).unwrap();
        let _ = sock.write_all(&reply(request.header.request_id));
        std::thread::sleep(Duration::from_millis(200));
    });
    addr
}

#[test]
fn a_reply_to_another_request_is_a_protocol_error() {
    use mongopool::wire::{encode_to_vec, OpMsg};
    let addr = fake_server(|id| encode_to_vec(&OpMsg::new(doc! { "ok": 1.0 }), 9, id + 1).unwrap());
    let mut conn = Connection::connect(&addr, &opts()).unwrap();
    let err = conn.run_command("admin", doc! { "ping": 1 }).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Protocol { .. }), "{err:?}");
    assert!(err.to_string().contains("responseTo"), "{err}");
    assert!(conn.is_errored());
}

#[test]
fn a_reply_with_an_oversized_length_is_rejected_without_reading_it() {
    let addr = fake_server(|id| {
        let mut header = Vec::new();
        header.extend_from_slice(&i32::MAX.to_le_bytes());
        header.extend_from_slice(&9i32.to_le_bytes());
        header.extend_from_slice(&id.to_le_bytes());
        header.extend_from_slice(&2013i32.to_le_bytes());
        header
    });
    let mut conn = Connection::connect(&addr, &opts()).unwrap();
    let err = conn.run_command("admin", doc! { "ping": 1 }).unwrap_err();
    assert!(err.to_string().contains("exceeds maxMessageSizeBytes"), "{err}");
    assert!(conn.is_errored());
}
