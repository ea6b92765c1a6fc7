//! The FIFO wait queue (cmap.md "WaitQueue").
//!
//! A waiter is a slot with its own small mutex and condition variable, on which it sleeps
//! without holding the pool's mutex. Only the pool (under its mutex) puts a [`Grant`] into a
//! slot, and it does so for the *front* waiter only, then pops it and notifies exactly that
//! waiter: so grants go out strictly in arrival order and no waiter is woken for nothing.
//!
//! Each thread has one slot for life ([`WaiterSlot::for_this_thread`]), so waiting allocates
//! nothing after a thread's first wait. Invariant that makes the reuse sound: a thread waits in
//! at most one queue at a time, and its slot is in no queue and holds no grant whenever the
//! thread is not inside `Shared::wait` (a grant pops the slot from the queue and the waiter
//! takes the grant; a timed-out waiter removes its slot; eviction grants an error).
//!
//! Model checked by `tests/loom.rs` (loom explores every interleaving of the pool's lock, the
//! slots' locks, condvars and thread operations; exhaustively but for the two four-thread
//! scenarios: population bounded to 5 preemptions, the front waiter's timeout to 4): a waiter
//! queued vs a clear that evicts it vs a check-in that serves it; a grant placed in the slot
//! of a waiter whose deadline passes at the same moment (it keeps the grant), with and
//! without a second waiter behind it; a waiter held back by maxConnecting vs the end,
//! successful or failed, of the establishment that holds the slot; a waiter vs the background
//! thread's population vs close. Not covered: real time (deadlines move on a model clock, see
//! `crate::sync`), queues longer than two waiters, and the four-thread scenarios'
//! interleavings beyond their bounds.

use std::collections::VecDeque;
use std::sync::Arc;

use super::grant::Grant;
use crate::sync::{Condvar, Instant, Mutex, MutexGuard};

/// One thread waiting for a connection.
pub(crate) struct WaiterSlot {
    /// The waiter sleeps here, with `inner` (not the pool's mutex).
    pub(crate) cv: Condvar,
    /// Written by the granting thread (holding the pool's mutex too) and read by the waiter.
    /// Lock order: pool mutex, then slot; a waiter holding only the slot never takes the pool
    /// mutex before releasing the slot.
    inner: Mutex<SlotInner>,
}

pub(crate) struct SlotInner {
    /// When the current check-out started, if durations are being measured.
    started: Option<Instant>,
    pub(crate) grant: Option<Grant>,
}

#[cfg(not(loom))]
std::thread_local! {
    /// This thread's slot (see the module docs for why one per thread suffices).
    static SLOT: Arc<WaiterSlot> = WaiterSlot::fresh();
}

// Under loom every model thread runs on one OS thread: its slot must be loom's thread-local.
#[cfg(loom)]
loom::thread_local! {
    static SLOT: Arc<WaiterSlot> = WaiterSlot::fresh();
}

impl WaiterSlot {
    /// The calling thread's slot, prepared for a check-out that started at `started`. Only
    /// `Shared::wait` calls this, under the pool's mutex, and the slot is then empty and in no
    /// queue (module invariant).
    pub(crate) fn for_this_thread(started: Option<Instant>) -> Arc<Self> {
        // A check-out from a thread-local destructor finds the slot gone: use a fresh one.
        let slot = SLOT.try_with(Arc::clone).unwrap_or_else(|_| WaiterSlot::fresh());
        {
            let mut inner = slot.inner.lock();
            debug_assert!(inner.grant.is_none(), "a reused waiter slot still holds a grant");
            inner.started = started;
        }
        slot
    }

    fn fresh() -> Arc<Self> {
        Arc::new(WaiterSlot {
            cv: Condvar::new(),
            inner: Mutex::new(SlotInner {
                started: None,
                grant: None,
            }),
        })
    }

    /// The slot's own lock, for the waiter to sleep with.
    pub(crate) fn lock(&self) -> MutexGuard<'_, SlotInner> {
        self.inner.lock()
    }

    pub(crate) fn take(&self) -> Option<Grant> {
        self.inner.lock().grant.take()
    }

    fn started(&self) -> Option<Instant> {
        self.inner.lock().started
    }

    fn give(&self, grant: Grant) {
        self.inner.lock().grant = Some(grant);
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
        self.queue.front().map(|s| s.started())
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
    /// (only the model clock needs this: real timed waits wake by themselves). Each slot's lock
    /// is taken around the notification: a waiter checks the clock and sleeps under that lock,
    /// so the wake-up cannot fall between its check and its sleep.
    #[cfg(loom)]
    pub(crate) fn notify_all(&self) {
        for slot in &self.queue {
            let _inner = slot.inner.lock();
            slot.cv.notify_one();
        }
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
