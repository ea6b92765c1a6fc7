//! The CMAP log messages (cmap.md "Connection Pool Logging"): built from the events, at debug
//! level, target `mongopool::connection`, with the spec's structured key-value pairs and its
//! unstructured text.

use log::kv::Value;
use log::{Level, Record};

use crate::events::{CmapEvent, ConnectionCheckOutFailedReason, ConnectionClosedReason};

/// The `log` target of connection pool messages (the spec's `connection` component).
///
/// ```
/// // With env_logger: RUST_LOG=mongopool::connection=debug
/// assert_eq!(mongopool::pool::LOG_TARGET, "mongopool::connection");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const LOG_TARGET: &str = "mongopool::connection";

/// Whether a logger wants connection pool messages. Checked before any message is built.
#[inline]
pub(crate) fn enabled() -> bool {
    log::log_enabled!(target: LOG_TARGET, Level::Debug)
}

/// The spec's fixed text for a connection-closed reason.
fn closed_reason_text(reason: ConnectionClosedReason) -> &'static str {
    match reason {
        ConnectionClosedReason::Stale => "Connection became stale because the pool was cleared",
        ConnectionClosedReason::Idle => {
            "Connection has been available but unused for longer than the configured max idle time"
        }
        ConnectionClosedReason::Error => "An error occurred while using the connection",
        ConnectionClosedReason::PoolClosed => "Connection pool was closed",
    }
}

/// The spec's fixed text for a check-out failure reason.
fn failed_reason_text(reason: ConnectionCheckOutFailedReason) -> &'static str {
    match reason {
        ConnectionCheckOutFailedReason::Timeout => "Wait queue timeout elapsed without a connection becoming available",
        ConnectionCheckOutFailedReason::ConnectionError => {
            "An error occurred while trying to establish a new connection"
        }
        ConnectionCheckOutFailedReason::PoolClosed => "Connection pool was closed",
    }
}

fn millis(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Logs the message that corresponds to `event`.
pub(crate) fn log_event(event: &CmapEvent) {
    let address = event.address();
    let host = address.host();
    let port = address.port();
    let endpoint = match port {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let mut kv: Vec<(&'static str, Value<'_>)> = Vec::with_capacity(8);
    kv.push(("serverHost", Value::from(&*host)));
    if let Some(p) = &port {
        kv.push(("serverPort", Value::from(*p)));
    }
    // Owned strings the key-value pairs borrow from.
    let error_text: String;
    let service_text: String;
    let text = match event {
        CmapEvent::PoolCreated(e) => {
            kv.push(("message", Value::from("Connection pool created")));
            let o = &e.options;
            let mut parts = Vec::new();
            for (key, value) in [
                ("maxIdleTimeMS", o.max_idle_time_ms),
                ("minPoolSize", o.min_pool_size),
                ("maxPoolSize", o.max_pool_size),
                ("maxConnecting", o.max_connecting),
                ("waitQueueTimeoutMS", o.wait_queue_timeout_ms),
            ] {
                if let Some(v) = value {
                    kv.push((key, Value::from(v)));
                    parts.push(format!("{key}={v}"));
                }
            }
            format!(
                "Connection pool created for {endpoint} using options {}",
                parts.join(", ")
            )
        }
        CmapEvent::PoolReady(_) => {
            kv.push(("message", Value::from("Connection pool ready")));
            format!("Connection pool ready for {endpoint}")
        }
        CmapEvent::PoolCleared(e) => {
            kv.push(("message", Value::from("Connection pool cleared")));
            match e.service_id {
                Some(id) => {
                    service_text = id.to_hex();
                    kv.push(("serviceId", Value::from(service_text.as_str())));
                    format!("Connection pool for {endpoint} cleared for serviceId {service_text}")
                }
                None => format!("Connection pool for {endpoint} cleared"),
            }
        }
        CmapEvent::PoolClosed(_) => {
            kv.push(("message", Value::from("Connection pool closed")));
            format!("Connection pool closed for {endpoint}")
        }
        CmapEvent::ConnectionCreated(e) => {
            kv.push(("message", Value::from("Connection created")));
            kv.push(("driverConnectionId", Value::from(e.connection_id)));
            format!(
                "Connection created: address={endpoint}, driver-generated ID={}",
                e.connection_id
            )
        }
        CmapEvent::ConnectionReady(e) => {
            kv.push(("message", Value::from("Connection ready")));
            kv.push(("driverConnectionId", Value::from(e.connection_id)));
            kv.push(("durationMS", Value::from(millis(e.duration))));
            format!(
                "Connection ready: address={endpoint}, driver-generated ID={}, established in={:.3} ms",
                e.connection_id,
                millis(e.duration)
            )
        }
        CmapEvent::ConnectionClosed(e) => {
            let reason = closed_reason_text(e.reason);
            kv.push(("message", Value::from("Connection closed")));
            kv.push(("driverConnectionId", Value::from(e.connection_id)));
            kv.push(("reason", Value::from(reason)));
            let mut text = format!(
                "Connection closed: address={endpoint}, driver-generated ID={}. Reason: {reason}.",
                e.connection_id
            );
            if let (ConnectionClosedReason::Error, Some(err)) = (e.reason, &e.error) {
                error_text = err.to_string();
                kv.push(("error", Value::from(error_text.as_str())));
                text.push_str(&format!(" Error: {error_text}"));
            }
            text
        }
        CmapEvent::ConnectionCheckOutStarted(_) => {
            kv.push(("message", Value::from("Connection checkout started")));
            format!("Checkout started for connection to {endpoint}")
        }
        CmapEvent::ConnectionCheckOutFailed(e) => {
            let reason = failed_reason_text(e.reason);
            kv.push(("message", Value::from("Connection checkout failed")));
            kv.push(("reason", Value::from(reason)));
            let mut text = format!("Checkout failed for connection to {endpoint}. Reason: {reason}.");
            if let Some(err) = &e.error {
                error_text = err.to_string();
                kv.push(("error", Value::from(error_text.as_str())));
                text.push_str(&format!(" Error: {error_text}."));
            }
            kv.push(("durationMS", Value::from(millis(e.duration))));
            text.push_str(&format!(" Duration: {:.3} ms", millis(e.duration)));
            text
        }
        CmapEvent::ConnectionCheckedOut(e) => {
            kv.push(("message", Value::from("Connection checked out")));
            kv.push(("driverConnectionId", Value::from(e.connection_id)));
            kv.push(("durationMS", Value::from(millis(e.duration))));
            format!(
                "Connection checked out: address={endpoint}, driver-generated ID={}, duration={:.3} ms",
                e.connection_id,
                millis(e.duration)
            )
        }
        CmapEvent::ConnectionCheckedIn(e) => {
            kv.push(("message", Value::from("Connection checked in")));
            kv.push(("driverConnectionId", Value::from(e.connection_id)));
            format!(
                "Connection checked in: address={endpoint}, driver-generated ID={}",
                e.connection_id
            )
        }
    };
    log::logger().log(
        &Record::builder()
            .level(Level::Debug)
            .target(LOG_TARGET)
            .module_path_static(Some(module_path!()))
            .args(format_args!("{text}"))
            .key_values(&kv)
            .build(),
    );
}
