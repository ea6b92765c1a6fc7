//! Load-balanced mode (cmap.md "Load Balancer Mode", "Clearing a load balanced pool";
//! load-balancers.md "Connection Pooling"), with connections that report the service a load
//! balancer routed them to.

mod support;

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use bson::oid::ObjectId;
use crossbeam_channel::Receiver;
use mongopool::events::ConnectionClosedReason;
use mongopool::{
    CmapEvent, Connection, ErrorKind, Establisher, Interrupter, Pool, PoolOptions, PoolState, ServerAddress,
};
use parking_lot::Mutex;
use support::pools::assert_establishment_failed;

/// Routes each new connection to the next service of a script (or to none: `None` stands for
/// a server whose hello has no serviceId).
struct Balancer {
    script: Mutex<VecDeque<Option<ObjectId>>>,
}

impl Balancer {
    fn new(script: impl IntoIterator<Item = Option<ObjectId>>) -> Arc<Self> {
        Arc::new(Balancer {
            script: Mutex::new(script.into_iter().collect()),
        })
    }
}

impl Establisher for Balancer {
    fn establish(&self, address: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
        match self
            .script
            .lock()
            .pop_front()
            .expect("the test's script ran out of services")
        {
            Some(service) => Ok(Connection::detached_load_balanced(address.clone(), service)),
            None => Ok(Connection::detached(address.clone())),
        }
    }
}

fn lb_pool(max_pool_size: u32, balancer: Arc<Balancer>) -> (Pool, Receiver<CmapEvent>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let options = PoolOptions::builder()
        .load_balanced(true)
        .max_pool_size(max_pool_size)
        .build()
        .unwrap();
    let pool = Pool::builder("lb.example:27017".parse().unwrap())
        .options(options)
        .establisher(balancer)
        .event_sender(tx)
        .build()
        .unwrap();
    pool.ready().unwrap();
    (pool, rx)
}

fn cleared_events(rx: &Receiver<CmapEvent>) -> Vec<Option<ObjectId>> {
    rx.try_iter()
        .filter_map(|e| match e {
            CmapEvent::PoolCleared(c) => Some(c.service_id),
            _ => None,
        })
        .collect()
}

#[test]
fn each_service_has_its_own_generation_and_count() {
    let (a, b) = (ObjectId::new(), ObjectId::new());
    let (pool, rx) = lb_pool(10, Balancer::new([Some(a), Some(b), Some(a), Some(a)]));
    let c1 = pool.check_out().unwrap();
    let c2 = pool.check_out().unwrap();
    let c3 = pool.check_out().unwrap();
    assert_eq!(
        (c1.service_id(), c2.service_id(), c3.service_id()),
        (Some(a), Some(b), Some(a))
    );
    assert_eq!(pool.service_generation(&a), Some((0, 2)));
    assert_eq!(pool.service_generation(&b), Some((0, 1)));

    pool.clear_service(a, false).unwrap();
    assert_eq!(
        cleared_events(&rx),
        vec![Some(a)],
        "one PoolCleared, carrying the serviceId"
    );
    assert_eq!(pool.service_generation(&a), Some((1, 2)));
    assert_eq!(
        pool.service_generation(&b),
        Some((0, 1)),
        "another service is untouched"
    );
    let status = pool.status();
    assert_eq!(status.state, PoolState::Ready, "a load-balanced clear MUST NOT pause");
    assert_eq!(status.generation, 0, "the pool's own generation does not move");

    // The stale connections of `a` are closed at check-in; `b`'s goes back to the pool.
    drop((c1, c2, c3));
    let closed: Vec<_> = rx
        .try_iter()
        .filter_map(|e| match e {
            CmapEvent::ConnectionClosed(c) => Some((c.connection_id, c.reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        closed,
        vec![(1, ConnectionClosedReason::Stale), (3, ConnectionClosedReason::Stale)]
    );
    assert_eq!(
        pool.service_generation(&a),
        None,
        "the entry goes when its count reaches 0"
    );
    assert_eq!(pool.service_generation(&b), Some((0, 1)));
    assert_eq!(pool.status().available, 1);

    // A new connection to `a` starts a new entry at generation 0 and is not stale.
    let kept = pool.check_out().unwrap();
    assert_eq!(kept.service_id(), Some(b), "the available connection is reused first");
    let fresh = pool.check_out().unwrap();
    assert_eq!(fresh.service_id(), Some(a));
    assert_eq!(pool.service_generation(&a), Some((0, 1)));
    drop((kept, fresh));
    assert_eq!(pool.status().available, 2);
}

#[test]
fn a_service_clear_keeps_waiters_waiting() {
    let a = ObjectId::new();
    let (pool, rx) = lb_pool(1, Balancer::new([Some(a), Some(a)]));
    let held = pool.check_out().unwrap();
    let waiter = {
        let pool = pool.clone();
        thread::spawn(move || pool.check_out_with_timeout(Some(Duration::from_secs(10))))
    };
    while pool.status().waiters == 0 {
        thread::sleep(Duration::from_millis(1));
    }
    pool.clear_service(a, false).unwrap();
    thread::sleep(Duration::from_millis(50));
    assert_eq!(pool.status().waiters, 1, "the wait queue MUST NOT be cleared");
    assert!(!waiter.is_finished());
    // The stale connection is closed at check-in, which frees room for the waiter's own.
    drop(held);
    let conn = waiter.join().unwrap().expect("the waiter is served, not failed");
    assert_eq!(conn.service_id(), Some(a));
    // The stale connection's close took the service's count to 0, which removed its entry
    // (cmap.md "Load Balancer Mode"), so the new connection starts a new entry.
    assert_eq!(conn.generation(), 0);
    assert_eq!(pool.service_generation(&a), Some((0, 1)));
    assert_eq!(conn.id(), 2);
    let failed = rx
        .try_iter()
        .filter(|e| matches!(e, CmapEvent::ConnectionCheckOutFailed(_)))
        .count();
    assert_eq!(failed, 0);
}

#[test]
fn clear_of_a_load_balanced_pool_clears_every_service_without_pausing() {
    let (a, b) = (ObjectId::new(), ObjectId::new());
    let (pool, rx) = lb_pool(10, Balancer::new([Some(a), Some(b)]));
    let c1 = pool.check_out().unwrap();
    let c2 = pool.check_out().unwrap();
    pool.clear(false);
    let mut cleared = cleared_events(&rx);
    cleared.sort();
    let mut expected = vec![Some(a), Some(b)];
    expected.sort();
    assert_eq!(cleared, expected);
    assert_eq!(pool.status().state, PoolState::Ready);
    drop((c1, c2));
    assert_eq!(pool.status().total, 0, "both were stale");
}

#[test]
fn a_reply_without_service_id_fails_the_check_out() {
    let (pool, rx) = lb_pool(10, Balancer::new([None]));
    let err = pool.check_out().unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::LoadBalancingUnsupported), "{err:?}");
    let message = "Driver attempted to initialize in load balancing mode, but the server does not support this mode.";
    assert!(err.to_string().contains(message), "{err}");
    let events: Vec<CmapEvent> = rx.try_iter().collect();
    assert_establishment_failed(&pool, &events);
}

#[test]
fn service_clears_are_refused_by_a_pool_that_is_not_load_balanced() {
    let pool = Pool::with_establisher(
        "db.example:27017".parse().unwrap(),
        PoolOptions::default(),
        Balancer::new([]),
    )
    .unwrap();
    let err = pool.clear_service(ObjectId::new(), false).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidArgument { .. }), "{err}");
    assert_eq!(pool.service_generation(&ObjectId::new()), None);
}

