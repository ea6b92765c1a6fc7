//! Model checking of the pool's synchronisation with loom.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --test loom` (scripts/test does, in its
//! own target directory). Under `cfg(loom)` the pool's mutex, condition variables, threads
//! and clock come from loom (see `src/sync.rs`), so each `model` below runs the real [`Pool`]
//! code once per interleaving of its threads' synchronisation steps: every lock, unlock,
//! condvar wait and notification, thread spawn and join is a point where loom may switch
//! threads, and it explores every such schedule (up to equivalence: loom prunes orders of
//! independent steps), exhaustively but for the two four-thread scenarios, which are bounded
//! (see [`Bound`]): the background population to 5 preemptions, the front waiter's timeout to 4. A thread blocked forever (a lost waiter, a missed
//! wake-up) is reported by loom as a deadlock; a broken invariant fails the assertions of the
//! scenario.
//!
//! Covered, with 2-4 threads each, pool threads included (see each scenario's doc comment):
//! - check-out vs clear: a waiter is served or evicted with PoolCleared, never lost;
//! - timeout vs hand-off: a connection handed to a waiter whose deadline passes on the model
//!   clock is taken by that waiter or stays in the pool;
//! - the same with a second waiter behind the one that times out: it is served;
//! - ready vs clear vs check-out: the final state is the one the events announced last;
//! - an interrupting clear (performed by the background thread) vs check-in;
//! - close vs check-in vs check-out: every connection is closed exactly once, total ends at 0;
//! - maxConnecting hand-off, after a successful and after a failed establishment: pending
//!   never exceeds maxConnecting, and the waiter held back by it is woken when the slot frees;
//! - the background thread populating minPoolSize vs a check-out vs close (this found that
//!   `close()` could return before joining a population thread started while it ran).
//!
//! Not covered: real time (loom has no clock: deadlines move only when a test advances the
//! model clock, and maxIdleTimeMS idleness uses the real clock, so pruning of idle
//! connections is not modelled); sockets and the handshake (the establisher is in memory and
//! never blocks, so an interrupt cannot abort anything here); interleavings beyond the
//! preemption bound; `Arc` reference counts (std's, not modelled); the event-handler thread
//! and the client's monitors (std threads); fork detection; load-balanced pools.
//!
//! Invariants checked after every execution: the pool's counts from `status()` (total back to
//! 0 after close, no waiter left), and the event stream: every ConnectionCheckOutStarted has
//! exactly one ConnectionCheckedOut or ConnectionCheckOutFailed, every ConnectionCheckedOut one
//! ConnectionCheckedIn, every ConnectionCreated exactly one ConnectionClosed, and no
//! ConnectionCreated while the pool is paused or closed.

#![cfg(loom)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use loom::thread;
use mongopool::{
    CmapEvent, Connection, Error, ErrorKind, Establisher, Interrupter, Pool, PoolOptions, PoolState, ServerAddress,
};

/// How far loom explores a scenario.
#[derive(Clone, Copy, Debug)]
enum Bound {
    /// Every interleaving: affordable for the scenarios whose threads do a few operations.
    Exhaustive,
    /// Interleavings with at most this many preemptions (a switch away from a thread that
    /// could have continued), for the scenarios with four threads, whose state space grows
    /// too fast to exhaust in the test script's budget.
    Preemptions(usize),
}

/// Runs `body` once per interleaving within `bound` (`LOOM_MAX_PREEMPTIONS` overrides it for
/// every scenario) and prints how many interleavings were explored and how long it took
/// (visible with `--nocapture`).
fn model(name: &str, bound: Bound, body: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = match bound {
            Bound::Exhaustive => None,
            Bound::Preemptions(n) => Some(n),
        };
    }
    let bound = builder.preemption_bound;
    // Counted with a std atomic outside the model: loom runs one execution at a time.
    let executions = Arc::new(AtomicUsize::new(0));
    let counter = executions.clone();
    let started = Instant::now();
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        body();
    });
    let bound = bound.map_or_else(|| "none".to_owned(), |n| n.to_string());
    eprintln!(
        "loom: {name}: {} interleavings in {:.1?} (preemption bound: {bound})",
        executions.load(Ordering::Relaxed),
        started.elapsed()
    );
}

