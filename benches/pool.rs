//! Pool benchmarks: every figure is printed next to a baseline measured in the same run.
//!
//! `cargo bench --bench pool` prints one table and writes the same rows, plus the acceptance
//! checks of BENCHMARKS.md, to `target/bench/pool.json`. Arguments or `POOL_BENCH=w0,w3` select
//! workloads (default: all); `POOL_BENCH_MS` sets the time per cell (default 400 ms); the
//! other knobs (rounds, thread counts, implementations) are listed in BENCHMARKS.md.
//!
//! - W0 pool overhead: check-out + check-in of an established connection, zero hold time.
//! - W1 realistic: check-out + one `ping` round trip + check-in, against an in-process server.
//! - W3 fill and bursts: population to minPoolSize 100 with a 10 ms handshake; 100 threads at
//!   once on an empty pool; the check-in of a stale connection.
//! - W4 event cost: events a channel subscriber receives at W0 8 threads; memory of a
//!   subscriber that never reads.
//!
//! W2 (the official driver) lives in `benches/driver-compare` so that the main build never
//! compiles the driver.

#[path = "support/fast_server.rs"]
mod fast_server;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use fast_server::{FastServer, RawClient};
use mongopool::pool::TcpEstablisher;
use mongopool::{
    CmapEvent, Connection, ConnectionOptions, Establisher, Interrupter, Pool, PoolOptions, PooledConnection,
    ServerAddress,
};
use parking_lot::{Condvar, Mutex};
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

/// Counts allocations, to show the figure "allocations per operation" (an atomic add per
/// allocation, so only operations that allocate pay for it).
#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

// ---------------------------------------------------------------------------------------------
// Baselines and the pools under test
// ---------------------------------------------------------------------------------------------

/// The bare-minimum pool: a vector under a mutex, a condvar for waiting. A check-out and a
/// check-in are two critical sections, as in any pool whose user holds the item in between.
struct BarePool<T> {
    items: Mutex<Vec<T>>,
    cv: Condvar,
}

impl<T> BarePool<T> {
    fn new(items: Vec<T>) -> Self {
        BarePool {
            items: Mutex::new(items),
            cv: Condvar::new(),
        }
    }

    fn take(&self) -> T {
        let mut items = self.items.lock();
        loop {
            if let Some(item) = items.pop() {
                return item;
            }
            self.cv.wait(&mut items);
        }
    }

    fn put(&self, item: T) {
        self.items.lock().push(item);
        self.cv.notify_one();
    }
}

/// An r2d2 manager whose connections cost nothing (W0) or sleep like a handshake (W3).
struct TrivialManager(Duration);

impl r2d2::ManageConnection for TrivialManager {
    type Connection = u64;
    type Error = std::io::Error;
    fn connect(&self) -> Result<u64, std::io::Error> {
        if !self.0.is_zero() {
            std::thread::sleep(self.0);
        }
        Ok(7)
    }
    fn is_valid(&self, _: &mut u64) -> Result<(), std::io::Error> {
        Ok(())
    }
    fn has_broken(&self, _: &mut u64) -> bool {
        false
    }
}

/// An r2d2 manager holding the same connections as mongopool (W1).
struct MongoManager(ServerAddress);

impl r2d2::ManageConnection for MongoManager {
    type Connection = Connection;
    type Error = mongopool::Error;
    fn connect(&self) -> mongopool::Result<Connection> {
        TcpEstablisher::new(ConnectionOptions::default()).establish(&self.0, Arc::new(Interrupter::default()))
    }
    fn is_valid(&self, _: &mut Connection) -> mongopool::Result<()> {
        Ok(())
    }
    fn has_broken(&self, conn: &mut Connection) -> bool {
        conn.is_errored()
    }
}

/// Connections without a socket (W0), optionally after a handshake-like sleep (W3).
struct Detached(Duration);

impl Establisher for Detached {
    fn establish(&self, address: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
        if !self.0.is_zero() {
            std::thread::sleep(self.0);
        }
        Ok(Connection::detached(address.clone()))
    }
}

/// A logger that accepts connection-pool messages at debug level and formats them, so the
/// cost measured is building and formatting the messages (not writing them anywhere).
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

fn mongopool_pool(size: usize, establisher: Arc<dyn Establisher>, address: ServerAddress) -> Pool {
    let pool = Pool::builder(address)
        .options(
            PoolOptions::builder()
                .max_pool_size(size as u32)
                .build()
                .expect("options"),
        )
        .establisher(establisher)
        .build()
        .expect("pool");
    pool.ready().expect("ready");
    // Establish every connection first: W0 and W1 measure the pool, not establishment.
    let warm: Vec<PooledConnection> = (0..size).map(|_| pool.check_out().expect("warm")).collect();
    drop(warm);
    pool
}

fn bench_address() -> ServerAddress {
    "bench:27017".parse().expect("address")
}

// ---------------------------------------------------------------------------------------------
// Driving threads and summarising what they saw
// ---------------------------------------------------------------------------------------------

/// One thread's operation: `timed` asks it to return a wait in ns (else it returns 0).
type Op = Arc<dyn Fn(bool) -> u64 + Send + Sync>;

struct Driven {
    elapsed: Duration,
    /// Allocations made by the whole process during the window, per op.
    allocs_per_op: f64,
    ops: Vec<u64>,
    /// Per thread, the sampled waits in ns.
    waits: Vec<Vec<u64>>,
}

