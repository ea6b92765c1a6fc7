//! Handling errors: retrying an operation after a retryable error such as PoolClearedError.
//!
//! `cargo run --example retry -- mongodb://localhost:27017`

use std::time::Duration;

use bson::{doc, Document};
use mongopool::{ErrorKind, Pool, PoolOptions};

/// Runs `command` with one retry on a retryable error (pool cleared, connection interrupted,
/// network error labelled RetryableError), as drivers do for retryable reads.
fn run_with_retry(pool: &Pool, command: Document) -> Result<Document, mongopool::Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = pool
            .check_out()
            .and_then(|mut conn| conn.run_command("admin", command.clone()));
        match result {
            Err(e) if e.is_retryable() && attempt < 2 => {
                println!("attempt {attempt} failed with a retryable error: {e}");
                // A paused pool becomes ready again after the next successful server check;
                // this example plays the monitor's part itself.
                std::thread::sleep(Duration::from_millis(50));
                pool.ready()?;
            }
            other => return other,
        }
    }
}

fn main() -> Result<(), mongopool::Error> {
    let uri = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "mongodb://localhost:27017".into());
    let address = mongopool::uri::parse(&uri)?.hosts.remove(0);
    let pool = Pool::new(
        address,
        PoolOptions::builder()
            .wait_queue_timeout(Duration::from_secs(1))
            .build()?,
    )?;
    pool.ready()?;

    // Simulate what a monitor does when the server stops answering: clear the pool.
    pool.clear_with_cause(false, "simulated network error");
    match pool.check_out() {
        Err(e) if matches!(e.kind(), ErrorKind::PoolCleared { .. }) => println!("as expected: {e}"),
        other => println!("unexpected: {other:?}"),
    }
    let reply = run_with_retry(&pool, doc! { "ping": 1 })?;
    println!("after retry: {reply}");
    Ok(())
}