/// The bound of the background-population scenario (see [`Bound::Preemptions`]): 5 explores
/// 232,937 interleavings in 10-25 s on the 2-core test machine; each step up multiplies that
/// by about four.
const POPULATION_BOUND: Bound = Bound::Preemptions(5);

/// The bound of the front waiter's timeout scenario: since each waiter sleeps on its own
/// slot's lock (one more lock per wait and per grant), exhausting its four threads no longer
/// ends in minutes; 4 preemptions explore about 400,000 interleavings in 20 s, 3 about 80,000.
const FRONT_WAITER_BOUND: Bound = Bound::Preemptions(4);

/// Connections without sockets. Establishment yields once, so that other threads may run
/// while a connection is pending (as they would during a real handshake); `fail_first` makes
/// the first establishment fail; `active` counts establishments in progress, which may
/// never exceed `max_connecting`.
struct InMemory {
    fail_first: AtomicBool,
    active: AtomicUsize,
    max_connecting: usize,
}

impl InMemory {
    fn new(max_connecting: u32, fail_first: bool) -> Arc<Self> {
        Arc::new(InMemory {
            fail_first: AtomicBool::new(fail_first),
            active: AtomicUsize::new(0),
            max_connecting: max_connecting as usize,
        })
    }
}

impl Establisher for InMemory {
    fn establish(&self, address: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
        // std atomics: loom runs its threads one at a time and switches only at its own
        // operations, so these are exact counts at every switch point.
        let now_active = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        assert!(
            now_active <= self.max_connecting,
            "{now_active} establishments at once, maxConnecting is {}",
            self.max_connecting
        );
        thread::yield_now();
        self.active.fetch_sub(1, Ordering::SeqCst);
        if self.fail_first.swap(false, Ordering::SeqCst) {
            let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
            return Err(Error::new(ErrorKind::Io {
                kind: io.kind(),
                source: Arc::new(io),
            }));
        }
        Ok(Connection::detached(address.clone()))
    }
}

/// A paused pool over `establisher`, and its event stream from PoolCreated on.
fn paused_pool(options: PoolOptions, establisher: Arc<InMemory>) -> (Pool, Receiver<CmapEvent>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let pool = Pool::builder("db.loom:27017".parse().unwrap())
        .options(options)
        .establisher(establisher)
        .event_sender(tx)
        .build()
        .unwrap();
    (pool, rx)
}

/// A ready pool over `establisher`, and its event stream from PoolCreated on.
fn pool_with(options: PoolOptions, establisher: Arc<InMemory>) -> (Pool, Receiver<CmapEvent>) {
    let (pool, rx) = paused_pool(options, establisher);
    pool.ready().unwrap();
    (pool, rx)
}

/// Options without a background thread (fewer threads for loom to schedule), unless a
/// scenario is about that thread.
fn options(max_pool_size: u32, max_connecting: u32) -> PoolOptions {
    PoolOptions::builder()
        .max_pool_size(max_pool_size)
        .max_connecting(max_connecting)
        .maintenance_interval(None)
        .build()
        .unwrap()
}

/// What one check-out ended with.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Served,
    Cleared,
    Closed,
    TimedOut,
    Failed,
}

fn outcome(result: mongopool::Result<mongopool::PooledConnection>) -> Outcome {
    match result {
        Ok(conn) => {
            drop(conn);
            Outcome::Served
        }
        Err(e) => match e.kind() {
            ErrorKind::PoolCleared { .. } => Outcome::Cleared,
            ErrorKind::PoolClosed => Outcome::Closed,
            ErrorKind::WaitQueueTimeout { .. } => Outcome::TimedOut,
            ErrorKind::Io { .. } => Outcome::Failed,
            other => panic!("unexpected check-out error: {other:?}"),
        },
    }
}

