//! TLS against SecantusDB with certificates made by `openssl` at run time: pooled TLS
//! connections run commands, client certificates (plain and encrypted keys) are presented,
//! a wrong CA and a wrong host name fail with `ErrorKind::Tls` and no backpressure label, the
//! `tlsAllow*` options relax verification, and I/O failures during the TLS handshake carry the
//! backpressure labels (cmap.md "Backpressure-enabled").

mod support;

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bson::doc;
use crossbeam_channel::Receiver;
use mongopool::events::{CmapEvent, ConnectionCheckOutFailedReason};
use mongopool::{
    Client, ClientOptions, Connection, ConnectionOptions, Error, ErrorKind, Interrupter, Pool, PoolOptions,
    ServerAddress, TlsOptions,
};
use support::certs::{Certs, CLIENT_KEY_PASSWORD};
use support::pools::ready_pool;
use support::server::{ServerConfig, TestServer};

const LABELS: [&str; 2] = ["SystemOverloadedError", "RetryableError"];

fn tls_options(ca: &Path, client: Option<&Path>) -> TlsOptions {
    TlsOptions {
        ca_file: Some(ca.to_path_buf()),
        certificate_key_file: client.map(Path::to_path_buf),
        ..TlsOptions::default()
    }
}

fn connection_options(tls: TlsOptions) -> ConnectionOptions {
    ConnectionOptions {
        connect_timeout: Some(Duration::from_secs(5)),
        tls: Some(tls),
        ..ConnectionOptions::default()
    }
}

/// A TLS server with `certs`' server certificate (or the wrong-host one), requiring a client
/// certificate when `client_cert` is set. Readiness is a TLS ping, so no raw socket is left
/// idle against the server.
fn tls_server(certs: &Certs, wrong_host: bool, client_cert: bool) -> TestServer {
    let mut args = certs.server_args(wrong_host);
    if client_cert {
        args.push("--tls-require-client-cert".into());
    }
    let mut tls = tls_options(&certs.ca, client_cert.then_some(certs.client.as_path()));
    tls.allow_invalid_hostnames = wrong_host;
    TestServer::start_with(ServerConfig {
        args,
        connection: Some(connection_options(tls)),
        ..ServerConfig::default()
    })
}

fn localhost(server: &TestServer) -> ServerAddress {
    ServerAddress::tcp("localhost", server.address().port().unwrap())
}

fn assert_tls_without_labels(err: &Error) {
    assert!(
        matches!(err.kind(), ErrorKind::Tls { .. }),
        "expected a TLS error, got {err:?}"
    );
    assert_eq!(err.error_labels().count(), 0, "{err:?}");
}

fn pool_with(address: ServerAddress, options: ConnectionOptions, max: u32) -> (Pool, Receiver<CmapEvent>) {
    let options = PoolOptions::builder()
        .connection_options(options)
        .max_pool_size(max)
        .build()
        .unwrap();
    ready_pool(address, options)
}

