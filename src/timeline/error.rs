//! Errors from reading a timeline file.

use std::sync::Arc;

/// Why a timeline file could not be read.
///
/// ```
/// use mongopool::timeline::{parse_jsonl, ParseErrorKind, TimelineError};
///
/// let err = parse_jsonl(&br#"{"tUs":1,"event":"NoSuchEvent","address":"db:27017"}"#[..]).unwrap_err();
/// assert!(matches!(
///     &err,
///     TimelineError::Parse { line: 1, kind: ParseErrorKind::UnknownEvent(name) } if name == "NoSuchEvent"
/// ));
/// assert_eq!(err.to_string(), "line 1: unknown event type \"NoSuchEvent\"");
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TimelineError {
    /// Reading the input failed.
    #[error("cannot read the timeline: {0}")]
    Io(Arc<std::io::Error>),
    /// A line is not a valid timeline record.
    #[error("line {line}: {kind}")]
    Parse {
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        kind: ParseErrorKind,
    },
}

impl From<std::io::Error> for TimelineError {
    fn from(err: std::io::Error) -> Self {
        TimelineError::Io(Arc::new(err))
    }
}

/// What is wrong with one line of a timeline file.
///
/// ```
/// use mongopool::timeline::{parse_jsonl, ParseErrorKind, TimelineError};
///
/// let file = concat!(
///     r#"{"tUs":10,"event":"ConnectionPoolReady","address":"db:27017"}"#, "\n",
///     r#"{"tUs":5,"event":"ConnectionPoolReady","address":"db:27017"}"#, "\n",
/// );
/// match parse_jsonl(file.as_bytes()).unwrap_err() {
///     TimelineError::Parse { line, kind } => {
///         assert_eq!(line, 2);
///         assert_eq!(kind, ParseErrorKind::TimeWentBackwards { at_us: 5, previous_us: 10 });
///     }
///     other => panic!("unexpected {other}"),
/// }
/// let err = parse_jsonl(&b"[1]"[..]).unwrap_err();
/// assert!(matches!(err, TimelineError::Parse { line: 1, kind: ParseErrorKind::Json { .. } }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The line is longer than the format allows.
    #[error("the line is longer than {max} bytes")]
    LineTooLong {
        /// The limit.
        max: usize,
    },
    /// The line is not UTF-8.
    #[error("the line is not valid UTF-8")]
    NotUtf8,
    /// The line is not one flat JSON object.
    #[error("invalid JSON at column {column}: {message}")]
    Json {
        /// The 1-based byte column.
        column: usize,
        /// What was expected there.
        message: &'static str,
    },
    /// A field appears twice.
    #[error("duplicate field {0:?}")]
    DuplicateField(String),
    /// A field the event type needs is absent.
    #[error("missing field {0:?}")]
    MissingField(&'static str),
    /// A field has a value of the wrong type or out of range.
    #[error("field {field:?} must be {expected}")]
    WrongType {
        /// The field.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// The `event` field names no CMAP event.
    #[error("unknown event type {0:?}")]
    UnknownEvent(String),
    /// A `reason` field holds no reason the spec defines for the event.
    #[error("unknown reason {0:?}")]
    UnknownReason(String),
    /// The line's time is before the previous line's: a recorder writes times in order.
    #[error("time {at_us} us is before the previous line's {previous_us} us")]
    TimeWentBackwards {
        /// This line's time.
        at_us: u64,
        /// The previous line's time.
        previous_us: u64,
    },
}