/// Counts of one pool's events, checked once the pool is closed and every thread joined.
#[derive(Debug, Default)]
struct Ledger {
    started: usize,
    checked_out: usize,
    failed: usize,
    checked_in: usize,
    /// Per connection id: (ConnectionCreated, ConnectionClosed) events.
    lifecycle: HashMap<u64, (usize, usize)>,
    /// PoolReady (true) and PoolCleared (false) events, in order.
    readiness: Vec<bool>,
    /// ConnectionCreated events while the pool was not ready (after PoolCleared or
    /// PoolClosed, before the next PoolReady): a paused or closed pool creates nothing.
    created_while_not_ready: usize,
}

impl Ledger {
    fn of(events: &Receiver<CmapEvent>) -> Ledger {
        let mut ledger = Ledger::default();
        let mut ready = false;
        for event in events.try_iter() {
            match &event {
                CmapEvent::PoolReady(_) => ready = true,
                CmapEvent::PoolCleared(_) | CmapEvent::PoolClosed(_) => ready = false,
                CmapEvent::ConnectionCreated(_) if !ready => ledger.created_while_not_ready += 1,
                _ => {}
            }
            match event {
                CmapEvent::ConnectionCheckOutStarted(_) => ledger.started += 1,
                CmapEvent::ConnectionCheckedOut(_) => ledger.checked_out += 1,
                CmapEvent::ConnectionCheckOutFailed(_) => ledger.failed += 1,
                CmapEvent::ConnectionCheckedIn(_) => ledger.checked_in += 1,
                CmapEvent::ConnectionCreated(e) => ledger.lifecycle.entry(e.connection_id).or_default().0 += 1,
                CmapEvent::ConnectionClosed(e) => ledger.lifecycle.entry(e.connection_id).or_default().1 += 1,
                CmapEvent::PoolReady(_) => ledger.readiness.push(true),
                CmapEvent::PoolCleared(_) => ledger.readiness.push(false),
                _ => {}
            }
        }
        ledger
    }

    /// The invariants of a closed pool whose check-outs have all ended.
    fn assert_balanced(&self) {
        assert_eq!(
            self.started,
            self.checked_out + self.failed,
            "every check-out ends once: {self:?}"
        );
        assert_eq!(
            self.checked_out, self.checked_in,
            "every checked-out connection came back: {self:?}"
        );
        assert_eq!(
            self.created_while_not_ready, 0,
            "connections created while paused or closed: {self:?}"
        );
        for (id, counts) in &self.lifecycle {
            assert_eq!(
                *counts,
                (1, 1),
                "connection {id} created and closed exactly once: {self:?}"
            );
        }
    }
}

/// Closes `pool` and checks the invariants of a closed pool: no connection and no waiter
/// left, and a balanced event stream. Returns the ledger for scenario-specific checks.
fn close_and_check(pool: &Pool, events: &Receiver<CmapEvent>) -> Ledger {
    pool.close();
    let status = pool.status();
    assert_eq!(status.state, PoolState::Closed);
    assert_eq!(
        (status.total, status.pending, status.waiters),
        (0, 0, 0),
        "nothing left after close: {status:?}"
    );
    let ledger = Ledger::of(events);
    ledger.assert_balanced();
    ledger
}

/// Check-out vs clear. maxPoolSize 1, its connection held by the main thread. Thread A checks
/// out (it queues if the connection is still held), thread B clears the pool, and the main
/// thread checks its connection in, all concurrently. Interleavings: A queued before the clear
/// (evicted with PoolCleared) or after it (refused at once, the pool is paused); the check-in
/// before the clear (A served with the connection, or A refused and the connection left
/// available, stale, for lazy pruning) or after it (closed as stale at check-in). A is never
/// left waiting.
#[test]
fn check_out_vs_clear() {
    model("check_out_vs_clear", Bound::Exhaustive, || {
        let (pool, events) = pool_with(options(1, 2), InMemory::new(2, false));
        let held = pool.check_out().unwrap();
        let a = {
            let pool = pool.clone();
            thread::spawn(move || outcome(pool.check_out()))
        };
        let b = {
            let pool = pool.clone();
            thread::spawn(move || pool.clear(false))
        };
        drop(held);
        let a = a.join().unwrap();
        b.join().unwrap();
        assert!(matches!(a, Outcome::Served | Outcome::Cleared), "{a:?}");
        let status = pool.status();
        assert_eq!(status.waiters, 0);
        assert_eq!(status.generation, 1);
        // The one connection (generation 0, stale now) is closed at check-in or still
        // available, to be pruned lazily (cmap.md "Clearing a Connection Pool"); none in use.
        assert_eq!((status.in_use, status.pending), (0, 0), "{status:?}");
        assert!(status.total <= 1, "{status:?}");
        let ledger = close_and_check(&pool, &events);
        assert_eq!(ledger.failed, usize::from(a == Outcome::Cleared));
    });
}

