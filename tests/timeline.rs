//! The event timeline end to end: a real pool run (connections from a fake establisher with a
//! slow handshake and failures on demand) recorded through the `CmapEventHandler` path,
//! parsed back, rendered, and the SVG checked; and the `mongopool-timeline` binary.

mod support;

use std::io::Write;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mongopool::timeline::{parse_jsonl, render_html, RecordedEvent, SegmentState, Timeline, TimelineRecorder};
use mongopool::{Connection, ErrorKind, Establisher, Interrupter, Pool, PoolOptions, ServerAddress};
use parking_lot::Mutex;

/// Handshakes take 5 ms; while `fail` is set they fail.
struct SlowFake {
    fail: AtomicBool,
}

impl Establisher for SlowFake {
    fn establish(&self, address: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
        std::thread::sleep(Duration::from_millis(5));
        if self.fail.load(Ordering::SeqCst) {
            return Err(mongopool::Error::protocol("handshake refused by the test"));
        }
        Ok(Connection::detached(address.clone()))
    }
}

/// A shared in-memory file.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs a pool through a burst, a wait-queue timeout, a failed establishment, a clear and a
/// close, and returns the recorded JSON lines.
fn recorded_run() -> Vec<u8> {
    let buffer = Buffer::default();
    let recorder = Arc::new(TimelineRecorder::new(buffer.clone()));
    let fake = Arc::new(SlowFake {
        fail: AtomicBool::new(false),
    });
    let options = PoolOptions::builder()
        .max_pool_size(4)
        .min_pool_size(1)
        .max_connecting(2)
        .wait_queue_timeout(Duration::from_millis(40))
        .build()
        .unwrap();
    let pool = Pool::builder("db.example:27017".parse().unwrap())
        .options(options)
        .establisher(fake.clone())
        .event_handler(recorder.clone())
        .build()
        .unwrap();
    pool.ready().unwrap();

    // A burst: 8 threads, 4 connections.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                for _ in 0..10 {
                    let conn = pool.check_out_with_timeout(None).expect("check-out");
                    std::thread::sleep(Duration::from_millis(1));
                    drop(conn);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }

    // Hold every connection: the next check-out times out in the wait queue.
    let held: Vec<_> = (0..4).map(|_| pool.check_out().expect("hold")).collect();
    let err = pool.check_out().expect_err("all four are held");
    assert!(matches!(err.kind(), ErrorKind::WaitQueueTimeout { .. }), "{err}");
    // One connection is closed as errored.
    let mut held = held.into_iter();
    held.next().unwrap().discard();
    let rest: Vec<_> = held.collect();

    // A failed establishment: that connection closes with reason `error`.
    fake.fail.store(true, Ordering::SeqCst);
    pool.check_out().expect_err("handshakes fail");
    fake.fail.store(false, Ordering::SeqCst);

    // A clear: connections checked in afterwards are stale.
    pool.clear(false);
    drop(rest);
    pool.ready().unwrap();
    drop(pool.check_out().unwrap());
    pool.close();
    drop(pool);

    // The handler thread delivers in order: wait until it has written the close.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = String::from_utf8_lossy(&buffer.0.lock()).into_owned();
        if text.contains("\"ConnectionPoolClosed\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the recorder never saw the pool close:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    recorder.flush().unwrap();
    let bytes = buffer.0.lock().clone();
    bytes
}

#[test]
fn a_recorded_pool_run_renders_one_lane_per_connection() {
    let jsonl = recorded_run();
    let records = parse_jsonl(&jsonl[..]).expect("the recorder's output parses");
    let count = |name: &str| records.iter().filter(|r| r.event.name() == name).count();
    // PoolCreated is delivered to a builder's handler too.
    assert_eq!(count("ConnectionPoolCreated"), 1);
    assert_eq!(count("ConnectionPoolReady"), 2);
    assert_eq!(count("ConnectionPoolCleared"), 1);
    assert_eq!(count("ConnectionPoolClosed"), 1);
    let created = count("ConnectionCreated");
    assert!(
        created >= 6,
        "4 + the errored one's replacement + the failed one: {created}"
    );
    assert_eq!(
        count("ConnectionCreated"),
        count("ConnectionClosed"),
        "all closed by the end"
    );
    assert!(records.windows(2).all(|w| w[0].at <= w[1].at), "times never decrease");

    // The model: contiguous segments per lane, starting pending.
    let timeline = Timeline::build(&records);
    assert_eq!(timeline.lanes.len(), created);
    for lane in &timeline.lanes {
        assert!(lane.created_seen);
        assert_eq!(
            lane.segments[0].state,
            SegmentState::Pending,
            "lane {}",
            lane.connection_id
        );
        for w in lane.segments.windows(2) {
            assert_eq!(w[0].end, w[1].start, "lane {}: contiguous", lane.connection_id);
            assert_ne!(w[0].state, w[1].state);
        }
        let closed = lane.closed.as_ref().expect("every connection closed");
        assert_eq!(lane.segments.last().unwrap().end, closed.at);
    }
    assert!(timeline.max_check_outs_in_progress() >= 5, "8 threads on 4 connections");
    assert_eq!(
        timeline.waits.len(),
        count("ConnectionCheckedOut") + count("ConnectionCheckOutFailed")
    );

    // The drawing.
    let html = render_html(&timeline, "a recorded run");
    let drawn = support::timeline_check::check(&html, &records);
    assert_eq!(drawn.lanes, created);
    for state in ["pending", "available", "in-use"] {
        assert!(
            drawn.segments.get(state).copied().unwrap_or(0) > 0,
            "no {state} segment: {drawn:?}"
        );
    }
    for reason in ["stale", "error", "poolClosed"] {
        assert!(drawn.closes.contains_key(reason), "no {reason} close: {drawn:?}");
    }
    for kind in ["created", "ready", "cleared", "closed"] {
        assert!(drawn.markers.contains_key(kind), "no {kind} marker: {drawn:?}");
    }
    assert!(drawn.failed_check_out_ticks >= 1, "{drawn:?}");
    assert!(drawn.wait_bars >= 1, "{drawn:?}");
    assert!(
        html.contains("handshake refused by the test"),
        "the error is in the close's tooltip"
    );
}

