//! The pool at work against a real server: a burst of threads, handshakes slowed by a fail
//! point, a clear, and recovery, with a live status line, a latency summary, and the event
//! timeline written as JSON lines and as an HTML page.
//!
//! Run it with `scripts/demo` (which starts a local SecantusDB), or
//! `cargo run --release --example demo -- mongodb://host:port [OUT_DIR]` against a server with
//! test commands enabled. The URI may also come from `MONGODB_URI`; the timeline files go to
//! `OUT_DIR` (default: `mongopool-demo` in the temp directory).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::doc;
use mongopool::timeline::TimelineRecorder;
use mongopool::{Connection, ErrorKind, Pool, PoolOptions, ServerAddress};
use parking_lot::Mutex;

const THREADS: usize = 32;
const MAX_POOL_SIZE: u32 = 8;
const APP_NAME: &str = "mongopool-demo";
/// How long a worker keeps its connection after the ping: the "work" of a request.
const WORK: Duration = Duration::from_millis(2);
/// How long the fail point holds every new handshake of this app.
const SLOW_HANDSHAKE_MS: i32 = 300;

/// (short name, description, length) of each phase.
const PHASES: [(&str, &str, Duration); 3] = [
    ("burst", "32 threads on 8 connections", Duration::from_secs(3)),
    (
        "clear, slow handshakes",
        "a clear, then handshakes slowed to 300 ms by a fail point",
        Duration::from_secs(3),
    ),
    ("recovery", "fail point off", Duration::from_secs(2)),
];

/// What the worker threads record.
struct Stats {
    checkouts: AtomicU64,
    /// The phase running now, an index into `PHASES`.
    phase: AtomicUsize,
    /// Check-out waits in microseconds, per phase.
    waits_us: Mutex<Vec<Vec<u64>>>,
    errors: Mutex<BTreeMap<String, u64>>,
}

/// Turns the fail point off when dropped, so a failed run leaves no fail point behind on a
/// shared server.
struct FailPoint {
    admin: Connection,
    on: bool,
}

impl FailPoint {
    fn block_handshakes(address: &ServerAddress) -> mongopool::Result<FailPoint> {
        let mut admin = Connection::connect(address, &Default::default())?;
        // Both handshake commands are listed: a server may see either (SecantusDB checks the
        // name as sent). Only connections with this app name are slowed, not `admin` itself.
        admin.run_command(
            "admin",
            doc! {
                "configureFailPoint": "failCommand", "mode": "alwaysOn",
                "data": { "failCommands": ["isMaster", "hello"], "blockConnection": true,
                          "blockTimeMS": SLOW_HANDSHAKE_MS, "appName": APP_NAME },
            },
        )?;
        Ok(FailPoint { admin, on: true })
    }

    fn off(&mut self) -> mongopool::Result<()> {
        self.admin
            .run_command("admin", doc! { "configureFailPoint": "failCommand", "mode": "off" })?;
        self.on = false;
        Ok(())
    }
}