/// Timeout vs hand-off. maxPoolSize 1, its connection held by the main thread. Thread A checks
/// out with a 10 ms wait-queue timeout, thread B moves the model clock 20 ms forward (waking
/// the timed waits), and the main thread checks the connection in, concurrently. Interleavings
/// include the hand-off to A landing just before, or just after, A's deadline passes, and A
/// arriving after the clock moved (its deadline is then never reached). Whatever the order, A
/// times out only after the clock moved, and the connection is never lost: it ends up in the
/// pool, where a further check-out finds it at once.
#[test]
fn timeout_vs_hand_off() {
    model("timeout_vs_hand_off", Bound::Exhaustive, || {
        let (pool, events) = pool_with(options(1, 2), InMemory::new(2, false));
        let held = pool.check_out().unwrap();
        let clock_moved = Arc::new(AtomicBool::new(false));
        let a = {
            let pool = pool.clone();
            thread::spawn(move || outcome(pool.check_out_with_timeout(Some(Duration::from_millis(10)))))
        };
        let b = {
            let (pool, clock_moved) = (pool.clone(), clock_moved.clone());
            thread::spawn(move || {
                clock_moved.store(true, Ordering::SeqCst);
                pool.loom_advance_clock(Duration::from_millis(20));
            })
        };
        drop(held);
        let a = a.join().unwrap();
        b.join().unwrap();
        match a {
            Outcome::Served => {}
            Outcome::TimedOut => assert!(clock_moved.load(Ordering::SeqCst), "timed out before its deadline"),
            other => panic!("{other:?}"),
        }
        let status = pool.status();
        assert_eq!(
            (status.total, status.available, status.waiters),
            (1, 1, 0),
            "{status:?}"
        );
        let again = pool.check_out_with_timeout(Some(Duration::ZERO));
        assert_eq!(outcome(again), Outcome::Served, "the connection is still in the pool");
        close_and_check(&pool, &events);
    });
}

/// Timeout of the front waiter vs hand-off, with a second waiter behind it. maxPoolSize 1, its
/// connection held by the main thread. Thread A checks out with a 10 ms timeout, thread B
/// without one, thread C moves the model clock 20 ms forward, and the main thread checks the
/// connection in, concurrently (four threads). Interleavings include A timing out before the
/// hand-off (B, now at the front, is served), the hand-off reaching A just before its deadline
/// passes (A keeps the grant and passes the connection on by its check-in), and B queueing
/// before or after A. B is always served; the connection is never lost.
#[test]
fn front_waiter_timeout_vs_hand_off() {
    model("front_waiter_timeout_vs_hand_off", FRONT_WAITER_BOUND, || {
        let (pool, events) = pool_with(options(1, 2), InMemory::new(2, false));
        let held = pool.check_out().unwrap();
        let clock_moved = Arc::new(AtomicBool::new(false));
        let a = {
            let pool = pool.clone();
            thread::spawn(move || outcome(pool.check_out_with_timeout(Some(Duration::from_millis(10)))))
        };
        let b = {
            let pool = pool.clone();
            thread::spawn(move || outcome(pool.check_out_with_timeout(None)))
        };
        let c = {
            let (pool, clock_moved) = (pool.clone(), clock_moved.clone());
            thread::spawn(move || {
                clock_moved.store(true, Ordering::SeqCst);
                pool.loom_advance_clock(Duration::from_millis(20));
            })
        };
        drop(held);
        let (a, b) = (a.join().unwrap(), b.join().unwrap());
        c.join().unwrap();
        assert_eq!(b, Outcome::Served, "the waiter without a deadline is served");
        match a {
            Outcome::Served => {}
            Outcome::TimedOut => assert!(clock_moved.load(Ordering::SeqCst), "timed out before its deadline"),
            other => panic!("{other:?}"),
        }
        let status = pool.status();
        assert_eq!(
            (status.total, status.available, status.waiters),
            (1, 1, 0),
            "{status:?}"
        );
        let ledger = close_and_check(&pool, &events);
        assert_eq!(ledger.lifecycle.len(), 1, "one connection served everyone: {ledger:?}");
    });
}

