//! Reading the CMAP event stream from a crossbeam channel.
//!
//! `cargo run --example events_channel -- mongodb://localhost:27017`

use mongopool::{CmapEvent, Pool, PoolOptions};

fn main() -> Result<(), mongopool::Error> {
    let uri = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "mongodb://localhost:27017".into());
    let address = mongopool::uri::parse(&uri)?.hosts.remove(0);

    // Subscribe through the builder so the stream starts with ConnectionPoolCreated.
    let (tx, events) = crossbeam_channel::unbounded();
    let pool = Pool::builder(address)
        .options(PoolOptions::default())
        .event_sender(tx)
        .build()?;
    pool.ready()?;
    for _ in 0..2 {
        let mut conn = pool.check_out()?;
        conn.run_command("admin", bson::doc! { "ping": 1 })?;
    }
    pool.close();

    for event in events.try_iter() {
        match &event {
            CmapEvent::ConnectionReady(e) => println!(
                "{:<26} id={} established in {:?}",
                event.name(),
                e.connection_id,
                e.duration
            ),
            CmapEvent::ConnectionCheckedOut(e) => {
                println!("{:<26} id={} after {:?}", event.name(), e.connection_id, e.duration)
            }
            CmapEvent::ConnectionClosed(e) => println!(
                "{:<26} id={} reason={}",
                event.name(),
                e.connection_id,
                e.reason.as_str()
            ),
            other => println!("{:<26} {}", other.name(), other.address()),
        }
    }
    Ok(())
}
