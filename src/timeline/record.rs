//! One line of a timeline file: a CMAP event with the time it was recorded, and its JSON form.
//!
//! Every line is one flat JSON object: `tUs` (microseconds since the recorder started,
//! monotonic), `event` (the spec's event name), `address`, and the event's own fields in the
//! spec's camelCase: `connectionId`, `durationUs`, `reason`, `error`,
//! `interruptInUseConnections`, `serviceId`, and for `ConnectionPoolCreated` the options the
//! user set (`maxPoolSize`, `minPoolSize`, `maxIdleTimeMS`, `maxConnecting`,
//! `waitQueueTimeoutMS`). Unknown fields are ignored, so newer recorders can add some.

use std::io::BufRead;
use std::time::Duration;

use super::error::{ParseErrorKind, TimelineError};
use super::json::{self, Value};
use crate::events::{CmapEvent, ConnectionCheckOutFailedReason, ConnectionClosedReason, PoolCreatedOptions};

/// The longest line [`parse_jsonl`] accepts: far beyond any recorded event (error messages
/// included), and a bound on what one bad line can make the reader allocate.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// One recorded event.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// When it was recorded, from the recorder's start.
    pub at: Duration,
    /// The pool's server, as `host:port`.
    pub address: String,
    /// The event.
    pub event: RecordedEvent,
}

/// A CMAP event as a timeline file keeps it: errors are kept as their messages.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum RecordedEvent {
    /// `ConnectionPoolCreated`.
    PoolCreated {
        /// The options the user set.
        options: PoolCreatedOptions,
    },
    /// `ConnectionPoolReady`.
    PoolReady,
    /// `ConnectionPoolCleared`.
    PoolCleared {
        /// Whether in-use connections were interrupted.
        interrupt_in_use_connections: bool,
        /// The service cleared, in load-balanced mode (hex).
        service_id: Option<String>,
    },
    /// `ConnectionPoolClosed`.
    PoolClosed,
    /// `ConnectionCreated`.
    ConnectionCreated {
        /// The connection's id.
        connection_id: u64,
    },
    /// `ConnectionReady`.
    ConnectionReady {
        /// The connection's id.
        connection_id: u64,
        /// The time establishment took.
        duration: Duration,
    },
    /// `ConnectionClosed`.
    ConnectionClosed {
        /// The connection's id.
        connection_id: u64,
        /// Why.
        reason: ConnectionClosedReason,
        /// The error's message, for reason `error`.
        error: Option<String>,
    },
    /// `ConnectionCheckOutStarted`.
    CheckOutStarted,
    /// `ConnectionCheckOutFailed`.
    CheckOutFailed {
        /// Why.
        reason: ConnectionCheckOutFailedReason,
        /// The error's message.
        error: Option<String>,
        /// The time the check-out took.
        duration: Duration,
    },
    /// `ConnectionCheckedOut`.
    CheckedOut {
        /// The connection's id.
        connection_id: u64,
        /// The time the check-out took.
        duration: Duration,
    },
    /// `ConnectionCheckedIn`.
    CheckedIn {
        /// The connection's id.
        connection_id: u64,
    },
}

