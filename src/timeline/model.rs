//! What a recorded event stream says happened: each connection's states over time, the pool
//! markers, check-outs in progress and check-out waits. The renderer draws this.

use std::collections::HashMap;
use std::time::Duration;

use super::record::{Record, RecordedEvent};
use crate::events::{ConnectionCheckOutFailedReason, ConnectionClosedReason};

/// A connection's state during a [`Segment`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SegmentState {
    /// Being established (from `ConnectionCreated` to `ConnectionReady`).
    Pending,
    /// Idle in the pool.
    Available,
    /// Checked out.
    InUse,
}

impl SegmentState {
    /// A short lowercase name, used as a CSS class suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            SegmentState::Pending => "pending",
            SegmentState::Available => "available",
            SegmentState::InUse => "in-use",
        }
    }
}

/// A stretch of time a connection spent in one state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// The state.
    pub state: SegmentState,
    /// When it began.
    pub start: Duration,
    /// When it ended (the end of the recording for a state still current then).
    pub end: Duration,
}

/// How a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closed {
    /// When.
    pub at: Duration,
    /// Why.
    pub reason: ConnectionClosedReason,
    /// The error's message, for reason `error`.
    pub error: Option<String>,
}

/// One connection's life: a lane of the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lane {
    /// The pool's server.
    pub address: String,
    /// The connection's id.
    pub connection_id: u64,
    /// Whether the recording holds its `ConnectionCreated` (it does unless recording started
    /// after the connection was made).
    pub created_seen: bool,
    /// Its states, in time order, each starting where the previous ended.
    pub segments: Vec<Segment>,
    /// How it ended, if it did before the recording ended.
    pub closed: Option<Closed>,
}

/// A pool-wide event drawn as a vertical marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    /// When.
    pub at: Duration,
    /// The pool's server.
    pub address: String,
    /// What happened.
    pub kind: MarkerKind,
}

/// What a [`Marker`] marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkerKind {
    /// `ConnectionPoolCreated`.
    Created,
    /// `ConnectionPoolReady`.
    Ready,
    /// `ConnectionPoolCleared`.
    Cleared {
        /// Whether in-use connections were interrupted.
        interrupt_in_use_connections: bool,
    },
    /// `ConnectionPoolClosed`.
    Closed,
}

impl MarkerKind {
    /// A short lowercase name, used as a label and CSS class suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            MarkerKind::Created => "created",
            MarkerKind::Ready => "ready",
            MarkerKind::Cleared { .. } => "cleared",
            MarkerKind::Closed => "closed",
        }
    }
}

/// One finished check-out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wait {
    /// When it finished.
    pub at: Duration,
    /// How long it took.
    pub wait: Duration,
    /// Why it failed, if it did.
    pub failed: Option<ConnectionCheckOutFailedReason>,
}

/// A recording, turned into what the timeline shows.
///
/// ```
/// use std::time::Duration;
/// use mongopool::timeline::{Record, RecordedEvent, SegmentState, Timeline};
///
/// let at = |us| Duration::from_micros(us);
/// let rec = |us, event| Record { at: at(us), address: "db:27017".into(), event };
/// let timeline = Timeline::build(&[
///     rec(0, RecordedEvent::PoolReady),
///     rec(10, RecordedEvent::ConnectionCreated { connection_id: 1 }),
///     rec(30, RecordedEvent::ConnectionReady { connection_id: 1, duration: at(20) }),
///     rec(30, RecordedEvent::CheckedOut { connection_id: 1, duration: at(25) }),
///     rec(90, RecordedEvent::CheckedIn { connection_id: 1 }),
///     rec(100, RecordedEvent::PoolClosed),
/// ]);
/// let states: Vec<_> = timeline.lanes[0].segments.iter().map(|s| (s.state, s.start, s.end)).collect();
/// assert_eq!(states, [
///     (SegmentState::Pending, at(10), at(30)),
///     (SegmentState::InUse, at(30), at(90)),
///     (SegmentState::Available, at(90), at(100)),
/// ]);
/// assert_eq!(timeline.markers.len(), 2);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timeline {
    /// The time of the last record.
    pub end: Duration,
    /// One lane per connection, in order of first appearance.
    pub lanes: Vec<Lane>,
    /// Pool created / ready / cleared / closed, in time order.
    pub markers: Vec<Marker>,
    /// Check-outs in progress (started, neither succeeded nor failed yet) across all pools,
    /// after each change: the threads waiting for a connection.
    pub check_outs_in_progress: Vec<(Duration, u32)>,
    /// Every finished check-out, in time order.
    pub waits: Vec<Wait>,
    /// The servers seen, in order of first appearance.
    pub addresses: Vec<String>,
    /// The number of `ConnectionCreated` records.
    pub connections_created: usize,
}

