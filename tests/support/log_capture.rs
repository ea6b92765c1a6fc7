//! A `log::Log` that records mongopool's log records (level, target, text and structured
//! key-value pairs) for tests that assert what was logged. `log` allows one logger per
//! process, so [`install`] sets it once per test binary; tests filter the records they read.

use std::sync::Once;

use log::kv::{Key, Value, VisitSource, VisitValue};
use log::{Level, LevelFilter, Log, Metadata, Record};
use parking_lot::Mutex;
use serde_json::{Map, Value as Json};

/// One captured record.
#[derive(Clone, Debug)]
pub struct Captured {
    pub level: Level,
    pub target: String,
    /// The unstructured text.
    pub text: String,
    /// The key-value pairs as JSON values: strings, integers (`u64`/`i64`), doubles (`f64`)
    /// and booleans keep their types, so `$$type` checks can tell `int` from `double`.
    pub data: Map<String, Json>,
}

static RECORDS: Mutex<Vec<Captured>> = Mutex::new(Vec::new());

struct Capture;

impl Log for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("mongopool")
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut data = Map::new();
        let _ = record.key_values().visit(&mut Pairs(&mut data));
        RECORDS.lock().push(Captured {
            level: record.level(),
            target: record.target().to_owned(),
            text: record.args().to_string(),
            data,
        });
    }

    fn flush(&self) {}
}

struct Pairs<'a>(&'a mut Map<String, Json>);

impl<'kvs> VisitSource<'kvs> for Pairs<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        let mut json = Json::Null;
        value.visit(ToJson(&mut json))?;
        self.0.insert(key.as_str().to_owned(), json);
        Ok(())
    }
}

/// Converts one value, keeping its primitive type.
struct ToJson<'a>(&'a mut Json);

impl<'v> VisitValue<'v> for ToJson<'_> {
    fn visit_any(&mut self, value: Value<'_>) -> Result<(), log::kv::Error> {
        *self.0 = Json::String(value.to_string());
        Ok(())
    }
    fn visit_u64(&mut self, value: u64) -> Result<(), log::kv::Error> {
        *self.0 = Json::from(value);
        Ok(())
    }
    fn visit_i64(&mut self, value: i64) -> Result<(), log::kv::Error> {
        *self.0 = Json::from(value);
        Ok(())
    }
    fn visit_f64(&mut self, value: f64) -> Result<(), log::kv::Error> {
        *self.0 = Json::from(value);
        Ok(())
    }
    fn visit_bool(&mut self, value: bool) -> Result<(), log::kv::Error> {
        *self.0 = Json::Bool(value);
        Ok(())
    }
    fn visit_str(&mut self, value: &str) -> Result<(), log::kv::Error> {
        *self.0 = Json::String(value.to_owned());
        Ok(())
    }
}

/// Installs the capturing logger (once per process) at the most verbose level.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        log::set_boxed_logger(Box::new(Capture)).expect("no other logger in this test binary");
        log::set_max_level(LevelFilter::Trace);
    });
}

/// Removes and returns everything captured so far.
pub fn take() -> Vec<Captured> {
    std::mem::take(&mut *RECORDS.lock())
}

/// A copy of everything captured so far.
pub fn snapshot() -> Vec<Captured> {
    RECORDS.lock().clone()
}