impl Drop for FailPoint {
    fn drop(&mut self) {
        if self.on {
            let _ = self.off();
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let uri = args
        .next()
        .or_else(|| std::env::var("MONGODB_URI").ok())
        .unwrap_or_else(|| "mongodb://127.0.0.1:27017".into());
    let out_dir = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("mongopool-demo"));
    std::fs::create_dir_all(&out_dir)?;
    let out_dir = out_dir.canonicalize()?;
    let jsonl_path = out_dir.join("timeline.jsonl");
    let html_path = out_dir.join("timeline.html");

    let parsed = mongopool::uri::parse(&uri)?;
    let address = parsed.hosts.first().ok_or("the URI names no host")?.clone();
    let options = PoolOptions::builder()
        .max_pool_size(MAX_POOL_SIZE)
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

    // One thread writes the event stream to the timeline file and counts the events; it ends
    // when the channel disconnects, after the pool is closed and dropped.
    let recorder = TimelineRecorder::create(&jsonl_path)?;
    let recorder_thread = std::thread::spawn(move || {
        let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
        for event in events {
            recorder.record(&event);
            *counts.entry(event.name()).or_default() += 1;
        }
        recorder.flush().map(|()| counts)
    });

    println!(
        "mongopool demo against {address}: {THREADS} threads, maxPoolSize {MAX_POOL_SIZE}, minPoolSize 2, \
         maxConnecting 2; each check-out runs a ping and holds the connection {} ms",
        WORK.as_millis()
    );
    pool.ready()?;

    let stats = Arc::new(Stats {
        checkouts: AtomicU64::new(0),
        phase: AtomicUsize::new(0),
        waits_us: Mutex::new(vec![Vec::new(); PHASES.len()]),
        errors: Mutex::new(BTreeMap::new()),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (pool, stats, stop) = (pool.clone(), stats.clone(), stop.clone());
            std::thread::spawn(move || worker(&pool, &stats, &stop))
        })
        .collect();

    phase(&pool, &stats, 0);

    // Slow every new handshake of this app, then clear as a monitor would after a network
    // error: the pool pauses, waiters fail fast with a retryable error, connections in use
    // are closed as stale when checked in, and re-establishment is rate-limited by
    // maxConnecting.
    let mut fail_point = FailPoint::block_handshakes(&address)?;
    pool.clear_with_cause(false, "demo: simulated network error");
    std::thread::sleep(Duration::from_millis(200));
    pool.ready()?;
    phase(&pool, &stats, 1);

    fail_point.off()?;
    phase(&pool, &stats, 2);

    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    pool.close();
    drop(pool);
    let counts = recorder_thread
        .join()
        .map_err(|_| "the timeline recorder thread panicked")??;

    summary(&stats, &counts);

    let title = format!("mongopool demo against {address}");
    let html = mongopool::timeline::render_file(&jsonl_path, &title)?;
    std::fs::write(&html_path, html)?;
    println!("timeline events: {}", jsonl_path.display());
    println!("timeline page:   {}", html_path.display());
    Ok(())
}

/// Check out, ping, work, check in, until told to stop; retries after retryable errors.
fn worker(pool: &Pool, stats: &Stats, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let start = Instant::now();
        match pool.check_out() {
            Ok(mut conn) => {
                let waited = start.elapsed().as_micros() as u64;
                let phase = stats.phase.load(Ordering::Relaxed);
                if let Some(waits) = stats.waits_us.lock().get_mut(phase) {
                    waits.push(waited);
                }
                stats.checkouts.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = conn.run_command("admin", doc! { "ping": 1 }) {
                    *stats.errors.lock().entry(kind_name(e.kind())).or_default() += 1;
                }
                std::thread::sleep(WORK);
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

/// Runs phase `index`, redrawing a one-line status with a progress bar (on a terminal; once a
/// second on a line of its own otherwise).
fn phase(pool: &Pool, stats: &Stats, index: usize) {
    let (name, description, length) = PHASES[index];
    stats.phase.store(index, Ordering::Relaxed);
    println!("\n== phase {}/{}: {name}: {description}", index + 1, PHASES.len());
    let terminal = std::io::stdout().is_terminal();
    let tick = if terminal {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(1)
    };
    let start = Instant::now();
    let mut last = stats.checkouts.load(Ordering::Relaxed);
    let mut last_at = start;
    while start.elapsed() < length {
        std::thread::sleep(tick.min(length.saturating_sub(start.elapsed())));
        let now = stats.checkouts.load(Ordering::Relaxed);
        let rate = (now - last) as f64 / last_at.elapsed().as_secs_f64().max(1e-3);
        last = now;
        last_at = Instant::now();
        let s = pool.status();
        let done = (start.elapsed().as_secs_f64() / length.as_secs_f64()).min(1.0);
        let bar: String = (0..20)
            .map(|i| if (i as f64) < done * 20.0 { '#' } else { '.' })
            .collect();
        let line = format!(
            "[{bar}] {:>3.0}% total {:>2} avail {:>2} pending {} in use {:>2} waiters {:>2} | {:>6.0} check-outs/s",
            done * 100.0,
            s.total,
            s.available,
            s.pending,
            s.in_use,
            s.waiters,
            rate
        );
        if terminal {
            print!("\r{line}  ");
            let _ = std::io::stdout().flush();
        } else {
            println!("{line}");
        }
    }
    if terminal {
        println!();
    }
}

/// p50, p99 and max of sorted `waits`, in milliseconds.
fn percentiles(waits: &[u64]) -> (f64, f64, f64) {
    let at = |p: f64| {
        waits
            .get(((waits.len().saturating_sub(1)) as f64 * p).round() as usize)
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    (at(0.50), at(0.99), waits.last().copied().unwrap_or(0) as f64 / 1000.0)
}

fn summary(stats: &Stats, counts: &BTreeMap<&'static str, u64>) {
    println!("\n== summary");
    println!("check-out wait (ms)            check-outs      p50      p99      max");
    let mut all = Vec::new();
    for (waits, (name, _, _)) in stats.waits_us.lock().iter_mut().zip(PHASES) {
        waits.sort_unstable();
        let (p50, p99, max) = percentiles(waits);
        println!("  {name:<28} {:>10} {p50:>8.2} {p99:>8.2} {max:>8.2}", waits.len());
        all.extend_from_slice(waits);
    }
    all.sort_unstable();
    let (p50, p99, max) = percentiles(&all);
    println!("  {:<28} {:>10} {p50:>8.2} {p99:>8.2} {max:>8.2}", "all", all.len());
    let errors = stats.errors.lock();
    if errors.is_empty() {
        println!("errors: none");
    } else {
        let list: Vec<String> = errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!("errors (retried): {}", list.join(", "));
    }
    let list: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("events: {}", list.join(", "));
}
