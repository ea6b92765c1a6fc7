//! The client: pools built from a URI, readied and cleared by the monitors, discovery, close,
//! and CMAP prose tests 1, 2, 3 and 5 (prose test 4, subscribing to events, is covered by the
//! pool and client subscription APIs used throughout).
//!
//! Every test holds [`serial`]: the thread-count assertion of the close test must not see the
//! threads of a concurrent test, and the fail points are server-wide.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::doc;
use crossbeam_channel::Receiver;
use mongopool::events::ConnectionCheckOutFailedReason;
use mongopool::{
    Client, ClientOptions, CmapEvent, Error, ErrorKind, PoolOptions, PoolState, ServerAddress, ServerType,
};
use parking_lot::{Mutex, MutexGuard};
use support::server::{free_port, TestServer};

fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock()
}

/// A client from `uri` with a merged event stream that includes every PoolCreated.
fn client_with_events(uri: &str) -> (Client, Receiver<CmapEvent>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let client = Client::builder(ClientOptions::parse(uri).unwrap())
        .event_sender(tx)
        .build()
        .unwrap();
    (client, rx)
}

/// The first event matching `pred` within `timeout`.
fn wait_for_event(rx: &Receiver<CmapEvent>, timeout: Duration, pred: impl Fn(&CmapEvent) -> bool) -> Option<CmapEvent> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match rx.recv_timeout(left) {
            Ok(e) if pred(&e) => return Some(e),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

/// Waits until `cond` holds, failing the test after 10 s.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Threads of this process whose name starts with `mongopool-` (`/proc/self/task/*/comm`).
fn mongopool_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|e| e.ok())
        .filter(|e| std::fs::read_to_string(e.path().join("comm")).is_ok_and(|name| name.starts_with("mongopool-")))
        .count()
}

fn ping(client: &Client) -> mongopool::Result<()> {
    let mut conn = client.check_out()?;
    conn.run_command("admin", doc! { "ping": 1 }).map(|_| ())
}

#[test]
fn a_client_from_a_uri_becomes_ready_without_calling_ready() {
    let _serial = serial();
    let server = TestServer::shared();
    let (client, events) = client_with_events(&format!("{}/?appName=ready-test", server.uri()));
    let ready = wait_for_event(&events, Duration::from_secs(10), |e| {
        matches!(e, CmapEvent::PoolReady(_))
    });
    assert!(ready.is_some(), "no PoolReady within 10 s");
    let pool = client.pool(server.address()).expect("a pool for the seed");
    assert_eq!(pool.status().state, PoolState::Ready);
    ping(&client).unwrap();
    assert_ne!(client.server_type(server.address()), Some(ServerType::Unknown));
    // The monitor's connection is its own: the pool holds only the one the ping used.
    assert_eq!(pool.status().total, 1);
}

#[test]
fn killing_the_server_fails_waiting_check_outs_and_a_restart_recovers() {
    let _serial = serial();
    let mut server = TestServer::start();
    let heartbeat = Duration::from_millis(500);
    let (client, events) = client_with_events(&format!(
        "{}/?heartbeatFrequencyMS=500&maxPoolSize=1&serverSelectionTimeoutMS=10000",
        server.uri()
    ));
    ping(&client).unwrap();
    let pool = client.pool(server.address()).unwrap();

    // One connection held, one check-out waiting behind it.
    let held = client.check_out().unwrap();
    let waiter_client = client.clone();
    let waiter = std::thread::spawn(move || {
        let result = waiter_client.check_out().map(|_| ());
        (result, Instant::now())
    });
    wait_until("the check-out to wait", || pool.status().waiters == 1);

    let killed_at = Instant::now();
    server.kill();
    let (result, failed_at) = waiter.join().unwrap();
    let after = failed_at.duration_since(killed_at);
    let err = result.expect_err("the waiting check-out must fail");
    eprintln!(
        "waiting check-out failed {} ms after the kill: {err}",
        after.as_millis()
    );
    assert!(err.is_retryable(), "{err:?}");
    assert!(matches!(err.kind(), ErrorKind::PoolCleared { .. }), "{err:?}");
    assert!(
        after <= heartbeat + Duration::from_millis(200),
        "failed {} ms after the kill",
        after.as_millis()
    );
    let cleared = wait_for_event(&events, Duration::from_secs(1), |e| {
        matches!(e, CmapEvent::PoolCleared(_))
    });
    assert!(cleared.is_some(), "no PoolCleared event");
    assert_eq!(client.server_type(server.address()), Some(ServerType::Unknown));
    drop(held);

    server.restart();
    let restarted_at = Instant::now();
    ping(&client).unwrap();
    let recovered = restarted_at.elapsed();
    eprintln!(
        "check-outs succeed again {} ms after the restart",
        recovered.as_millis()
    );
    assert!(
        recovered <= 2 * heartbeat,
        "recovered {} ms after the restart",
        recovered.as_millis()
    );
    client.close();
}