#[test]
fn population_in_load_balanced_mode_registers_services() {
    let (a, b) = (ObjectId::new(), ObjectId::new());
    let (tx, rx) = crossbeam_channel::unbounded();
    let options = PoolOptions::builder()
        .load_balanced(true)
        .min_pool_size(3)
        .max_pool_size(5)
        .maintenance_interval(Some(Duration::from_millis(10)))
        .build()
        .unwrap();
    let pool = Pool::builder("lb.example:27017".parse().unwrap())
        .options(options)
        .establisher(Balancer::new(
            [Some(a), Some(b), Some(a)].into_iter().chain([Some(b); 10]),
        ))
        .event_sender(tx)
        .build()
        .unwrap();
    pool.ready().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while pool.status().available < 3 && std::time::Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(pool.status().available, 3);
    let counts = (
        pool.service_generation(&a).map(|e| e.1).unwrap_or(0),
        pool.service_generation(&b).map(|e| e.1).unwrap_or(0),
    );
    assert_eq!(counts.0 + counts.1, 3);
    // The background thread prunes a cleared service's available connections and refills.
    pool.clear_service(a, false).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let stale_closed = || {
        rx.try_iter()
            .filter(|e| matches!(e, CmapEvent::ConnectionClosed(c) if c.reason == ConnectionClosedReason::Stale))
            .count()
    };
    let mut closed = 0;
    while closed < counts.0 as usize && std::time::Instant::now() < deadline {
        closed += stale_closed();
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        closed, counts.0 as usize,
        "every connection of the cleared service is pruned"
    );
    assert_eq!(pool.service_generation(&a), None);
    while pool.status().available < 3 && std::time::Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        pool.service_generation(&b).map(|e| e.1),
        Some(3),
        "refilled with b's connections"
    );
    pool.close();
}

#[test]
fn a_wait_queue_timeout_names_the_connections_in_use_by_purpose() {
    use mongopool::PinnedTo;
    let a = ObjectId::new();
    let (pool, _rx) = lb_pool(3, Balancer::new([Some(a); 3]));
    let mut cursor = pool.check_out().unwrap();
    cursor.pin(PinnedTo::Cursor);
    let mut txn = pool.check_out().unwrap();
    txn.pin(PinnedTo::Transaction);
    let other = pool.check_out().unwrap();
    let err = pool
        .check_out_with_timeout(Some(Duration::from_millis(20)))
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(
            "Timeout waiting for connection from the connection pool. maxPoolSize: 3, connections in use by \
             cursors: 1, connections in use by transactions: 1, connections in use by other operations: 1"
        ),
        "{text}"
    );
    // Re-pinning moves the count; unpinning and check-in release it.
    txn.pin(PinnedTo::Cursor);
    assert_eq!(pool.in_use_by_purpose().cursors, 2);
    assert_eq!(pool.in_use_by_purpose().transactions, 0);
    cursor.unpin();
    assert_eq!(pool.in_use_by_purpose().cursors, 1);
    drop((cursor, txn, other));
    assert_eq!(pool.in_use_by_purpose(), mongopool::InUseByPurpose::default());
}