/// Runs `op` on `threads` threads for `length`; every `sample`-th op is timed. The window
/// opens only once every thread has completed an op and run a while (thread start-up on a
/// small machine is staggered by whole time slices, in which early threads would otherwise
/// run alone), and only ops inside the window are counted.
fn drive(threads: usize, length: Duration, sample: u64, op: Op) -> Driven {
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (stop, measuring, started, op) = (stop.clone(), measuring.clone(), started.clone(), op.clone());
            std::thread::spawn(move || {
                let mut ops = 0u64;
                let mut waits = Vec::with_capacity(1 << 14);
                op(false);
                started.fetch_add(1, Ordering::Relaxed);
                while !stop.load(Ordering::Relaxed) {
                    if !measuring.load(Ordering::Relaxed) {
                        op(false);
                        continue;
                    }
                    if ops % sample == 0 {
                        waits.push(op(true));
                    } else {
                        op(false);
                    }
                    ops += 1;
                }
                (ops, waits)
            })
        })
        .collect();
    while started.load(Ordering::Relaxed) < threads as u64 {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(50));
    let allocs_before = GLOBAL.stats().allocations;
    measuring.store(true, Ordering::Relaxed);
    let start = Instant::now();
    std::thread::sleep(length);
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed();
    let allocs = GLOBAL.stats().allocations - allocs_before;
    let mut ops = Vec::new();
    let mut waits = Vec::new();
    for h in handles {
        let (n, w) = h.join().expect("bench thread");
        ops.push(n);
        waits.push(w);
    }
    // Threads finishing their last op after the window may add a few: negligible.
    let allocs_per_op = allocs as f64 / ops.iter().sum::<u64>().max(1) as f64;
    Driven {
        elapsed,
        allocs_per_op,
        ops,
        waits,
    }
}

/// Times `f` when `timed`.
#[inline(always)]
fn timed(timed: bool, f: impl FnOnce()) -> u64 {
    if timed {
        let t = Instant::now();
        f();
        t.elapsed().as_nanos() as u64
    } else {
        f();
        0
    }
}

#[derive(Clone, Copy, Default)]
struct Waits {
    p50: u64,
    p99: u64,
    p999: u64,
    max: u64,
    /// The largest per-thread p99.
    worst_thread_p99: u64,
}

#[derive(Clone, Copy, Default)]
struct Fairness {
    min_over_mean: f64,
    max_over_mean: f64,
    under_10pct: usize,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn wait_stats(per_thread: &[Vec<u64>]) -> Waits {
    let mut worst = 0;
    let mut all = Vec::new();
    for w in per_thread {
        let mut w = w.clone();
        w.sort_unstable();
        worst = worst.max(percentile(&w, 0.99));
        all.extend(w);
    }
    all.sort_unstable();
    Waits {
        p50: percentile(&all, 0.5),
        p99: percentile(&all, 0.99),
        p999: percentile(&all, 0.999),
        max: all.last().copied().unwrap_or(0),
        worst_thread_p99: worst,
    }
}

fn fairness(ops: &[u64]) -> Fairness {
    let mean = ops.iter().sum::<u64>() as f64 / ops.len().max(1) as f64;
    Fairness {
        min_over_mean: *ops.iter().min().unwrap_or(&0) as f64 / mean,
        max_over_mean: *ops.iter().max().unwrap_or(&0) as f64 / mean,
        under_10pct: ops.iter().filter(|&&o| (o as f64) < 0.1 * mean).count(),
    }
}

// ---------------------------------------------------------------------------------------------
// Rows and targets
// ---------------------------------------------------------------------------------------------

struct Row {
    workload: &'static str,
    imp: String,
    threads: usize,
    size: usize,
    value: f64,
    unit: &'static str,
    /// What `ratio` divides by.
    baseline: &'static str,
    ratio: f64,
    waits: Option<Waits>,
    fairness: Option<Fairness>,
    allocs_per_op: Option<f64>,
    note: String,
}

impl Row {
    fn new(workload: &'static str, imp: impl Into<String>, threads: usize, size: usize) -> Row {
        Row {
            workload,
            imp: imp.into(),
            threads,
            size,
            value: 0.0,
            unit: "",
            baseline: "",
            ratio: 0.0,
            waits: None,
            fairness: None,
            allocs_per_op: None,
            note: String::new(),
        }
    }
}

struct Target {
    name: String,
    met: bool,
    detail: String,
}

fn target(targets: &mut Vec<Target>, name: impl Into<String>, met: bool, detail: String) {
    targets.push(Target {
        name: name.into(),
        met,
        detail,
    });
}

fn find<'a>(rows: &'a [Row], workload: &str, imp: &str, threads: usize, size: usize) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.workload == workload && r.imp == imp && r.threads == threads && r.size == size)
}

// ---------------------------------------------------------------------------------------------
// W0
// ---------------------------------------------------------------------------------------------

const W0_IMPLS: [&str; 5] = [
    "bare mutex+condvar",
    "r2d2 0.8",
    "mongopool",
    "mongopool +channel",
    "mongopool +log",
];

