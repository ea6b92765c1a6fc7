//! The scripted wire server itself (tests/support/wire_server.rs): its rules, its record of
//! requests and its shutdown. The error paths it enables are in tests/wire_errors.rs.

mod support;

use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

use bson::doc;
use mongopool::{Connection, ConnectionOptions};
use support::wire_server::{Action, Rule, WireServer, WireServerConfig};

fn opts() -> ConnectionOptions {
    ConnectionOptions {
        connect_timeout: Some(Duration::from_secs(5)),
        socket_timeout: Some(Duration::from_secs(5)),
        ..Default::default()
    }
}

#[test]
fn default_replies_and_the_record() {
    let server = WireServer::start();
    let mut conn = Connection::connect(server.address(), &opts()).unwrap();
    let hello = conn.hello_reply().unwrap();
    assert_eq!(hello.max_wire_version, 21);
    assert_eq!(hello.connection_id, Some(1));
    assert!(hello.compression.is_empty());
    assert_eq!(hello.service_id, None);
    let reply = conn.run_command("app", doc! { "ping": 1 }).unwrap();
    assert_eq!(reply, doc! { "ok": 1.0 });
    let got = server.received();
    assert_eq!(server.commands(), vec!["isMaster", "ping"]);
    assert_eq!(got[0].database.as_deref(), Some("admin"));
    assert_eq!(got[1].database.as_deref(), Some("app"));
    assert!(got.iter().all(|r| r.connection == 1 && r.compressor.is_none()));
    assert_ne!(got[0].request_id, got[1].request_id);
    assert_eq!(server.connections_accepted(), 1);
}

#[test]
fn rules_apply_once_n_times_or_always_in_order() {
    let server = WireServer::start();
    server.add(Rule::on("count", Action::Reply(doc! { "ok": 1.0, "n": 1 })));
    server.add(Rule::on("count", Action::Reply(doc! { "ok": 1.0, "n": 2 })).times(2));
    server.add(Rule::on("find", Action::Reply(doc! { "ok": 1.0, "f": true })).always());
    let mut conn = Connection::connect(server.address(), &opts()).unwrap();
    let n: Vec<i32> = (0..4)
        .map(|_| {
            conn.run_command("db", doc! { "count": "c" })
                .unwrap()
                .get_i32("n")
                .unwrap_or(0)
        })
        .collect();
    assert_eq!(n, vec![1, 2, 2, 0], "once, twice, then the default reply");
    for _ in 0..3 {
        assert!(conn
            .run_command("db", doc! { "find": "c" })
            .unwrap()
            .get_bool("f")
            .unwrap());
    }
    assert_eq!(server.count("count"), 4);
    assert_eq!(server.count("find"), 3);
}

#[test]
fn rules_can_target_one_connection_and_the_handshake() {
    let config = WireServerConfig {
        service_id: Some(bson::oid::ObjectId::new()),
        max_wire_version: 13,
        ..Default::default()
    };
    let id = config.service_id;
    let server = WireServer::start_with(config);
    server.add(Rule::on_handshake(Action::Close).on_connection(2));
    let first = Connection::connect(server.address(), &opts()).unwrap();
    assert_eq!(first.hello_reply().unwrap().service_id, id);
    assert_eq!(first.hello_reply().unwrap().max_wire_version, 13);
    let err = Connection::connect(server.address(), &opts()).unwrap_err();
    assert!(err.is_network_error(), "{err}");
    assert!(Connection::connect(server.address(), &opts()).is_ok());
    let per_conn: Vec<u64> = server.received().iter().map(|r| r.connection).collect();
    assert_eq!(per_conn, vec![1, 2, 3]);
}

#[test]
fn a_delay_holds_the_reply_back() {
    let server = WireServer::start();
    server.add(Rule::on("ping", Action::Reply(doc! { "ok": 1.0 })).delay(Duration::from_millis(200)));
    let mut conn = Connection::connect(server.address(), &opts()).unwrap();
    let start = std::time::Instant::now();
    conn.run_command("admin", doc! { "ping": 1 }).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(200), "{:?}", start.elapsed());
}

#[test]
fn drop_closes_every_socket_and_stops_listening() {
    let server = WireServer::start();
    // A delay that would outlast the test: drop must cut it short.
    server.add(Rule::on("ping", Action::Reply(doc! { "ok": 1.0 })).delay(Duration::from_secs(60)));
    let address = server.address().clone();
    let mut idle = Connection::connect(&address, &opts()).unwrap();
    let mut raw = TcpStream::connect(address.to_string()).unwrap();
    assert!(server.wait_for_open_connections(2, Duration::from_secs(5)));
    let waiter = std::thread::spawn(move || idle.run_command("admin", doc! { "ping": 1 }));
    while server.count("ping") == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let start = std::time::Instant::now();
    drop(server);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "drop took {:?}",
        start.elapsed()
    );
    let err = waiter.join().unwrap().unwrap_err();
    assert!(err.is_network_error(), "{err}");
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(raw.read(&mut buf).ok(), Some(0), "the raw socket sees EOF");
    assert!(
        TcpStream::connect(address.to_string()).is_err(),
        "nothing listens any more"
    );
}
