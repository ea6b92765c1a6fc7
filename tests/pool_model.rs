//! Property test: random sequences of pool operations against a reference model of the CMAP
//! counters (total, available, in use, generation, state) and of which connection a check-out
//! gets, checked after every step, plus the event-accounting invariants at the end.

mod support;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use mongopool::{CmapEvent, ErrorKind, Pool, PoolOptions, PoolState, PooledConnection};
use proptest::prelude::*;
use support::detached::Detached;

#[derive(Clone, Debug)]
enum Op {
    CheckOut,
    CheckIn(usize),
    Discard(usize),
    Clear(bool),
    Ready,
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::CheckOut),
        4 => any::<usize>().prop_map(Op::CheckIn),
        1 => any::<usize>().prop_map(Op::Discard),
        1 => any::<bool>().prop_map(Op::Clear),
        2 => Just(Op::Ready),
        1 => Just(Op::Close),
    ]
}

/// What the spec says the pool holds.
#[derive(Debug)]
struct Model {
    state: PoolState,
    generation: u32,
    next_id: u64,
    max: u32,
    /// (id, generation), most recently checked in first: the pool hands these out first.
    available: VecDeque<(u64, u32)>,
    in_use: u32,
    total: u32,
}

impl Model {
    fn check_out(&mut self) -> Result<u64, &'static str> {
        match self.state {
            PoolState::Closed => return Err("closed"),
            PoolState::Paused => return Err("cleared"),
            PoolState::Ready => {}
        }
        while let Some((id, generation)) = self.available.pop_front() {
            if generation == self.generation {
                self.in_use += 1;
                return Ok(id);
            }
            self.total -= 1; // stale: closed as met
        }
        if self.max == 0 || self.total < self.max {
            let id = self.next_id;
            self.next_id += 1;
            self.total += 1;
            self.in_use += 1;
            return Ok(id);
        }
        Err("timeout")
    }

    fn check_in(&mut self, id: u64, generation: u32, errored: bool) {
        self.in_use -= 1;
        if self.state == PoolState::Closed || generation != self.generation || errored {
            self.total -= 1;
        } else {
            self.available.push_front((id, generation));
        }
    }
}

fn run(max: u32, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let pool = Pool::builder("model.test:27017".parse().unwrap())
        .options(
            PoolOptions::builder()
                .max_pool_size(max)
                .maintenance_interval(None) // no background runs: the model is synchronous
                .build()
                .unwrap(),
        )
        .establisher(Arc::new(Detached))
        .event_sender(tx)
        .build()
        .unwrap();
    let mut model = Model {
        state: PoolState::Paused,
        generation: 0,
        next_id: 1,
        max,
        available: VecDeque::new(),
        in_use: 0,
        total: 0,
    };
    let mut held: Vec<PooledConnection> = Vec::new();
    for op in ops {
        match op {
            Op::CheckOut => {
                let expected = model.check_out();
                let actual = pool.check_out_with_timeout(Some(Duration::from_millis(1)));
                match (expected, actual) {
                    (Ok(id), Ok(conn)) => {
                        prop_assert_eq!(conn.id(), id, "check-out picked another connection");
                        held.push(conn);
                    }
                    (Err(why), Err(e)) => {
                        let ok = matches!(
                            (why, e.kind()),
                            ("closed", ErrorKind::PoolClosed)
                                | ("cleared", ErrorKind::PoolCleared { .. })
                                | ("timeout", ErrorKind::WaitQueueTimeout { .. })
                        );
                        prop_assert!(ok, "expected {} got {:?}", why, e);
                    }
                    (e, a) => prop_assert!(false, "model {:?} vs pool {:?}", e, a.map(|c| c.id())),
                }
            }
            Op::CheckIn(i) | Op::Discard(i) if !held.is_empty() => {
                let conn = held.remove(i % held.len());
                let discard = matches!(op, Op::Discard(_));
                model.check_in(conn.id(), conn.generation(), discard);
                if discard {
                    conn.discard();
                } else {
                    conn.check_in();
                }
            }
            Op::CheckIn(_) | Op::Discard(_) => {}
            Op::Clear(interrupt) => {
                pool.clear(interrupt);
                if model.state != PoolState::Closed {
                    model.generation += 1;
                    model.state = PoolState::Paused;
                }
            }
            Op::Ready => {
                let result = pool.ready();
                if model.state == PoolState::Closed {
                    prop_assert!(result.is_err());
                } else {
                    model.state = PoolState::Ready;
                }
            }
            Op::Close => {
                pool.close();
                if model.state != PoolState::Closed {
                    model.state = PoolState::Closed;
                    model.total -= model.available.len() as u32;
                    model.available.clear();
                }
            }
        }
        let s = pool.status();
        prop_assert_eq!(s.state, model.state);
        prop_assert_eq!(s.generation, model.generation);
        prop_assert_eq!(s.total, model.total);
        prop_assert_eq!(s.available, model.available.len() as u32);
        prop_assert_eq!(s.in_use, model.in_use);
        prop_assert_eq!((s.pending, s.waiters), (0, 0));
        prop_assert!(max == 0 || s.total <= max);
    }
    drop(held);
    pool.close();
    prop_assert_eq!(pool.status().total, 0);

    let events: Vec<CmapEvent> = rx.try_iter().collect();
    let count = |name: &str| events.iter().filter(|e| e.name() == name).count();
    prop_assert_eq!(
        count("ConnectionCheckOutStarted"),
        count("ConnectionCheckedOut") + count("ConnectionCheckOutFailed")
    );
    prop_assert_eq!(count("ConnectionCheckedOut"), count("ConnectionCheckedIn"));
    prop_assert_eq!(count("ConnectionCreated"), count("ConnectionClosed"));
    prop_assert_eq!(count("ConnectionCreated"), count("ConnectionReady"));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn pool_matches_the_model(max in 0u32..4, ops in proptest::collection::vec(op(), 1..60)) {
        run(max, ops)?;
    }
}
