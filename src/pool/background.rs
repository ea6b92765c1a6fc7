//! The pool's background thread (cmap.md "Background Thread").
//!
//! Each run does the work that is readily available and ends: perform scheduled interrupts,
//! shut the sockets of connections closed on application threads (`State::graveyard`),
//! close perished available connections, and start establishing connections up to
//! minPoolSize (at most maxConnecting at once). Establishment runs on short-lived population
//! threads so that a slow handshake never delays an interrupt or a prune. The next run comes
//! after the interval, or at once when woken (ready, clear, a finished population, a
//! connection closed below minPoolSize).

use std::sync::Arc;

use super::grant::PendingConnection;
use super::state::{PoolState, State};
use super::{Shared, LOG_TARGET};
use crate::events::ConnectionClosedReason;
use crate::sync::{thread, Instant, MutexGuard};

/// The background thread's loop; returns when the pool closes.
pub(super) fn run(shared: Arc<Shared>) {
    // `start_background` only spawns this thread when an interval is set.
    let Some(interval) = shared.options.maintenance_interval() else {
        return;
    };
    let mut st = shared.state.lock();
    loop {
        let next_run = Instant::now() + interval;
        while !st.bg_wake && st.phase != PoolState::Closed {
            if shared.bg_cv.wait_until(&mut st, next_run).timed_out() {
                break;
            }
        }
        if st.phase == PoolState::Closed {
            return;
        }
        st.bg_wake = false;

        let interrupts = st.take_interrupts();
        let mut closed = std::mem::take(&mut st.graveyard);
        st.prune(&mut closed);
        let to_populate = populate_plan(&shared, &mut st);
        if !closed.is_empty() {
            st.dispatch(&mut closed);
        }
        MutexGuard::unlocked(&mut st, || {
            for interrupter in &interrupts {
                interrupter.interrupt();
            }
            drop(closed);
            for pending in to_populate {
                spawn_populator(&shared, pending);
            }
        });
    }
}

/// Pending connections to create now so that total reaches minPoolSize (cmap.md "Populating
/// the Pool"): only while ready, never past maxConnecting or maxPoolSize.
fn populate_plan(shared: &Shared, st: &mut State) -> Vec<PendingConnection> {
    let min = shared.options.min_pool_size();
    let max = shared.options.max_pool_size();
    let max_connecting = shared.options.max_connecting();
    let mut plan = Vec::new();
    while st.phase == PoolState::Ready && st.total < min && st.pending < max_connecting && (max == 0 || st.total < max)
    {
        plan.push(st.create_pending(true));
    }
    plan
}

fn spawn_populator(shared: &Arc<Shared>, pending: PendingConnection) {
    let worker = shared.clone();
    let id = pending.id;
    let spawned = thread::Builder::new()
        .name(format!("mongopool-populate-{}", shared.address))
        .spawn(move || populate(worker, pending));
    match spawned {
        Ok(handle) => shared.track_populator(handle),
        Err(e) => {
            log::warn!(target: LOG_TARGET, "cannot start a population thread for {}: {e}", shared.address);
            let mut st = shared.state.lock();
            st.discard_pending(id, ConnectionClosedReason::Error, None);
        }
    }
}

/// Establishes one connection for minPoolSize and makes it available.
fn populate(shared: Arc<Shared>, pending: PendingConnection) {
    let result = shared
        .establisher
        .establish(&shared.address, pending.interrupter.clone());
    // cmap.md "Populating the Pool with a Connection": an error MUST be handled via the SDAM
    // machinery (Application Errors). A client's pool reports it to the client, which marks
    // the server Unknown and clears this pool, or ignores it (an overloaded server).
    shared.report_establishment_error(&result, &pending);
    let mut st = shared.state.lock();
    let mut closed = Vec::new();
    let result = result.and_then(|conn| st.admit(&pending, conn));
    // A failure in load-balanced mode must not trigger SDAM error handling (load-balancers.md
    // "Initial Handshake Errors"), and a client's pool has had its SDAM handling already: so
    // the pool does not clear itself there, and the next attempt waits for the next regular
    // run instead of retrying at once (an error that SDAM ignores must not become a loop).
    let mut retry_now = true;
    match result {
        Ok(mut conn) => {
            // Mark available before the pending count drops, in one critical section
            // (cmap.md "Populating the Pool": the order must be observable as such).
            st.finish_pending(pending.id);
            if st.phase == PoolState::Closed {
                st.close_connection(conn, ConnectionClosedReason::PoolClosed, None, &mut closed);
            } else if st.is_stale(&conn) {
                st.close_connection(conn, ConnectionClosedReason::Stale, None, &mut closed);
            } else {
                // Idle time is real time (not modelled under loom).
                conn.last_used = std::time::Instant::now();
                st.available.push_front(conn);
            }
        }
        Err(err) => {
            let err = err.with_address(&shared.address);
            if st.phase == PoolState::Closed {
                st.discard_pending(pending.id, ConnectionClosedReason::PoolClosed, None);
            } else if st.services.is_some() || shared.has_sdam_owner() {
                log::warn!(
                    target: LOG_TARGET,
                    "background connection establishment to {} failed: {err}",
                    shared.address
                );
                retry_now = false;
                st.discard_pending(pending.id, ConnectionClosedReason::Error, Some(err));
            } else {
                log::warn!(
                    target: LOG_TARGET,
                    "background connection establishment to {} failed; clearing the pool: {err}",
                    shared.address
                );
                // A pool of its own (no client): handled as SDAM would handle a pre-handshake
                // error: clear (which pauses the pool and stops population until it is ready
                // again), then report the connection closed (pool-create-min-size-error.json).
                if pending.generation == st.generation {
                    st.clear(false, err.to_string());
                }
                st.discard_pending(pending.id, ConnectionClosedReason::Error, Some(err));
            }
        }
    }
    st.dispatch(&mut closed);
    if retry_now {
        st.bg_wake = true;
        shared.bg_cv.notify_one();
    }
    drop(st);
    drop(closed);
}
