//! A pool, a checked-out connection, a command.
//!
//! `cargo run --example quickstart -- mongodb://localhost:27017`

use mongopool::{Pool, PoolOptions};

fn main() -> Result<(), mongopool::Error> {
    let uri = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "mongodb://localhost:27017".into());
    let address = mongopool::uri::parse(&uri)?.hosts.remove(0);

    let pool = Pool::new(address, PoolOptions::builder().max_pool_size(10).build()?)?;
    // A pool starts paused; a Client's monitor marks it ready after a server check.
    pool.ready()?;

    let mut conn = pool.check_out()?;
    let reply = conn.run_command("admin", bson::doc! { "ping": 1 })?;
    println!("ping: {reply}");
    let hello = conn.hello_reply().map(|h| h.max_wire_version);
    println!(
        "connection {} (server connection id {:?}), maxWireVersion {hello:?}",
        conn.id(),
        conn.server_connection_id()
    );
    drop(conn); // checked back in

    println!("pool: {:?}", pool.status());
    Ok(())
}
