//! Reading one complete wire message from a byte stream.

use std::io::Read;
use std::time::Duration;

use super::header::{MessageHeader, OpCode, HEADER_LEN};
use crate::error::{Error, Result};

/// One message read off the wire: its header, opcode and the bytes after the header.
///
/// ```
/// use mongopool::wire::{encode_to_vec, read_frame, OpCode, OpMsg};
///
/// let bytes = encode_to_vec(&OpMsg::new(bson::doc! { "ok": 1 }), 42, 7)?;
/// let mut body = Vec::new();
/// let frame = read_frame(&mut &bytes[..], 48_000_000, None, &mut body)?;
/// assert_eq!(frame.op_code, OpCode::Msg);
/// assert_eq!((frame.header.request_id, frame.header.response_to), (42, 7));
/// assert_eq!(body.len(), bytes.len() - 16);
/// # Ok::<(), mongopool::Error>(())
/// ```
#[derive(Debug)]
pub struct Frame {
    /// The header.
    pub header: MessageHeader,
    /// The validated opcode.
    pub op_code: OpCode,
}

/// Reads one message into `body` (cleared first). `messageLength` is checked against
/// `[minimum for the opcode, max_size]` before the body is read, and the body buffer grows only
/// as bytes actually arrive, so a peer that announces a huge length and sends nothing costs
/// nothing. `read_timeout` turns socket timeouts into [`crate::ErrorKind::Timeout`].
///
/// ```
/// use mongopool::wire::{encode_to_vec, read_frame, OpMsg};
/// use mongopool::ErrorKind;
///
/// let bytes = encode_to_vec(&OpMsg::new(bson::doc! { "ok": 1 }), 1, 0)?;
/// let mut body = Vec::new();
/// // A message longer than the limit is refused before its body is read.
/// let err = read_frame(&mut &bytes[..], 20, None, &mut body).unwrap_err();
/// assert!(matches!(err.kind(), ErrorKind::Protocol { .. }));
/// // A stream that ends mid-message is an I/O error.
/// let err = read_frame(&mut &bytes[..bytes.len() - 1], 1024, None, &mut body).unwrap_err();
/// assert!(err.is_network_error());
/// # Ok::<(), mongopool::Error>(())
/// ```
pub fn read_frame<R: Read>(
    reader: &mut R,
    max_size: usize,
    read_timeout: Option<Duration>,
    body: &mut Vec<u8>,
) -> Result<Frame> {
    let io = |e: std::io::Error| Error::from_io(e, "read", read_timeout);
    let mut head = [0u8; HEADER_LEN];
    reader.read_exact(&mut head).map_err(io)?;
    let header = MessageHeader::parse(&head);
    let (op_code, body_len) = header.validate(max_size)?;
    body.clear();
    let got = reader.take(body_len as u64).read_to_end(body).map_err(io)?;
    if got != body_len {
        return Err(Error::from_io(
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("connection closed after {got} of {body_len} message bytes"),
            ),
            "read",
            None,
        ));
    }
    Ok(Frame { header, op_code })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{encode_to_vec, OpMsg};
    use bson::doc;

    /// A reader that fails the test if asked for more than it announced (catches reads past a
    /// truncated frame) and counts how much was requested.
    #[test]
    fn reads_a_frame() {
        let frame = encode_to_vec(&OpMsg::new(doc! { "ok": 1.0 }), 5, 3).unwrap();
        let mut body = Vec::new();
        let f = read_frame(&mut frame.as_slice(), 1000, None, &mut body).unwrap();
        assert_eq!(f.header.response_to, 3);
        assert_eq!(f.op_code, OpCode::Msg);
        assert_eq!(OpMsg::decode(&body).unwrap().body, doc! { "ok": 1.0 });
    }

    #[test]
    fn truncated_header_and_body_are_io_errors() {
        let frame = encode_to_vec(&OpMsg::new(doc! { "ok": 1.0 }), 5, 3).unwrap();
        let mut body = Vec::new();
        for cut in [0, 5, 15, 16, 20, frame.len() - 1] {
            let err = read_frame(&mut &frame[..cut], 1000, None, &mut body).unwrap_err();
            assert!(err.is_network_error(), "cut {cut}: {err}");
        }
    }

    #[test]
    fn huge_length_is_rejected_before_allocation() {
        let mut frame = encode_to_vec(&OpMsg::new(doc! { "ok": 1.0 }), 5, 3).unwrap();
        frame[..4].copy_from_slice(&i32::MAX.to_le_bytes());
        let mut body = Vec::new();
        let err = read_frame(&mut frame.as_slice(), 48_000_000, None, &mut body).unwrap_err();
        assert!(matches!(err.kind(), crate::ErrorKind::Protocol { .. }), "{err}");
        assert_eq!(body.capacity(), 0, "nothing may be allocated for a rejected frame");
        frame[..4].copy_from_slice(&20i32.to_le_bytes());
        assert!(read_frame(&mut frame.as_slice(), 48_000_000, None, &mut body).is_err());
        frame[..4].copy_from_slice(&100i32.to_le_bytes());
        frame[12..16].copy_from_slice(&2004i32.to_le_bytes());
        assert!(read_frame(&mut frame.as_slice(), 48_000_000, None, &mut body).is_err());
    }

    #[test]
    fn announced_length_without_data_allocates_only_what_arrives() {
        // 40 MB announced, 100 bytes sent: an EOF error, and the buffer stays small.
        let mut frame = vec![0u8; 116];
        frame[..4].copy_from_slice(&40_000_000i32.to_le_bytes());
        frame[12..16].copy_from_slice(&2013i32.to_le_bytes());
        let mut body = Vec::new();
        assert!(read_frame(&mut frame.as_slice(), 48_000_000, None, &mut body).is_err());
        assert!(body.capacity() < 64 * 1024, "capacity {}", body.capacity());
    }
}
