//! Pools for tests: built, subscribed to over a channel, and ready; and the checks that a
//! failed establishment left the pool clean.

use crossbeam_channel::Receiver;
use mongopool::events::{ConnectionCheckOutFailedReason, ConnectionClosedReason};
use mongopool::{CmapEvent, Pool, PoolOptions, PoolState, ServerAddress};

/// A ready pool for `address` with `options`, and the receiver of its events.
pub fn ready_pool(address: ServerAddress, options: PoolOptions) -> (Pool, Receiver<CmapEvent>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let pool = Pool::builder(address)
        .options(options)
        .event_sender(tx)
        .build()
        .unwrap();
    pool.ready().unwrap();
    (pool, rx)
}

/// Asserts that a failed establishment shows as a connection closed with reason `error` and a
/// check-out failed with `connectionError`, that nothing became ready, and that the pool is
/// empty and still ready.
pub fn assert_establishment_failed(pool: &Pool, events: &[CmapEvent]) {
    assert!(events.iter().any(|e| matches!(
        e,
        CmapEvent::ConnectionCheckOutFailed(f) if f.reason == ConnectionCheckOutFailedReason::ConnectionError
    )));
    assert!(events.iter().any(|e| matches!(
        e,
        CmapEvent::ConnectionClosed(c) if c.reason == ConnectionClosedReason::Error
    )));
    assert!(!events.iter().any(|e| matches!(e, CmapEvent::ConnectionReady(_))));
    let status = pool.status();
    assert_eq!((status.total, status.pending, status.state), (0, 0, PoolState::Ready));
}