#[test]
fn close_returns_within_100_ms_and_leaves_no_thread() {
    let _serial = serial();
    let server = TestServer::shared();
    let before = mongopool_threads();
    let (client, events) = client_with_events(&format!("{}/?heartbeatFrequencyMS=500", server.uri()));
    ping(&client).unwrap();
    assert!(mongopool_threads() >= before + 2, "a monitor and a pool thread");
    // Let the monitor go back to sleep between two checks, as it is most of the time.
    std::thread::sleep(Duration::from_millis(100));

    let started = Instant::now();
    client.close();
    let took = started.elapsed();
    eprintln!("close() took {} µs", took.as_micros());
    assert!(
        took < Duration::from_millis(100),
        "close() took {} ms",
        took.as_millis()
    );
    // The threads are joined; their /proc entries may outlive the join by a moment.
    wait_until("the threads to disappear", || mongopool_threads() == before);
    let closed = events.try_iter().any(|e| matches!(e, CmapEvent::PoolClosed(_)));
    assert!(closed, "no PoolClosed event");
    assert!(matches!(
        client.check_out().unwrap_err().kind(),
        ErrorKind::ClientClosed
    ));

    // Dropping the last handle closes as well.
    let client = Client::with_uri(&server.uri()).unwrap();
    ping(&client).unwrap();
    let second = client.clone();
    drop(client);
    assert!(mongopool_threads() > before, "a remaining handle keeps the client open");
    drop(second);
    wait_until("the threads to disappear after drop", || mongopool_threads() == before);
}