#[test]
fn records_with_several_servers_get_labelled_lanes() {
    let lines = [
        r#"{"tUs":0,"event":"ConnectionCreated","address":"a:1","connectionId":1}"#,
        r#"{"tUs":5,"event":"ConnectionCreated","address":"b:2","connectionId":1}"#,
        r#"{"tUs":9,"event":"ConnectionCheckedIn","address":"c:3","connectionId":7}"#,
    ];
    let records = parse_jsonl(lines.join("\n").as_bytes()).unwrap();
    let timeline = Timeline::build(&records);
    assert_eq!(timeline.lanes.len(), 3);
    assert!(!timeline.lanes[2].created_seen, "first seen at its check-in");
    let html = render_html(&timeline, "three servers");
    assert!(
        html.contains(">a:1 #1</text>") && html.contains(">b:2 #1</text>"),
        "{html}"
    );
    // The checker expects lanes for created connections only; this recording has one more.
    assert_eq!(html.matches("<g class=\"lane\"").count(), 3);
}

#[test]
fn the_binary_renders_a_file_and_rejects_a_bad_one() {
    let dir = std::env::temp_dir().join(format!("mongopool-timeline-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("run.jsonl");
    std::fs::write(&input, recorded_run()).unwrap();
    let bin = env!("CARGO_BIN_EXE_mongopool-timeline");

    let out = Command::new(bin).arg(&input).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html_path = dir.join("run.html");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        html_path.display().to_string()
    );
    let html = std::fs::read_to_string(&html_path).unwrap();
    let records = parse_jsonl(std::fs::read(&input).unwrap().as_slice()).unwrap();
    support::timeline_check::check(&html, &records);

    // A truncated second line: exit 1, the line named, no output written.
    let bad = dir.join("bad.jsonl");
    let good_line = r#"{"tUs":0,"event":"ConnectionPoolReady","address":"a:1"}"#;
    std::fs::write(&bad, format!("{good_line}\n{{\"tUs\":3,\"event\":\"Conn")).unwrap();
    let out = Command::new(bin).arg(&bad).arg(dir.join("bad.html")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2: invalid JSON at column"), "{stderr}");
    assert!(!dir.join("bad.html").exists());

    let out = Command::new(bin).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(bin).arg(dir.join("missing.jsonl")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the timeline"));

    std::fs::remove_dir_all(&dir).unwrap();
}

/// The recorder's lines are what `Record::to_json_line` says, and the model ignores events a
/// correct pool never sends after a close.
#[test]
fn events_after_a_close_do_not_reopen_a_lane() {
    let lines = [
        r#"{"tUs":0,"event":"ConnectionCreated","address":"a:1","connectionId":1}"#,
        r#"{"tUs":2,"event":"ConnectionClosed","address":"a:1","connectionId":1,"reason":"error","error":"boom"}"#,
        r#"{"tUs":3,"event":"ConnectionCheckedIn","address":"a:1","connectionId":1}"#,
    ];
    let records = parse_jsonl(lines.join("\n").as_bytes()).unwrap();
    assert!(matches!(records[1].event, RecordedEvent::ConnectionClosed { .. }));
    let timeline = Timeline::build(&records);
    assert_eq!(timeline.lanes[0].segments.len(), 1);
    assert_eq!(
        timeline.lanes[0].closed.as_ref().unwrap().error.as_deref(),
        Some("boom")
    );
}