impl RecordedEvent {
    /// The spec's event name, as in [`CmapEvent::name`].
    pub fn name(&self) -> &'static str {
        match self {
            RecordedEvent::PoolCreated { .. } => "ConnectionPoolCreated",
            RecordedEvent::PoolReady => "ConnectionPoolReady",
            RecordedEvent::PoolCleared { .. } => "ConnectionPoolCleared",
            RecordedEvent::PoolClosed => "ConnectionPoolClosed",
            RecordedEvent::ConnectionCreated { .. } => "ConnectionCreated",
            RecordedEvent::ConnectionReady { .. } => "ConnectionReady",
            RecordedEvent::ConnectionClosed { .. } => "ConnectionClosed",
            RecordedEvent::CheckOutStarted => "ConnectionCheckOutStarted",
            RecordedEvent::CheckOutFailed { .. } => "ConnectionCheckOutFailed",
            RecordedEvent::CheckedOut { .. } => "ConnectionCheckedOut",
            RecordedEvent::CheckedIn { .. } => "ConnectionCheckedIn",
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Record {
    /// The record of `event`, seen at `at`.
    pub fn from_event(at: Duration, event: &CmapEvent) -> Record {
        let message = |e: &Option<crate::Error>| e.as_ref().map(ToString::to_string);
        let recorded = match event {
            CmapEvent::PoolCreated(e) => RecordedEvent::PoolCreated {
                options: e.options.clone(),
            },
            CmapEvent::PoolReady(_) => RecordedEvent::PoolReady,
            CmapEvent::PoolCleared(e) => RecordedEvent::PoolCleared {
                interrupt_in_use_connections: e.interrupt_in_use_connections,
                service_id: e.service_id.map(|id| id.to_hex()),
            },
            CmapEvent::PoolClosed(_) => RecordedEvent::PoolClosed,
            CmapEvent::ConnectionCreated(e) => RecordedEvent::ConnectionCreated {
                connection_id: e.connection_id,
            },
            CmapEvent::ConnectionReady(e) => RecordedEvent::ConnectionReady {
                connection_id: e.connection_id,
                duration: e.duration,
            },
            CmapEvent::ConnectionClosed(e) => RecordedEvent::ConnectionClosed {
                connection_id: e.connection_id,
                reason: e.reason,
                error: message(&e.error),
            },
            CmapEvent::ConnectionCheckOutStarted(_) => RecordedEvent::CheckOutStarted,
            CmapEvent::ConnectionCheckOutFailed(e) => RecordedEvent::CheckOutFailed {
                reason: e.reason,
                error: message(&e.error),
                duration: e.duration,
            },
            CmapEvent::ConnectionCheckedOut(e) => RecordedEvent::CheckedOut {
                connection_id: e.connection_id,
                duration: e.duration,
            },
            CmapEvent::ConnectionCheckedIn(e) => RecordedEvent::CheckedIn {
                connection_id: e.connection_id,
            },
        };
        Record {
            at,
            address: event.address().to_string(),
            event: recorded,
        }
    }

    /// The record as one JSON object, without a newline.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mongopool::timeline::{Record, RecordedEvent};
    ///
    /// let record = Record {
    ///     at: Duration::from_micros(1500),
    ///     address: "db:27017".into(),
    ///     event: RecordedEvent::CheckedIn { connection_id: 3 },
    /// };
    /// let line = record.to_json_line();
    /// assert_eq!(line, r#"{"tUs":1500,"event":"ConnectionCheckedIn","address":"db:27017","connectionId":3}"#);
    /// assert_eq!(Record::from_json_line(&line), Ok(record));
    /// ```
    pub fn to_json_line(&self) -> String {
        let mut out = format!(
            "{{\"tUs\":{},\"event\":\"{}\",\"address\":",
            micros(self.at),
            self.event.name()
        );
        json::write_string(&mut out, &self.address);
        let number = |out: &mut String, key: &str, v: u64| out.push_str(&format!(",\"{key}\":{v}"));
        let string = |out: &mut String, key: &str, v: &str| {
            out.push_str(&format!(",\"{key}\":"));
            json::write_string(out, v);
        };
        match &self.event {
            RecordedEvent::PoolCreated { options } => {
                let fields = [
                    ("maxPoolSize", options.max_pool_size),
                    ("minPoolSize", options.min_pool_size),
                    ("maxIdleTimeMS", options.max_idle_time_ms),
                    ("maxConnecting", options.max_connecting),
                    ("waitQueueTimeoutMS", options.wait_queue_timeout_ms),
                ];
                for (key, value) in fields {
                    if let Some(v) = value {
                        number(&mut out, key, v);
                    }
                }
            }
            RecordedEvent::PoolReady | RecordedEvent::PoolClosed | RecordedEvent::CheckOutStarted => {}
            RecordedEvent::PoolCleared {
                interrupt_in_use_connections,
                service_id,
            } => {
                out.push_str(&format!(
                    ",\"interruptInUseConnections\":{interrupt_in_use_connections}"
                ));
                if let Some(id) = service_id {
                    string(&mut out, "serviceId", id);
                }
            }
            RecordedEvent::ConnectionCreated { connection_id } | RecordedEvent::CheckedIn { connection_id } => {
                number(&mut out, "connectionId", *connection_id);
            }
            RecordedEvent::ConnectionReady {
                connection_id,
                duration,
            }
            | RecordedEvent::CheckedOut {
                connection_id,
                duration,
            } => {
                number(&mut out, "connectionId", *connection_id);
                number(&mut out, "durationUs", micros(*duration));
            }
            RecordedEvent::ConnectionClosed {
                connection_id,
                reason,
                error,
            } => {
                number(&mut out, "connectionId", *connection_id);
                string(&mut out, "reason", reason.as_str());
                if let Some(e) = error {
                    string(&mut out, "error", e);
                }
            }
            RecordedEvent::CheckOutFailed {
                reason,
                error,
                duration,
            } => {
                string(&mut out, "reason", reason.as_str());
                if let Some(e) = error {
                    string(&mut out, "error", e);
                }
                number(&mut out, "durationUs", micros(*duration));
            }
        }
        out.push('}');
        out
    }

    /// Parses one line written by [`Record::to_json_line`].
    pub fn from_json_line(line: &str) -> Result<Record, ParseErrorKind> {
        let fields = Fields(json::parse_object(line)?);
        let at = Duration::from_micros(fields.u64("tUs")?);
        let address = fields.string("address")?;
        let name = fields.string("event")?;
        let event = match name.as_str() {
            "ConnectionPoolCreated" => RecordedEvent::PoolCreated {
                options: PoolCreatedOptions {
                    max_idle_time_ms: fields.opt_u64("maxIdleTimeMS")?,
                    min_pool_size: fields.opt_u64("minPoolSize")?,
                    max_pool_size: fields.opt_u64("maxPoolSize")?,
                    max_connecting: fields.opt_u64("maxConnecting")?,
                    wait_queue_timeout_ms: fields.opt_u64("waitQueueTimeoutMS")?,
                },
            },
            "ConnectionPoolReady" => RecordedEvent::PoolReady,
            "ConnectionPoolCleared" => RecordedEvent::PoolCleared {
                interrupt_in_use_connections: fields.opt_bool("interruptInUseConnections")?.unwrap_or(false),
                service_id: fields.opt_string("serviceId")?,
            },
            "ConnectionPoolClosed" => RecordedEvent::PoolClosed,
            "ConnectionCreated" => RecordedEvent::ConnectionCreated {
                connection_id: fields.u64("connectionId")?,
            },
            "ConnectionReady" => RecordedEvent::ConnectionReady {
                connection_id: fields.u64("connectionId")?,
                duration: fields.duration()?,
            },
            "ConnectionClosed" => RecordedEvent::ConnectionClosed {
                connection_id: fields.u64("connectionId")?,
                reason: closed_reason(&fields.string("reason")?)?,
                error: fields.opt_string("error")?,
            },
            "ConnectionCheckOutStarted" => RecordedEvent::CheckOutStarted,
            "ConnectionCheckOutFailed" => RecordedEvent::CheckOutFailed {
                reason: failed_reason(&fields.string("reason")?)?,
                error: fields.opt_string("error")?,
                duration: fields.duration()?,
            },
            "ConnectionCheckedOut" => RecordedEvent::CheckedOut {
                connection_id: fields.u64("connectionId")?,
                duration: fields.duration()?,
            },
            "ConnectionCheckedIn" => RecordedEvent::CheckedIn {
                connection_id: fields.u64("connectionId")?,
            },
            _ => return Err(ParseErrorKind::UnknownEvent(name)),
        };
        Ok(Record { at, address, event })
    }
}

fn closed_reason(s: &str) -> Result<ConnectionClosedReason, ParseErrorKind> {
    [
        ConnectionClosedReason::Stale,
        ConnectionClosedReason::Idle,
        ConnectionClosedReason::Error,
        ConnectionClosedReason::PoolClosed,
    ]
    .into_iter()
    .find(|r| r.as_str() == s)
    .ok_or_else(|| ParseErrorKind::UnknownReason(s.to_owned()))
}

fn failed_reason(s: &str) -> Result<ConnectionCheckOutFailedReason, ParseErrorKind> {
    [
        ConnectionCheckOutFailedReason::PoolClosed,
        ConnectionCheckOutFailedReason::Timeout,
        ConnectionCheckOutFailedReason::ConnectionError,
    ]
    .into_iter()
    .find(|r| r.as_str() == s)
    .ok_or_else(|| ParseErrorKind::UnknownReason(s.to_owned()))
}

/// The fields of one line, with typed getters.
struct Fields(Vec<(String, Value)>);

impl Fields {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn opt_u64(&self, key: &'static str) -> Result<Option<u64>, ParseErrorKind> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.parse().map(Some).map_err(|_| ParseErrorKind::WrongType {
                field: key,
                expected: "an integer from 0 to 2^64-1",
            }),
            Some(_) => Err(ParseErrorKind::WrongType {
                field: key,
                expected: "a number",
            }),
        }
    }

    fn u64(&self, key: &'static str) -> Result<u64, ParseErrorKind> {
        self.opt_u64(key)?.ok_or(ParseErrorKind::MissingField(key))
    }

    fn duration(&self) -> Result<Duration, ParseErrorKind> {
        self.u64("durationUs").map(Duration::from_micros)
    }

    fn opt_string(&self, key: &'static str) -> Result<Option<String>, ParseErrorKind> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ParseErrorKind::WrongType {
                field: key,
                expected: "a string",
            }),
        }
    }

    fn string(&self, key: &'static str) -> Result<String, ParseErrorKind> {
        self.opt_string(key)?.ok_or(ParseErrorKind::MissingField(key))
    }

    fn opt_bool(&self, key: &'static str) -> Result<Option<bool>, ParseErrorKind> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ParseErrorKind::WrongType {
                field: key,
                expected: "true or false",
            }),
        }
    }
}

