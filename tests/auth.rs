//! SCRAM authentication against SecantusDB with `--auth`: users are provisioned on a persistent
//! storage path, then the server restarts with `--auth` on it. SCRAM-SHA-256 and SCRAM-SHA-1
//! through pools and a `Client`, a wrong password (Authentication kind,
//! ConnectionCheckOutFailed(connectionError), no backpressure label), the salted-password cache
//! (PBKDF2 once for a pool of 100), speculative authentication (round trips counted by a proxy)
//! and monitors that never authenticate. A scripted SCRAM server (tests/support/scram_server.rs)
//! covers what SecantusDB does not do: ignoring speculativeAuthenticate, and a server signature
//! that does not prove the server knows the password.

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bson::{doc, Bson, Document};
use crossbeam_channel::Receiver;
use mongopool::auth::{AuthMechanism, Credential};
use mongopool::events::{CmapEvent, ConnectionCheckOutFailedReason};
use mongopool::{
    Client, ClientOptions, Connection, ConnectionOptions, ErrorKind, Pool, PoolOptions, ServerAddress, ServerType,
    TcpEstablisher,
};
use support::counting_proxy::CountingProxy;
use support::scram_server::{self, ScramServer, ScramServerConfig};
use support::server::{ServerConfig, TestServer};

/// Both mechanisms stored.
const BOTH: (&str, &str) = ("alice", "alice-password");
/// Only SCRAM-SHA-1 stored.
const SHA1_ONLY: (&str, &str) = ("sha1user", "sha1-password");
/// Only SCRAM-SHA-256 stored (SecantusDB's default).
const SHA256_ONLY: (&str, &str) = ("sha256user", "sha256-password");
/// Created with the password "IX"; logs in with "I\u{AD}X" (a soft hyphen, which SASLprep maps
/// to nothing, RFC 4013), so only a client that SASLpreps SCRAM-SHA-256 passwords gets in.
const SASLPREP: (&str, &str) = ("prepuser", "I\u{AD}X");

const LABELS: [&str; 2] = ["SystemOverloadedError", "RetryableError"];

/// A SecantusDB with `--auth` over a storage path holding the three users. Drop stops the
/// server and removes the storage.
struct AuthServer {
    server: TestServer,
    storage: PathBuf,
}

impl AuthServer {
    fn start() -> AuthServer {
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let storage = std::env::temp_dir().join(format!(
            "mongopool-auth-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&storage);
        let mut server = TestServer::start_with(ServerConfig {
            args: vec!["--standalone".into()],
            storage_path: Some(storage.clone()),
            ..ServerConfig::default()
        });
        for ((user, pwd), mechanisms) in [
            (BOTH, vec!["SCRAM-SHA-1", "SCRAM-SHA-256"]),
            (SHA1_ONLY, vec!["SCRAM-SHA-1"]),
            (SHA256_ONLY, vec!["SCRAM-SHA-256"]),
            ((SASLPREP.0, "IX"), vec!["SCRAM-SHA-256"]),
        ] {
            server.admin(doc! {
                "createUser": user, "pwd": pwd, "roles": [{ "role": "root", "db": "admin" }],
                "mechanisms": mechanisms,
            });
        }
        server.stop_gracefully();
        server.set_config(ServerConfig {
            args: vec!["--standalone".into(), "--auth".into()],
            storage_path: Some(storage.clone()),
            connection: Some(options(credential(BOTH, None))),
            ..ServerConfig::default()
        });
        server.restart();
        AuthServer { server, storage }
    }

    fn address(&self) -> &ServerAddress {
        self.server.address()
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        self.server.stop_gracefully();
        let _ = std::fs::remove_dir_all(&self.storage);
    }
}

fn credential((user, pwd): (&str, &str), mechanism: Option<AuthMechanism>) -> Credential {
    let mut c = Credential::new(user, pwd);
    c.mechanism = mechanism;
    c
}

fn options(credential: Credential) -> ConnectionOptions {
    ConnectionOptions {
        connect_timeout: Some(Duration::from_secs(5)),
        credential: Some(credential),
        ..ConnectionOptions::default()
    }
}

fn pool_with(address: &ServerAddress, establisher: TcpEstablisher, max: u32) -> (Pool, Receiver<CmapEvent>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let pool = Pool::builder(address.clone())
        .options(PoolOptions::builder().max_pool_size(max).build().unwrap())
        .establisher(Arc::new(establisher))
        .event_sender(tx)
        .build()
        .unwrap();
    pool.ready().unwrap();
    (pool, rx)
}

/// A command that needs an authenticated connection.
/// A direct `Client` for alice with a wrong password, `query` added to its URI, and every
/// pool's events from the start.
fn wrong_password_client(server: &AuthServer, query: &str) -> (Client, Receiver<CmapEvent>) {
    let uri = format!(
        "mongodb://{}:wrong@{}/?directConnection=true&{query}",
        BOTH.0,
        server.address()
    );
    let (tx, rx) = crossbeam_channel::unbounded();
    let client = Client::builder(ClientOptions::parse(&uri).unwrap())
        .event_sender(tx)
        .build()
        .unwrap();
    (client, rx)
}

fn find(conn: &mut Connection) -> mongopool::Result<Document> {
    conn.run_command("test", doc! { "find": "items", "filter": {} })
}

#[test]
fn sha256_and_sha1_authenticate_through_pools_and_a_client() {
    let server = AuthServer::start();

    // The server does enforce authentication.
    let mut anonymous = Connection::connect(server.address(), &ConnectionOptions::default()).unwrap();
    let err = find(&mut anonymous).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Command(_)), "{err:?}");

