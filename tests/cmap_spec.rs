//! The CMAP conformance runner (spec-tests/README.md): every `cmap-format/*.json` of the
//! official suite (from `$MONGOPOOL_SPEC_TESTS`, default `../shared/spec-tests`) and of this
//! repository's own `spec-tests/cmap-format/`. Unit tests run against connections without
//! sockets; integration tests against a live server with the test's fail point. A test the
//! runner cannot run is a failure, never a skip.

mod support;

use support::json::json_to_bson;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bson::{doc, Document};
use crossbeam_channel::{Receiver, Sender};
use mongopool::events::CmapEvent;
use mongopool::{Error, ErrorKind, Pool, PoolOptions, PooledConnection};
use parking_lot::Mutex;
use serde_json::{json, Map, Value};
use support::detached::Detached;
use support::server::TestServer;

const DEFAULT_WAIT_FOR_EVENT: Duration = Duration::from_secs(10);

pub fn spec_dir() -> PathBuf {
    match std::env::var("MONGOPOOL_SPEC_TESTS") {
        Ok(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec-tests"),
    }
}

fn test_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let official = spec_dir().join("cmap-format");
    let own = Path::new(env!("CARGO_MANIFEST_DIR")).join("spec-tests/cmap-format");
    let read = |dir: &Path, required: bool, files: &mut Vec<PathBuf>| match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            found.sort();
            files.extend(found);
        }
        Err(e) if required => panic!("cannot read the CMAP suite at {}: {e}", dir.display()),
        Err(_) => {}
    };
    read(&official, true, &mut files);
    read(&own, false, &mut files);
    files
}

/// The one test: runs every file, prints a line per file and the totals, fails if any failed.
#[test]
fn cmap_spec_suite() {
    let files = test_files();
    assert!(!files.is_empty(), "no CMAP spec tests found");
    let filter = std::env::var("CMAP_FILTER").unwrap_or_default();
    let mut passed = 0;
    let mut failed = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if !filter.is_empty() && !name.contains(&filter) {
            continue;
        }
        let start = Instant::now();
        let outcome = std::panic::catch_unwind(|| run_file(&file));
        let outcome = match outcome {
            Ok(r) => r,
            Err(panic) => Err(panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into())),
        };
        match outcome {
            Ok(()) => {
                passed += 1;
                report(&format!("PASS {name} ({} ms)", start.elapsed().as_millis()));
            }
            Err(why) => {
                report(&format!("FAIL {name}: {why}"));
                failed.push(name);
            }
        }
    }
    report(&format!("cmap spec: {passed} passed, {} failed", failed.len()));
    assert!(failed.is_empty(), "failed: {failed:?}");
}

