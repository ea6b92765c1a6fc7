//! The pool at work against a real server: a burst of threads, handshakes slowed by a fail
//! point, a clear, and recovery, with a live status line and a latency summary.
//!
//! Run it with `scripts/demo` (which starts a local SecantusDB), or
//! `cargo run --example demo -- mongodb://host:port` against a server with test commands
//! enabled.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::doc;
use mongopool::{CmapEvent, ErrorKind, Pool, PoolOptions};
use parking_lot::Mutex;

const THREADS: usize = 32;
const APP_NAME: &str = "mongopool-demo";

/// What the worker threads record.
#[derive(Default)]
struct Stats {
    checkouts: AtomicU64,
    waits_us: Mutex<Vec<u64>>,
    errors: Mutex<BTreeMap<String, u64>>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let uri = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "mongodb://127.0.0.1:27017".into());
    let parsed = mongopool::uri::parse(&uri)?;
    let address = parsed.hosts.first().ok_or("the URI names no host")?.clone();
    let options = PoolOptions::builder()
        .max_pool_size(8)
        .min_pool_size(2)
        .max_connecting(2)
        .wait_queue_timeout(Duration::from_secs(2))
        .app_name(APP_NAME)
        .build()?;
    let (tx, events) = crossbeam_channel::unbounded();
    let pool = Pool::builder(address.clone())
        .options(options)
        .event_sender(tx)
        .build()?;
    println!("mongopool demo against {address}: {THREADS} threads, maxPoolSize 8, minPoolSize 2");
    pool.ready()?;

    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (pool, stats, stop) = (pool.clone(), stats.clone(), stop.clone());
            std::thread::spawn(move || worker(&pool, &stats, &stop))
        })
        .collect();

    phase(&pool, &stats, "burst", Duration::from_secs(3));

    // Slow every new handshake of this app by 300 ms, then clear: the pool pauses, waiters
    // fail fast with a retryable error, and re-establishment is visibly rate-limited by
    // maxConnecting.
    let mut admin = mongopool::Connection::connect(&address, &Default::default())?;
    admin.run_command(
        "admin",
        doc! {
            "configureFailPoint": "failCommand", "mode": "alwaysOn",
            "data": { "failCommands": ["isMaster", "hello"], "blockConnection": true,
                      "blockTimeMS": 300, "appName": APP_NAME },
        },
    )?;
    pool.clear_with_cause(false, "demo: simulated server failover");
    std::thread::sleep(Duration::from_millis(200));
    pool.ready()?;
    phase(&pool, &stats, "slow handshakes after a clear", Duration::from_secs(3));

    admin.run_command("admin", doc! { "configureFailPoint": "failCommand", "mode": "off" })?;
    phase(&pool, &stats, "recovery", Duration::from_secs(2));

    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    pool.close();

    summary(&stats, &events);
    Ok(())
}

/// Check out, ping, check in, until told to stop; retries after retryable errors.
fn worker(pool: &Pool, stats: &Stats, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let start = Instant::now();
        match pool.check_out() {
            Ok(mut conn) => {
                stats.waits_us.lock().push(start.elapsed().as_micros() as u64);
                stats.checkouts.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = conn.run_command("admin", doc! { "ping": 1 }) {
                    *stats.errors.lock().entry(kind_name(e.kind())).or_default() += 1;
                }
            }
            Err(e) => {
                *stats.errors.lock().entry(kind_name(e.kind())).or_default() += 1;
                if e.is_retryable() {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

fn kind_name(kind: &ErrorKind) -> String {
    let debug = format!("{kind:?}");
    debug.split([' ', '(', '{']).next().unwrap_or("Other").to_owned()
}

/// Runs for `length`, redrawing a one-line status with a progress bar.
fn phase(pool: &Pool, stats: &Stats, name: &str, length: Duration) {
    println!("\n== {name}");
    let start = Instant::now();
    let mut last = stats.checkouts.load(Ordering::Relaxed);
    let mut last_at = start;
    while start.elapsed() < length {
        std::thread::sleep(Duration::from_millis(200));
        let now = stats.checkouts.load(Ordering::Relaxed);
        let rate = (now - last) as f64 / last_at.elapsed().as_secs_f64();
        last = now;
        last_at = Instant::now();
        let s = pool.status();
        let done = (start.elapsed().as_secs_f64() / length.as_secs_f64()).min(1.0);
        let bar: String = (0..20)
            .map(|i| if (i as f64) < done * 20.0 { '#' } else { '.' })
            .collect();
        print!(
            "\r[{bar}] total {:>2} avail {:>2} pending {} in use {:>2} waiters {:>2} | {:>7.0} check-outs/s  ",
            s.total, s.available, s.pending, s.in_use, s.waiters, rate
        );
        let _ = std::io::stdout().flush();
    }
    println!();
}

fn summary(stats: &Stats, events: &crossbeam_channel::Receiver<CmapEvent>) {
    let mut waits = stats.waits_us.lock().clone();
    waits.sort_unstable();
    let pct = |p: f64| {
        waits
            .get(((waits.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0)
    };
    println!("\n== summary");
    println!("check-outs: {}", stats.checkouts.load(Ordering::Relaxed));
    println!(
        "check-out wait: p50 {} us, p99 {} us, max {} us",
        pct(0.50),
        pct(0.99),
        waits.last().copied().unwrap_or(0)
    );
    let errors = stats.errors.lock();
    if errors.is_empty() {
        println!("errors: none");
    } else {
        let list: Vec<String> = errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!("errors: {}", list.join(", "));
    }
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for e in events.try_iter() {
        *counts.entry(e.name()).or_default() += 1;
    }
    let list: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("events: {}", list.join(", "));
}