impl Timeline {
    /// Builds the timeline of `records` (in time order, as [`super::parse_jsonl`] returns them).
    pub fn build(records: &[Record]) -> Timeline {
        let mut t = Timeline {
            end: records.last().map(|r| r.at).unwrap_or_default(),
            ..Timeline::default()
        };
        // (address, connection id) -> index into `lanes`.
        let mut lane_of: HashMap<(String, u64), usize> = HashMap::new();
        let mut in_progress: HashMap<String, u32> = HashMap::new();
        let mut total_in_progress = 0u32;

        for r in records {
            if !t.addresses.contains(&r.address) {
                t.addresses.push(r.address.clone());
            }
            let marker = |kind| Marker {
                at: r.at,
                address: r.address.clone(),
                kind,
            };
            let mut lane = |t: &mut Timeline, id: u64, created: bool| -> usize {
                *lane_of.entry((r.address.clone(), id)).or_insert_with(|| {
                    t.lanes.push(Lane {
                        address: r.address.clone(),
                        connection_id: id,
                        created_seen: created,
                        segments: Vec::new(),
                        closed: None,
                    });
                    t.lanes.len() - 1
                })
            };
            match &r.event {
                RecordedEvent::PoolCreated { .. } => t.markers.push(marker(MarkerKind::Created)),
                RecordedEvent::PoolReady => t.markers.push(marker(MarkerKind::Ready)),
                RecordedEvent::PoolCleared {
                    interrupt_in_use_connections,
                    ..
                } => t.markers.push(marker(MarkerKind::Cleared {
                    interrupt_in_use_connections: *interrupt_in_use_connections,
                })),
                RecordedEvent::PoolClosed => t.markers.push(marker(MarkerKind::Closed)),
                RecordedEvent::ConnectionCreated { connection_id } => {
                    t.connections_created += 1;
                    let i = lane(&mut t, *connection_id, true);
                    t.lanes[i].enter(SegmentState::Pending, r.at);
                }
                RecordedEvent::ConnectionReady { connection_id, .. } => {
                    let i = lane(&mut t, *connection_id, false);
                    t.lanes[i].enter(SegmentState::Available, r.at);
                }
                RecordedEvent::CheckedOut {
                    connection_id,
                    duration,
                } => {
                    let i = lane(&mut t, *connection_id, false);
                    t.lanes[i].enter(SegmentState::InUse, r.at);
                    t.waits.push(Wait {
                        at: r.at,
                        wait: *duration,
                        failed: None,
                    });
                    t.finish_check_out(&mut in_progress, &mut total_in_progress, r);
                }
                RecordedEvent::CheckedIn { connection_id } => {
                    let i = lane(&mut t, *connection_id, false);
                    t.lanes[i].enter(SegmentState::Available, r.at);
                }
                RecordedEvent::ConnectionClosed {
                    connection_id,
                    reason,
                    error,
                } => {
                    let i = lane(&mut t, *connection_id, false);
                    t.lanes[i].close(Closed {
                        at: r.at,
                        reason: *reason,
                        error: error.clone(),
                    });
                }
                RecordedEvent::CheckOutStarted => {
                    *in_progress.entry(r.address.clone()).or_default() += 1;
                    total_in_progress += 1;
                    t.check_outs_in_progress.push((r.at, total_in_progress));
                }
                RecordedEvent::CheckOutFailed { reason, duration, .. } => {
                    t.waits.push(Wait {
                        at: r.at,
                        wait: *duration,
                        failed: Some(*reason),
                    });
                    t.finish_check_out(&mut in_progress, &mut total_in_progress, r);
                }
            }
        }
        let end = t.end;
        for lane in &mut t.lanes {
            lane.finish(end);
        }
        t
    }

    /// A check-out of `r.address` ended. A recording that began during a check-out may end
    /// one it never saw start: the counts never go below zero.
    fn finish_check_out(&mut self, in_progress: &mut HashMap<String, u32>, total: &mut u32, r: &Record) {
        let n = in_progress.entry(r.address.clone()).or_default();
        if *n > 0 {
            *n -= 1;
            *total -= 1;
            self.check_outs_in_progress.push((r.at, *total));
        }
    }

    /// The longest check-out wait, successful or not.
    pub fn max_wait(&self) -> Duration {
        self.waits.iter().map(|w| w.wait).max().unwrap_or_default()
    }

    /// The most check-outs in progress at once.
    pub fn max_check_outs_in_progress(&self) -> u32 {
        self.check_outs_in_progress.iter().map(|&(_, n)| n).max().unwrap_or(0)
    }
}

impl Lane {
    /// Ends the current segment at `at` and starts one in `state`. Events after the close
    /// (which a correct pool never emits) are ignored.
    fn enter(&mut self, state: SegmentState, at: Duration) {
        if self.closed.is_some() {
            return;
        }
        if let Some(last) = self.segments.last_mut() {
            if last.state == state {
                return;
            }
            last.end = at;
        }
        self.segments.push(Segment {
            state,
            start: at,
            end: at,
        });
    }

    fn close(&mut self, closed: Closed) {
        if self.closed.is_some() {
            return;
        }
        if let Some(last) = self.segments.last_mut() {
            last.end = closed.at;
        }
        self.closed = Some(closed);
    }

    /// Extends a still-current segment to the end of the recording.
    fn finish(&mut self, end: Duration) {
        if self.closed.is_none() {
            if let Some(last) = self.segments.last_mut() {
                last.end = end;
            }
        }
    }
}
