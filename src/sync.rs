//! The synchronisation primitives of the pool and of [`crate::Interrupter`], through one door so
//! that `tests/loom.rs` can model-check them.
//!
//! Normal builds re-export parking_lot's `Mutex`, `MutexGuard` and `Condvar`, std's `Instant`
//! and std's threads: the very same types and calls as without the shim, at no cost.
//!
//! Under `cfg(loom)` the same names map to loom's model versions, with parking_lot's API on
//! top (`lock()` without poisoning, `wait(&mut guard)`, `MutexGuard::unlocked`). Loom does not
//! model time, so [`Instant`] becomes a **model clock** that only moves when a test advances
//! it (`Pool::loom_advance_clock`, which wakes every timed wait under the pool's mutex), and a
//! timed wait times out exactly when the model clock has passed its deadline. A test thread
//! that advances the clock therefore races with every other thread like any other step, and
//! loom explores a timeout both before and after a competing hand-off. `Arc` stays std's: its
//! atomics need no checking here, and loom's `Arc` cannot hold the pool's trait objects.

#[cfg(not(loom))]
pub(crate) use parking_lot::{Condvar, Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::time::Instant;

#[cfg(loom)]
pub(crate) use model::{Condvar, Instant, Mutex, MutexGuard};

/// Threads of the pool (the background thread and population threads).
#[cfg(not(loom))]
pub(crate) mod thread {
    pub(crate) use std::thread::{current, Builder, JoinHandle};

    use super::Instant;

    /// Whether `handle`'s thread has ended (so it can be forgotten without joining).
    pub(crate) fn is_finished<T>(handle: &JoinHandle<T>) -> bool {
        handle.is_finished()
    }

    /// Joins `handle` if its thread ends before `deadline`; otherwise lets it finish on its own.
    pub(crate) fn join_until<T>(handle: JoinHandle<T>, deadline: Instant) {
        while !handle.is_finished() && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        if handle.is_finished() {
            let _ = handle.join();
        }
    }
}

#[cfg(loom)]
pub(crate) use model::thread;

#[cfg(loom)]
mod model {
    use std::ops::{Add, Deref, DerefMut};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::PoisonError;
    use std::time::Duration;

    loom::lazy_static! {
        /// Model time since the start of the execution, in nanoseconds. Read and advanced only
        /// under the pool's mutex, which orders the accesses; loom resets it per execution.
        static ref CLOCK_NANOS: AtomicU64 = AtomicU64::new(0);
    }

    /// A point on the model clock.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub(crate) struct Instant(Duration);

    impl Instant {
        pub(crate) fn now() -> Instant {
            Instant(Duration::from_nanos(CLOCK_NANOS.load(Ordering::SeqCst)))
        }

        pub(crate) fn elapsed(&self) -> Duration {
            Instant::now().0.saturating_sub(self.0)
        }

        /// Moves the model clock forward. The caller must wake the timed waits it affects.
        pub(crate) fn advance(by: Duration) {
            let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
            CLOCK_NANOS.fetch_add(nanos, Ordering::SeqCst);
        }
    }

    impl Add<Duration> for Instant {
        type Output = Instant;
        fn add(self, d: Duration) -> Instant {
            Instant(self.0 + d)
        }
    }

    /// loom's mutex with parking_lot's API.
    #[derive(Default)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    pub(crate) struct MutexGuard<'a, T> {
        mutex: &'a loom::sync::Mutex<T>,
        /// `None` only inside `unlocked` and `Condvar::wait`.
        guard: Option<loom::sync::MutexGuard<'a, T>>,
    }

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard {
                mutex: &self.0,
                guard: Some(self.0.lock().unwrap_or_else(PoisonError::into_inner)),
            }
        }
    }

    impl<'a, T> MutexGuard<'a, T> {
        /// Releases the mutex while `f` runs (parking_lot's `MutexGuard::unlocked`).
        pub(crate) fn unlocked<U>(this: &mut Self, f: impl FnOnce() -> U) -> U {
            this.guard = None;
            let result = f();
            this.guard = Some(this.mutex.lock().unwrap_or_else(PoisonError::into_inner));
            result
        }

        fn take(&mut self) -> loom::sync::MutexGuard<'a, T> {
            self.guard
                .take()
                .expect("the guard holds its lock outside `unlocked` and `wait`")
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.guard
                .as_deref()
                .expect("the guard holds its lock outside `unlocked` and `wait`")
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.guard
                .as_deref_mut()
                .expect("the guard holds its lock outside `unlocked` and `wait`")
        }
    }

    /// The outcome of a timed wait (parking_lot's `WaitTimeoutResult`).
    pub(crate) struct WaitTimeoutResult(bool);

    impl WaitTimeoutResult {
        pub(crate) fn timed_out(&self) -> bool {
            self.0
        }
    }

    /// loom's condition variable with parking_lot's API; timed waits use the model clock.
    #[derive(Default)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Condvar(loom::sync::Condvar::new())
        }

        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            let inner = guard.take();
            guard.guard = Some(self.0.wait(inner).unwrap_or_else(PoisonError::into_inner));
        }

        /// Waits for a notification unless the model clock is already past `deadline`; times
        /// out when, after waking, it is. Only a notification wakes it: whoever advances the
        /// clock notifies the timed waits, holding their mutex so that none is missed.
        pub(crate) fn wait_until<T>(&self, guard: &mut MutexGuard<'_, T>, deadline: Instant) -> WaitTimeoutResult {
            if Instant::now() < deadline {
                self.wait(guard);
            }
            WaitTimeoutResult(Instant::now() >= deadline)
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }

    /// loom's threads; `join_until` joins outright, as a model establishment never blocks.
    pub(crate) mod thread {
        pub(crate) use loom::thread::{current, Builder, JoinHandle};

        use super::Instant;

        /// loom cannot tell: population threads are kept until `close()` joins them.
        pub(crate) fn is_finished<T>(_handle: &JoinHandle<T>) -> bool {
            false
        }

        /// Joins `handle`: in the model every population thread ends by itself (no TCP connect
        /// can hang), and model time would not reach `deadline` anyway.
        pub(crate) fn join_until<T>(handle: JoinHandle<T>, _deadline: Instant) {
            let _ = handle.join();
        }
    }
}
