//! Pool benchmarks: every figure is printed next to a baseline measured in the same run.
//!
//! `cargo bench --bench pool` prints one table and writes the same rows to
//! `target/bench/pool.json`. `POOL_BENCH_MS` sets the time per cell (default 300 ms).
//!
//! W0 — pool overhead: check-out + check-in of an established connection with zero hold time,
//! for a bare mutex + condvar pool written here (the floor), r2d2 with a trivial manager, and
//! mongopool without subscribers, with one channel subscriber, and with a debug-level logger.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use mongopool::{Connection, Establisher, Interrupter, Pool, PoolOptions, ServerAddress};
use parking_lot::{Condvar, Mutex};

/// The bare-minimum pool: a vector under a mutex, a condvar for waiting.
struct BarePool {
    items: Mutex<Vec<u64>>,
    cv: Condvar,
}

impl BarePool {
    fn new(size: usize) -> Self {
        BarePool {
            items: Mutex::new((0..size as u64).collect()),
            cv: Condvar::new(),
        }
    }

    fn cycle(&self) {
        let mut items = self.items.lock();
        while items.is_empty() {
            self.cv.wait(&mut items);
        }
        let item = items.pop().unwrap_or_default();
        items.push(std::hint::black_box(item));
        drop(items);
        self.cv.notify_one();
    }
}

struct TrivialManager;

impl r2d2::ManageConnection for TrivialManager {
    type Connection = u64;
    type Error = std::io::Error;
    fn connect(&self) -> Result<u64, std::io::Error> {
        Ok(7)
    }
    fn is_valid(&self, _: &mut u64) -> Result<(), std::io::Error> {
        Ok(())
    }
    fn has_broken(&self, _: &mut u64) -> bool {
        false
    }
}

struct Detached;

impl Establisher for Detached {
    fn establish(&self, address: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
        Ok(Connection::detached(address.clone()))
    }
}

/// A logger that accepts connection-pool messages at debug level and drops them, so the cost
/// measured is building and formatting the messages.
struct NullLogger;

impl log::Log for NullLogger {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Debug
    }
    fn log(&self, r: &log::Record) {
        std::hint::black_box(r.args().to_string());
    }
    fn flush(&self) {}
}

#[derive(Clone, Copy, PartialEq)]
enum Impl {
    Bare,
    R2d2,
    Mongopool,
    MongopoolChannel,
    MongopoolLog,
}

impl Impl {
    fn name(self) -> &'static str {
        match self {
            Impl::Bare => "bare mutex+condvar",
            Impl::R2d2 => "r2d2 0.8",
            Impl::Mongopool => "mongopool",
            Impl::MongopoolChannel => "mongopool +channel",
            Impl::MongopoolLog => "mongopool +log",
        }
    }
}

struct Row {
    workload: &'static str,
    imp: &'static str,
    threads: usize,
    pool_size: usize,
    ns_per_op: f64,
    ratio: f64,
    wait_p50_ns: u64,
    wait_p99_ns: u64,
    wait_p999_ns: u64,
    wait_max_ns: u64,
    min_over_mean: f64,
    max_over_mean: f64,
    starved: usize,
}

