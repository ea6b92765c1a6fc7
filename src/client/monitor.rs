//! The server monitor (server-monitoring.md, polling protocol only): one thread per server,
//! with its own dedicated connection that is never taken from the pool nor counted in it
//! ("Servers are monitored with dedicated sockets"), checking the server every
//! `heartbeatFrequencyMS` and reporting each outcome to the [`Topology`].
//!
//! Wake-ups: the thread sleeps on [`MonitorControl`]'s condvar between checks. `stop()`
//! (client close) and `request_check()` (an application error) signal it; `stop()` and
//! `cancel` also shut the current monitoring socket down through its [`Interrupter`], so a
//! check blocked in a read ends at once instead of after `connectTimeoutMS`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::doc;
use parking_lot::{Condvar, Mutex};

use super::options::MIN_HEARTBEAT_FREQUENCY;
use super::topology::Topology;
use crate::address::ServerAddress;
use crate::conn::{Connection, ConnectionOptions, HelloReply, Interrupter};
use crate::error::{Error, ErrorKind, Result};

/// Shared between a monitor thread and the client.
#[derive(Default)]
pub(crate) struct MonitorControl {
    state: Mutex<ControlState>,
    /// Signalled on stop and on a check request; the monitor waits here between checks.
    cv: Condvar,
}

/// Guarded by `MonitorControl::state`.
#[derive(Default)]
struct ControlState {
    /// The client is closing: the monitor must exit and open no new connection.
    stopped: bool,
    /// Check as soon as minHeartbeatFrequencyMS allows.
    check_requested: bool,
    /// The check in progress was cancelled by an application error that already updated the
    /// topology: its failure must not be reported again.
    cancelled: bool,
    /// The interrupter of the current monitoring connection, if any.
    interrupter: Option<Arc<Interrupter>>,
}

impl MonitorControl {
    /// Stops the monitor: wakes it and shuts its socket down. Never blocks.
    pub(crate) fn stop(&self) {
        let interrupter = {
            let mut st = self.state.lock();
            st.stopped = true;
            self.cv.notify_all();
            st.interrupter.clone()
        };
        if let Some(i) = interrupter {
            i.interrupt();
        }
    }

    /// Requests an immediate check (server-monitoring.md "Requesting an immediate check");
    /// with `cancel`, also aborts the check in progress and closes the monitoring connection
    /// ("Drivers cancel in-progress monitor checks").
    pub(crate) fn request_check(&self, cancel: bool) {
        let interrupter = {
            let mut st = self.state.lock();
            st.check_requested = true;
            self.cv.notify_all();
            if cancel {
                st.interrupter.take().inspect(|_| st.cancelled = true)
            } else {
                None
            }
        };
        if let Some(i) = interrupter {
            i.interrupt();
        }
    }

    fn is_stopped(&self) -> bool {
        self.state.lock().stopped
    }

    /// A fresh interrupter for a new monitoring connection, registered so that `stop()` can
    /// reach it; `None` once stopped (so no connection is opened after close).
    fn new_interrupter(&self) -> Option<Arc<Interrupter>> {
        let mut st = self.state.lock();
        if st.stopped {
            return None;
        }
        let interrupter = Arc::new(Interrupter::default());
        st.interrupter = Some(interrupter.clone());
        st.cancelled = false;
        Some(interrupter)
    }

    /// Whether the last check was cancelled (and forgets it).
    fn take_cancelled(&self) -> bool {
        std::mem::take(&mut self.state.lock().cancelled)
    }

    /// Sleeps until the next check is due: `heartbeat` after the end of the last check, or
    /// minHeartbeatFrequencyMS after it when a check was requested. Returns false if stopped.
    fn wait_for_next_check(&self, last_end: Instant, heartbeat: Duration) -> bool {
        let mut st = self.state.lock();
        loop {
            if st.stopped {
                return false;
            }
            let pause = if st.check_requested {
                MIN_HEARTBEAT_FREQUENCY
            } else {
                heartbeat
            };
            let due = last_end + pause;
            if Instant::now() >= due {
                st.check_requested = false;
                return true;
            }
            self.cv.wait_until(&mut st, due);
        }
    }
}

/// The options of the monitoring connection: those of the pool's connections, with the socket
/// timeout set to connectTimeoutMS (server-monitoring.md: multi-threaded clients SHOULD set
/// monitoring sockets' socketTimeoutMS to the connectTimeoutMS). Monitors never handshake as
/// load balanced: there are no monitors in load-balanced mode. Monitors use TLS like the pool
/// but never authenticate (server-monitoring.md: monitoring sockets MUST NOT authenticate).
pub(crate) fn connection_options(pool_connection: &ConnectionOptions) -> ConnectionOptions {
    ConnectionOptions {
        socket_timeout: pool_connection.connect_timeout,
        load_balanced: false,
        credential: None,
        ..pool_connection.clone()
    }
}