    let cases = [
        (BOTH, Some(AuthMechanism::ScramSha256)),
        (BOTH, Some(AuthMechanism::ScramSha1)),
        (BOTH, None),
        (SHA1_ONLY, None),
        (SHA1_ONLY, Some(AuthMechanism::ScramSha1)),
        (SHA256_ONLY, None),
        (SASLPREP, None),
        (SASLPREP, Some(AuthMechanism::ScramSha256)),
    ];
    for (user, mechanism) in cases {
        let (pool, _events) = pool_with(
            server.address(),
            TcpEstablisher::new(options(credential(user, mechanism))),
            2,
        );
        let mut a = pool
            .check_out()
            .unwrap_or_else(|e| panic!("{user:?} {mechanism:?}: {e}"));
        let mut b = pool.check_out().unwrap();
        find(&mut a).unwrap_or_else(|e| panic!("{user:?} {mechanism:?}: {e}"));
        find(&mut b).unwrap();
        drop((a, b));
        pool.close();
    }

    for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-1"] {
        let uri = format!(
            "mongodb://{}:{}@{}/?authSource=admin&authMechanism={mechanism}&directConnection=true\
             &serverSelectionTimeoutMS=10000",
            BOTH.0,
            BOTH.1,
            server.address()
        );
        let client = Client::with_uri(&uri).expect("a client with credentials is accepted");
        let mut conn = client.check_out().unwrap_or_else(|e| panic!("{mechanism}: {e}"));
        find(&mut conn).unwrap();
        conn.run_command("test", doc! { "insert": "items", "documents": [{ "m": mechanism }] })
            .unwrap();
        drop(conn);
        client.close();
    }
}

#[test]
fn a_wrong_password_fails_check_out_with_an_authentication_error_and_no_label() {
    let server = AuthServer::start();
    let wrong = credential((BOTH.0, "not-alices-password"), None);
    let (pool, events) = pool_with(server.address(), TcpEstablisher::new(options(wrong)), 2);
    let err = pool.check_out().unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Authentication { .. }), "{err:?}");
    for label in LABELS {
        assert!(!err.has_label(label), "{err:?}");
    }
    let text = format!("{err} {err:?}");
    assert!(!text.contains("not-alices-password"), "{text}");
    let events: Vec<CmapEvent> = events.try_iter().collect();
    let reason = events.iter().find_map(|e| match e {
        CmapEvent::ConnectionCheckOutFailed(f) => Some(f.reason),
        _ => None,
    });
    assert_eq!(reason, Some(ConnectionCheckOutFailedReason::ConnectionError));
    // The connection that failed to authenticate was created and closed, never checked out.
    assert!(events.iter().any(|e| matches!(e, CmapEvent::ConnectionClosed(_))));
    assert!(!events.iter().any(|e| matches!(e, CmapEvent::ConnectionCheckedOut(_))));
    assert_eq!(pool.status().total, 0);
    pool.close();

    // Through a client: the same error, and the server's pool is cleared (auth.md
    // "Authentication Handshake": mark the server Unknown and clear its pool).
    let (client, rx) = wrong_password_client(&server, "serverSelectionTimeoutMS=5000");
    let err = client.check_out().unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Authentication { .. }), "{err:?}");
    assert_eq!(err.error_labels().count(), 0, "{err:?}");
    client.close();
    assert!(
        rx.try_iter().any(|e| matches!(e, CmapEvent::PoolCleared(_))),
        "an authentication failure clears the pool"
    );
}

