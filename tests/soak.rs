//! Chaos soak: 64 threads check out, ping and check in against a real server while a chaos
//! thread arms fail points, clears the pool (with and without interrupting), and SIGKILLs and
//! restarts the server. Afterwards every invariant is checked from the event stream,
//! `status()` samples and the process's file descriptors.
//!
//! `scripts/test` runs it for `MONGOPOOL_SOAK_SECS` (default 60); run it longer by hand with
//! `MONGOPOOL_SOAK_SECS=600 cargo test --release --test soak -- --nocapture`.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::doc;
use crossbeam_channel::Receiver;
use mongopool::{CmapEvent, Error, ErrorKind, Pool, PoolOptions};
use parking_lot::Mutex;
use support::server::TestServer;

const WORKERS: usize = 64;
const MAX_POOL: u32 = 16;
const MAX_CONNECTING: u32 = 2;
const WAIT_TIMEOUT: Duration = Duration::from_secs(2);
const SOCKET_TIMEOUT: Duration = Duration::from_millis(500);
const APP: &str = "soak";

fn soak_length() -> Duration {
    let secs = std::env::var("MONGOPOOL_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// A tiny deterministic PRNG (xorshift), seeded from the clock and printed for replay.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Folds the event stream into the counts the invariants need, as it arrives.
#[derive(Default, Debug)]
struct Ledger {
    started: u64,
    checked_out: u64,
    check_out_failed: u64,
    checked_in: u64,
    created: HashMap<u64, u32>,
    closed: HashMap<u64, u32>,
    cleared: u64,
    failed_by_reason: BTreeMap<&'static str, u64>,
}

impl Ledger {
    fn record(&mut self, event: &CmapEvent) {
        match event {
            CmapEvent::ConnectionCheckOutStarted(_) => self.started += 1,
            CmapEvent::ConnectionCheckedOut(_) => self.checked_out += 1,
            CmapEvent::ConnectionCheckOutFailed(f) => {
                self.check_out_failed += 1;
                *self.failed_by_reason.entry(f.reason.as_str()).or_default() += 1;
            }
            CmapEvent::ConnectionCheckedIn(_) => self.checked_in += 1,
            CmapEvent::ConnectionCreated(c) => *self.created.entry(c.connection_id).or_default() += 1,
            CmapEvent::ConnectionClosed(c) => *self.closed.entry(c.connection_id).or_default() += 1,
            CmapEvent::PoolCleared(_) => self.cleared += 1,
            _ => {}
        }
    }
}

fn kind_name(e: &Error) -> String {
    let debug = format!("{:?}", e.kind());
    debug.split([' ', '(', '{']).next().unwrap_or("Other").to_owned()
}

#[derive(Default)]
struct Stats {
    ops: AtomicU64,
    max_wait_us: AtomicU64,
    late: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
    faults: Mutex<BTreeMap<&'static str, u64>>,
    status_violations: Mutex<Vec<String>>,
}

fn report(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

#[test]
fn chaos_soak() {
    let length = soak_length();
    let fds_before = open_fds();
    let mut server = TestServer::start();
    let address = server.address().clone();

    let (tx, rx) = crossbeam_channel::unbounded();
    let pool = Pool::builder(address.clone())
        .options(
            PoolOptions::builder()
                .max_pool_size(MAX_POOL)
                .min_pool_size(4)
                .max_connecting(MAX_CONNECTING)
                .wait_queue_timeout(WAIT_TIMEOUT)
                .socket_timeout(SOCKET_TIMEOUT)
                .connect_timeout(Duration::from_secs(1))
                .maintenance_interval(Some(Duration::from_millis(100)))
                .app_name(APP)
                .build()
                .unwrap(),
        )
        .event_sender(tx)
        .build()
        .unwrap();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let consumer = {
        let ledger = ledger.clone();
        std::thread::spawn(move || fold_events(&rx, &ledger))
    };
    pool.ready().unwrap();

    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (pool, stats, stop) = (pool.clone(), stats.clone(), stop.clone());
            std::thread::spawn(move || worker(&pool, &stats, &stop))
        })
        .collect();
    let sampler = {
        let (pool, stats, stop) = (pool.clone(), stats.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let s = pool.status();
                if s.total > MAX_POOL || s.pending > MAX_CONNECTING {
                    stats.status_violations.lock().push(format!("{s:?}"));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    // MONGOPOOL_SOAK_SEED replays a run's sequence of faults.
    let seed = std::env::var("MONGOPOOL_SOAK_SEED")
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            now.as_nanos() as u64 ^ u64::from(std::process::id())
        });
    report(&format!(
        "soak: {} s, {WORKERS} threads, seed {seed:#x}",
        length.as_secs()
    ));
    let mut rng = Rng(seed | 1);
    let deadline = Instant::now() + length;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200 + rng.below(600)));
        let fault = chaos(&mut rng, &pool, &mut server);
        *stats.faults.lock().entry(fault).or_default() += 1;
    }
    // Leave the server healthy and the pool ready for the last stretch, then stop.
    let _ = pool.ready();
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker panicked");
    }
    sampler.join().unwrap();
    let closed_at = Instant::now();
    pool.close();
    let close_took = closed_at.elapsed();
    assert_eq!(
        pool.status().total,
        0,
        "connections left after close: {:?}",
        pool.status()
    );
    drop(pool); // drops the last sender: the consumer drains and ends
    consumer.join().unwrap();
    drop(server);

    let ledger = ledger.lock();
    let errors = stats.errors.lock().clone();
    let faults = stats.faults.lock().clone();
    report(&format!(
        "soak: {} ops, max check-out wait {} ms, close took {close_took:?}",
        stats.ops.load(Ordering::Relaxed),
        stats.max_wait_us.load(Ordering::Relaxed) / 1000
    ));
    report(&format!("soak: faults injected {faults:?}"));
    report(&format!(
        "soak: errors {errors:?}; check-out failures by reason {:?}",
        ledger.failed_by_reason
    ));
    report(&format!(
        "soak: events started {} out {} failed {} in {} created {} closed {} cleared {}",
        ledger.started,
        ledger.checked_out,
        ledger.check_out_failed,
        ledger.checked_in,
        ledger.created.len(),
        ledger.closed.len(),
        ledger.cleared
    ));

    // The invariants.
    assert_eq!(
        ledger.started,
        ledger.checked_out + ledger.check_out_failed,
        "a check-out without an outcome"
    );
    assert_eq!(
        ledger.checked_out, ledger.checked_in,
        "a checked-out connection never came back"
    );
    assert!(
        ledger.created.values().all(|&n| n == 1),
        "a connection id was created twice"
    );
    for id in ledger.created.keys() {
        assert_eq!(
            ledger.closed.get(id),
            Some(&1),
            "connection {id} was not closed exactly once"
        );
    }
    assert_eq!(
        ledger.created.len(),
        ledger.closed.len(),
        "a closed connection that was never created"
    );
    assert!(
        stats.status_violations.lock().is_empty(),
        "{:?}",
        stats.status_violations.lock()
    );
    assert_eq!(
        stats.late.load(Ordering::Relaxed),
        0,
        "a thread waited past its deadline + 100 ms"
    );
    assert!(stats.ops.load(Ordering::Relaxed) > 0);
    // Sockets: the pool's are all closed (the harness's server pipe was replaced one for one).
    let fds_after = open_fds();
    assert!(
        fds_after <= fds_before,
        "file descriptors leaked: {fds_before} before, {fds_after} after"
    );
}

