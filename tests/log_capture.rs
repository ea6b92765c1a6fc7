//! The 11 CMAP log messages (cmap.md "Connection Pool Logging"): debug level, target
//! `mongopool::connection`, and the spec's structured key-value pairs, captured through a
//! `log::Log` implementation.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mongopool::{Pool, PoolOptions};
use parking_lot::Mutex;
use support::detached::Detached;

/// One captured message: level, target and its key-value pairs as strings.
#[derive(Debug, Clone)]
struct Captured {
    level: log::Level,
    target: String,
    fields: BTreeMap<String, String>,
}

struct Capture(Mutex<Vec<Captured>>);

struct Collect<'a>(&'a mut BTreeMap<String, String>);

impl<'kvs> log::kv::VisitSource<'kvs> for Collect<'_> {
    fn visit_pair(&mut self, key: log::kv::Key<'kvs>, value: log::kv::Value<'kvs>) -> Result<(), log::kv::Error> {
        self.0.insert(key.to_string(), value.to_string());
        Ok(())
    }
}

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let mut fields = BTreeMap::new();
        let _ = record.key_values().visit(&mut Collect(&mut fields));
        self.0.lock().push(Captured {
            level: record.level(),
            target: record.target().to_owned(),
            fields,
        });
    }
    fn flush(&self) {}
}

fn messages(all: &[Captured], message: &str) -> Vec<Captured> {
    all.iter()
        .filter(|c| c.fields.get("message").map(String::as_str) == Some(message))
        .cloned()
        .collect()
}

#[test]
fn every_message_has_the_spec_fields() {
    static CAPTURE: std::sync::OnceLock<&'static Capture> = std::sync::OnceLock::new();
    let capture: &'static Capture = CAPTURE.get_or_init(|| Box::leak(Box::new(Capture(Mutex::new(Vec::new())))));
    log::set_logger(capture).expect("the only logger of this test binary");
    log::set_max_level(log::LevelFilter::Debug);

    let pool = Pool::builder("logs.test:27018".parse().unwrap())
        .options(
            PoolOptions::builder()
                .max_pool_size(3)
                .min_pool_size(0)
                .max_idle_time(Duration::from_secs(60))
                .wait_queue_timeout(Duration::from_millis(500))
                .build()
                .unwrap(),
        )
        .establisher(Arc::new(Detached))
        .build()
        .unwrap();
    pool.ready().unwrap();
    let mut conn = pool.check_out().unwrap(); // started, created, ready, checked out
    assert!(conn.run_command("admin", bson::doc! { "ping": 1 }).is_err()); // no socket: errored
    drop(conn); // checked in, closed (error)
    let second = pool.check_out().unwrap();
    drop(second); // checked in, available
    pool.clear(false); // cleared
    assert!(pool.check_out().is_err()); // paused: checkout failed
    pool.ready().unwrap();
    drop(pool.check_out().unwrap()); // the stale one is closed as met
    pool.close(); // closed (poolClosed), pool closed

    let all: Vec<Captured> = capture.0.lock().clone();
    let pool_messages: Vec<&Captured> = all.iter().filter(|c| c.target == "mongopool::connection").collect();
    assert!(pool_messages.iter().all(|c| c.level == log::Level::Debug));
    for c in &pool_messages {
        assert_eq!(
            c.fields.get("serverHost").map(String::as_str),
            Some("logs.test"),
            "{c:?}"
        );
        assert_eq!(c.fields.get("serverPort").map(String::as_str), Some("27018"), "{c:?}");
    }

    let created = messages(&all, "Connection pool created");
    assert_eq!(created.len(), 1);
    let f = &created[0].fields;
    assert_eq!(f.get("maxPoolSize").map(String::as_str), Some("3"));
    assert_eq!(f.get("minPoolSize").map(String::as_str), Some("0"));
    assert_eq!(f.get("maxIdleTimeMS").map(String::as_str), Some("60000"));
    assert_eq!(f.get("waitQueueTimeoutMS").map(String::as_str), Some("500"));
    assert!(
        !f.contains_key("maxConnecting"),
        "maxConnecting was not set by the user"
    );

    assert_eq!(messages(&all, "Connection pool ready").len(), 2);
    assert_eq!(messages(&all, "Connection pool cleared").len(), 1);
    assert_eq!(messages(&all, "Connection pool closed").len(), 1);
    assert_eq!(messages(&all, "Connection checkout started").len(), 4);

    for (message, with_duration) in [
        ("Connection created", false),
        ("Connection ready", true),
        ("Connection checked out", true),
        ("Connection checked in", false),
    ] {
        let found = messages(&all, message);
        assert!(!found.is_empty(), "no {message:?} message");
        for c in found {
            assert!(c.fields["driverConnectionId"].parse::<u64>().is_ok(), "{c:?}");
            if with_duration {
                assert!(c.fields["durationMS"].parse::<f64>().is_ok(), "{c:?}");
            }
        }
    }

    let closed = messages(&all, "Connection closed");
    let reasons: Vec<&str> = closed.iter().map(|c| c.fields["reason"].as_str()).collect();
    assert!(
        reasons.contains(&"An error occurred while using the connection"),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"Connection became stale because the pool was cleared"),
        "{reasons:?}"
    );
    assert!(reasons.contains(&"Connection pool was closed"), "{reasons:?}");
    let errored = closed
        .iter()
        .find(|c| c.fields["reason"] == "An error occurred while using the connection")
        .unwrap();
    assert!(
        errored.fields.get("error").is_some_and(|e| !e.is_empty()),
        "{errored:?}"
    );

    let failed = messages(&all, "Connection checkout failed");
    assert_eq!(failed.len(), 1);
    let f = &failed[0].fields;
    assert_eq!(
        f["reason"],
        "An error occurred while trying to establish a new connection"
    );
    assert!(f["error"].contains("cleared"), "{f:?}");
    assert!(f["durationMS"].parse::<f64>().is_ok());
}