#[test]
fn a_tls_pool_checks_out_connections_and_runs_commands() {
    let certs = Certs::generate();
    let server = tls_server(&certs, false, false);
    // By name (SNI and the DNS SAN) and by IP literal (the IP SAN, no SNI).
    for address in [localhost(&server), server.address().clone()] {
        let (pool, _events) = pool_with(address.clone(), connection_options(tls_options(&certs.ca, None)), 4);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let pool = pool.clone();
                std::thread::spawn(move || {
                    let mut conn = pool.check_out().expect("TLS check-out");
                    let reply = conn.run_command("admin", doc! { "ping": 1 }).expect("ping over TLS");
                    assert_eq!(reply.get_f64("ok").ok(), Some(1.0));
                    conn.run_command("test", doc! { "insert": "tls", "documents": [{ "x": 1 }] })
                        .expect("insert over TLS");
                    std::thread::sleep(Duration::from_millis(50));
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let status = pool.status();
        assert!(status.total >= 1 && status.total <= 4, "{status:?}");
        pool.close();
    }
}

#[test]
fn a_client_connects_over_tls_from_a_uri_and_socket_timeouts_apply() {
    let certs = Certs::generate();
    let server = tls_server(&certs, false, false);
    let uri = format!(
        "mongodb://localhost:{}/?tls=true&tlsCAFile={}&directConnection=true&serverSelectionTimeoutMS=10000",
        server.address().port().unwrap(),
        certs.ca.display()
    );
    let client = Client::new(ClientOptions::parse(&uri).unwrap()).expect("a TLS client is accepted");
    let mut conn = client.check_out().expect("check-out through the client");
    conn.run_command("admin", doc! { "ping": 1 }).expect("ping");
    drop(conn);
    client.close();

    // socketTimeoutMS applies to reads under TLS once the connection is established.
    let options = ConnectionOptions {
        socket_timeout: Some(Duration::from_millis(300)),
        app_name: Some("tlsSocketTimeout".into()),
        ..connection_options(tls_options(&certs.ca, None))
    };
    let mut conn = Connection::connect(&localhost(&server), &options).unwrap();
    let _fp = server.fail_point(doc! {
        "configureFailPoint": "failCommand", "mode": { "times": 1 },
        "data": { "failCommands": ["ping"], "blockConnection": true, "blockTimeMS": 1500, "appName": "tlsSocketTimeout" },
    });
    let started = std::time::Instant::now();
    let err = conn.run_command("admin", doc! { "ping": 1 }).unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "{:?}",
        started.elapsed()
    );
    assert!(conn.is_errored());
}

#[test]
fn client_certificates_with_plain_and_encrypted_keys() {
    let certs = Certs::generate();
    let server = tls_server(&certs, false, true);
    let plain = tls_options(&certs.ca, Some(&certs.client));
    let mut conn = Connection::connect(&localhost(&server), &connection_options(plain)).expect("plain key");
    conn.run_command("admin", doc! { "ping": 1 }).unwrap();

    let mut encrypted = tls_options(&certs.ca, Some(&certs.client_encrypted));
    encrypted.certificate_key_file_password = Some(CLIENT_KEY_PASSWORD.into());
    let (pool, _events) = pool_with(localhost(&server), connection_options(encrypted.clone()), 2);
    pool.check_out()
        .expect("encrypted key")
        .run_command("admin", doc! { "ping": 1 })
        .unwrap();
    pool.close();

    // A wrong password is a TLS error that names the file but never the password.
    encrypted.certificate_key_file_password = Some("not-the-password".into());
    let err = Connection::connect(&localhost(&server), &connection_options(encrypted.clone())).unwrap_err();
    assert_tls_without_labels(&err);
    let text = format!("{err} {err:?} {encrypted:?}");
    assert!(
        !text.contains("not-the-password") && !text.contains(CLIENT_KEY_PASSWORD),
        "{text}"
    );
    // An encrypted key without a password is refused the same way.
    encrypted.certificate_key_file_password = None;
    assert_tls_without_labels(&Connection::connect(&localhost(&server), &connection_options(encrypted)).unwrap_err());
}

#[test]
fn a_wrong_ca_fails_with_the_tls_kind_and_no_label_unless_invalid_certificates_are_allowed() {
    let certs = Certs::generate();
    let server = tls_server(&certs, false, false);
    let wrong_ca = connection_options(tls_options(&certs.other_ca, None));
    let err = Connection::connect(&localhost(&server), &wrong_ca).unwrap_err();
    assert_tls_without_labels(&err);
    assert!(err.to_string().contains("certificate"), "{err}");

    // Through a pool: ConnectionCheckOutFailed(connectionError), the same error, no label.
    let (pool, events) = pool_with(localhost(&server), wrong_ca, 2);
    let err = pool.check_out().unwrap_err();
    assert_tls_without_labels(&err);
    let failed = events
        .try_iter()
        .find_map(|e| match e {
            CmapEvent::ConnectionCheckOutFailed(f) => Some(f.reason),
            _ => None,
        })
        .expect("a ConnectionCheckOutFailed event");
    assert_eq!(failed, ConnectionCheckOutFailedReason::ConnectionError);
    pool.close();

    let mut allowed = tls_options(&certs.other_ca, None);
    allowed.allow_invalid_certificates = true;
    let mut conn = Connection::connect(&localhost(&server), &connection_options(allowed)).expect("allowed");
    conn.run_command("admin", doc! { "ping": 1 }).unwrap();

    // tlsInsecure from a URI relaxes both checks.
    let uri = format!(
        "mongodb://localhost:{}/?tls=true&tlsCAFile={}&tlsInsecure=true&directConnection=true",
        server.address().port().unwrap(),
        certs.other_ca.display()
    );
    let client = Client::with_uri(&uri).unwrap();
    client
        .check_out()
        .unwrap()
        .run_command("admin", doc! { "ping": 1 })
        .unwrap();
    client.close();
}

#[test]
fn a_wrong_hostname_fails_with_the_tls_kind_and_no_label_unless_allowed() {
    let certs = Certs::generate();
    let server = tls_server(&certs, true, false);
    let options = connection_options(tls_options(&certs.ca, None));
    for address in [localhost(&server), server.address().clone()] {
        let err = Connection::connect(&address, &options).unwrap_err();
        assert_tls_without_labels(&err);
    }
    let mut allowed = tls_options(&certs.ca, None);
    allowed.allow_invalid_hostnames = true;
    let mut conn = Connection::connect(&localhost(&server), &connection_options(allowed)).expect("allowed");
    conn.run_command("admin", doc! { "ping": 1 }).unwrap();
}

/// A listener that accepts one connection and then closes it at once, or holds it silent
/// until the client gives up; the thread returns the bytes it read (the ClientHello).
fn rogue_listener(close: bool) -> (ServerAddress, std::thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = ServerAddress::tcp("127.0.0.1", listener.local_addr().unwrap().port());
    let handle = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut seen = Vec::new();
        if !close {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = socket.read(&mut buf) {
                seen.extend_from_slice(&buf[..n]);
            }
        }
        seen
    });
    (address, handle)
}

