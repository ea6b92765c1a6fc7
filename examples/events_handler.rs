//! Receiving CMAP events through callbacks (the `CmapEventHandler` trait).
//!
//! `cargo run --example events_handler -- mongodb://localhost:27017`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use mongopool::events::{ConnectionCheckedOutEvent, ConnectionCreatedEvent, PoolClosedEvent};
use mongopool::{CmapEventHandler, Pool, PoolOptions};

/// Counts check-outs and prints connection creation; handlers run on their own thread.
#[derive(Default)]
struct Metrics {
    checkouts: AtomicU64,
}

impl CmapEventHandler for Metrics {
    fn handle_connection_created_event(&self, event: ConnectionCreatedEvent) {
        println!("connection {} created to {}", event.connection_id, event.address);
    }
    fn handle_connection_checked_out_event(&self, _: ConnectionCheckedOutEvent) {
        self.checkouts.fetch_add(1, Ordering::Relaxed);
    }
    fn handle_pool_closed_event(&self, event: PoolClosedEvent) {
        println!(
            "pool for {} closed after {} check-outs",
            event.address,
            self.checkouts.load(Ordering::Relaxed)
        );
    }
}

fn main() -> Result<(), mongopool::Error> {
    let uri = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "mongodb://localhost:27017".into());
    let address = mongopool::uri::parse(&uri)?.hosts.remove(0);
    let metrics = Arc::new(Metrics::default());
    let pool = Pool::builder(address)
        .options(PoolOptions::default())
        .event_handler(metrics.clone())
        .build()?;
    pool.ready()?;
    for _ in 0..10 {
        pool.check_out()?.run_command("admin", bson::doc! { "ping": 1 })?;
    }
    pool.close();
    // The handler thread delivers in order; give it a moment to print the close.
    std::thread::sleep(std::time::Duration::from_millis(100));
    Ok(())
}
