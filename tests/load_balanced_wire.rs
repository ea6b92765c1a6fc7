//! Load-balanced mode over real sockets, against the scripted wire server acting as the
//! services behind a load balancer (SecantusDB has no load-balanced mode): the handshake
//! (load-balancers.md "Connection Establishment"), the per-serviceId generations and the clear
//! semantics of cmap.md "Clearing a load balanced pool", and a client built from a
//! `loadBalanced=true` URI. tests/load_balanced.rs covers the same pool logic with in-process
//! connections.

mod support;

use std::thread;
use std::time::{Duration, Instant};

use bson::{doc, oid::ObjectId, Document};
use crossbeam_channel::Receiver;
use mongopool::events::ConnectionClosedReason;
use mongopool::{Client, ClientOptions, CmapEvent, ConnectionOptions, ErrorKind, Pool, PoolOptions, PoolState};
use support::pools::{assert_establishment_failed, ready_pool};
use support::wire_server::{Action, Rule, WireServer, WireServerConfig};

/// A server whose default hello reply carries `service` (as every service behind a load
/// balancer does), or none.
fn server(service: Option<ObjectId>) -> WireServer {
    WireServer::start_with(WireServerConfig {
        service_id: service,
        ..Default::default()
    })
}

/// A hello reply from service `id`, for rules that route one connection to another service.
fn hello_from(id: ObjectId) -> Document {
    doc! {
        "ok": 1.0, "isWritablePrimary": true, "helloOk": true, "maxWireVersion": 21,
        "msg": "isdbgrid", "serviceId": id,
    }
}

fn lb_pool(server: &WireServer, max_pool_size: u32) -> (Pool, Receiver<CmapEvent>) {
    let options = PoolOptions::builder()
        .connection_options(ConnectionOptions {
            connect_timeout: Some(Duration::from_secs(5)),
            socket_timeout: Some(Duration::from_secs(5)),
            ..Default::default()
        })
        .load_balanced(true)
        .max_pool_size(max_pool_size)
        .build()
        .unwrap();
    ready_pool(server.address().clone(), options)
}

