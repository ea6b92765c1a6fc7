//! How a client reacts to errors that application operations meet: the subset of SDAM error
//! handling that concerns a pool (server-monitoring.md "Drivers cancel in-progress monitor
//! checks"; cmap.md "Backpressure-enabled").

use crate::error::{Error, ErrorKind, SYSTEM_OVERLOADED_ERROR};

/// What the topology does with an application error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reaction {
    /// Nothing: the error says nothing about the server's health.
    Ignore,
    /// Mark the server Unknown, clear its pool, cancel the monitor's check and check again
    /// soon: a non-timeout network error implies that every connection to the server is bad.
    MarkUnknownAndClear,
    /// Mark the server Unknown and check again soon ("not writable primary", "node is
    /// recovering"); clear the pool too when the server is shutting down, since all its
    /// connections are about to close.
    StateChange {
        /// Whether to clear the pool.
        clear: bool,
    },
}

/// Server error codes of the "not writable primary" and "node is recovering" families.
const STATE_CHANGE_CODES: &[i32] = &[
    10107, // NotWritablePrimary
    13435, // NotPrimaryNoSecondaryOk
    10058, // LegacyNotPrimary
    13436, // NotPrimaryOrSecondary
    11602, // InterruptedDueToReplStateChange
    189,   // PrimarySteppedDown
    91,    // ShutdownInProgress
    11600, // InterruptedAtShutdown
];
/// The codes that mean the server is shutting down.
const SHUTDOWN_CODES: &[i32] = &[91, 11600];

/// The reaction to an error from an operation on an established, checked-out connection.
pub(crate) fn classify_operation_error(err: &Error) -> Reaction {
    // cmap.md "Backpressure-enabled": these labels exist so that SDAM does not clear the pool
    // of a server that is only overloaded.
    if err.has_label(SYSTEM_OVERLOADED_ERROR) {
        return Reaction::Ignore;
    }
    match err.kind() {
        ErrorKind::Io { .. } => Reaction::MarkUnknownAndClear,
        // A timeout after the handshake may be a slow operation, not a sick server; the
        // monitor decides (SDAM: network timeouts on established connections change nothing).
        ErrorKind::Timeout { .. } => Reaction::Ignore,
        ErrorKind::Command(c) if STATE_CHANGE_CODES.contains(&c.code) => Reaction::StateChange {
            clear: SHUTDOWN_CODES.contains(&c.code),
        },
        _ => Reaction::Ignore,
    }
}

/// The reaction to a failed check-out: a connection that could not be established is handled
/// like a failed server check (server-monitoring.md "Clients update the topology from each
/// handshake") unless the pool labelled the error `SystemOverloadedError`. Errors the pool
/// itself raises (paused, closed, wait-queue timeout, interrupted) say nothing new.
pub(crate) fn classify_check_out_error(err: &Error) -> Reaction {
    if err.has_label(SYSTEM_OVERLOADED_ERROR) {
        return Reaction::Ignore;
    }
    match err.kind() {
        ErrorKind::Io { .. }
        | ErrorKind::Timeout { .. }
        | ErrorKind::Dns { .. }
        | ErrorKind::Tls { .. }
        | ErrorKind::Protocol { .. }
        | ErrorKind::Authentication { .. }
        | ErrorKind::Command(_) => Reaction::MarkUnknownAndClear,
        _ => Reaction::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{CommandError, RETRYABLE_ERROR};
    use std::time::Duration;

    fn io() -> Error {
        Error::from_io(std::io::ErrorKind::ConnectionReset.into(), "read", None)
    }

    fn command(code: i32) -> Error {
        Error::new(ErrorKind::Command(CommandError {
            code,
            code_name: String::new(),
            message: String::new(),
        }))
    }

    #[test]
    fn network_errors_clear_unless_overloaded() {
        assert_eq!(classify_operation_error(&io()), Reaction::MarkUnknownAndClear);
        let overloaded = io().with_label(SYSTEM_OVERLOADED_ERROR).with_label(RETRYABLE_ERROR);
        assert_eq!(classify_operation_error(&overloaded), Reaction::Ignore);
        assert_eq!(classify_check_out_error(&overloaded), Reaction::Ignore);
        let timeout = Error::new(ErrorKind::Timeout {
            operation: "read",
            after: Duration::from_secs(1),
        });
        assert_eq!(classify_operation_error(&timeout), Reaction::Ignore);
        assert_eq!(classify_check_out_error(&timeout), Reaction::MarkUnknownAndClear);
    }

    #[test]
    fn state_change_codes() {
        assert_eq!(
            classify_operation_error(&command(10107)),
            Reaction::StateChange { clear: false }
        );
        assert_eq!(
            classify_operation_error(&command(91)),
            Reaction::StateChange { clear: true }
        );
        assert_eq!(classify_operation_error(&command(11000)), Reaction::Ignore);
        let cleared = Error::new(ErrorKind::PoolCleared { cause: "x".into() });
        assert_eq!(classify_check_out_error(&cleared), Reaction::Ignore);
    }
}