/// cmap.md "Populating the Pool with a Connection": a population error MUST be handled via
/// the SDAM machinery. A client's background minPoolSize connection that fails to
/// authenticate marks the server Unknown (monitors do not authenticate, so only this can) and
/// clears the pool, without the application checking anything out.
#[test]
fn a_failed_background_authentication_marks_the_server_unknown_through_the_client() {
    let server = AuthServer::start();
    let (client, rx) = wrong_password_client(&server, "minPoolSize=1&heartbeatFrequencyMS=60000");
    let address = server.address().clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let (mut seen_known, mut seen_unknown_after) = (false, false);
    while std::time::Instant::now() < deadline && !seen_unknown_after {
        match client.server_type(&address) {
            Some(ServerType::Unknown) | None => seen_unknown_after = seen_known,
            Some(_) => seen_known = true,
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    client.close();
    assert!(seen_known, "the monitor (which does not authenticate) found the server");
    assert!(
        seen_unknown_after,
        "the failed population marked the server Unknown again within 10 s"
    );
    let events: Vec<CmapEvent> = rx.try_iter().collect();
    let closed_error = events.iter().any(|e| {
        matches!(e, CmapEvent::ConnectionClosed(c)
            if c.reason == mongopool::events::ConnectionClosedReason::Error)
    });
    assert!(
        closed_error,
        "the population's connection closed with reason error: {events:?}"
    );
    assert!(
        events.iter().any(|e| matches!(e, CmapEvent::PoolCleared(_))),
        "{events:?}"
    );
    assert!(!events
        .iter()
        .any(|e| matches!(e, CmapEvent::ConnectionCheckOutStarted(_))));
}

#[test]
fn a_pool_of_100_runs_pbkdf2_once() {
    let server = AuthServer::start();
    let establisher = TcpEstablisher::new(options(credential(BOTH, None)));
    let cache = establisher.scram_cache().clone();
    let (pool, _events) = pool_with(server.address(), establisher, 100);
    // The first connection derives the keys; the other 99, established concurrently, reuse them.
    let first = pool.check_out().unwrap();
    assert_eq!(cache.derivations(), 1);
    let barrier = Arc::new(std::sync::Barrier::new(99));
    let threads: Vec<_> = (0..99)
        .map(|_| {
            let (pool, barrier) = (pool.clone(), barrier.clone());
            std::thread::spawn(move || {
                let conn = pool.check_out();
                // Hold every connection until all 100 exist, so none is reused.
                barrier.wait();
                conn.map(|c| c.id())
            })
        })
        .collect();
    let mut ids: Vec<u64> = threads
        .into_iter()
        .map(|t| t.join().unwrap().expect("authenticated check-out"))
        .collect();
    ids.push(first.id());
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 100);
    drop(first);
    assert_eq!(pool.status().total, 100);
    assert_eq!(cache.derivations(), 1, "PBKDF2 ran more than once for one credential");
    pool.close();

    // Through a client: its pools share one cache, so 20 connections derive the keys once.
    let uri = format!(
        "mongodb://{}:{}@{}/?directConnection=true&maxPoolSize=20&serverSelectionTimeoutMS=10000",
        BOTH.0,
        BOTH.1,
        server.address()
    );
    let client = Client::with_uri(&uri).unwrap();
    let first = client.check_out().unwrap();
    let barrier = Arc::new(std::sync::Barrier::new(19));
    let threads: Vec<_> = (0..19)
        .map(|_| {
            let (client, barrier) = (client.clone(), barrier.clone());
            std::thread::spawn(move || {
                let conn = client.check_out();
                barrier.wait();
                conn.map(|c| c.id())
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap().expect("authenticated check-out through the client");
    }
    drop(first);
    assert_eq!(client.pool(server.address()).unwrap().status().total, 20);
    assert_eq!(client.scram_cache().derivations(), 1);
    client.close();
}

fn sasl_counts(proxy: &CountingProxy) -> (usize, usize, usize) {
    (
        proxy.count("isMaster"),
        proxy.count("saslStart"),
        proxy.count("saslContinue"),
    )
}

fn has_speculative(body: &Document) -> bool {
    matches!(body.get("speculativeAuthenticate"), Some(Bson::Document(_)))
}

#[test]
fn speculative_authentication_saves_a_round_trip_and_monitors_never_authenticate() {
    let server = AuthServer::start();
    let proxy = CountingProxy::start(server.address());

    // The speculative saslStart in the hello is answered: hello + one saslContinue.
    let conn = Connection::connect(proxy.address(), &options(credential(BOTH, None))).unwrap();
    drop(conn);
    let with = sasl_counts(&proxy);
    let bodies = proxy.bodies();
    assert!(has_speculative(&bodies[0]), "{:?}", bodies[0]);
    assert_eq!(bodies[0].get_str("saslSupportedMechs").ok(), Some("admin.alice"));
    proxy.clear();

    // A user with only SCRAM-SHA-1: the speculative SCRAM-SHA-256 start cannot be used, so the
    // conversation falls back to saslStart + saslContinue.
    let conn = Connection::connect(proxy.address(), &options(credential(SHA1_ONLY, None))).unwrap();
    drop(conn);
    let without = sasl_counts(&proxy);
    proxy.clear();
    println!("round trips with speculative auth {with:?}, without {without:?} (isMaster, saslStart, saslContinue)");
    assert_eq!(
        with,
        (1, 0, 1),
        "speculative authentication: hello and one saslContinue"
    );
    assert_eq!(without, (1, 1, 1), "fallback: hello, saslStart, saslContinue");

    // A configured SCRAM-SHA-1 goes speculative too.
    let conn = Connection::connect(
        proxy.address(),
        &options(credential(BOTH, Some(AuthMechanism::ScramSha1))),
    )
    .unwrap();
    drop(conn);
    assert_eq!(sasl_counts(&proxy), (1, 0, 1));
    proxy.clear();

    // Through a client: the monitor's hellos carry no authentication fields and no SASL
    // command runs for them; the one pooled connection authenticates once.
    let uri = format!(
        "mongodb://{}:{}@{}/?directConnection=true&heartbeatFrequencyMS=500&serverSelectionTimeoutMS=10000",
        BOTH.0,
        BOTH.1,
        proxy.address()
    );
    let client = Client::with_uri(&uri).unwrap();
    let mut conn = client.check_out().unwrap();
    find(&mut conn).unwrap();
    drop(conn);
    std::thread::sleep(Duration::from_millis(1200));
    client.close();
    let bodies = proxy.bodies();
    let hellos: Vec<&Document> = bodies
        .iter()
        .filter(|b| matches!(b.keys().next().map(String::as_str), Some("isMaster" | "hello")))
        .collect();
    let authenticating = hellos.iter().filter(|b| has_speculative(b)).count();
    assert_eq!(authenticating, 1, "only the pooled connection's hello authenticates");
    assert!(hellos.len() >= 3, "the monitor checked the server: {hellos:?}");
    assert!(hellos
        .iter()
        .filter(|b| !has_speculative(b))
        .all(|b| !b.contains_key("saslSupportedMechs")));
    assert_eq!(proxy.count("saslStart"), 0);
    assert_eq!(proxy.count("saslContinue"), 1);
}

fn scripted(config: ScramServerConfig) -> ScramServer {
    ScramServer::start(config)
}

fn scripted_options(password: &str, mechanism: Option<AuthMechanism>) -> ConnectionOptions {
    ConnectionOptions {
        connect_timeout: Some(Duration::from_secs(5)),
        credential: Some(credential((scram_server::USER, password), mechanism)),
        ..ConnectionOptions::default()
    }
}

#[test]
fn against_a_scripted_server_speculative_auth_saves_one_round_trip_and_falls_back_without_it() {
    for mechanism in [None, Some(AuthMechanism::ScramSha256)] {
        let honours = scripted(ScramServerConfig {
            speculative: true,
            ..ScramServerConfig::default()
        });
        Connection::connect(honours.address(), &scripted_options(scram_server::PASSWORD, mechanism))
            .expect("speculative authentication");
        assert_eq!(honours.commands(), ["isMaster", "saslContinue"]);

        // The reply lacks speculativeAuthenticate: the conversation starts over normally.
        let ignores = scripted(ScramServerConfig::default());
        Connection::connect(ignores.address(), &scripted_options(scram_server::PASSWORD, mechanism))
            .expect("authentication without the speculative reply");
        assert_eq!(ignores.commands(), ["isMaster", "saslStart", "saslContinue"]);
    }
}

#[test]
fn a_server_that_cannot_prove_it_knows_the_password_is_rejected() {
    for speculative in [true, false] {
        let server = scripted(ScramServerConfig {
            speculative,
            bad_signature: true,
        });
        let err = Connection::connect(server.address(), &scripted_options(scram_server::PASSWORD, None)).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Authentication { .. }), "{err:?}");
        assert_eq!(err.error_labels().count(), 0, "{err:?}");

        // Through a pool: ConnectionCheckOutFailed(connectionError), nothing checked out.
        let (pool, events) = pool_with(
            server.address(),
            TcpEstablisher::new(scripted_options(scram_server::PASSWORD, None)),
            1,
        );
        let err = pool.check_out().unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Authentication { .. }), "{err:?}");
        let reasons: Vec<_> = events
            .try_iter()
            .filter_map(|e| match e {
                CmapEvent::ConnectionCheckOutFailed(f) => Some(f.reason),
                _ => None,
            })
            .collect();
        assert_eq!(reasons, [ConnectionCheckOutFailedReason::ConnectionError]);
        pool.close();
    }
    // The same server with an honest signature is accepted (the rejection is the signature's).
    let honest = scripted(ScramServerConfig::default());
    Connection::connect(honest.address(), &scripted_options(scram_server::PASSWORD, None)).unwrap();
    // And a wrong password is refused by the server: an authentication error, no label.
    let err = Connection::connect(honest.address(), &scripted_options("wrong", None)).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Authentication { .. }), "{err:?}");
    assert_eq!(err.error_labels().count(), 0);
}