/// The monitor thread's body.
pub(crate) fn run(topology: Arc<Topology>, address: ServerAddress, control: Arc<MonitorControl>) {
    let options = connection_options(topology.options().pool_options().connection());
    let heartbeat = topology.options().heartbeat_frequency();
    let mut monitor = Monitor {
        address,
        options,
        control,
        conn: None,
        hello_ok: false,
    };
    loop {
        let outcome = monitor.check();
        let mut check_now = false;
        match outcome {
            Ok(reply) => topology.check_succeeded(&monitor.address, &reply),
            Err(err) => {
                // "Network or command error during server check", step 1: close the
                // monitoring connection.
                monitor.conn = None;
                if monitor.control.is_stopped() {
                    break;
                }
                if monitor.control.take_cancelled() {
                    // The application error that cancelled the check already marked the
                    // server Unknown and cleared the pool; check again on a new connection
                    // once minHeartbeatFrequencyMS has passed.
                    monitor.control.request_check(false);
                } else {
                    // Steps 2 and 3: mark Unknown and clear the pool, synchronized.
                    let was_known = topology.check_failed(&monitor.address, &err);
                    // Step 4: a network error on a server that was known is retried at once
                    // (a glitch or a restart); the retry runs on a new connection.
                    check_now = was_known && err.is_network_error();
                }
            }
        }
        if !check_now && !monitor.control.wait_for_next_check(Instant::now(), heartbeat) {
            break;
        }
    }
}

/// One monitor's connection state (owned by its thread).
struct Monitor {
    address: ServerAddress,
    options: ConnectionOptions,
    control: Arc<MonitorControl>,
    conn: Option<Connection>,
    /// Whether the server said `helloOk`: later checks use `hello`, else legacy `isMaster`.
    hello_ok: bool,
}

impl Monitor {
    /// One check (server-monitoring.md "checkServer"): a new connection's handshake reply
    /// is the check's result; on an established connection, a plain `hello` (or legacy
    /// `isMaster`) without the handshake's client metadata.
    fn check(&mut self) -> Result<HelloReply> {
        let reply = match &mut self.conn {
            None => {
                let interrupter = self
                    .control
                    .new_interrupter()
                    .ok_or_else(|| Error::new(ErrorKind::ClientClosed))?;
                let conn = Connection::establish(&self.address, &self.options, interrupter)?;
                let reply = conn
                    .hello_reply()
                    .cloned()
                    .ok_or_else(|| Error::internal("an established connection has no hello reply"))?;
                self.conn = Some(conn);
                reply
            }
            Some(conn) => {
                let command = if self.hello_ok {
                    doc! { "hello": 1, "helloOk": true }
                } else {
                    doc! { "isMaster": 1, "helloOk": true }
                };
                let raw = conn.run_command("admin", command)?;
                HelloReply::from_document(raw).map_err(|e| e.with_address(&self.address))?
            }
        };
        self.hello_ok = reply.hello_ok;
        Ok(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_wakes_a_sleeping_monitor_at_once() {
        let control = Arc::new(MonitorControl::default());
        let c = control.clone();
        let started = Instant::now();
        let t = std::thread::spawn(move || c.wait_for_next_check(Instant::now(), Duration::from_secs(60)));
        std::thread::sleep(Duration::from_millis(20));
        control.stop();
        assert!(!t.join().unwrap(), "a stopped monitor does not check again");
        assert!(started.elapsed() < Duration::from_secs(30));
        assert!(control.new_interrupter().is_none(), "no new connection after stop");
    }

    #[test]
    fn a_requested_check_still_waits_for_the_minimum_pause() {
        let control = MonitorControl::default();
        control.request_check(false);
        let last_end = Instant::now();
        assert!(control.wait_for_next_check(last_end, Duration::from_secs(60)));
        assert!(last_end.elapsed() >= MIN_HEARTBEAT_FREQUENCY);
    }

    #[test]
    fn cancel_interrupts_the_current_connection_once() {
        let control = MonitorControl::default();
        let interrupter = control.new_interrupter().unwrap();
        control.request_check(true);
        assert!(interrupter.is_interrupted());
        assert!(control.take_cancelled());
        assert!(!control.take_cancelled());
    }

    #[test]
    fn monitoring_sockets_time_out_after_connect_timeout() {
        let pool = ConnectionOptions {
            connect_timeout: Some(Duration::from_secs(3)),
            socket_timeout: None,
            load_balanced: true,
            ..ConnectionOptions::default()
        };
        let o = connection_options(&pool);
        assert_eq!(o.socket_timeout, Some(Duration::from_secs(3)));
        assert!(!o.load_balanced);
    }
}
