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
