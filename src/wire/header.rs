//! The 16-byte standard message header and the request-id counter.

use std::sync::atomic::{AtomicI32, Ordering};

use crate::error::{Error, Result};

/// Length of the standard message header.
pub const HEADER_LEN: usize = 16;

/// `maxMessageSizeBytes` until a hello reply says otherwise (op-msg.md, handshake.md).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 48_000_000;

/// The largest `maxMessageSizeBytes` a server may announce; a larger value is clamped so that a
/// hostile server cannot make the decoder accept arbitrarily large frames.
pub const MAX_MESSAGE_SIZE_CAP: usize = 64 * 1024 * 1024;

/// The wire protocol opcodes mongopool speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpCode {
    /// OP_MSG (2013).
    Msg,
    /// OP_COMPRESSED (2012).
    Compressed,
}

impl OpCode {
    /// The numeric opcode.
    pub fn code(self) -> i32 {
        match self {
            OpCode::Msg => 2013,
            OpCode::Compressed => 2012,
        }
    }

    /// The opcode for a number, or a protocol error.
    pub fn from_code(code: i32) -> Result<Self> {
        match code {
            2013 => Ok(OpCode::Msg),
            2012 => Ok(OpCode::Compressed),
            other => Err(Error::protocol(format!("unsupported opCode {other} in reply"))),
        }
    }

    /// The smallest valid `messageLength` for this opcode: the header plus the fixed fields and,
    /// for OP_MSG, one section kind byte.
    pub fn min_message_len(self) -> usize {
        match self {
            OpCode::Msg => HEADER_LEN + 4 + 1,
            OpCode::Compressed => HEADER_LEN + 4 + 4 + 1,
        }
    }
}

/// A decoded message header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageHeader {
    /// Total message length including the header.
    pub message_length: i32,
    /// The sender's id for this message.
    pub request_id: i32,
    /// The request this message answers (0 for requests).
    pub response_to: i32,
    /// The opcode.
    pub op_code: i32,
}

impl MessageHeader {
    /// Parses the 16 header bytes.
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Self {
        let field = |i: usize| i32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        MessageHeader {
            message_length: field(0),
            request_id: field(4),
            response_to: field(8),
            op_code: field(12),
        }
    }

    /// Appends the 16 header bytes to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.message_length.to_le_bytes());
        out.extend_from_slice(&self.request_id.to_le_bytes());
        out.extend_from_slice(&self.response_to.to_le_bytes());
        out.extend_from_slice(&self.op_code.to_le_bytes());
    }

    /// Checks `messageLength` against `[opcode minimum, max_size]` before anything is allocated
    /// for the body, and returns the opcode and the body length.
    pub fn validate(&self, max_size: usize) -> Result<(OpCode, usize)> {
        let op = OpCode::from_code(self.op_code)?;
        let len = self.message_length;
        if len < 0 || (len as usize) < op.min_message_len() {
            return Err(Error::protocol(format!(
                "messageLength {len} is below the minimum of {} for opCode {}",
                op.min_message_len(),
                self.op_code
            )));
        }
        if len as usize > max_size {
            return Err(Error::protocol(format!(
                "messageLength {len} exceeds maxMessageSizeBytes {max_size}"
            )));
        }
        Ok((op, len as usize - HEADER_LEN))
    }
}

static NEXT_REQUEST_ID: AtomicI32 = AtomicI32::new(1);

/// The next request id, from one process-wide counter (wraps, skipping 0).
pub fn next_request_id() -> i32 {
    loop {
        let id = NEXT_REQUEST_ID.fetch_add(1, Ordering::Relaxed);
        if id != 0 {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(len: i32, op: i32) -> MessageHeader {
        MessageHeader {
            message_length: len,
            request_id: 1,
            response_to: 0,
            op_code: op,
        }
    }

    #[test]
    fn round_trip() {
        let h = header(100, 2013);
        let mut out = Vec::new();
        h.write(&mut out);
        let bytes: [u8; HEADER_LEN] = out.as_slice().try_into().unwrap();
        assert_eq!(MessageHeader::parse(&bytes), h);
    }

    #[test]
    fn bounds_are_checked() {
        assert!(header(20, 2013).validate(1000).is_err());
        assert!(header(-5, 2013).validate(1000).is_err());
        assert!(header(1001, 2013).validate(1000).is_err());
        assert!(header(24, 2012).validate(1000).is_err());
        assert!(header(50, 2004).validate(1000).is_err());
        assert_eq!(header(21, 2013).validate(1000).unwrap(), (OpCode::Msg, 5));
    }

    #[test]
    fn request_ids_increase() {
        let a = next_request_id();
        let b = next_request_id();
        assert_ne!(a, b);
    }
}