fn w0_op(imp: &str, size: usize) -> Op {
    match imp {
        "bare mutex+condvar" => {
            let pool = Arc::new(BarePool::new((0..size as u64).collect()));
            Arc::new(move |t| {
                timed(t, || {
                    let item = pool.take();
                    pool.put(std::hint::black_box(item));
                })
            })
        }
        "r2d2 0.8" => {
            let pool = r2d2::Pool::builder()
                .max_size(size as u32)
                .min_idle(Some(size as u32))
                .test_on_check_out(false)
                .connection_timeout(Duration::from_secs(60))
                .build(TrivialManager(Duration::ZERO))
                .expect("r2d2 pool");
            Arc::new(move |t| timed(t, || drop(std::hint::black_box(pool.get().expect("r2d2 get")))))
        }
        _ => {
            let pool = mongopool_pool(size, Arc::new(Detached(Duration::ZERO)), bench_address());
            if imp == "mongopool +channel" {
                let rx = pool.subscribe();
                // Ends when the pool (and with it the sender) is dropped after the cell.
                std::thread::spawn(move || for _ in rx {});
            }
            let debug = imp == "mongopool +log";
            log::set_max_level(if debug {
                log::LevelFilter::Debug
            } else {
                log::LevelFilter::Off
            });
            Arc::new(move |t| timed(t, || drop(std::hint::black_box(pool.check_out().expect("check out")))))
        }
    }
}

