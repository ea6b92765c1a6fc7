//! The event timeline: record a pool's CMAP events as JSON lines, then draw them as an HTML
//! page with one lane per connection.
//!
//! - [`TimelineRecorder`] (`recorder`): a [`crate::CmapEventHandler`] that writes each event
//!   as one JSON object with a monotonic time stamp.
//! - [`Record`] and [`parse_jsonl`] (`record`): the file format, read back with typed errors
//!   ([`TimelineError`]) for bad input.
//! - [`Timeline`] (`model`): what the events say happened to each connection.
//! - [`render_html`] (`render`): a self-contained HTML page with an inline SVG.
//!
//! The `mongopool-timeline` binary renders a file: `mongopool-timeline run.jsonl run.html`;
//! `scripts/demo` writes both for its run.
//!
//! ```
//! use std::sync::Arc;
//! use mongopool::timeline::{self, TimelineRecorder};
//! use mongopool::{Connection, Establisher, Interrupter, Pool, PoolOptions, ServerAddress};
//!
//! # struct Fake;
//! # impl Establisher for Fake {
//! #     fn establish(&self, a: &ServerAddress, _: Arc<Interrupter>) -> mongopool::Result<Connection> {
//! #         Ok(Connection::detached(a.clone()))
//! #     }
//! # }
//! let path = std::env::temp_dir().join(format!("mongopool-timeline-doc-{}.jsonl", std::process::id()));
//! let recorder = Arc::new(TimelineRecorder::create(&path)?);
//! let (tx, events) = crossbeam_channel::unbounded();
//! let pool = Pool::builder("db:27017".parse()?).establisher(Arc::new(Fake)).event_sender(tx).build()?;
//! pool.ready()?;
//! drop(pool.check_out()?);
//! pool.close();
//! drop(pool); // the channel disconnects once the pool is gone
//! for event in events {
//!     recorder.record(&event);
//! }
//! recorder.flush()?;
//!
//! let html = timeline::render_file(&path, "one check-out")?;
//! assert_eq!(html.matches("<g class=\"lane\"").count(), 1);
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod json;
mod model;
mod record;
mod recorder;
mod render;

use std::path::Path;

pub use error::{ParseErrorKind, TimelineError};
pub use model::{Closed, Lane, Marker, MarkerKind, Segment, SegmentState, Timeline, Wait};
pub use record::{parse_jsonl, Record, RecordedEvent, MAX_LINE_BYTES};
pub use recorder::TimelineRecorder;
pub use render::render_html;

/// Reads the timeline file at `path` and renders it as an HTML page titled `title`.
pub fn render_file(path: impl AsRef<Path>, title: &str) -> Result<String, TimelineError> {
    let file = std::fs::File::open(path)?;
    let records = parse_jsonl(std::io::BufReader::new(file))?;
    Ok(render_html(&Timeline::build(&records), title))
}
