//! Detecting that the process forked (cmap.md "Forking": a pool used by a forked process MUST
//! clear itself).
//!
//! A `pthread_atfork` child handler (through `forkguard`) bumps a counter in the child, so the
//! check on every check-out is one atomic load; comparing process ids instead would cost a
//! `getpid()` system call per check-out (about 80 ns on the benchmark machine).

/// Tells whether the process forked since the last call.
pub(crate) enum ForkDetector {
    /// The `pthread_atfork` counter.
    Atfork(forkguard::atfork::Guard),
    /// Fallback when `pthread_atfork` could not be registered: compare process ids.
    Pid(u32),
    /// For tests: a process id from a function, to simulate a fork.
    #[cfg(test)]
    Fake(fn() -> u32, u32),
}

impl ForkDetector {
    pub(crate) fn new() -> Self {
        match forkguard::atfork::Guard::try_new() {
            Ok(guard) => ForkDetector::Atfork(guard),
            Err(e) => {
                log::warn!(
                    target: super::LOG_TARGET,
                    "fork detection falls back to process ids (one getpid() per check-out): {e}"
                );
                ForkDetector::Pid(std::process::id())
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn fake(pid: fn() -> u32) -> Self {
        ForkDetector::Fake(pid, pid())
    }

    /// True once after each fork.
    pub(crate) fn forked(&mut self) -> bool {
        match self {
            ForkDetector::Atfork(guard) => guard.detected_fork(),
            ForkDetector::Pid(last) => swap_if_changed(last, std::process::id()),
            #[cfg(test)]
            ForkDetector::Fake(source, last) => swap_if_changed(last, source()),
        }
    }
}

fn swap_if_changed(last: &mut u32, now: u32) -> bool {
    let changed = *last != now;
    *last = now;
    changed
}