/// Writes straight to stderr so the per-file lines show even when the harness captures output.
fn report(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn run_file(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let test: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let style = test["style"].as_str().ok_or("missing style")?;
    match style {
        "unit" => run_test(&test, None),
        "integration" => {
            let server = TestServer::shared();
            check_run_on(&test, server)?;
            let fail_point = test.get("failPoint").map(json_to_document).transpose()?;
            let _guard = fail_point.map(|fp| server.fail_point(fp));
            run_test(&test, Some(server))
        }
        other => Err(format!("unknown style {other}")),
    }
}

/// `runOn`: the server must satisfy one requirement; an unsatisfiable test fails.
fn check_run_on(test: &Value, server: &TestServer) -> Result<(), String> {
    let Some(reqs) = test["runOn"].as_array() else {
        return Ok(());
    };
    let info = server.admin(doc! { "buildInfo": 1 });
    let version: Vec<u64> = info
        .get_str("version")
        .unwrap_or("0")
        .split(['.', '-'])
        .map_while(|p| p.parse().ok())
        .collect();
    let parse = |s: &str| s.split('.').map_while(|p| p.parse().ok()).collect::<Vec<u64>>();
    let ok = reqs.iter().any(|r| {
        let min_ok = r["minServerVersion"].as_str().is_none_or(|m| version >= parse(m));
        let max_ok = r["maxServerVersion"].as_str().is_none_or(|m| version <= parse(m));
        min_ok && max_ok
    });
    if ok {
        Ok(())
    } else {
        Err(format!("server version {version:?} does not satisfy runOn {reqs:?}"))
    }
}

fn json_to_document(v: &Value) -> Result<Document, String> {
    match json_to_bson(v) {
        bson::Bson::Document(d) => Ok(d),
        _ => Err("failPoint is not a document".into()),
    }
}

/// Everything the operations share across threads.
struct Ctx {
    pool: Pool,
    events: EventLog,
    /// Checked-out connections by label; unlabelled ones stay checked out until the end.
    labelled: Mutex<HashMap<String, PooledConnection>>,
    unlabelled: Mutex<Vec<PooledConnection>>,
}

/// Every event seen so far, filled from the subscription on demand.
struct EventLog {
    rx: Receiver<CmapEvent>,
    seen: Mutex<Vec<CmapEvent>>,
}

impl EventLog {
    fn drain(&self) -> parking_lot::MutexGuard<'_, Vec<CmapEvent>> {
        let mut seen = self.seen.lock();
        seen.extend(self.rx.try_iter());
        seen
    }

    fn count(&self, name: &str) -> usize {
        self.drain().iter().filter(|e| e.name() == name).count()
    }

    fn wait_for(&self, name: &str, count: usize, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let n = self.count(name);
            if n >= count {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "waitForEvent: saw {n} of {count} {name} events within {timeout:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

type Op = Value;

/// A named worker thread that runs operations in order.
struct Worker {
    ops: Sender<Op>,
    handle: JoinHandle<Option<Error>>,
}

fn pool_options(test: &Value) -> Result<PoolOptions, String> {
    let mut b = PoolOptions::builder();
    let opts = test["poolOptions"].as_object().cloned().unwrap_or_default();
    for (key, value) in &opts {
        let n = || value.as_i64().ok_or(format!("poolOptions.{key} is not an integer"));
        b = match key.as_str() {
            "maxPoolSize" => b.max_pool_size(n()? as u32),
            "minPoolSize" => b.min_pool_size(n()? as u32),
            "maxIdleTimeMS" => b.max_idle_time(Duration::from_millis(n()? as u64)),
            "maxConnecting" => b.max_connecting(n()? as u32),
            "waitQueueTimeoutMS" => b.wait_queue_timeout(Duration::from_millis(n()? as u64)),
            "backgroundThreadIntervalMS" => {
                let ms = n()?;
                b.maintenance_interval((ms > 0).then(|| Duration::from_millis(ms as u64)))
            }
            "appName" => b.app_name(value.as_str().ok_or("appName is not a string")?),
            other => return Err(format!("unsupported pool option {other}")),
        };
    }
    b.build().map_err(|e| e.to_string())
}

fn run_test(test: &Value, server: Option<&TestServer>) -> Result<(), String> {
    let options = pool_options(test)?;
    let (tx, rx) = crossbeam_channel::unbounded();
    let builder = match server {
        Some(s) => Pool::builder(s.address().clone()),
        None => Pool::builder("localhost:27017".parse().unwrap()).establisher(Arc::new(Detached)),
    };
    let pool = builder
        .options(options)
        .event_sender(tx)
        .build()
        .map_err(|e| e.to_string())?;
    let ctx = Arc::new(Ctx {
        pool,
        events: EventLog {
            rx,
            seen: Mutex::new(Vec::new()),
        },
        labelled: Mutex::new(HashMap::new()),
        unlabelled: Mutex::new(Vec::new()),
    });

    let mut workers: HashMap<String, Worker> = HashMap::new();
    let mut main_error: Option<Error> = None;
    let ops = test["operations"].as_array().ok_or("missing operations")?;
    for op in ops {
        let name = op["name"].as_str().ok_or("operation without name")?;
        if let Some(thread) = op["thread"].as_str() {
            let worker = workers.get(thread).ok_or(format!("thread {thread} was not started"))?;
            worker
                .ops
                .send(op.clone())
                .map_err(|_| format!("thread {thread} is gone"))?;
            continue;
        }
        let result = match name {
            "start" => {
                let target = op["target"].as_str().ok_or("start without target")?.to_owned();
                let (ops_tx, ops_rx) = crossbeam_channel::unbounded::<Op>();
                let ctx = ctx.clone();
                let handle = std::thread::spawn(move || {
                    for op in ops_rx {
                        if let Err(e) = run_op(&ctx, &op) {
                            return Some(e);
                        }
                    }
                    None
                });
                workers.insert(target, Worker { ops: ops_tx, handle });
                Ok(())
            }
            "waitForThread" => {
                let target = op["target"].as_str().ok_or("waitForThread without target")?;
                let worker = workers.remove(target).ok_or(format!("unknown thread {target}"))?;
                drop(worker.ops);
                match worker.handle.join() {
                    Ok(None) => Ok(()),
                    Ok(Some(e)) => Err(e),
                    Err(_) => return Err(format!("thread {target} panicked")),
                }
            }
            "waitForEvent" => {
                let event = op["event"].as_str().ok_or("waitForEvent without event")?;
                let count = op["count"].as_u64().ok_or("waitForEvent without count")? as usize;
                let timeout = op["timeout"]
                    .as_u64()
                    .map(Duration::from_millis)
                    .unwrap_or(DEFAULT_WAIT_FOR_EVENT);
                ctx.events.wait_for(event, count, timeout)?;
                Ok(())
            }
            _ => run_op(&ctx, op),
        };
        if let Err(e) = result {
            main_error = Some(e);
            break;
        }
    }

    let outcome = check_outcome(test, &ctx, main_error);
    // Tear down: stop workers, return connections, close the pool.
    for (_, w) in workers.drain() {
        drop(w.ops);
        let _ = w.handle.join();
    }
    ctx.labelled.lock().clear();
    ctx.unlabelled.lock().clear();
    ctx.pool.close();
    outcome
}

/// Runs one pool operation in the current thread.
fn run_op(ctx: &Ctx, op: &Value) -> Result<(), Error> {
    match op["name"].as_str().unwrap_or_default() {
        "checkOut" => {
            let conn = ctx.pool.check_out()?;
            match op["label"].as_str() {
                Some(label) => {
                    ctx.labelled.lock().insert(label.to_owned(), conn);
                }
                None => ctx.unlabelled.lock().push(conn),
            }
            Ok(())
        }
        "checkIn" => {
            let label = op["connection"].as_str().unwrap_or_default();
            let conn = ctx.labelled.lock().remove(label);
            match conn {
                Some(c) => {
                    c.check_in();
                    Ok(())
                }
                None => Err(Error::invalid_argument(format!(
                    "no checked-out connection labelled {label}"
                ))),
            }
        }
        "clear" => {
            let interrupt = op["interruptInUseConnections"].as_bool().unwrap_or(false);
            ctx.pool.clear(interrupt);
            Ok(())
        }
        "close" => {
            ctx.pool.close();
            Ok(())
        }
        "ready" => ctx.pool.ready(),
        "wait" => {
            std::thread::sleep(Duration::from_millis(op["ms"].as_u64().unwrap_or(0)));
            Ok(())
        }
        "waitForEvent" => {
            let event = op["event"].as_str().unwrap_or_default();
            let count = op["count"].as_u64().unwrap_or(1) as usize;
            let timeout = op["timeout"]
                .as_u64()
                .map(Duration::from_millis)
                .unwrap_or(DEFAULT_WAIT_FOR_EVENT);
            ctx.events
                .wait_for(event, count, timeout)
                .map_err(Error::invalid_argument)
        }
        other => Err(Error::invalid_argument(format!("unknown operation {other}"))),
    }
}

fn check_outcome(test: &Value, ctx: &Ctx, main_error: Option<Error>) -> Result<(), String> {
    match (&test["error"], main_error) {
        (Value::Null, None) => {}
        (Value::Null, Some(e)) => return Err(format!("unexpected error: {e}")),
        (expected, None) => return Err(format!("expected error {expected}, got none")),
        (expected, Some(actual)) => {
            let actual = error_to_json(&actual);
            matches(&actual, expected, "error")?;
        }
    }
    let ignore: Vec<&str> = test["ignore"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let actual: Vec<Value> = ctx
        .events
        .drain()
        .iter()
        .filter(|e| !ignore.contains(&e.name()))
        .map(event_to_json)
        .collect();
    let expected = test["events"].as_array().cloned().unwrap_or_default();
    for (i, exp) in expected.iter().enumerate() {
        let act = actual.get(i).ok_or_else(|| {
            format!(
                "expected event #{i} {exp}, but only {} events: {actual:#?}",
                actual.len()
            )
        })?;
        matches(act, exp, &format!("event #{i}")).map_err(|e| format!("{e}\nactual events: {actual:#?}"))?;
    }
    Ok(())
}

/// The spec's error types. The message check is a prefix match: mongopool appends the pool's
/// counts to the WaitQueueTimeoutError message (spec-tests/README.md).
fn error_to_json(e: &Error) -> Value {
    let ty = match e.kind() {
        ErrorKind::PoolClosed => "PoolClosedError",
        ErrorKind::WaitQueueTimeout { .. } => "WaitQueueTimeoutError",
        ErrorKind::PoolCleared { .. } | ErrorKind::ConnectionInterrupted => "PoolClearedError",
        _ => "Other",
    };
    json!({ "type": ty, "message": e.kind().to_string(), "address": e.address().map(|a| a.to_string()) })
}

fn event_to_json(e: &CmapEvent) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(e.name()));
    m.insert("address".into(), json!(e.address().to_string()));
    if let Some(id) = e.connection_id() {
        m.insert("connectionId".into(), json!(id));
    }
    let ms = |d: Duration| json!(d.as_secs_f64() * 1000.0);
    match e {
        CmapEvent::PoolCreated(p) => {
            let mut o = Map::new();
            let o_ = &p.options;
            for (k, v) in [
                ("maxIdleTimeMS", o_.max_idle_time_ms),
                ("minPoolSize", o_.min_pool_size),
                ("maxPoolSize", o_.max_pool_size),
                ("maxConnecting", o_.max_connecting),
                ("waitQueueTimeoutMS", o_.wait_queue_timeout_ms),
            ] {
                if let Some(v) = v {
                    o.insert(k.into(), json!(v));
                }
            }
            m.insert("options".into(), Value::Object(o));
        }
        CmapEvent::PoolCleared(c) => {
            m.insert(
                "interruptInUseConnections".into(),
                json!(c.interrupt_in_use_connections),
            );
        }
        CmapEvent::ConnectionReady(r) => {
            m.insert("duration".into(), ms(r.duration));
        }
        CmapEvent::ConnectionClosed(c) => {
            m.insert("reason".into(), json!(c.reason.as_str()));
        }
        CmapEvent::ConnectionCheckOutFailed(f) => {
            m.insert("reason".into(), json!(f.reason.as_str()));
            m.insert("duration".into(), ms(f.duration));
        }
        CmapEvent::ConnectionCheckedOut(c) => {
            m.insert("duration".into(), ms(c.duration));
        }
        _ => {}
    }
    Value::Object(m)
}

/// MATCH (cmap-format README): `expected` is a subset of `actual`; 42 and "42" match any
/// present value. Strings under `message` match as prefixes (see `error_to_json`).
fn matches(actual: &Value, expected: &Value, path: &str) -> Result<(), String> {
    if expected == &json!(42) || expected == &json!("42") {
        return if actual.is_null() {
            Err(format!("{path}: expected a value, found none"))
        } else {
            Ok(())
        };
    }
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                matches(a.get(k).unwrap_or(&Value::Null), v, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            for (i, v) in e.iter().enumerate() {
                matches(a.get(i).unwrap_or(&Value::Null), v, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Value::String(e), Value::String(a)) if path.ends_with(".message") => {
            if a.to_lowercase().starts_with(&e.to_lowercase()) {
                Ok(())
            } else {
                Err(format!("{path}: expected message starting with {e:?}, got {a:?}"))
            }
        }
        (Value::Number(e), Value::Number(a)) => {
            if e.as_f64() == a.as_f64() {
                Ok(())
            } else {
                Err(format!("{path}: expected {e}, got {a}"))
            }
        }
        (e, a) if e == a => Ok(()),
        (e, a) => Err(format!("{path}: expected {e}, got {a}")),
    }
}