/// Reads a timeline file: one [`Record`] per non-blank line, times never decreasing.
///
/// ```
/// use mongopool::timeline::{parse_jsonl, ParseErrorKind, TimelineError};
///
/// let file = concat!(
///     r#"{"tUs":0,"event":"ConnectionPoolReady","address":"db:27017"}"#, "\n",
///     r#"{"tUs":10,"event":"ConnectionCreated","address":"db:27017","connectionId":1}"#, "\n",
/// );
/// assert_eq!(parse_jsonl(file.as_bytes())?.len(), 2);
///
/// let err = parse_jsonl(&b"{\"tUs\":5,\"event\":\"ConnectionCreated\",\"address\":\"db:27017\"}"[..]).unwrap_err();
/// assert!(matches!(err, TimelineError::Parse { line: 1, kind: ParseErrorKind::MissingField("connectionId") }));
/// # Ok::<(), TimelineError>(())
/// ```
pub fn parse_jsonl(mut reader: impl BufRead) -> Result<Vec<Record>, TimelineError> {
    let mut records = Vec::new();
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    let mut previous_us = 0u64;
    loop {
        buf.clear();
        // One byte past the limit (plus the newline) tells a too-long line from a full one.
        let limit = (MAX_LINE_BYTES + 2) as u64;
        let n = std::io::Read::take(&mut reader, limit).read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let parse_error = |kind| TimelineError::Parse { line: line_no, kind };
        if buf.last() == Some(&b'\n') {
            buf.pop();
        } else if buf.len() > MAX_LINE_BYTES {
            return Err(parse_error(ParseErrorKind::LineTooLong { max: MAX_LINE_BYTES }));
        }
        if buf.len() > MAX_LINE_BYTES {
            return Err(parse_error(ParseErrorKind::LineTooLong { max: MAX_LINE_BYTES }));
        }
        let text = std::str::from_utf8(&buf).map_err(|_| parse_error(ParseErrorKind::NotUtf8))?;
        if text.trim().is_empty() {
            continue;
        }
        let record = Record::from_json_line(text).map_err(parse_error)?;
        let at_us = micros(record.at);
        if at_us < previous_us {
            return Err(parse_error(ParseErrorKind::TimeWentBackwards { at_us, previous_us }));
        }
        previous_us = at_us;
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_kind(input: &str) -> (usize, ParseErrorKind) {
        match parse_jsonl(input.as_bytes()) {
            Err(TimelineError::Parse { line, kind }) => (line, kind),
            other => panic!("{input:?}: {other:?}"),
        }
    }

    #[test]
    fn every_event_round_trips() {
        let address = "host \"q\":27017".to_string();
        let events = vec![
            RecordedEvent::PoolCreated {
                options: PoolCreatedOptions {
                    max_pool_size: Some(8),
                    wait_queue_timeout_ms: Some(2000),
                    ..Default::default()
                },
            },
            RecordedEvent::PoolReady,
            RecordedEvent::PoolCleared {
                interrupt_in_use_connections: true,
                service_id: Some("65a1b2c3d4e5f60718293a4b".into()),
            },
            RecordedEvent::PoolClosed,
            RecordedEvent::ConnectionCreated { connection_id: 1 },
            RecordedEvent::ConnectionReady {
                connection_id: 1,
                duration: Duration::from_micros(1234),
            },
            RecordedEvent::ConnectionClosed {
                connection_id: 1,
                reason: ConnectionClosedReason::Error,
                error: Some("I/O error: \"reset\"\n\tby peer".into()),
            },
            RecordedEvent::CheckOutStarted,
            RecordedEvent::CheckOutFailed {
                reason: ConnectionCheckOutFailedReason::Timeout,
                error: None,
                duration: Duration::from_secs(2),
            },
            RecordedEvent::CheckedOut {
                connection_id: u64::MAX,
                duration: Duration::ZERO,
            },
            RecordedEvent::CheckedIn { connection_id: 7 },
        ];
        let mut file = String::new();
        let mut expected = Vec::new();
        for (i, event) in events.into_iter().enumerate() {
            let record = Record {
                at: Duration::from_micros(i as u64 * 10),
                address: address.clone(),
                event,
            };
            let line = record.to_json_line();
            assert!(!line.contains('\n'), "{line}");
            file.push_str(&line);
            file.push('\n');
            expected.push(record);
        }
        assert_eq!(parse_jsonl(file.as_bytes()).unwrap(), expected);
    }

    #[test]
    fn bad_lines_are_typed_errors_with_their_line_number() {
        let ok = r#"{"tUs":5,"event":"ConnectionPoolReady","address":"a:1"}"#;
        assert_eq!(
            err_kind(&format!(
                "{ok}\n\n{{\"tUs\":1,\"event\":\"ConnectionPoolReady\",\"address\":\"a:1\"}}\n"
            )),
            (
                3,
                ParseErrorKind::TimeWentBackwards {
                    at_us: 1,
                    previous_us: 5
                }
            )
        );
        assert_eq!(
            err_kind(r#"{"event":"ConnectionPoolReady","address":"a:1"}"#),
            (1, ParseErrorKind::MissingField("tUs"))
        );
        assert_eq!(
            err_kind(r#"{"tUs":-1,"event":"ConnectionPoolReady","address":"a:1"}"#).1,
            ParseErrorKind::WrongType {
                field: "tUs",
                expected: "an integer from 0 to 2^64-1"
            }
        );
        assert_eq!(
            err_kind(r#"{"tUs":"1","event":"ConnectionPoolReady","address":"a:1"}"#).1,
            ParseErrorKind::WrongType {
                field: "tUs",
                expected: "a number"
            }
        );
        assert_eq!(
            err_kind(r#"{"tUs":1,"event":"ConnectionClosed","address":"a:1","connectionId":1,"reason":"bored"}"#).1,
            ParseErrorKind::UnknownReason("bored".into())
        );
        assert_eq!(
            err_kind(r#"{"tUs":1,"event":"ConnectionPoolCleared","address":"a:1","interruptInUseConnections":1}"#).1,
            ParseErrorKind::WrongType {
                field: "interruptInUseConnections",
                expected: "true or false"
            }
        );
        assert_eq!(
            err_kind("{\"tUs\":1,x}").1,
            ParseErrorKind::Json {
                column: 10,
                message: "expected '\"'"
            }
        );
    }

    #[test]
    fn invalid_utf8_and_long_lines_are_rejected() {
        match parse_jsonl(&b"{\"tUs\":1}\xff\n"[..]) {
            Err(TimelineError::Parse {
                line: 1,
                kind: ParseErrorKind::NotUtf8,
            }) => {}
            other => panic!("{other:?}"),
        }
        let long = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_LINE_BYTES));
        for input in [long.clone(), format!("{long}\n")] {
            match parse_jsonl(input.as_bytes()) {
                Err(TimelineError::Parse {
                    line: 1,
                    kind: ParseErrorKind::LineTooLong { max: MAX_LINE_BYTES },
                }) => {}
                other => panic!("{other:?}"),
            }
        }
        // A line of exactly the limit is read (and then judged on its content).
        let exact = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_LINE_BYTES - 8));
        assert_eq!(exact.len(), MAX_LINE_BYTES);
        assert_eq!(err_kind(&exact).1, ParseErrorKind::MissingField("tUs"));
    }

    #[test]
    fn an_empty_file_has_no_records() {
        assert_eq!(parse_jsonl(&b""[..]).unwrap(), vec![]);
        assert_eq!(parse_jsonl(&b"\n  \n"[..]).unwrap(), vec![]);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any bytes: an error names a line that exists, and nothing panics.
        #[test]
        fn arbitrary_input_is_records_or_a_typed_error(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let lines = bytes.split(|&b| b == b'\n').count();
            match parse_jsonl(&bytes[..]) {
                Ok(records) => prop_assert!(records.len() <= lines),
                Err(TimelineError::Parse { line, .. }) => prop_assert!(line >= 1 && line <= lines),
                Err(TimelineError::Io(e)) => prop_assert!(false, "I/O error from a slice: {e}"),
            }
        }

        /// A valid line with one byte changed still parses or fails cleanly.
        #[test]
        fn mutated_lines_fail_cleanly(at in any::<u64>(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let record = Record {
                at: Duration::from_micros(at),
                address: "db:27017".into(),
                event: RecordedEvent::ConnectionClosed { connection_id: 4, reason: ConnectionClosedReason::Error, error: Some("reset \"x\"".into()) },
            };
            let mut line = record.to_json_line().into_bytes();
            let i = pos.index(line.len());
            line[i] = byte;
            match parse_jsonl(&line[..]) {
                Ok(records) => prop_assert!(records.len() <= 1),
                Err(TimelineError::Parse { line, .. }) => prop_assert!(line == 1 || byte == b'\n'),
                Err(TimelineError::Io(e)) => prop_assert!(false, "I/O error from a slice: {e}"),
            }
        }

        /// Arbitrary text in the string fields survives the round trip.
        #[test]
        fn strings_round_trip(address in any::<String>(), error in proptest::option::of(any::<String>()), at in any::<u64>(), id in any::<u64>()) {
            let record = Record {
                at: Duration::from_micros(at),
                address,
                event: RecordedEvent::CheckOutFailed { reason: ConnectionCheckOutFailedReason::ConnectionError, error, duration: Duration::from_micros(id) },
            };
            let line = record.to_json_line();
            prop_assert!(!line.contains('\n'));
            prop_assert_eq!(Record::from_json_line(&line), Ok(record));
        }
    }
}
