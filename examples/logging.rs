//! The CMAP log messages through the `log` facade, printed by `env_logger` with their
//! structured key-value fields.
//!
//! `RUST_LOG=mongopool::connection=debug cargo run --example logging -- mongodb://localhost:27017`

use mongopool::{Pool, PoolOptions};

fn main() -> Result<(), mongopool::Error> {
    // Default to the pool's messages at debug level when RUST_LOG is not set.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("mongopool::connection=debug")).init();

    let uri = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "mongodb://localhost:27017".into());
    let address = mongopool::uri::parse(&uri)?.hosts.remove(0);
    let pool = Pool::new(address, PoolOptions::builder().max_pool_size(2).build()?)?;
    pool.ready()?;
    pool.check_out()?.run_command("admin", bson::doc! { "ping": 1 })?;
    pool.close();
    Ok(())
}