/// Ready vs clear vs check-out, as when a server monitor marks the pool ready while an
/// application thread clears it after a network error. The pool starts paused; thread A marks
/// it ready, thread B clears it, and the main thread checks out, concurrently. The final state
/// is the one the last PoolReady/PoolCleared event announced (a clear of a paused pool
/// announces nothing), and the check-out is served only while the pool is ready.
#[test]
fn ready_vs_clear_vs_check_out() {
    model("ready_vs_clear_vs_check_out", Bound::Exhaustive, || {
        let (pool, events) = paused_pool(options(1, 2), InMemory::new(2, false));
        let a = {
            let pool = pool.clone();
            thread::spawn(move || pool.ready().unwrap())
        };
        let b = {
            let pool = pool.clone();
            thread::spawn(move || pool.clear(false))
        };
        let main = outcome(pool.check_out());
        a.join().unwrap();
        b.join().unwrap();
        assert!(matches!(main, Outcome::Served | Outcome::Cleared), "{main:?}");
        let state = pool.status().state;
        let ledger = close_and_check(&pool, &events);
        let announced = match ledger.readiness.last() {
            Some(true) => PoolState::Ready,
            _ => PoolState::Paused,
        };
        assert_eq!(state, announced, "{ledger:?}");
        assert_eq!(
            ledger.readiness.first(),
            Some(&true),
            "a paused pool's clear announces nothing"
        );
    });
}

/// Interrupting clear vs check-in, with the background thread. The main thread holds a
/// connection; thread A clears the pool with `interrupt_in_use_connections`, which schedules
/// the interrupt for the background thread, and the main thread checks the connection in,
/// concurrently (three threads: main, A, background). Interleavings: the background run
/// before or after the check-in (the interrupt reaches the connection only while it is still
/// live), the check-in before the clear (the connection is available, then pruned as stale by
/// the background run or closed by close) or after it (closed as stale at check-in). The
/// connection is closed exactly once.
#[test]
fn interrupting_clear_vs_check_in() {
    model("interrupting_clear_vs_check_in", Bound::Exhaustive, || {
        let options = PoolOptions::builder()
            .max_pool_size(1)
            .maintenance_interval(Some(Duration::from_secs(1)))
            .build()
            .unwrap();
        let (pool, events) = pool_with(options, InMemory::new(2, false));
        let held = pool.check_out().unwrap();
        let a = {
            let pool = pool.clone();
            thread::spawn(move || pool.clear(true))
        };
        drop(held);
        a.join().unwrap();
        let status = pool.status();
        assert_eq!(
            (status.in_use, status.pending, status.generation),
            (0, 0, 1),
            "{status:?}"
        );
        let ledger = close_and_check(&pool, &events);
        assert_eq!(ledger.lifecycle.len(), 1, "{ledger:?}");
    });
}