/// Rounds of the short W0/W1 cells: each cell is kept from its best round, since on a shared
/// machine noise only ever makes a cell slower.
fn rounds() -> usize {
    std::env::var("POOL_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// Keeps the faster of two measurements of the same cell.
fn keep_best(best: &mut Vec<Row>, row: Row) {
    match best
        .iter_mut()
        .find(|r| r.imp == row.imp && r.threads == row.threads && r.size == row.size)
    {
        Some(old) if old.value <= row.value => {}
        Some(old) => *old = row,
        None => best.push(row),
    }
}

fn w0(length: Duration, rows: &mut Vec<Row>) {
    let thread_counts = env_list("POOL_BENCH_THREADS").unwrap_or_else(|| vec![1, 2, 8, 32, 128]);
    let sizes = env_list("POOL_BENCH_SIZES").unwrap_or_else(|| vec![4, 100]);
    let mut best = Vec::new();
    for round in 0..rounds() {
        for &size in &sizes {
            for &threads in &thread_counts {
                // Cells of 32 and more threads run once, 2.5 times longer: their figures are
                // about fairness, which needs every thread to get many turns.
                if threads >= 32 && round > 0 {
                    continue;
                }
                let length = if threads >= 32 { length * 5 / 2 } else { length };
                for imp in W0_IMPLS {
                    if !impl_selected(imp) {
                        continue;
                    }
                    let op = w0_op(imp, size);
                    // With many threads an op is mostly waiting, and timing each one costs
                    // little; with few, every 16th op is timed, to keep the clock off the path.
                    let sample = if threads >= 32 { 1 } else { 16 };
                    let d = drive(threads, length, sample, op);
                    log::set_max_level(log::LevelFilter::Off);
                    if std::env::var_os("POOL_BENCH_VERBOSE").is_some() {
                        let mut ops = d.ops.clone();
                        ops.sort_unstable();
                        eprintln!("    per-thread ops (sorted): {ops:?}");
                    }
                    let total: u64 = d.ops.iter().sum();
                    let ns = d.elapsed.as_nanos() as f64 / total.max(1) as f64;
                    let mut row = Row::new("W0", imp, threads, size);
                    row.value = ns;
                    row.unit = "ns/op";
                    row.baseline = "bare mutex+condvar";
                    row.waits = Some(wait_stats(&d.waits));
                    row.fairness = Some(fairness(&d.ops));
                    row.allocs_per_op = Some(d.allocs_per_op);
                    eprintln!("  W0 round {round} {imp:<20} {threads:>3} thr size {size:>3}: {ns:>8.1} ns/op");
                    keep_best(&mut best, row);
                }
            }
        }
    }
    set_ratios(&mut best, W0_IMPLS[0]);
    rows.extend(best);
}

/// Sets every row's ratio against the row of `baseline` with the same threads and size.
fn set_ratios(rows: &mut [Row], baseline: &str) {
    let bases: Vec<(usize, usize, f64)> = rows
        .iter()
        .filter(|r| r.imp == baseline)
        .map(|r| (r.threads, r.size, r.value))
        .collect();
    for r in rows.iter_mut() {
        if let Some(&(_, _, base)) = bases.iter().find(|b| b.0 == r.threads && b.1 == r.size) {
            r.ratio = r.value / base;
        }
    }
}

fn w0_targets(rows: &[Row], targets: &mut Vec<Target>) {
    for size in [4, 100] {
        let (Some(bare), Some(r2d2), Some(mp)) = (
            find(rows, "W0", "bare mutex+condvar", 1, size),
            find(rows, "W0", "r2d2 0.8", 1, size),
            find(rows, "W0", "mongopool", 1, size),
        ) else {
            continue;
        };
        target(
            targets,
            format!("W0 1 thread size {size}: mongopool <= 2.5x bare"),
            mp.value <= 2.5 * bare.value,
            format!(
                "{:.2}x ({:.1} vs {:.1} ns/op)",
                mp.value / bare.value,
                mp.value,
                bare.value
            ),
        );
        target(
            targets,
            format!("W0 1 thread size {size}: mongopool >= 2x faster than r2d2"),
            r2d2.value >= 2.0 * mp.value,
            format!(
                "{:.2}x ({:.1} vs {:.1} ns/op)",
                r2d2.value / mp.value,
                r2d2.value,
                mp.value
            ),
        );
    }
    for threads in [32, 128] {
        let (Some(r2d2), Some(mp)) = (
            find(rows, "W0", "r2d2 0.8", threads, 4),
            find(rows, "W0", "mongopool", threads, 4),
        ) else {
            continue;
        };
        let (f, w, rw) = (
            mp.fairness.unwrap_or_default(),
            mp.waits.unwrap_or_default(),
            r2d2.waits.unwrap_or_default(),
        );
        target(
            targets,
            format!("W0 {threads} threads size 4: strict FIFO (per-thread ops 0.9-1.1x mean, none under 10%)"),
            f.min_over_mean >= 0.9 && f.max_over_mean <= 1.1 && f.under_10pct == 0,
            format!(
                "min/mean {:.2}, max/mean {:.2}, {} under 10%",
                f.min_over_mean, f.max_over_mean, f.under_10pct
            ),
        );
        target(
            targets,
            format!("W0 {threads} threads size 4: max wait <= 1/5 of r2d2's"),
            w.max * 5 <= rw.max,
            format!(
                "{} vs r2d2 {} (1/{:.1})",
                fmt_ns(w.max),
                fmt_ns(rw.max),
                rw.max as f64 / w.max.max(1) as f64
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// W1
// ---------------------------------------------------------------------------------------------

const W1_IMPLS: [&str; 4] = [
    "raw floor (bare+frames)",
    "bare mutex+Connection",
    "r2d2 0.8+Connection",
    "mongopool",
];

fn ping(conn: &mut Connection) {
    let reply = conn.run_command("admin", bson::doc! { "ping": 1 }).expect("ping");
    std::hint::black_box(reply);
}

fn w1_op(imp: &str, server: &FastServer) -> Op {
    const SIZE: usize = 4;
    let address: ServerAddress = server.addr().to_string().parse().expect("address");
    match imp {
        "raw floor (bare+frames)" => {
            let pool = Arc::new(BarePool::new(
                (0..SIZE).map(|_| RawClient::connect(server.addr())).collect(),
            ));
            Arc::new(move |_| {
                let t = Instant::now();
                let mut c = pool.take();
                let wait = t.elapsed().as_nanos() as u64;
                c.ping();
                pool.put(c);
                wait
            })
        }
        "bare mutex+Connection" => {
            let manager = MongoManager(address);
            let conns = (0..SIZE)
                .map(|_| r2d2::ManageConnection::connect(&manager).expect("connect"))
                .collect();
            let pool = Arc::new(BarePool::new(conns));
            Arc::new(move |_| {
                let t = Instant::now();
                let mut c = pool.take();
                let wait = t.elapsed().as_nanos() as u64;
                ping(&mut c);
                pool.put(c);
                wait
            })
        }
        "r2d2 0.8+Connection" => {
            let pool = r2d2::Pool::builder()
                .max_size(SIZE as u32)
                .min_idle(Some(SIZE as u32))
                .test_on_check_out(false)
                .connection_timeout(Duration::from_secs(60))
                .build(MongoManager(address))
                .expect("r2d2 pool");
            Arc::new(move |_| {
                let t = Instant::now();
                let mut c = pool.get().expect("r2d2 get");
                let wait = t.elapsed().as_nanos() as u64;
                ping(&mut c);
                wait
            })
        }
        _ => {
            let establisher = Arc::new(TcpEstablisher::new(ConnectionOptions::default()));
            let pool = mongopool_pool(SIZE, establisher, address);
            Arc::new(move |_| {
                let t = Instant::now();
                let mut c = pool.check_out().expect("check out");
                let wait = t.elapsed().as_nanos() as u64;
                ping(&mut c);
                wait
            })
        }
    }
}

fn w1(length: Duration, rows: &mut Vec<Row>) {
    let server = FastServer::start(Duration::ZERO);
    let thread_counts = env_list("POOL_BENCH_THREADS").unwrap_or_else(|| vec![1, 8, 32]);
    let mut best = Vec::new();
    for round in 0..rounds() {
        for &threads in &thread_counts {
            for imp in W1_IMPLS {
                if !impl_selected(imp) {
                    continue;
                }
                let op = w1_op(imp, &server);
                let d = drive(threads, length, 1, op);
                let total: u64 = d.ops.iter().sum();
                let ns = d.elapsed.as_nanos() as f64 / total.max(1) as f64;
                let mut row = Row::new("W1", imp, threads, 4);
                row.value = ns;
                row.unit = "ns/op";
                row.baseline = "raw floor (bare+frames)";
                row.waits = Some(wait_stats(&d.waits));
                row.fairness = Some(fairness(&d.ops));
                row.allocs_per_op = Some(d.allocs_per_op);
                row.note = format!("{:.0} ops/s; waits: check-out only", 1e9 / ns);
                eprintln!("  W1 round {round} {imp:<24} {threads:>3} thr: {ns:>8.0} ns/op");
                keep_best(&mut best, row);
            }
        }
    }
    set_ratios(&mut best, W1_IMPLS[0]);
    rows.extend(best);
}

fn w1_targets(rows: &[Row], targets: &mut Vec<Target>) {
    for threads in [8, 32] {
        let (Some(bare), Some(r2d2), Some(mp)) = (
            find(rows, "W1", "bare mutex+Connection", threads, 4),
            find(rows, "W1", "r2d2 0.8+Connection", threads, 4),
            find(rows, "W1", "mongopool", threads, 4),
        ) else {
            continue;
        };
        let best = bare.value.min(r2d2.value);
        target(
            targets,
            format!("W1 {threads} threads: throughput >= 0.95x the better of bare and r2d2"),
            best / mp.value >= 0.95,
            format!(
                "{:.3}x ({:.0} vs {:.0} ops/s)",
                best / mp.value,
                1e9 / mp.value,
                1e9 / best
            ),
        );
        let (w, rw) = (mp.waits.unwrap_or_default(), r2d2.waits.unwrap_or_default());
        target(
            targets,
            format!("W1 {threads} threads: worst-thread p99 wait <= 1/10 of r2d2's"),
            w.worst_thread_p99 * 10 <= rw.worst_thread_p99,
            format!(
                "{} vs r2d2 {} (1/{:.1})",
                fmt_ns(w.worst_thread_p99),
                fmt_ns(rw.worst_thread_p99),
                rw.worst_thread_p99 as f64 / w.worst_thread_p99.max(1) as f64
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// W3
// ---------------------------------------------------------------------------------------------

const HANDSHAKE: Duration = Duration::from_millis(10);

/// The ideal fill as measured here: `rounds` handshake sleeps in a row (a sleep overshoots a
/// little, and the ideal should include that).
fn measured_ideal(rounds: u32) -> Duration {
    let t = Instant::now();
    for _ in 0..rounds {
        std::thread::sleep(HANDSHAKE);
    }
    t.elapsed()
}

fn w3(rows: &mut Vec<Row>) {
    for max_connecting in [2u32, 8] {
        let rounds = 100u32.div_ceil(max_connecting);
        let ideal = measured_ideal(rounds);
        let pool = Pool::builder(bench_address())
            .options(
                PoolOptions::builder()
                    .max_pool_size(100)
                    .min_pool_size(100)
                    .max_connecting(max_connecting)
                    .build()
                    .expect("options"),
            )
            .establisher(Arc::new(Detached(HANDSHAKE)))
            .build()
            .expect("pool");
        let t = Instant::now();
        pool.ready().expect("ready");
        while pool.status().available < 100 {
            std::thread::sleep(Duration::from_micros(200));
        }
        let fill = t.elapsed();
        let mut row = Row::new("W3", format!("mongopool fill maxConnecting={max_connecting}"), 0, 100);
        row.value = fill.as_secs_f64() * 1e3;
        row.unit = "ms";
        row.baseline = "ideal ceil(100/maxConnecting) handshakes";
        row.ratio = fill.as_secs_f64() / ideal.as_secs_f64();
        row.note = format!(
            "ideal measured {:.1} ms (nominal {} ms)",
            ideal.as_secs_f64() * 1e3,
            rounds * 10
        );
        eprintln!("  W3 fill mc={max_connecting}: {:.1} ms", row.value);
        rows.push(row);
    }
    // A burst: 100 threads check out at once from an empty pool and hold their connection
    // until all have one.
    for (imp, max_connecting) in [("mongopool", 2u32), ("mongopool", 8), ("r2d2 0.8", 0)] {
        let rounds = 100u32.div_ceil(if max_connecting == 0 { 2 } else { max_connecting });
        let ideal = measured_ideal(rounds);
        let check_out: Arc<dyn Fn() -> Box<dyn Send> + Send + Sync> = if imp == "r2d2 0.8" {
            let pool = r2d2::Pool::builder()
                .max_size(100)
                .min_idle(Some(0))
                .test_on_check_out(false)
                .connection_timeout(Duration::from_secs(60))
                .build(TrivialManager(HANDSHAKE))
                .expect("r2d2 pool");
            Arc::new(move || Box::new(pool.get().expect("r2d2 get")))
        } else {
            let pool = Pool::builder(bench_address())
                .options(
                    PoolOptions::builder()
                        .max_pool_size(100)
                        .max_connecting(max_connecting)
                        .build()
                        .expect("options"),
                )
                .establisher(Arc::new(Detached(HANDSHAKE)))
                .build()
                .expect("pool");
            pool.ready().expect("ready");
            Arc::new(move || Box::new(pool.check_out().expect("check out")))
        };
        let start = Arc::new(Barrier::new(101));
        let held = Arc::new(Barrier::new(101));
        let handles: Vec<_> = (0..100)
            .map(|_| {
                let (start, held, check_out) = (start.clone(), held.clone(), check_out.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let t = Instant::now();
                    let conn = check_out();
                    let wait = t.elapsed().as_nanos() as u64;
                    held.wait();
                    drop(conn);
                    wait
                })
            })
            .collect();
        start.wait();
        let t = Instant::now();
        held.wait();
        let all = t.elapsed();
        let waits: Vec<u64> = handles.into_iter().map(|h| h.join().expect("burst thread")).collect();
        let label = if max_connecting == 0 {
            "r2d2 0.8 burst".to_owned()
        } else {
            format!("{imp} burst maxConnecting={max_connecting}")
        };
        let mut row = Row::new("W3", label, 100, 100);
        row.value = all.as_secs_f64() * 1e3;
        row.unit = "ms";
        row.baseline = "ideal ceil(100/maxConnecting) handshakes";
        row.ratio = all.as_secs_f64() / ideal.as_secs_f64();
        row.waits = Some(wait_stats(&[waits]));
        row.note = if max_connecting == 0 {
            format!(
                "r2d2 has no maxConnecting; ratio vs the maxConnecting=2 ideal ({:.1} ms)",
                ideal.as_secs_f64() * 1e3
            )
        } else {
            format!("ideal measured {:.1} ms", ideal.as_secs_f64() * 1e3)
        };
        eprintln!("  W3 {}: {:.1} ms", row.imp, row.value);
        rows.push(row);
    }
}

/// Check-in of connections made stale by a clear: the pool closes them, and the figure is
/// what the application thread pays for that. Baseline: dropping a raw `TcpStream`.
fn w3_stale_check_in(rows: &mut Vec<Row>) {
    const N: usize = 32;
    let server = FastServer::start(Duration::ZERO);
    let mut raw_ns = Vec::new();
    for _ in 0..N {
        let s = std::net::TcpStream::connect(server.addr()).expect("connect");
        let t = Instant::now();
        drop(s);
        raw_ns.push(t.elapsed().as_nanos() as u64);
    }
    let address: ServerAddress = server.addr().to_string().parse().expect("address");
    let pool = mongopool_pool(N, Arc::new(TcpEstablisher::new(ConnectionOptions::default())), address);
    let conns: Vec<PooledConnection> = (0..N).map(|_| pool.check_out().expect("check out")).collect();
    pool.clear(false);
    let mut ns = Vec::new();
    for c in conns {
        let t = Instant::now();
        drop(c);
        ns.push(t.elapsed().as_nanos() as u64);
    }
    let mean = |v: &[u64]| v.iter().sum::<u64>() as f64 / v.len().max(1) as f64;
    let mut row = Row::new("W3", "check-in of a stale connection (closes it)", 1, N);
    row.value = mean(&ns);
    row.unit = "ns/op";
    row.baseline = "dropping a raw TcpStream";
    row.ratio = mean(&ns) / mean(&raw_ns);
    row.waits = Some(wait_stats(&[ns]));
    row.note = format!("raw TcpStream drop {:.0} ns; waits: the check-in itself", mean(&raw_ns));
    eprintln!(
        "  W3 stale check-in: {:.0} ns (raw drop {:.0} ns)",
        row.value,
        mean(&raw_ns)
    );
    rows.push(row);
}

fn w3_targets(rows: &[Row], targets: &mut Vec<Target>) {
    for mc in [2, 8] {
        if let Some(r) = find(rows, "W3", &format!("mongopool fill maxConnecting={mc}"), 0, 100) {
            target(
                targets,
                format!("W3 fill to minPoolSize 100, maxConnecting={mc}: <= 1.15x ideal"),
                r.ratio <= 1.15,
                format!("{:.3}x ({:.1} ms; {})", r.ratio, r.value, r.note),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// W4
// ---------------------------------------------------------------------------------------------

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        .map_or(0, |pages| pages * 4096)
}

/// Runs W0 (size 4) on `threads` threads until `stop`; returns the cycles done.
fn spin_cycles(pool: &Pool, threads: usize, stop: &Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<u64>> {
    (0..threads)
        .map(|_| {
            let (pool, stop) = (pool.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    drop(pool.check_out().expect("check out"));
                    n += 1;
                }
                n
            })
        })
        .collect()
}

fn w4(length: Duration, rows: &mut Vec<Row>) {
    const THREADS: usize = 8;
    // Events per second received by one channel subscriber, and event sends per cycle.
    {
        let pool = mongopool_pool(4, Arc::new(Detached(Duration::ZERO)), bench_address());
        let rx = pool.subscribe();
        let received = Arc::new(AtomicU64::new(0));
        let counter = received.clone();
        let reader = std::thread::spawn(move || {
            let mut kinds = std::collections::BTreeMap::<&'static str, u64>::new();
            for event in rx {
                counter.fetch_add(1, Ordering::Relaxed);
                *kinds.entry(event.name()).or_default() += 1;
            }
            kinds
        });
        let stop = Arc::new(AtomicBool::new(false));
        let t = Instant::now();
        let handles = spin_cycles(&pool, THREADS, &stop);
        std::thread::sleep(length);
        stop.store(true, Ordering::Relaxed);
        let in_window = received.load(Ordering::Relaxed);
        let elapsed = t.elapsed();
        let cycles: u64 = handles.into_iter().map(|h| h.join().expect("cycle thread")).sum();
        drop(pool); // closes the channel once the pool's state is gone
        let kinds = reader.join().expect("reader");
        let cycle_kinds = [
            "ConnectionCheckOutStarted",
            "ConnectionCheckedOut",
            "ConnectionCheckedIn",
        ];
        let per_cycle: u64 = cycle_kinds.iter().map(|k| kinds.get(k).copied().unwrap_or(0)).sum();
        let other: u64 = kinds.values().sum::<u64>() - per_cycle;
        let secs = elapsed.as_secs_f64();
        let mut row = Row::new("W4", "channel subscriber: events received/s", THREADS, 4);
        row.value = in_window as f64 / secs;
        row.unit = "ev/s";
        row.baseline = "check-out/check-in cycles/s in the same run";
        row.ratio = (in_window as f64 / secs) / (cycles as f64 / secs);
        row.note = format!("{:.0} cycles/s", cycles as f64 / secs);
        rows.push(row);
        let mut row = Row::new("W4", "channel subscriber: sends per cycle", THREADS, 4);
        row.value = per_cycle as f64 / cycles.max(1) as f64;
        row.unit = "ev/cycle";
        row.baseline = "target: 3";
        row.ratio = row.value / 3.0;
        row.note = format!("{cycles} cycles; {other} other events (the pool's close)");
        eprintln!(
            "  W4 events: {:.0} ev/s, {:.3} sends/cycle",
            in_window as f64 / secs,
            row.value
        );
        rows.push(row);
    }
    // A bounded subscriber that never reads: memory stays flat, the dropped counter grows.
    {
        const CAPACITY: usize = 1024;
        let pool = mongopool_pool(4, Arc::new(Detached(Duration::ZERO)), bench_address());
        let (rx, dropped) = pool.subscribe_bounded(CAPACITY);
        let stop = Arc::new(AtomicBool::new(false));
        let handles = spin_cycles(&pool, THREADS, &stop);
        std::thread::sleep(length / 4);
        let (rss1, dropped1) = (rss_bytes(), dropped.count());
        std::thread::sleep(length * 2);
        let (rss2, dropped2) = (rss_bytes(), dropped.count());
        stop.store(true, Ordering::Relaxed);
        let cycles: u64 = handles.into_iter().map(|h| h.join().expect("cycle thread")).sum();
        let bound = (CAPACITY * std::mem::size_of::<CmapEvent>()) as f64;
        let growth = rss2 as f64 - rss1 as f64;
        let mut row = Row::new("W4", "never-reading bounded(1024): RSS growth", THREADS, 4);
        row.value = growth / 1024.0;
        row.unit = "KiB";
        row.baseline = "channel bound (1024 x size_of CmapEvent)";
        row.ratio = growth / bound;
        row.note = format!(
            "RSS {:.1} -> {:.1} MiB; dropped {dropped1} -> {dropped2}; {} queued; {cycles} cycles",
            rss1 as f64 / 1048576.0,
            rss2 as f64 / 1048576.0,
            rx.len()
        );
        eprintln!(
            "  W4 bounded: growth {:.0} KiB, dropped {dropped1} -> {dropped2}",
            row.value
        );
        rows.push(row);
        drop(pool);
    }
}

fn w4_targets(rows: &[Row], targets: &mut Vec<Target>) {
    if let Some(r) = rows.iter().find(|r| r.imp == "channel subscriber: sends per cycle") {
        target(
            targets,
            "W4 one channel subscriber: <= 3 event sends per check-out/check-in cycle",
            r.value <= 3.0,
            format!("{:.3} sends/cycle ({})", r.value, r.note),
        );
    }
    if let Some(r) = rows.iter().find(|r| r.imp.starts_with("never-reading")) {
        target(
            targets,
            "W4 never-reading bounded subscriber: memory stays within its bound, dropped counter grows",
            r.ratio <= 1.0 && r.note.contains("dropped"),
            format!("{:.0} KiB growth = {:.2}x the bound ({})", r.value, r.ratio, r.note),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

fn fmt_ns(ns: u64) -> String {
    match ns {
        0..=9_999 => format!("{ns}ns"),
        10_000..=9_999_999 => format!("{:.1}us", ns as f64 / 1e3),
        _ => format!("{:.1}ms", ns as f64 / 1e6),
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<4} {:<42} {:>4} {:>4} {:>12} {:<8} {:>7} {:>8} {:>8} {:>8} {:>8} {:>9} {:>6} {:>6} {:>4} {:>8}  note",
        "work",
        "impl",
        "thr",
        "size",
        "value",
        "unit",
        "x base",
        "p50",
        "p99",
        "p99.9",
        "max",
        "thr p99",
        "min/m",
        "max/m",
        "<10%",
        "alloc/op"
    );
    for r in rows {
        let w = r.waits.map_or_else(
            || vec!["-".to_owned(); 5],
            |w| {
                vec![
                    fmt_ns(w.p50),
                    fmt_ns(w.p99),
                    fmt_ns(w.p999),
                    fmt_ns(w.max),
                    fmt_ns(w.worst_thread_p99),
                ]
            },
        );
        let f = r.fairness.map_or_else(
            || vec!["-".to_owned(); 3],
            |f| {
                vec![
                    format!("{:.2}", f.min_over_mean),
                    format!("{:.2}", f.max_over_mean),
                    f.under_10pct.to_string(),
                ]
            },
        );
        println!(
            "{:<4} {:<42} {:>4} {:>4} {:>12.1} {:<8} {:>7.2} {:>8} {:>8} {:>8} {:>8} {:>9} {:>6} {:>6} {:>4} {:>8}  {}",
            r.workload,
            r.imp,
            r.threads,
            r.size,
            r.value,
            r.unit,
            r.ratio,
            w[0],
            w[1],
            w[2],
            w[3],
            w[4],
            f[0],
            f[1],
            f[2],
            r.allocs_per_op.map_or_else(|| "-".to_owned(), |a| format!("{a:.3}")),
            r.note
        );
    }
}

fn print_targets(targets: &[Target]) {
    println!("\nacceptance targets:");
    for t in targets {
        println!("  [{}] {}: {}", if t.met { "met" } else { "MISSED" }, t.name, t.detail);
    }
}

fn write_json(rows: &[Row], targets: &[Target], length: Duration) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    let _ = std::fs::create_dir_all(&dir);
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let mut v = serde_json::json!({
                "workload": r.workload, "impl": r.imp, "threads": r.threads, "pool_size": r.size,
                "value": r.value, "unit": r.unit, "baseline": r.baseline, "ratio_to_baseline": r.ratio,
                "note": r.note,
            });
            if let Some(w) = r.waits {
                v["wait_p50_ns"] = w.p50.into();
                v["wait_p99_ns"] = w.p99.into();
                v["wait_p999_ns"] = w.p999.into();
                v["wait_max_ns"] = w.max.into();
                v["worst_thread_p99_ns"] = w.worst_thread_p99.into();
            }
            if let Some(a) = r.allocs_per_op {
                v["allocations_per_op"] = a.into();
            }
            if let Some(f) = r.fairness {
                v["per_thread_min_over_mean"] = f.min_over_mean.into();
                v["per_thread_max_over_mean"] = f.max_over_mean.into();
                v["threads_under_10pct_of_mean"] = f.under_10pct.into();
            }
            v
        })
        .collect();
    let targets: Vec<serde_json::Value> = targets
        .iter()
        .map(|t| serde_json::json!({ "target": t.name, "met": t.met, "detail": t.detail }))
        .collect();
    let doc = serde_json::json!({
        "cell_ms": length.as_millis() as u64,
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "rows": rows,
        "targets": targets,
    });
    let path = dir.join("pool.json");
    match std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap_or_default()) {
        Ok(()) => println!("\nwrote {}", path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
}

/// `POOL_BENCH_IMPLS=mongopool,r2d2 0.8` runs only the W0/W1 implementations of these exact
/// names (for profiling one of them); default: all.
fn impl_selected(imp: &str) -> bool {
    std::env::var("POOL_BENCH_IMPLS").map_or(true, |v| v.split(',').any(|w| imp == w.trim()))
}

/// A comma-separated list of numbers from the environment.
fn env_list(name: &str) -> Option<Vec<usize>> {
    let v = std::env::var(name).ok()?;
    Some(v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
}

fn selected() -> Vec<String> {
    let mut picks: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .map(|a| a.to_lowercase())
        .collect();
    if let Ok(v) = std::env::var("POOL_BENCH") {
        picks.extend(v.split(',').map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty()));
    }
    if picks.is_empty() {
        picks = ["w0", "w1", "w3", "w4"].iter().map(|s| s.to_string()).collect();
    }
    picks
}

fn main() {
    let _ = log::set_boxed_logger(Box::new(NullLogger));
    log::set_max_level(log::LevelFilter::Off);
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it
    // (unoptimised): then a short smoke run checks that every workload works, and writes nothing.
    if !std::env::args().any(|a| a == "--bench") {
        smoke();
        return;
    }
    let length = Duration::from_millis(
        std::env::var("POOL_BENCH_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(400),
    );
    let picks = selected();
    let run = |w: &str| picks.iter().any(|p| p == w);
    let mut rows = Vec::new();
    let mut targets = Vec::new();
    let t = Instant::now();
    if run("w0") {
        w0(length, &mut rows);
        w0_targets(&rows, &mut targets);
    }
    if run("w1") {
        w1(length, &mut rows);
        w1_targets(&rows, &mut targets);
    }
    if run("w3") {
        w3(&mut rows);
        w3_stale_check_in(&mut rows);
        w3_targets(&rows, &mut targets);
    }
    if run("w4") {
        w4(length, &mut rows);
        w4_targets(&rows, &mut targets);
    }
    print_table(&rows);
    print_targets(&targets);
    println!(
        "\n(cell {} ms; whole run {:.1} s)",
        length.as_millis(),
        t.elapsed().as_secs_f64()
    );
    write_json(&rows, &targets, length);
}

/// Every workload once, briefly, with a check of what a broken pool would get wrong (no figure is
/// judged: an unoptimised build says nothing about speed).
fn smoke() {
    std::env::set_var("POOL_BENCH_ROUNDS", "1");
    std::env::set_var("POOL_BENCH_THREADS", "1,8");
    let length = Duration::from_millis(20);
    let mut rows = Vec::new();
    w0(length, &mut rows);
    w1(length, &mut rows);
    w3(&mut rows);
    w3_stale_check_in(&mut rows);
    w4(length, &mut rows);
    for r in &rows {
        assert!(
            r.value.is_finite() && r.value >= 0.0,
            "{} {}: value {}",
            r.workload,
            r.imp,
            r.value
        );
        if let Some(f) = r.fairness {
            assert!(
                f.min_over_mean <= 1.0 && f.max_over_mean >= 1.0,
                "{} {}",
                r.workload,
                r.imp
            );
        }
    }
    let sends = rows.iter().find(|r| r.imp == "channel subscriber: sends per cycle");
    assert!(
        sends.is_some_and(|r| r.value == 3.0),
        "W4: events per check-out/check-in cycle"
    );
    let fills = rows.iter().filter(|r| r.imp.starts_with("mongopool fill")).count();
    assert_eq!(fills, 2, "W3: both fills finished");
    println!(
        "pool bench smoke run: {} rows, all workloads ran (figures of a debug build omitted)",
        rows.len()
    );
}