/// CMAP prose tests 1-3: every pool option in the URI reaches every pool of a multi-host
/// client, and all pools have identical options. The hosts are closed ports: the monitors'
/// checks fail, so the pools stay paused and nothing connects.
#[test]
fn every_pool_option_from_a_uri_reaches_every_pool_identically() {
    let _serial = serial();
    let hosts: Vec<ServerAddress> = (0..3).map(|_| ServerAddress::tcp("127.0.0.1", free_port())).collect();
    let list: Vec<String> = hosts.iter().map(ToString::to_string).collect();
    let uri = format!(
        "mongodb://{}/?maxPoolSize=7&minPoolSize=2&maxIdleTimeMS=1234&maxConnecting=3&waitQueueTimeoutMS=999\
         &appName=prose&connectTimeoutMS=1500&socketTimeoutMS=2500&heartbeatFrequencyMS=500",
        list.join(",")
    );
    let (client, events) = client_with_events(&uri);
    let expected = client.options().pool_options().clone();
    assert_eq!(expected.max_pool_size(), 7);
    assert_eq!(expected.min_pool_size(), 2);
    assert_eq!(expected.max_idle_time(), Some(Duration::from_millis(1234)));
    assert_eq!(expected.max_connecting(), 3);
    assert_eq!(expected.wait_queue_timeout(), Some(Duration::from_millis(999)));
    assert_eq!(expected.connection().app_name.as_deref(), Some("prose"));
    assert_eq!(expected.connection().connect_timeout, Some(Duration::from_millis(1500)));
    assert_eq!(expected.connection().socket_timeout, Some(Duration::from_millis(2500)));
    assert_eq!(client.servers(), {
        let mut sorted = hosts.clone();
        sorted.sort();
        sorted
    });
    for host in &hosts {
        let pool = client.pool(host).expect("a pool per host");
        assert_eq!(pool.options(), &expected, "{host}");
    }
    // Each pool announced the same user-specified options.
    let created: Vec<_> = events
        .try_iter()
        .filter_map(|e| match e {
            CmapEvent::PoolCreated(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(created.len(), 3);
    for c in &created {
        assert_eq!(c.options, created[0].options);
        assert_eq!(c.options.max_pool_size, Some(7));
        assert_eq!(c.options.min_pool_size, Some(2));
        assert_eq!(c.options.max_idle_time_ms, Some(1234));
        assert_eq!(c.options.max_connecting, Some(3));
        assert_eq!(c.options.wait_queue_timeout_ms, Some(999));
    }
    // And set by hand at the client level (prose test 1), they reach every pool the same way.
    let by_hand = PoolOptions::builder()
        .max_pool_size(4)
        .max_connecting(1)
        .build()
        .unwrap();
    let client = Client::new(
        ClientOptions::builder()
            .hosts(hosts.iter().cloned())
            .pool_options(by_hand.clone())
            .build()
            .unwrap(),
    )
    .unwrap();
    for host in &hosts {
        assert_eq!(client.pool(host).unwrap().options(), &by_hand);
    }
}

/// CMAP prose test 5 through a client: the pool's handshake fails (the monitor's connection,
/// already established, uses `hello`, so only the pool's legacy hello hits the fail point).
/// The check-out fails with the connection error and emits ConnectionCheckOutFailed with
/// reason connectionError; the error carries the backpressure labels, so the pool is not
/// cleared. (`tests/pool.rs` has the same test for a bare pool pointed at a closed port.)
#[test]
fn a_failed_handshake_emits_check_out_failed_and_does_not_clear() {
    let _serial = serial();
    let server = TestServer::shared();
    let (client, events) = client_with_events(&format!("{}/?appName=prose5", server.uri()));
    // A first connection makes sure the monitor is established and the pool ready; holding
    // it makes the next check-out create a connection.
    let _held = client.check_out().unwrap();
    let pool = client.pool(server.address()).unwrap();
    let generation = pool.status().generation;
    let _fp = server.fail_point(doc! {
        "configureFailPoint": "failCommand",
        "mode": { "times": 1 },
        "data": { "failCommands": ["isMaster"], "closeConnection": true, "appName": "prose5" },
    });
    let err = client.check_out().unwrap_err();
    assert!(err.is_network_error(), "{err:?}");
    assert!(err.has_label("SystemOverloadedError"), "{err:?}");
    let failed = wait_for_event(&events, Duration::from_secs(1), |e| {
        matches!(e, CmapEvent::ConnectionCheckOutFailed(_))
    });
    match failed {
        Some(CmapEvent::ConnectionCheckOutFailed(f)) => {
            assert_eq!(f.reason, ConnectionCheckOutFailedReason::ConnectionError)
        }
        other => panic!("expected ConnectionCheckOutFailed, got {other:?}"),
    }
    assert_eq!(
        pool.status().generation,
        generation,
        "an overloaded server's pool is not cleared"
    );
    assert_eq!(pool.status().state, PoolState::Ready);
}

#[test]
fn a_network_error_reported_by_the_application_clears_the_pool() {
    let _serial = serial();
    let server = TestServer::shared();
    let (client, events) = client_with_events(&format!("{}/?appName=app-error&heartbeatFrequencyMS=500", server.uri()));
    let pool = {
        ping(&client).unwrap();
        client.pool(server.address()).unwrap()
    };
    let mut conn = client.check_out().unwrap();
    let generation = pool.status().generation;

    // A stale or overloaded error changes nothing.
    let overloaded = Error::new(ErrorKind::Io {
        kind: std::io::ErrorKind::ConnectionReset,
        source: Arc::new(std::io::ErrorKind::ConnectionReset.into()),
    })
    .with_label("SystemOverloadedError");
    client.handle_application_error(&conn, &overloaded);
    assert_eq!(pool.status().generation, generation);

    let _fp = server.fail_point(doc! {
        "configureFailPoint": "failCommand",
        "mode": { "times": 1 },
        "data": { "failCommands": ["ping"], "closeConnection": true, "appName": "app-error" },
    });
    let err = conn.run_command("admin", doc! { "ping": 1 }).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Io { .. }), "{err:?}");
    client.handle_application_error(&conn, &err);
    assert_eq!(pool.status().generation, generation + 1);
    assert!(wait_for_event(&events, Duration::from_secs(1), |e| matches!(
        e,
        CmapEvent::PoolCleared(_)
    ))
    .is_some());
    // The same error again, from the now stale connection, is ignored.
    client.handle_application_error(&conn, &err);
    assert_eq!(pool.status().generation, generation + 1);
    drop(conn);
    // The monitor checks again soon and the pool becomes ready.
    let ready = wait_for_event(&events, Duration::from_secs(5), |e| {
        matches!(e, CmapEvent::PoolReady(_))
    });
    assert!(ready.is_some(), "the monitor did not ready the pool again");
    ping(&client).unwrap();
}

#[test]
fn hosts_listed_by_a_replica_set_member_get_pools_unless_direct() {
    let _serial = serial();
    // SecantusDB answers as the primary of a one-member replica set whose member is
    // 127.0.0.1:<port>; seeding with "localhost" makes that a host the client did not know.
    let server = TestServer::start();
    let port = server.address().port().unwrap();
    let seed = ServerAddress::tcp("localhost", port);
    let (client, events) = client_with_events(&format!("mongodb://localhost:{port}/?heartbeatFrequencyMS=500"));
    wait_until("the member to be discovered", || client.servers().len() == 2);
    assert!(client.servers().contains(server.address()));
    // The discovered pool has the same options and feeds the same event stream.
    let discovered = client.pool(server.address()).unwrap();
    assert_eq!(discovered.options(), client.pool(&seed).unwrap().options());
    let created = wait_for_event(
        &events,
        Duration::from_secs(5),
        |e| matches!(e, CmapEvent::PoolCreated(c) if &c.address == server.address()),
    );
    assert!(created.is_some(), "no PoolCreated for the discovered host");
    ping(&client).unwrap();

    let direct = Client::with_uri(&format!("mongodb://localhost:{port}/?directConnection=true")).unwrap();
    ping(&direct).unwrap();
    assert_eq!(direct.servers(), vec![seed]);
}

#[test]
fn tls_and_credentials_are_accepted_and_other_mechanisms_refused() {
    let _serial = serial();
    // Connections use both now (tests/tls.rs and tests/auth.rs exercise them); the client keeps
    // the password out of its Debug output.
    let client =
        Client::with_uri("mongodb://admin:hunter2@127.0.0.1:9/?tls=true&serverSelectionTimeoutMS=100").unwrap();
    assert!(client.options().tls().is_some() && client.options().credential().is_some());
    assert!(!format!("{client:?}").contains("hunter2"));
    client.close();
    // Mechanisms other than SCRAM are refused rather than silently replaced.
    let err = Client::with_uri("mongodb://admin:hunter2@127.0.0.1:9/?authMechanism=PLAIN").unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidArgument { .. }), "{err:?}");
    assert!(err.to_string().contains("not supported"), "{err}");
    assert!(!err.to_string().contains("hunter2") && !format!("{err:?}").contains("hunter2"));
}

