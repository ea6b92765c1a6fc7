//! Many threads sharing one pool, each holding a connection only while it works (RAII).
//!
//! `cargo run --example worker_pool -- mongodb://localhost:27017`

use std::time::{Duration, Instant};

use bson::doc;
use mongopool::{Pool, PoolOptions};

fn main() -> Result<(), mongopool::Error> {
    let uri = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "mongodb://localhost:27017".into());
    let address = mongopool::uri::parse(&uri)?.hosts.remove(0);
    let pool = Pool::new(
        address,
        PoolOptions::builder()
            .max_pool_size(4) // 16 workers share 4 connections, served in FIFO order
            .wait_queue_timeout(Duration::from_secs(5))
            .build()?,
    )?;
    pool.ready()?;

    let start = Instant::now();
    let workers: Vec<_> = (0..16)
        .map(|worker| {
            let pool = pool.clone();
            std::thread::spawn(move || -> Result<u32, mongopool::Error> {
                let mut done = 0;
                for i in 0..50 {
                    let mut conn = pool.check_out()?;
                    conn.run_command(
                        "mongopool_example",
                        doc! { "insert": "jobs", "documents": [{ "worker": worker, "i": i }] },
                    )?;
                    done += 1;
                    // `conn` is checked in here, at the end of the loop body.
                }
                Ok(done)
            })
        })
        .collect();
    let mut total = 0;
    for w in workers {
        total += w.join().expect("worker panicked")?;
    }
    let mut conn = pool.check_out()?;
    let count = conn.run_command("mongopool_example", doc! { "count": "jobs" })?;
    conn.run_command("mongopool_example", doc! { "drop": "jobs" })?;
    println!(
        "{total} inserts by 16 threads on 4 connections in {:?}; server count {}",
        start.elapsed(),
        count.get("n").map(|n| n.to_string()).unwrap_or_default()
    );
    println!("pool: {:?}", pool.status());
    Ok(())
}
