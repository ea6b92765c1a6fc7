//! The 16-byte standard message header and the request-id counter.

use std::sync::atomic::{AtomicI32, Ordering};

use crate::error::{Error, Result};

/// Length of the standard message header.
///
/// ```
/// use mongopool::wire::{encode_to_vec, OpMsg, HEADER_LEN};
///
/// let bytes = encode_to_vec(&OpMsg::new(bson::doc! {}), 1, 0)?;
/// // header, flag bits, section kind, then the 5-byte empty document
/// assert_eq!(bytes.len(), HEADER_LEN + 4 + 1 + 5);
/// # Ok::<(), mongopool::Error>(())
/// ```
pub const HEADER_LEN: usize = 16;

/// `maxMessageSizeBytes` until a hello reply says otherwise (op-msg.md, handshake.md).
///
/// ```
/// use mongopool::wire::{DEFAULT_MAX_MESSAGE_SIZE, MAX_MESSAGE_SIZE_CAP};
///
/// assert_eq!(DEFAULT_MAX_MESSAGE_SIZE, 48_000_000);
/// assert!(DEFAULT_MAX_MESSAGE_SIZE <= MAX_MESSAGE_SIZE_CAP);
/// ```
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 48_000_000;

/// The largest `maxMessageSizeBytes` a server may announce; a larger value is clamped so that a
/// hostile server cannot make the decoder accept arbitrarily large frames.
///
/// ```
/// use mongopool::wire::{MessageHeader, OpCode, MAX_MESSAGE_SIZE_CAP};
///
/// let huge = MessageHeader { message_length: i32::MAX, request_id: 1, response_to: 0, op_code: OpCode::Msg.code() };
/// assert!(huge.validate(MAX_MESSAGE_SIZE_CAP).is_err());
/// assert_eq!(MAX_MESSAGE_SIZE_CAP, 64 << 20);
/// ```
pub const MAX_MESSAGE_SIZE_CAP: usize = 64 * 1024 * 1024;

/// The wire protocol opcodes mongopool speaks.
///
/// ```
/// use mongopool::wire::OpCode;
///
/// assert_eq!(OpCode::from_code(OpCode::Msg.code())?, OpCode::Msg);
/// assert!(OpCode::from_code(2004).is_err()); // OP_QUERY is not spoken
/// # Ok::<(), mongopool::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpCode {
    /// OP_MSG (2013).
    Msg,
    /// OP_COMPRESSED (2012).
    Compressed,
}

impl OpCode {
    /// The numeric opcode.
    ///
    /// ```
    /// use mongopool::wire::OpCode;
    ///
    /// assert_eq!(OpCode::Msg.code(), 2013);
    /// assert_eq!(OpCode::Compressed.code(), 2012);
    /// ```
    pub fn code(self) -> i32 {
        match self {
            OpCode::Msg => 2013,
            OpCode::Compressed => 2012,
        }
    }

    /// The opcode for a number, or a protocol error.
    ///
    /// ```
    /// use mongopool::wire::OpCode;
    /// use mongopool::ErrorKind;
    ///
    /// assert_eq!(OpCode::from_code(2012)?, OpCode::Compressed);
    /// let err = OpCode::from_code(1).unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::Protocol { .. }));
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn from_code(code: i32) -> Result<Self> {
        match code {
            2013 => Ok(OpCode::Msg),
            2012 => Ok(OpCode::Compressed),
            other => Err(Error::protocol(format!("unsupported opCode {other} in reply"))),
        }
    }

    /// The smallest valid `messageLength` for this opcode: the header plus the fixed fields and,
    /// for OP_MSG, one section kind byte.
    ///
    /// ```
    /// use mongopool::wire::{OpCode, HEADER_LEN};
    ///
    /// assert_eq!(OpCode::Msg.min_message_len(), HEADER_LEN + 5);
    /// assert_eq!(OpCode::Compressed.min_message_len(), HEADER_LEN + 9);
    /// ```
    pub fn min_message_len(self) -> usize {
        match self {
            OpCode::Msg => HEADER_LEN + 4 + 1,
            OpCode::Compressed => HEADER_LEN + 4 + 4 + 1,
        }
    }
}

/// A decoded message header.
///
/// ```
/// use mongopool::wire::{MessageHeader, OpCode};
///
/// let header = MessageHeader { message_length: 21, request_id: 5, response_to: 0, op_code: OpCode::Msg.code() };
/// let mut bytes = Vec::new();
/// header.write(&mut bytes);
/// assert_eq!(MessageHeader::parse(bytes.as_slice().try_into()?), header);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
    ///
    /// ```
    /// use mongopool::wire::MessageHeader;
    ///
    /// let mut bytes = [0u8; 16];
    /// bytes[0] = 21; // messageLength, little-endian
    /// bytes[12..].copy_from_slice(&2013i32.to_le_bytes());
    /// let header = MessageHeader::parse(&bytes);
    /// assert_eq!((header.message_length, header.op_code), (21, 2013));
    /// ```
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
    ///
    /// ```
    /// use mongopool::wire::MessageHeader;
    ///
    /// let mut out = vec![0xff];
    /// MessageHeader { message_length: 16, request_id: 1, response_to: 2, op_code: 2013 }.write(&mut out);
    /// assert_eq!(out.len(), 17); // appended, not overwritten
    /// assert_eq!(&out[1..5], &16i32.to_le_bytes());
    /// ```
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.message_length.to_le_bytes());
        out.extend_from_slice(&self.request_id.to_le_bytes());
        out.extend_from_slice(&self.response_to.to_le_bytes());
        out.extend_from_slice(&self.op_code.to_le_bytes());
    }

    /// Checks `messageLength` against `[opcode minimum, max_size]` before anything is allocated
    /// for the body, and returns the opcode and the body length.
    ///
    /// ```
    /// use mongopool::wire::{MessageHeader, OpCode};
    ///
    /// let header = |message_length| MessageHeader { message_length, request_id: 1, response_to: 0, op_code: 2013 };
    /// assert_eq!(header(100).validate(1000)?, (OpCode::Msg, 84));
    /// assert!(header(20).validate(1000).is_err()); // below OP_MSG's minimum of 21
    /// assert!(header(1001).validate(1000).is_err());
    /// assert!(header(-1).validate(1000).is_err());
    /// # Ok::<(), mongopool::Error>(())
    /// ```
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
///
/// ```
/// use mongopool::wire::next_request_id;
///
/// let (a, b) = (next_request_id(), next_request_id());
/// assert_ne!(a, b);
/// assert!(a != 0 && b != 0);
/// ```
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