fn fold_events(rx: &Receiver<CmapEvent>, ledger: &Mutex<Ledger>) {
    for event in rx {
        ledger.lock().record(&event);
    }
}

fn worker(pool: &Pool, stats: &Stats, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let start = Instant::now();
        let outcome = pool.check_out();
        let waited = start.elapsed();
        stats
            .max_wait_us
            .fetch_max(waited.as_micros() as u64, Ordering::Relaxed);
        if matches!(&outcome, Err(e) if matches!(e.kind(), ErrorKind::WaitQueueTimeout { .. }))
            && waited > WAIT_TIMEOUT + Duration::from_millis(100)
        {
            stats.late.fetch_add(1, Ordering::Relaxed);
        }
        let result = outcome.and_then(|mut conn| conn.run_command("admin", doc! { "ping": 1 }).map(|_| ()));
        match result {
            Ok(()) => {
                stats.ops.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                *stats.errors.lock().entry(kind_name(&e)).or_default() += 1;
                if e.is_retryable() || e.is_network_error() {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }
}

/// One random fault; returns its name.
fn chaos(rng: &mut Rng, pool: &Pool, server: &mut TestServer) -> &'static str {
    let fail_point = |data: bson::Document, times: i32| {
        let cmd = doc! { "configureFailPoint": "failCommand", "mode": { "times": times }, "data": data };
        // The server may be mid-restart; a missed fault is not a test failure.
        let _ = server.connect().and_then(|mut c| c.run_command("admin", cmd));
    };
    match rng.below(7) {
        0 => {
            fail_point(
                doc! { "failCommands": ["ping"], "closeConnection": true, "appName": APP },
                20,
            );
            "closeConnection"
        }
        1 => {
            let block = SOCKET_TIMEOUT.as_millis() as i32 + 200;
            fail_point(
                doc! { "failCommands": ["ping"], "blockConnection": true, "blockTimeMS": block, "appName": APP },
                8,
            );
            "blockConnection past socketTimeoutMS"
        }
        2 => {
            fail_point(
                doc! { "failCommands": ["hello", "isMaster"], "errorCode": 91, "appName": APP },
                3,
            );
            "errorCode 91 on hello"
        }
        3 => {
            pool.clear(false);
            std::thread::sleep(Duration::from_millis(rng.below(100)));
            let _ = pool.ready();
            "clear(false)"
        }
        4 => {
            pool.clear(true);
            std::thread::sleep(Duration::from_millis(rng.below(100)));
            let _ = pool.ready();
            "clear(true)"
        }
        5 if rng.below(3) == 0 => {
            server.kill();
            // What a monitor would do on the failed check: clear, interrupting in-use.
            pool.clear_with_cause(true, "soak: server killed");
            std::thread::sleep(Duration::from_millis(200));
            server.restart();
            let _ = pool.ready();
            "SIGKILL + restart"
        }
        _ => "pause",
    }
}