fn closed_events(rx: &Receiver<CmapEvent>) -> Vec<(u64, ConnectionClosedReason)> {
    rx.try_iter()
        .filter_map(|e| match e {
            CmapEvent::ConnectionClosed(c) => Some((c.connection_id, c.reason)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_handshake_is_hello_with_load_balanced_and_the_service_id_lands_on_the_connection() {
    let service = ObjectId::new();
    let server = server(Some(service));
    let (pool, rx) = lb_pool(&server, 5);
    let mut conn = pool.check_out().unwrap();
    assert_eq!(conn.service_id(), Some(service));
    assert_eq!(conn.hello_reply().unwrap().service_id, Some(service));
    assert_eq!(pool.service_generation(&service), Some((0, 1)));
    conn.run_command("admin", doc! { "ping": 1 }).unwrap();

    let got = server.received();
    assert_eq!(server.commands(), vec!["hello", "ping"], "hello, not legacy hello");
    assert_eq!(got[0].body.get_bool("loadBalanced").ok(), Some(true));
    assert_eq!(got[0].body.get_i32("hello").ok(), Some(1));
    assert!(!got[0].body.contains_key("helloOk"), "helloOk belongs to legacy hello");
    // Only PoolCleared carries a serviceId among the CMAP events (load-balancers.md "Events");
    // the connection events name the connection, whose service_id() is checked above.
    let ready = rx
        .try_iter()
        .filter(|e| matches!(e, CmapEvent::ConnectionReady(_)))
        .count();
    assert_eq!(ready, 1);
}

#[test]
fn a_reply_without_service_id_fails_with_load_balancing_unsupported() {
    let server = server(None);
    let (pool, rx) = lb_pool(&server, 5);
    let err = pool.check_out().unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::LoadBalancingUnsupported), "{err:?}");
    assert!(
        err.to_string().contains(
            "Driver attempted to initialize in load balancing mode, but the server does not support this mode."
        ),
        "{err}"
    );
    assert_eq!(err.address(), Some(server.address()));
    assert_eq!(err.error_labels().count(), 0, "not a network error: {err}");
    let events: Vec<CmapEvent> = rx.try_iter().collect();
    assert_establishment_failed(&pool, &events);
    assert!(
        server.wait_for_open_connections(0, Duration::from_secs(5)),
        "the socket is closed"
    );
    assert_eq!(server.commands(), vec!["hello"]);
}

#[test]
fn clearing_one_service_leaves_the_other_and_the_pool_ready() {
    let (a, b) = (ObjectId::new(), ObjectId::new());
    let server = server(Some(a));
    server.add(Rule::on_handshake(Action::Reply(hello_from(b))).on_connection(2));
    let (pool, rx) = lb_pool(&server, 10);
    let c1 = pool.check_out().unwrap();
    let c2 = pool.check_out().unwrap();
    let c3 = pool.check_out().unwrap();
    assert_eq!(
        (c1.service_id(), c2.service_id(), c3.service_id()),
        (Some(a), Some(b), Some(a))
    );
    assert_eq!(pool.service_generation(&a), Some((0, 2)));
    assert_eq!(pool.service_generation(&b), Some((0, 1)));
    let _ = rx.try_iter().count();

    pool.clear_service(a, false).unwrap();
    let cleared: Vec<_> = rx
        .try_iter()
        .filter_map(|e| match e {
            CmapEvent::PoolCleared(c) => Some((c.service_id, c.interrupt_in_use_connections)),
            _ => None,
        })
        .collect();
    assert_eq!(
        cleared,
        vec![(Some(a), false)],
        "one PoolCleared carrying the serviceId"
    );
    assert_eq!(pool.service_generation(&a), Some((1, 2)));
    assert_eq!(pool.service_generation(&b), Some((0, 1)));
    let status = pool.status();
    assert_eq!(
        status.state,
        PoolState::Ready,
        "a service clear MUST NOT pause the pool"
    );
    assert_eq!(status.generation, 0);

    // Stale at check-in: a's two sockets are closed, b's connection goes back to the pool.
    drop((c1, c2, c3));
    let closed = closed_events(&rx);
    assert_eq!(
        closed,
        vec![(1, ConnectionClosedReason::Stale), (3, ConnectionClosedReason::Stale)]
    );
    assert!(server.wait_for_open_connections(1, Duration::from_secs(5)));
    assert_eq!(pool.status().available, 1);
    assert_eq!(
        pool.service_generation(&a),
        None,
        "the entry goes with its last connection"
    );

    // b's connection still works over its socket.
    let mut kept = pool.check_out().unwrap();
    assert_eq!((kept.id(), kept.service_id()), (2, Some(b)));
    kept.run_command("admin", doc! { "ping": 1 }).unwrap();
    assert_eq!(server.received().last().unwrap().connection, 2);
}

#[test]
fn a_stale_available_connection_is_closed_at_check_out() {
    let a = ObjectId::new();
    let server = server(Some(a));
    let (pool, rx) = lb_pool(&server, 10);
    drop(pool.check_out().unwrap());
    assert_eq!(pool.status().available, 1);
    let _ = rx.try_iter().count();
    pool.clear_service(a, false).unwrap();
    let mut conn = pool.check_out().unwrap();
    assert_eq!(conn.id(), 2, "a new connection, not the stale one");
    assert_eq!(conn.generation(), 0, "a's entry was removed with its last connection");
    let closed = closed_events(&rx);
    assert_eq!(closed, vec![(1, ConnectionClosedReason::Stale)]);
    conn.run_command("admin", doc! { "ping": 1 }).unwrap();
    assert_eq!(server.connections_accepted(), 2);
    assert!(server.wait_for_open_connections(1, Duration::from_secs(5)));
}

#[test]
fn waiters_keep_waiting_through_a_service_clear_and_get_connections() {
    let a = ObjectId::new();
    let server = server(Some(a));
    let (pool, rx) = lb_pool(&server, 1);
    let held = pool.check_out().unwrap();
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let pool = pool.clone();
            thread::spawn(move || {
                let mut conn = pool.check_out_with_timeout(Some(Duration::from_secs(10)))?;
                conn.run_command("admin", doc! { "ping": 1 })?;
                Ok::<_, mongopool::Error>(conn.id())
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while pool.status().waiters < 2 {
        assert!(Instant::now() < deadline, "the waiters did not queue");
        thread::sleep(Duration::from_millis(1));
    }
    pool.clear_service(a, false).unwrap();
    thread::sleep(Duration::from_millis(50));
    assert_eq!(pool.status().waiters, 2, "the wait queue MUST NOT be cleared");
    assert!(waiters.iter().all(|w| !w.is_finished()));
    assert_eq!(pool.status().state, PoolState::Ready);

    // The stale connection is closed at check-in, which makes room for a new one; the two
    // waiters are served in turn.
    drop(held);
    let mut ids: Vec<u64> = waiters
        .into_iter()
        .map(|w| w.join().unwrap().expect("a waiter is served, not failed"))
        .collect();
    ids.sort();
    assert!(ids.iter().all(|&id| id >= 2), "{ids:?}");
    let failed = rx
        .try_iter()
        .filter(|e| matches!(e, CmapEvent::ConnectionCheckOutFailed(_)))
        .count();
    assert_eq!(failed, 0);
    assert_eq!(server.count("ping"), 2);
}

#[test]
fn a_client_from_a_load_balanced_uri_works_against_the_scripted_server() {
    let service = ObjectId::new();
    let server = server(Some(service));
    let client = Client::with_uri(&format!("{}/?loadBalanced=true&maxPoolSize=2", server.uri())).unwrap();
    assert!(client.options().load_balanced());
    let mut conn = client.check_out().unwrap();
    assert_eq!(conn.service_id(), Some(service));
    conn.run_command("admin", doc! { "ping": 1 }).unwrap();
    drop(conn);
    // The load balancer is never monitored: every handshake the server saw is a pool
    // connection's `hello` with loadBalanced: true.
    thread::sleep(Duration::from_millis(100));
    let handshakes: Vec<_> = server
        .received()
        .into_iter()
        .filter(|r| r.command == "hello" || r.command == "isMaster")
        .collect();
    assert_eq!(handshakes.len(), 1, "{:?}", server.commands());
    assert_eq!(handshakes[0].body.get_bool("loadBalanced").ok(), Some(true));
    client.close();

    // load-balancers.md "URI Validation" (also in the uri-options spec runner).
    for bad in [
        "mongodb://a,b/?loadBalanced=true",
        "mongodb://a/?loadBalanced=true&replicaSet=rs",
        "mongodb://a/?loadBalanced=true&directConnection=true",
    ] {
        let err = ClientOptions::parse(bad).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidArgument { .. }), "{bad}: {err}");
        assert!(err.to_string().contains("loadBalanced"), "{bad}: {err}");
    }
}

#[test]
fn a_client_against_a_server_without_service_id_fails_the_check_out() {
    let server = server(None);
    let options = ClientOptions::parse(&format!("{}/?loadBalanced=true", server.uri())).unwrap();
    let client = Client::new(options).unwrap();
    let err = client.check_out().unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::LoadBalancingUnsupported), "{err:?}");
}