#[test]
fn server_selection_times_out_with_the_last_errors() {
    let _serial = serial();
    let port = free_port();
    let client = Client::with_uri(&format!("mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=300")).unwrap();
    let started = Instant::now();
    let err = client.check_out().unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    match err.kind() {
        ErrorKind::ServerSelectionTimeout { message, .. } => {
            assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
            assert!(message.contains("Unknown"), "{message}");
        }
        other => panic!("expected a server selection timeout, got {other:?}"),
    }
}

#[test]
fn a_server_of_another_replica_set_is_never_selected() {
    let _serial = serial();
    let server = TestServer::shared();
    let set_name = server
        .connect()
        .unwrap()
        .hello_reply()
        .and_then(|h| h.set_name.clone())
        .expect("SecantusDB answers as a replica set member");
    let wrong = Client::with_uri(&format!(
        "{}/?replicaSet=not-{set_name}&serverSelectionTimeoutMS=1000",
        server.uri()
    ))
    .unwrap();
    let err = wrong.check_out().unwrap_err();
    match err.kind() {
        ErrorKind::ServerSelectionTimeout { message, .. } => assert!(message.contains("replicaSet"), "{message}"),
        other => panic!("expected a server selection timeout, got {other:?}"),
    }
    let right = Client::with_uri(&format!("{}/?replicaSet={set_name}", server.uri())).unwrap();
    ping(&right).unwrap();
    assert_eq!(right.server_type(server.address()), Some(ServerType::RsPrimary));
}