/// Close vs check-in vs check-out. maxPoolSize 2: the main thread holds one connection and has
/// checked the other back in. Thread A checks its connection in, thread B closes the pool, and
/// the main thread checks out, concurrently. Interleavings: the check-in before close (the
/// connection goes to the pool and close closes it) or after (closed at check-in as
/// poolClosed); the check-out before close (served, its connection closed at its check-in)
/// or after (PoolClosed); it never has to wait, as a connection or a free slot is always
/// there. Each connection is closed exactly once and total ends at 0.
#[test]
fn close_vs_check_in() {
    model("close_vs_check_in", Bound::Exhaustive, || {
        let (pool, events) = pool_with(options(2, 2), InMemory::new(2, false));
        let first = pool.check_out().unwrap();
        let second = pool.check_out().unwrap();
        drop(second);
        let a = thread::spawn(move || drop(first));
        let b = {
            let pool = pool.clone();
            thread::spawn(move || pool.close())
        };
        let main = outcome(pool.check_out());
        a.join().unwrap();
        b.join().unwrap();
        assert!(matches!(main, Outcome::Served | Outcome::Closed), "{main:?}");
        let ledger = close_and_check(&pool, &events);
        assert_eq!(ledger.lifecycle.len(), 2, "no third connection: {ledger:?}");
    });
}

/// maxConnecting hand-off. maxConnecting 1, no connection yet: threads A and B check out at
/// once while the main thread samples `status()`. The first creates a connection; the second
/// finds the one establishment slot taken and waits. When the first establishment ends, the
/// slot frees and the waiter must be woken: it gets the first connection if A or B has
/// checked it back in, or else the right to create its own. Pending never exceeds 1 (checked
/// by the samples and by the establisher itself). With `fail_first`, the first establishment
/// fails instead: the slot frees all the same, the waiter is still woken, and exactly one
/// check-out fails.
fn max_connecting_hand_off(name: &str, fail_first: bool) {
    model(name, Bound::Exhaustive, move || {
        let (pool, events) = pool_with(options(0, 1), InMemory::new(1, fail_first));
        let spawn_check_out = || {
            let pool = pool.clone();
            thread::spawn(move || outcome(pool.check_out()))
        };
        let (a, b) = (spawn_check_out(), spawn_check_out());
        for _ in 0..2 {
            let status = pool.status();
            assert!(status.pending <= 1, "pending above maxConnecting: {status:?}");
        }
        let outcomes = [a.join().unwrap(), b.join().unwrap()];
        let failed = outcomes.iter().filter(|o| **o == Outcome::Failed).count();
        assert_eq!(failed, usize::from(fail_first), "{outcomes:?}");
        assert!(outcomes.iter().all(|o| matches!(o, Outcome::Served | Outcome::Failed)));
        assert_eq!(pool.status().waiters, 0);
        close_and_check(&pool, &events);
    });
}

#[test]
fn max_connecting_hand_off_after_success() {
    max_connecting_hand_off("max_connecting_hand_off_after_success", false);
}

#[test]
fn max_connecting_hand_off_after_failure() {
    max_connecting_hand_off("max_connecting_hand_off_after_failure", true);
}

/// The background thread populating minPoolSize vs a check-out vs close. minPoolSize 1,
/// maxPoolSize 1, with the background thread: `ready()` wakes it, it starts a population
/// thread, thread A checks out, and the main thread closes the pool, concurrently (four
/// threads: main, A, background, population). A waits for the connection being populated
/// rather than creating its own (maxPoolSize 1), and is served or refused with PoolClosed;
/// close joins the background and population threads, so when it returns no connection is
/// left, whatever point the population had reached.
#[test]
fn background_population_vs_check_out_vs_close() {
    model("background_population_vs_check_out_vs_close", POPULATION_BOUND, || {
        let options = PoolOptions::builder()
            .min_pool_size(1)
            .max_pool_size(1)
            .maintenance_interval(Some(Duration::from_secs(1)))
            .build()
            .unwrap();
        let (pool, events) = pool_with(options, InMemory::new(2, false));
        let a = {
            let pool = pool.clone();
            thread::spawn(move || outcome(pool.check_out()))
        };
        pool.close();
        let a = a.join().unwrap();
        assert!(matches!(a, Outcome::Served | Outcome::Closed), "{a:?}");
        // A's connection is back (closed at check-in); the population thread was joined.
        close_and_check(&pool, &events);
    });
}