/// Runs `op` on `threads` threads for `length`; returns total ops per thread and sampled
/// waits (every 16th op is timed, to keep the clock off the measured path).
fn drive(threads: usize, length: Duration, op: Arc<dyn Fn() + Send + Sync>) -> (Duration, Vec<u64>, Vec<u64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (stop, barrier, op) = (stop.clone(), barrier.clone(), op.clone());
            std::thread::spawn(move || {
                let mut ops = 0u64;
                let mut waits = Vec::with_capacity(1 << 16);
                barrier.wait();
                while !stop.load(Ordering::Relaxed) {
                    if ops % 16 == 0 {
                        let t = Instant::now();
                        op();
                        waits.push(t.elapsed().as_nanos() as u64);
                    } else {
                        op();
                    }
                    ops += 1;
                }
                (ops, waits)
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    std::thread::sleep(length);
    stop.store(true, Ordering::Relaxed);
    let mut per_thread = Vec::new();
    let mut all_waits = Vec::new();
    for h in handles {
        let (ops, waits) = h.join().expect("bench thread");
        per_thread.push(ops);
        all_waits.extend(waits);
    }
    (start.elapsed(), per_thread, all_waits)
}

fn make_op(imp: Impl, pool_size: usize) -> Arc<dyn Fn() + Send + Sync> {
    match imp {
        Impl::Bare => {
            let pool = Arc::new(BarePool::new(pool_size));
            Arc::new(move || pool.cycle())
        }
        Impl::R2d2 => {
            let pool = r2d2::Pool::builder()
                .max_size(pool_size as u32)
                .min_idle(Some(pool_size as u32))
                .test_on_check_out(false)
                .connection_timeout(Duration::from_secs(60))
                .build(TrivialManager)
                .expect("r2d2 pool");
            Arc::new(move || drop(std::hint::black_box(pool.get().expect("r2d2 get"))))
        }
        Impl::Mongopool | Impl::MongopoolChannel | Impl::MongopoolLog => {
            let pool = Pool::builder("bench:27017".parse().expect("address"))
                .options(
                    PoolOptions::builder()
                        .max_pool_size(pool_size as u32)
                        .build()
                        .expect("options"),
                )
                .establisher(Arc::new(Detached))
                .build()
                .expect("pool");
            pool.ready().expect("ready");
            // Establish the connections first: W0 measures the pool, not establishment.
            let warm: Vec<_> = (0..pool_size).map(|_| pool.check_out().expect("warm")).collect();
            drop(warm);
            if imp == Impl::MongopoolChannel {
                let rx = pool.subscribe();
                let received = Arc::new(AtomicU64::new(0));
                let counter = received.clone();
                std::thread::spawn(move || {
                    for _ in rx {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            log::set_max_level(if imp == Impl::MongopoolLog {
                log::LevelFilter::Debug
            } else {
                log::LevelFilter::Off
            });
            Arc::new(move || drop(std::hint::black_box(pool.check_out().expect("check out"))))
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let _ = log::set_boxed_logger(Box::new(NullLogger));
    log::set_max_level(log::LevelFilter::Off);
    let length = Duration::from_millis(
        std::env::var("POOL_BENCH_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300),
    );
    let mut rows = Vec::new();
    for &pool_size in &[4usize, 100] {
        for &threads in &[1usize, 2, 8, 32, 128] {
            let mut baseline = 0.0;
            for imp in [
                Impl::Bare,
                Impl::R2d2,
                Impl::Mongopool,
                Impl::MongopoolChannel,
                Impl::MongopoolLog,
            ] {
                let op = make_op(imp, pool_size);
                let (elapsed, per_thread, mut waits) = drive(threads, length, op);
                log::set_max_level(log::LevelFilter::Off);
                let total: u64 = per_thread.iter().sum();
                let ns_per_op = elapsed.as_nanos() as f64 / total.max(1) as f64;
                if imp == Impl::Bare {
                    baseline = ns_per_op;
                }
                waits.sort_unstable();
                let mean = total as f64 / threads as f64;
                let min = *per_thread.iter().min().unwrap_or(&0) as f64;
                let max = *per_thread.iter().max().unwrap_or(&0) as f64;
                rows.push(Row {
                    workload: "W0",
                    imp: imp.name(),
                    threads,
                    pool_size,
                    ns_per_op,
                    ratio: ns_per_op / baseline,
                    wait_p50_ns: percentile(&waits, 0.5),
                    wait_p99_ns: percentile(&waits, 0.99),
                    wait_p999_ns: percentile(&waits, 0.999),
                    wait_max_ns: waits.last().copied().unwrap_or(0),
                    min_over_mean: min / mean,
                    max_over_mean: max / mean,
                    starved: per_thread.iter().filter(|&&o| (o as f64) < 0.1 * mean).count(),
                });
            }
        }
    }
    print_table(&rows);
    write_json(&rows);
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<4} {:<20} {:>4} {:>5} {:>10} {:>7} {:>10} {:>10} {:>10} {:>12} {:>8} {:>8} {:>7}",
        "work",
        "impl",
        "thr",
        "size",
        "ns/op",
        "x base",
        "p50 ns",
        "p99 ns",
        "p99.9 ns",
        "max ns",
        "min/mean",
        "max/mean",
        "<10%"
    );
    for r in rows {
        println!(
            "{:<4} {:<20} {:>4} {:>5} {:>10.1} {:>7.2} {:>10} {:>10} {:>10} {:>12} {:>8.2} {:>8.2} {:>7}",
            r.workload,
            r.imp,
            r.threads,
            r.pool_size,
            r.ns_per_op,
            r.ratio,
            r.wait_p50_ns,
            r.wait_p99_ns,
            r.wait_p999_ns,
            r.wait_max_ns,
            r.min_over_mean,
            r.max_over_mean,
            r.starved
        );
    }
}

fn write_json(rows: &[Row]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    let _ = std::fs::create_dir_all(&dir);
    let items: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "workload": r.workload, "impl": r.imp, "threads": r.threads, "pool_size": r.pool_size,
                "ns_per_op": r.ns_per_op, "ratio_to_baseline": r.ratio,
                "wait_p50_ns": r.wait_p50_ns, "wait_p99_ns": r.wait_p99_ns, "wait_p999_ns": r.wait_p999_ns,
                "wait_max_ns": r.wait_max_ns, "per_thread_min_over_mean": r.min_over_mean,
                "per_thread_max_over_mean": r.max_over_mean, "threads_under_10pct": r.starved,
            })
        })
        .collect();
    let path = dir.join("pool.json");
    match std::fs::write(&path, serde_json::to_string_pretty(&items).unwrap_or_default()) {
        Ok(()) => println!("\nwrote {}", path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
}
