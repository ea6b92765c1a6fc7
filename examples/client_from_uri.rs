//! A `Client` from a `mongodb://` connection string: one pool per server, made ready by the
//! server's monitor, so there is no `ready()` call; then a command, and the error handling a
//! driver does around it.
//!
//! `cargo run --example client_from_uri -- "mongodb://localhost:27017/?maxPoolSize=4"`
//! (or set `MONGODB_URI`).

use std::process::ExitCode;

use bson::doc;
use mongopool::Client;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Display, not Debug: the error's message names what was wrong.
            eprintln!("client_from_uri: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), mongopool::Error> {
    let uri = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("MONGODB_URI").ok())
        .unwrap_or_else(|| "mongodb://localhost:27017/?maxPoolSize=4".into());

    // Parses the URI (pool options such as maxPoolSize, minPoolSize, maxConnecting,
    // waitQueueTimeoutMS, maxIdleTimeMS, appName, serverSelectionTimeoutMS) and starts one
    // monitor thread per host.
    let client = Client::with_uri(&uri)?;
    println!("hosts: {:?}", client.options().hosts());

    // Waits (up to serverSelectionTimeoutMS) for a monitor to find a suitable server.
    let mut conn = client.check_out()?;
    let address = conn.address().clone();
    match conn.run_command("admin", doc! { "ping": 1 }) {
        Ok(reply) => println!("ping on {address}: {reply}"),
        Err(e) => {
            // Tell the client, so a network error clears that server's pool as SDAM requires.
            client.handle_application_error(&conn, &e);
            return Err(e);
        }
    }
    drop(conn); // checked back in

    println!("server type of {address}: {:?}", client.server_type(&address));
    if let Some(pool) = client.pool(&address) {
        println!("pool of {address}: {:?}", pool.status());
    }
    client.close(); // stops the monitors, closes the pools, joins their threads
    println!("closed");
    Ok(())
}
