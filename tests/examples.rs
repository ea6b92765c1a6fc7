//! Runs every example binary against a live server, as a user would, and checks its output.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::server::TestServer;

/// The example programs as `cargo build --examples` leaves them next to this test's binary
/// (`cargo test` itself builds examples only as test harnesses, so `scripts/test` builds them
/// first).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target profile dir");
    let path = dir.join("examples").join(name);
    assert!(
        path.is_file(),
        "{} is not built: run `cargo build --examples` first (scripts/test does)",
        path.display()
    );
    path
}

fn run(name: &str, env: &[(&str, &str)]) -> String {
    run_with_args(name, &[&TestServer::shared().uri()], env)
}

fn run_with_args(name: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = Command::new(example(name))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run example");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "{name} failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    stdout + &stderr
}

#[test]
fn quickstart() {
    let out = run("quickstart", &[]);
    assert!(out.contains("ping: { \"ok\": 1"), "{out}");
    assert!(out.contains("available: 1"), "{out}");
}

#[test]
fn events_channel() {
    let out = run("events_channel", &[]);
    for name in [
        "ConnectionPoolCreated",
        "ConnectionPoolReady",
        "ConnectionReady",
        "ConnectionCheckedOut",
        "ConnectionClosed",
        "ConnectionPoolClosed",
    ] {
        assert!(out.contains(name), "{name} missing:\n{out}");
    }
    assert!(out.contains("reason=poolClosed"), "{out}");
}

#[test]
fn events_handler() {
    let out = run("events_handler", &[]);
    assert!(out.contains("connection 1 created"), "{out}");
    assert!(out.contains("closed after 10 check-outs"), "{out}");
}

#[test]
fn worker_pool() {
    let out = run("worker_pool", &[]);
    assert!(out.contains("800 inserts by 16 threads on 4 connections"), "{out}");
    assert!(out.contains("server count 800"), "{out}");
}

#[test]
fn retry() {
    let out = run("retry", &[]);
    assert!(out.contains("as expected: Connection pool for"), "{out}");
    assert!(out.contains("attempt 1 failed with a retryable error"), "{out}");
    assert!(out.contains("after retry: { \"ok\": 1"), "{out}");
}

#[test]
fn logging() {
    let out = run("logging", &[("RUST_LOG", "mongopool::connection=debug")]);
    for message in [
        "Connection pool created",
        "Connection pool ready",
        "Connection checked out",
        "Connection checked in",
        "Connection pool closed",
    ] {
        assert!(out.contains(message), "{message} missing:\n{out}");
    }
    assert!(out.contains("serverHost"), "structured fields missing:\n{out}");
}

#[test]
fn client_from_uri() {
    // Options in the URI; the client's monitor makes the pool ready, the example never calls
    // ready(). The URI comes from MONGODB_URI here, as a user's environment would give it.
    let uri = format!("{}/?maxPoolSize=3&appName=client_from_uri", TestServer::shared().uri());
    let out = run_with_args("client_from_uri", &[], &[("MONGODB_URI", uri.as_str())]);
    let address = TestServer::shared().address().to_string();
    assert!(out.contains(&format!("ping on {address}: {{ \"ok\": 1")), "{out}");
    // SecantusDB answers as a one-member replica set's primary; a mongod may be standalone.
    assert!(
        out.contains(&format!("server type of {address}: Some(RsPrimary)"))
            || out.contains(&format!("server type of {address}: Some(Standalone)")),
        "{out}"
    );
    assert!(out.contains("in_use: 0"), "{out}");
    assert!(out.trim_end().ends_with("closed"), "{out}");

    // A URI that does not parse is a clear error and a failed exit.
    let output = Command::new(example("client_from_uri"))
        .arg("mongodb://localhost:27017/?maxPoolSize=2&minPoolSize=5")
        .output()
        .expect("run example");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("client_from_uri: invalid argument: minPoolSize (5) must not be greater than maxPoolSize (2)"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The demo, as `scripts/demo` runs it: phases, status lines, the latency table, the timeline
/// files it names, and no fail point left behind.
#[test]
fn demo() {
    let server = TestServer::start();
    let dir = std::env::temp_dir().join(format!("mongopool-demo-test-{}", std::process::id()));
    let out = run_with_args("demo", &[&server.uri(), dir.to_str().unwrap()], &[]);
    for phase in [
        "phase 1/3: burst",
        "phase 2/3: clear, slow handshakes",
        "phase 3/3: recovery",
    ] {
        assert!(out.contains(phase), "{phase} missing:\n{out}");
    }
    assert!(out.contains("check-outs/s"), "no status line:\n{out}");
    assert!(
        out.contains("[####################] 100%"),
        "no full progress bar:\n{out}"
    );
    let all = out
        .lines()
        .find(|l| l.trim_start().starts_with("all "))
        .unwrap_or_else(|| panic!("no latency summary:\n{out}"));
    let numbers: Vec<f64> = all.split_whitespace().skip(1).map(|n| n.parse().unwrap()).collect();
    let [checkouts, p50, p99, max] = numbers[..] else {
        panic!("{all}")
    };
    assert!(checkouts > 0.0 && p50 <= p99 && p99 <= max, "{all}");
    // The slowed handshakes show: some check-out waited for one (300 ms).
    assert!(max >= 300.0, "{all}");
    assert!(out.contains("ConnectionPoolCleared 1"), "{out}");

    let html = dir.join("timeline.html");
    let jsonl = dir.join("timeline.jsonl");
    assert!(
        out.contains(&format!("timeline page:   {}", html.canonicalize().unwrap().display())),
        "{out}"
    );
    let records = mongopool::timeline::parse_jsonl(std::fs::read(&jsonl).unwrap().as_slice()).unwrap();
    support::timeline_check::check(&std::fs::read_to_string(&html).unwrap(), &records);

    // The fail point is off again: a handshake with the demo's app name is fast.
    let options = mongopool::ConnectionOptions {
        app_name: Some("mongopool-demo".into()),
        ..Default::default()
    };
    let start = std::time::Instant::now();
    mongopool::Connection::connect(server.address(), &options).expect("connect");
    assert!(
        start.elapsed() < std::time::Duration::from_millis(250),
        "{:?}",
        start.elapsed()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every program in `examples/` has a test above.
#[test]
fn every_example_is_tested() {
    let source = include_str!("examples.rs");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        assert!(
            source.contains(&format!("fn {name}()")),
            "examples/{name}.rs has no test in tests/examples.rs"
        );
    }
}
