//! The FIFO wait queue (cmap.md "WaitQueue").
//!
//! A waiter is a slot with its own condition variable, used with the pool's one mutex. Only
//! the pool (under its mutex) puts a [`Grant`] into a slot, and it does so for the *front*
//! waiter only, then pops it and notifies exactly that waiter: so grants go out strictly in
//! arrival order and no waiter is woken for nothing.
//!
//! Model checked by `tests/loom.rs` (loom explores every interleaving of the pool's lock,
//! condvar and thread operations; exhaustively but for the background population scenario,
//! bounded to 5 preemptions): a waiter queued vs a clear that evicts it vs a check-in that serves it; a grant
//! placed in the slot of a waiter whose deadline passes at the same moment (it keeps the
//! grant), with and without a second waiter behind it; a waiter held back by maxConnecting vs
//! the end, successful or failed, of the establishment that holds the slot; a waiter vs the
//! background thread's population vs close. Not covered: real time (deadlines move on a
//! model clock, see `crate::sync`), queues longer than two waiters, and the population
//! scenario's interleavings beyond 5 preemptions.

use std::collections::VecDeque;
use std::sync::Arc;

use super::grant::Grant;
use crate::sync::{Condvar, Instant, Mutex};

/// One thread waiting for a connection.
pub(crate) struct WaiterSlot {
    pub(crate) cv: Condvar,
    /// When the check-out started, if durations are being measured.
    started: Option<Instant>,
    /// Written by the granting thread and read by the waiter, both while holding the pool's
    /// mutex; this inner lock is therefore never contended and only satisfies the borrow
    /// checker (lock order: pool mutex, then slot).
    grant: Mutex<Option<Grant>>,
}

impl WaiterSlot {
    pub(crate) fn new(started: Option<Instant>) -> Arc<Self> {
        Arc::new(WaiterSlot {
            cv: Condvar::new(),
            started,
            grant: Mutex::new(None),
        })
    }

    pub(crate) fn take(&self) -> Option<Grant> {
        self.grant.lock().take()
    }

    fn give(&self, grant: Grant) {
        *self.grant.lock() = Some(grant);
        self.cv.notify_one();
    }
}

/// The queue of waiters, oldest first.
#[derive(Default)]
pub(crate) struct WaitQueue {
    queue: VecDeque<Arc<WaiterSlot>>,
}

impl WaitQueue {
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// `Some(start instant of the front waiter)` if anyone waits.
    pub(crate) fn front_started(&self) -> Option<Option<Instant>> {
        self.queue.front().map(|s| s.started)
    }

    pub(crate) fn push(&mut self, slot: Arc<WaiterSlot>) {
        self.queue.push_back(slot);
    }

    /// Gives `grant` to the oldest waiter, removing it from the queue. Returns the grant back
    /// if nobody waits.
    pub(crate) fn grant_front(&mut self, grant: Grant) -> Option<Grant> {
        match self.queue.pop_front() {
            Some(slot) => {
                slot.give(grant);
                None
            }
            None => Some(grant),
        }
    }

    /// Wakes every queued waiter so that it re-checks its deadline against the model clock
    /// (only the model clock needs this: real timed waits wake by themselves).
    #[cfg(loom)]
    pub(crate) fn notify_all(&self) {
        self.queue.iter().for_each(|slot| slot.cv.notify_one());
    }

    /// Removes a waiter that timed out. Returns false if it was no longer queued (it was
    /// granted something in the meantime).
    pub(crate) fn remove(&mut self, slot: &Arc<WaiterSlot>) -> bool {
        match self.queue.iter().position(|s| Arc::ptr_eq(s, slot)) {
            Some(i) => {
                self.queue.remove(i);
                true
            }
            None => false,
        }
    }
}