#[test]
fn sni_is_sent_for_host_names_and_not_for_ip_literals() {
    let certs = Certs::generate();
    let options = ConnectionOptions {
        connect_timeout: Some(Duration::from_millis(300)),
        ..connection_options(tls_options(&certs.ca, None))
    };
    let (address, listener) = rogue_listener(false);
    let by_name = ServerAddress::tcp("localhost", address.port().unwrap());
    // "localhost" may resolve to ::1 first; the listener is on 127.0.0.1, which is tried next.
    assert!(Connection::connect(&by_name, &options).unwrap_err().is_timeout());
    let hello = listener.join().unwrap();
    assert!(hello.windows(9).any(|w| w == b"localhost"), "no SNI in the ClientHello");

    let (address, listener) = rogue_listener(false);
    assert!(Connection::connect(&address, &options).unwrap_err().is_timeout());
    let hello = listener.join().unwrap();
    assert!(!hello.is_empty(), "no ClientHello");
    assert!(
        !hello.windows(9).any(|w| w == b"127.0.0.1"),
        "SNI sent for an IP literal"
    );
}

#[test]
fn tls_handshake_io_failures_carry_the_backpressure_labels() {
    let certs = Certs::generate();
    let tls = tls_options(&certs.ca, None);

    // The peer closes during the handshake: an I/O error, labelled.
    let (address, listener) = rogue_listener(true);
    let err = Connection::connect(&address, &connection_options(tls.clone())).unwrap_err();
    listener.join().unwrap();
    assert!(matches!(err.kind(), ErrorKind::Io { .. }), "{err:?}");
    for label in LABELS {
        assert!(err.has_label(label), "{err:?}");
    }

    // The peer never answers: a timeout within connectTimeoutMS, labelled.
    let (address, listener) = rogue_listener(false);
    let options = ConnectionOptions {
        connect_timeout: Some(Duration::from_millis(300)),
        ..connection_options(tls.clone())
    };
    let err = Connection::connect(&address, &options).unwrap_err();
    listener.join().unwrap();
    assert!(err.is_timeout(), "{err:?}");
    for label in LABELS {
        assert!(err.has_label(label), "{err:?}");
    }

    // An interrupt during the TLS handshake aborts it as an interruption, not a TLS error.
    let (address, listener) = rogue_listener(false);
    let interrupter = Arc::new(Interrupter::default());
    let trigger = interrupter.clone();
    let interrupting = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        trigger.interrupt();
    });
    let err = Connection::establish(&address, &connection_options(tls), interrupter).unwrap_err();
    interrupting.join().unwrap();
    listener.join().unwrap();
    assert!(matches!(err.kind(), ErrorKind::ConnectionInterrupted), "{err:?}");
}
