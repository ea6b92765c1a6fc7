//! Records a pool's event stream as JSON lines, each stamped with a monotonic time.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::record::Record;
use crate::events::{
    CmapEvent, CmapEventHandler, ConnectionCheckOutFailedEvent, ConnectionCheckOutStartedEvent,
    ConnectionCheckedInEvent, ConnectionCheckedOutEvent, ConnectionClosedEvent, ConnectionCreatedEvent,
    ConnectionReadyEvent, PoolClearedEvent, PoolClosedEvent, PoolCreatedEvent, PoolReadyEvent,
};

/// Writes every event it is given as one JSON line (see [`Record::to_json_line`]), stamped
/// with the time since the recorder was created.
///
/// Use it as a [`CmapEventHandler`] ([`crate::PoolBuilder::event_handler`]), or call
/// [`TimelineRecorder::record`] from a thread that reads a subscription channel. Events are
/// stamped when the recorder sees them, which is a little after the pool emitted them (the
/// handler thread or the channel is in between), in the order the pool emitted them.
///
/// ```
/// use std::sync::Arc;
/// use mongopool::timeline::{parse_jsonl, TimelineRecorder};
/// use mongopool::{Pool, PoolOptions};
///
/// let path = std::env::temp_dir().join(format!("mongopool-doc-{}.jsonl", std::process::id()));
/// let recorder = TimelineRecorder::create(&path)?;
/// let pool = Pool::new("localhost:27017".parse()?, PoolOptions::default())?;
/// let events = pool.subscribe();
/// pool.ready()?;
/// pool.close();
/// for event in events.try_iter() {
///     recorder.record(&event);
/// }
/// recorder.flush()?;
/// let records = parse_jsonl(std::io::BufReader::new(std::fs::File::open(&path)?))?;
/// assert_eq!(records.len(), 2); // ConnectionPoolReady, ConnectionPoolClosed
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TimelineRecorder {
    start: Instant,
    /// Invariant: the time stamp is taken while this lock is held, so lines are written in
    /// non-decreasing time order even when several pools' handler threads share a recorder.
    inner: Mutex<Inner>,
}

struct Inner {
    out: Box<dyn Write + Send>,
    written: u64,
    /// The first write error; later events are dropped and [`TimelineRecorder::flush`]
    /// reports it.
    error: Option<io::Error>,
}

impl TimelineRecorder {
    /// A recorder writing to `out`; its clock starts now.
    pub fn new(out: impl Write + Send + 'static) -> TimelineRecorder {
        TimelineRecorder {
            start: Instant::now(),
            inner: Mutex::new(Inner {
                out: Box::new(out),
                written: 0,
                error: None,
            }),
        }
    }

    /// A recorder writing (buffered) to a new file at `path`, replacing any file there.
    pub fn create(path: impl AsRef<Path>) -> io::Result<TimelineRecorder> {
        Ok(Self::new(BufWriter::new(File::create(path)?)))
    }

    /// Writes `event` as one line, stamped with the time since the recorder was created. A
    /// write error is kept for [`TimelineRecorder::flush`] (events are never worth a panic).
    pub fn record(&self, event: &CmapEvent) {
        let mut inner = self.inner.lock();
        if inner.error.is_some() {
            return;
        }
        let mut line = Record::from_event(self.start.elapsed(), event).to_json_line();
        line.push('\n');
        match inner.out.write_all(line.as_bytes()) {
            Ok(()) => inner.written += 1,
            Err(e) => inner.error = Some(e),
        }
    }

    /// The number of events written so far.
    pub fn events_recorded(&self) -> u64 {
        self.inner.lock().written
    }

    /// The time since the recorder was created, on the clock its lines use.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Flushes the output, returning the first error any write met.
    pub fn flush(&self) -> io::Result<()> {
        let mut inner = self.inner.lock();
        if let Some(e) = inner.error.take() {
            // Keep failing: the file is incomplete.
            inner.error = Some(io::Error::new(e.kind(), e.to_string()));
            return Err(e);
        }
        inner.out.flush()
    }
}

