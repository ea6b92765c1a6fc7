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
    let server = TestServer::shared();
    let output = Command::new(example(name))
        .arg(server.uri())
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
