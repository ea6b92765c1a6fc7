//! What mongopool logs, value by value, through the shared capturing logger
//! (`support/log_capture.rs`): the types of the CMAP messages' structured values (integers,
//! `durationMS` as a double, strings) and the reasons and errors of a wait-queue timeout and of
//! a failed establishment, which `tests/log_capture.rs` does not reach; and the connection
//! string warnings. Tests here share one global logger, so each reads only the records it
//! caused (by host name or target) and never drains the others'.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use log::Level;
use mongopool::{
    ClientOptions, Connection, Error, ErrorKind, Establisher, Interrupter, Pool, PoolOptions, ServerAddress,
};
use serde_json::Value;
use support::log_capture::{self, Captured};

/// Detached connections, or an I/O error while `fail` is set.
struct Switchable {
    fail: AtomicBool,
}

impl Establisher for Switchable {
    fn establish(&self, address: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
        if self.fail.load(Ordering::SeqCst) {
            let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
            return Err(Error::new(ErrorKind::Io {
                kind: io.kind(),
                source: Arc::new(io),
            }));
        }
        Ok(Connection::detached(address.clone()))
    }
}

const HOST: &str = "logcapture.test";

fn records_for_host() -> Vec<Captured> {
    log_capture::snapshot()
        .into_iter()
        .filter(|r| r.data.get("serverHost").and_then(Value::as_str) == Some(HOST))
        .collect()
}

/// The records whose `message` is `message`.
fn named<'a>(records: &'a [Captured], message: &str) -> Vec<&'a Captured> {
    records
        .iter()
        .filter(|r| r.data.get("message").and_then(Value::as_str) == Some(message))
        .collect()
}

fn int(r: &Captured, key: &str) -> u64 {
    r.data
        .get(key)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{key} is not an integer in {:?}", r.data))
}

fn duration_ms(r: &Captured) -> f64 {
    let v = r.data.get("durationMS").expect("durationMS");
    assert!(v.is_f64(), "durationMS is a double: {v}");
    v.as_f64().unwrap()
}

fn text(r: &Captured, key: &str) -> String {
    r.data
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{key} is not a string in {:?}", r.data))
        .to_owned()
}

#[test]
fn cmap_messages_keep_the_types_of_their_values() {
    log_capture::install();
    let establisher = Arc::new(Switchable {
        fail: AtomicBool::new(false),
    });
    let options = PoolOptions::builder()
        .max_pool_size(1)
        .wait_queue_timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let pool = Pool::with_establisher(ServerAddress::tcp(HOST, 27019), options, establisher.clone()).unwrap();
    pool.ready().unwrap();
    let held = pool.check_out().unwrap(); // checkout started, created, ready, checked out
    let timeout = pool.check_out().unwrap_err(); // checkout started, checkout failed (timeout)
    assert!(matches!(timeout.kind(), ErrorKind::WaitQueueTimeout { .. }));
    drop(held); // checked in
    pool.clear(false); // pool cleared
    pool.ready().unwrap();
    establisher.fail.store(true, Ordering::SeqCst);
    // The stale connection is closed; the new one fails: closed (error), checkout failed.
    pool.check_out().unwrap_err();
    establisher.fail.store(false, Ordering::SeqCst);
    drop(pool.check_out().unwrap());
    pool.close(); // connection closed (pool closed), pool closed

    let records = records_for_host();
    for r in &records {
        assert_eq!(r.level, Level::Debug, "{r:?}");
        assert_eq!(r.target, "mongopool::connection");
        assert_eq!(int(r, "serverPort"), 27019);
        assert!(r.text.contains("logcapture.test:27019"), "{}", r.text);
    }

    let created = named(&records, "Connection pool created");
    assert_eq!(created.len(), 1);
    assert_eq!(int(created[0], "maxPoolSize"), 1);
    assert_eq!(int(created[0], "waitQueueTimeoutMS"), 50);
    assert!(
        !created[0].data.contains_key("minPoolSize"),
        "only the options that were set"
    );

    assert_eq!(named(&records, "Connection pool ready").len(), 2);
    let cleared = named(&records, "Connection pool cleared");
    assert_eq!(cleared.len(), 1);
    assert!(!cleared[0].data.contains_key("serviceId"));
    assert_eq!(named(&records, "Connection pool closed").len(), 1);

    let conn_created = named(&records, "Connection created");
    let ids: Vec<u64> = conn_created.iter().map(|r| int(r, "driverConnectionId")).collect();
    assert_eq!(ids, vec![1, 2, 3]);
    let ready = named(&records, "Connection ready");
    assert_eq!(ready.len(), 2);
    for r in &ready {
        assert!(duration_ms(r) >= 0.0);
    }
    assert_eq!(
        ready.iter().map(|r| int(r, "driverConnectionId")).collect::<Vec<_>>(),
        vec![1, 3]
    );

    let started = named(&records, "Connection checkout started");
    assert_eq!(started.len(), 4);
    for r in &started {
        assert!(!r.data.contains_key("driverConnectionId"));
    }
    let checked_out = named(&records, "Connection checked out");
    assert_eq!(checked_out.len(), 2);
    for r in &checked_out {
        int(r, "driverConnectionId");
        assert!(duration_ms(r) >= 0.0);
    }
    assert_eq!(named(&records, "Connection checked in").len(), 2);

    let failed = named(&records, "Connection checkout failed");
    assert_eq!(failed.len(), 2);
    assert_eq!(
        text(failed[0], "reason"),
        "Wait queue timeout elapsed without a connection becoming available"
    );
    assert!(text(failed[0], "error").contains("Timed out while checking out a connection"));
    assert!(duration_ms(failed[0]) >= 40.0, "the wait lasted the timeout");
    assert_eq!(
        text(failed[1], "reason"),
        "An error occurred while trying to establish a new connection"
    );
    assert!(text(failed[1], "error").contains("I/O error"), "{:?}", failed[1].data);

    let closed = named(&records, "Connection closed");
    let reasons: Vec<(u64, String, bool)> = closed
        .iter()
        .map(|r| {
            (
                int(r, "driverConnectionId"),
                text(r, "reason"),
                r.data.contains_key("error"),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            (
                1,
                "Connection became stale because the pool was cleared".to_owned(),
                false
            ),
            (2, "An error occurred while using the connection".to_owned(), true),
            (3, "Connection pool was closed".to_owned(), false),
        ]
    );
    // Every one of the 11 messages was seen.
    let kinds: std::collections::BTreeSet<String> = records.iter().map(|r| text(r, "message")).collect();
    assert_eq!(kinds.len(), 11, "{kinds:?}");
}

#[test]
fn connection_string_warnings_are_logged_without_secrets() {
    log_capture::install();
    let options =
        ClientOptions::parse("mongodb://admin:s3cretpw@h1/?logCaptureUnknownOption=1&maxPoolSize=lots").unwrap();
    assert_eq!(
        options.pool_options().max_pool_size(),
        100,
        "the invalid value is ignored"
    );
    let warnings: Vec<Captured> = log_capture::snapshot()
        .into_iter()
        .filter(|r| r.target == mongopool::client::URI_LOG_TARGET)
        .filter(|r| r.text.contains("logCaptureUnknownOption") || r.text.contains("maxPoolSize"))
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    for w in &warnings {
        assert_eq!(w.level, Level::Warn);
        assert!(!w.text.contains("s3cretpw"), "{}", w.text);
    }
}