impl std::fmt::Debug for TimelineRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimelineRecorder")
            .field("events_recorded", &self.events_recorded())
            .finish_non_exhaustive()
    }
}

impl CmapEventHandler for TimelineRecorder {
    fn handle_pool_created_event(&self, event: PoolCreatedEvent) {
        self.record(&CmapEvent::PoolCreated(event));
    }
    fn handle_pool_ready_event(&self, event: PoolReadyEvent) {
        self.record(&CmapEvent::PoolReady(event));
    }
    fn handle_pool_cleared_event(&self, event: PoolClearedEvent) {
        self.record(&CmapEvent::PoolCleared(event));
    }
    fn handle_pool_closed_event(&self, event: PoolClosedEvent) {
        self.record(&CmapEvent::PoolClosed(event));
    }
    fn handle_connection_created_event(&self, event: ConnectionCreatedEvent) {
        self.record(&CmapEvent::ConnectionCreated(event));
    }
    fn handle_connection_ready_event(&self, event: ConnectionReadyEvent) {
        self.record(&CmapEvent::ConnectionReady(event));
    }
    fn handle_connection_closed_event(&self, event: ConnectionClosedEvent) {
        self.record(&CmapEvent::ConnectionClosed(event));
    }
    fn handle_connection_checkout_started_event(&self, event: ConnectionCheckOutStartedEvent) {
        self.record(&CmapEvent::ConnectionCheckOutStarted(event));
    }
    fn handle_connection_checkout_failed_event(&self, event: ConnectionCheckOutFailedEvent) {
        self.record(&CmapEvent::ConnectionCheckOutFailed(event));
    }
    fn handle_connection_checked_out_event(&self, event: ConnectionCheckedOutEvent) {
        self.record(&CmapEvent::ConnectionCheckedOut(event));
    }
    fn handle_connection_checked_in_event(&self, event: ConnectionCheckedInEvent) {
        self.record(&CmapEvent::ConnectionCheckedIn(event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::ConnectionClosedReason;
    use crate::timeline::{parse_jsonl, RecordedEvent};
    use std::sync::Arc;

    /// A shared buffer, to read back what the recorder wrote.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    struct Failing;
    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn closed(id: u64) -> ConnectionClosedEvent {
        ConnectionClosedEvent {
            address: "db:27017".parse().unwrap(),
            connection_id: id,
            reason: ConnectionClosedReason::Idle,
            error: None,
        }
    }

    #[test]
    fn handler_calls_become_lines_in_time_order() {
        let buffer = Buffer::default();
        let recorder = TimelineRecorder::new(buffer.clone());
        recorder.handle_connection_closed_event(closed(1));
        std::thread::sleep(Duration::from_millis(2));
        recorder.handle_connection_closed_event(closed(2));
        recorder.flush().unwrap();
        assert_eq!(recorder.events_recorded(), 2);
        let records = parse_jsonl(&buffer.0.lock()[..]).unwrap();
        assert_eq!(records.len(), 2);
        assert!(records[1].at >= records[0].at + Duration::from_millis(2), "{records:?}");
        assert!(records[1].at <= recorder.elapsed());
        assert_eq!(
            records[1].event,
            RecordedEvent::ConnectionClosed {
                connection_id: 2,
                reason: ConnectionClosedReason::Idle,
                error: None
            }
        );
    }

    #[test]
    fn a_write_error_is_reported_by_flush_and_stops_recording() {
        let recorder = TimelineRecorder::new(Failing);
        recorder.handle_connection_closed_event(closed(1));
        recorder.handle_connection_closed_event(closed(2));
        assert_eq!(recorder.events_recorded(), 0);
        for _ in 0..2 {
            let err = recorder.flush().unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        }
    }
}
