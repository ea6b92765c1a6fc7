//! Unit tests of the pool that need its internals (fork detection).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use super::*;
use crate::conn::Interrupter;

struct Detached;

impl Establisher for Detached {
    fn establish(&self, address: &ServerAddress, _: Arc<Interrupter>) -> Result<Connection> {
        Ok(Connection::detached(address.clone()))
    }
}

static FAKE_PID: AtomicU32 = AtomicU32::new(100);

fn fake_pid() -> u32 {
    FAKE_PID.load(Ordering::SeqCst)
}

#[test]
fn a_changed_pid_clears_the_pool_before_check_out() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let pool = Pool::builder("db:27017".parse().unwrap())
        .establisher(Arc::new(Detached))
        .event_sender(tx)
        .pid_source(fake_pid)
        .build()
        .unwrap();
    pool.ready().unwrap();
    let first = pool.check_out().unwrap();
    assert_eq!(first.generation(), 0);
    drop(first);
    assert_eq!(pool.status().available, 1);

    FAKE_PID.store(101, Ordering::SeqCst); // "fork"
    let second = pool.check_out().unwrap();
    // The inherited connection was closed as stale and a new one made in generation 1.
    assert_eq!(second.generation(), 1);
    assert_eq!(second.id(), 2);
    assert_eq!(pool.status().state, PoolState::Ready);
    let names: Vec<&str> = rx.try_iter().map(|e| e.name()).collect::<Vec<_>>().leak().to_vec();
    let cleared = names
        .iter()
        .position(|n| *n == "ConnectionPoolCleared")
        .expect("PoolCleared");
    let closed = names
        .iter()
        .position(|n| *n == "ConnectionClosed")
        .expect("ConnectionClosed");
    assert!(cleared < closed, "{names:?}");
    drop(second);
    pool.close();
}

#[test]
fn after_a_fork_connections_held_by_vanished_threads_stop_counting() {
    static PID: AtomicU32 = AtomicU32::new(200);
    fn pid() -> u32 {
        PID.load(Ordering::SeqCst)
    }
    let pool = Pool::builder("db:27017".parse().unwrap())
        .options(PoolOptions::builder().max_pool_size(2).build().unwrap())
        .establisher(Arc::new(Detached))
        .pid_source(pid)
        .build()
        .unwrap();
    pool.ready().unwrap();
    // Two connections in use: the pool is at maxPoolSize.
    let a = pool.check_out().unwrap();
    let b = pool.check_out().unwrap();
    PID.store(201, Ordering::SeqCst); // "fork": the threads holding a and b are gone
    let c = pool
        .check_out_with_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    let d = pool
        .check_out_with_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    assert_eq!(pool.status().total, 2);
    // An inherited guard checked in by the forking thread does not disturb the counts.
    drop(a);
    drop(b);
    let status = pool.status();
    assert_eq!((status.total, status.in_use), (2, 2));
    drop((c, d));
    assert_eq!(pool.status().available, 2);
}
