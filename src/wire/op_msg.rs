//! OP_MSG encoding and decoding (op-msg.md).

use bson::Document;

use super::header::{MessageHeader, OpCode, HEADER_LEN};
use crate::error::{Error, Result};

/// Flag bit 0: a crc32c checksum follows the sections.
///
/// ```
/// use mongopool::wire::{encode_to_vec, OpMsg, CHECKSUM_PRESENT};
///
/// let mut msg = OpMsg::new(bson::doc! { "ping": 1 });
/// msg.flags = CHECKSUM_PRESENT;
/// // mongopool never writes a checksum, so it clears the bit when encoding.
/// let bytes = encode_to_vec(&msg, 1, 0)?;
/// assert_eq!(OpMsg::decode(&bytes[16..])?.flags & CHECKSUM_PRESENT, 0);
/// # Ok::<(), mongopool::Error>(())
/// ```
pub const CHECKSUM_PRESENT: u32 = 1;
/// Flag bit 1: another message follows without a request in between.
///
/// ```
/// use mongopool::wire::{OpMsg, MORE_TO_COME};
///
/// let mut msg = OpMsg::new(bson::doc! { "ok": 1 });
/// assert!(!msg.more_to_come());
/// msg.flags |= MORE_TO_COME;
/// assert!(msg.more_to_come());
/// ```
pub const MORE_TO_COME: u32 = 1 << 1;
/// Flag bit 16: the client accepts exhaust replies.
///
/// ```
/// use mongopool::wire::{encode_to_vec, OpMsg, EXHAUST_ALLOWED};
///
/// let mut msg = OpMsg::new(bson::doc! { "getMore": 1i64, "$db": "test" });
/// msg.flags = EXHAUST_ALLOWED; // an optional bit (16-31): decoders ignore it if unknown
/// let bytes = encode_to_vec(&msg, 1, 0)?;
/// assert_eq!(OpMsg::decode(&bytes[16..])?.flags, EXHAUST_ALLOWED);
/// # Ok::<(), mongopool::Error>(())
/// ```
pub const EXHAUST_ALLOWED: u32 = 1 << 16;
/// Bits 0-15 are "required": an unknown one set is an error (op-msg.md, Flag Bits).
const REQUIRED_BITS: u32 = 0xFFFF;
const KNOWN_REQUIRED_BITS: u32 = CHECKSUM_PRESENT | MORE_TO_COME;

/// A payload type 1 section: an identifier and a sequence of documents.
///
/// ```
/// use bson::doc;
/// use mongopool::wire::{encode_to_vec, DocumentSequence, OpMsg};
///
/// let mut msg = OpMsg::new(doc! { "insert": "items", "$db": "shop" });
/// msg.sequences.push(DocumentSequence { identifier: "documents".into(), documents: vec![doc! { "_id": 1 }, doc! { "_id": 2 }] });
/// let bytes = encode_to_vec(&msg, 1, 0)?;
/// let decoded = OpMsg::decode(&bytes[16..])?;
/// assert_eq!(decoded.sequences[0].documents.len(), 2);
/// assert_eq!(decoded, msg);
/// # Ok::<(), mongopool::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct DocumentSequence {
    /// The command argument the documents belong to, e.g. `documents` for `insert`.
    pub identifier: String,
    /// The documents.
    pub documents: Vec<Document>,
}

/// An OP_MSG: flag bits, exactly one body (payload type 0) and any number of document sequences.
///
/// ```
/// use mongopool::wire::{encode_to_vec, OpMsg};
///
/// let msg = OpMsg::new(bson::doc! { "ping": 1, "$db": "admin" });
/// let bytes = encode_to_vec(&msg, 1, 0)?;
/// assert_eq!(OpMsg::decode(&bytes[16..])?, msg);
/// # Ok::<(), mongopool::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct OpMsg {
    /// The flag bits.
    pub flags: u32,
    /// The payload type 0 document.
    pub body: Document,
    /// Payload type 1 sections.
    pub sequences: Vec<DocumentSequence>,
}

impl OpMsg {
    /// A message with a body and no flags or sequences.
    ///
    /// ```
    /// use mongopool::wire::OpMsg;
    ///
    /// let msg = OpMsg::new(bson::doc! { "hello": 1, "$db": "admin" });
    /// assert_eq!((msg.flags, msg.sequences.len()), (0, 0));
    /// assert_eq!(msg.body.get_i32("hello")?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(body: Document) -> Self {
        OpMsg {
            flags: 0,
            body,
            sequences: Vec::new(),
        }
    }

    /// Whether the `moreToCome` flag is set.
    ///
    /// ```
    /// use mongopool::wire::{OpMsg, EXHAUST_ALLOWED, MORE_TO_COME};
    ///
    /// let mut msg = OpMsg::new(bson::doc! {});
    /// msg.flags = EXHAUST_ALLOWED;
    /// assert!(!msg.more_to_come());
    /// msg.flags |= MORE_TO_COME;
    /// assert!(msg.more_to_come());
    /// ```
    pub fn more_to_come(&self) -> bool {
        self.flags & MORE_TO_COME != 0
    }

    /// Appends the complete message (header included) to `out`. A checksum is never written, so
    /// the checksumPresent bit is cleared.
    ///
    /// ```
    /// use mongopool::wire::{MessageHeader, OpMsg};
    ///
    /// let mut out = Vec::new();
    /// OpMsg::new(bson::doc! { "ping": 1 }).encode(9, 0, &mut out)?;
    /// let header = MessageHeader::parse(out[..16].try_into()?);
    /// assert_eq!((header.message_length as usize, header.request_id, header.op_code), (out.len(), 9, 2013));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn encode(&self, request_id: i32, response_to: i32, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        MessageHeader {
            message_length: 0,
            request_id,
            response_to,
            op_code: OpCode::Msg.code(),
        }
        .write(out);
        out.extend_from_slice(&(self.flags & !CHECKSUM_PRESENT).to_le_bytes());
        out.push(0);
        write_document(&self.body, out)?;
        for seq in &self.sequences {
            out.push(1);
            let size_at = out.len();
            out.extend_from_slice(&[0; 4]);
            out.extend_from_slice(seq.identifier.as_bytes());
            out.push(0);
            for doc in &seq.documents {
                write_document(doc, out)?;
            }
            let size = i32::try_from(out.len() - size_at)
                .map_err(|_| Error::invalid_argument("document sequence larger than 2 GiB"))?;
            out[size_at..size_at + 4].copy_from_slice(&size.to_le_bytes());
        }
        let len = i32::try_from(out.len() - start).map_err(|_| Error::invalid_argument("message larger than 2 GiB"))?;
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        Ok(())
    }

    /// Decodes the part of an OP_MSG after the header. Every malformed input is a protocol
    /// error; nothing is allocated from a length that was not checked against `body.len()`.
    ///
    /// ```
    /// use mongopool::wire::OpMsg;
    /// use mongopool::ErrorKind;
    ///
    /// // flag bits 0, then a kind-0 section holding the empty document
    /// let body = [0, 0, 0, 0, 0, 5, 0, 0, 0, 0];
    /// assert_eq!(OpMsg::decode(&body)?.body, bson::doc! {});
    /// // A document length that runs past the end is a protocol error, not a panic.
    /// let err = OpMsg::decode(&[0, 0, 0, 0, 0, 0xff, 0, 0, 0, 0]).unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::Protocol { .. }));
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn decode(body: &[u8]) -> Result<Self> {
        let mut r = Reader { bytes: body, pos: 0 };
        let flags = r.u32()?;
        if flags & REQUIRED_BITS & !KNOWN_REQUIRED_BITS != 0 {
            return Err(Error::protocol(format!(
                "OP_MSG has unknown required flag bits set: {flags:#x}"
            )));
        }
        let mut end = body.len();
        if flags & CHECKSUM_PRESENT != 0 {
            // The checksum is optional to verify; it is skipped, not trusted.
            end = end
                .checked_sub(4)
                .filter(|&e| e >= r.pos)
                .ok_or_else(|| Error::protocol("OP_MSG too short for its checksum"))?;
        }
        let mut main: Option<Document> = None;
        let mut sequences = Vec::new();
        if r.pos >= end {
            return Err(Error::protocol("OP_MSG has no sections"));
        }
        while r.pos < end {
            match r.u8()? {
                0 => {
                    let doc = r.document(end)?;
                    if main.replace(doc).is_some() {
                        return Err(Error::protocol("OP_MSG has more than one payload type 0 section"));
                    }
                }
                1 => {
                    let size = r.i32()?;
                    let section_start = r.pos - 4;
                    let section_end = usize::try_from(size)
                        .ok()
                        .and_then(|s| section_start.checked_add(s))
                        .filter(|&e| e <= end && e > r.pos)
                        .ok_or_else(|| {
                            Error::protocol(format!("document sequence size {size} overruns the message"))
                        })?;
                    let identifier = r.cstring(section_end)?;
                    let mut documents = Vec::new();
                    while r.pos < section_end {
                        documents.push(r.document(section_end)?);
                    }
                    sequences.push(DocumentSequence { identifier, documents });
                }
                kind => return Err(Error::protocol(format!("OP_MSG has unknown payload type {kind}"))),
            }
        }
        let body = main.ok_or_else(|| Error::protocol("OP_MSG has no payload type 0 section"))?;
        Ok(OpMsg { flags, body, sequences })
    }
}

/// Serialises `doc` onto `out`.
pub(crate) fn write_document(doc: &Document, out: &mut Vec<u8>) -> Result<()> {
    doc.to_writer(out)
        .map_err(|e| Error::invalid_argument(format!("cannot serialise command document: {e}")))
}

/// A bounds-checked cursor over a message body.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| Error::protocol("OP_MSG is truncated"))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i32(&mut self) -> Result<i32> {
        Ok(self.u32()? as i32)
    }

    fn cstring(&mut self, limit: usize) -> Result<String> {
        let rest = &self.bytes[self.pos..limit];
        let nul = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| Error::protocol("document sequence identifier is not terminated"))?;
        let s = std::str::from_utf8(&rest[..nul])
            .map_err(|_| Error::protocol("document sequence identifier is not UTF-8"))?
            .to_owned();
        self.pos += nul + 1;
        Ok(s)
    }

    /// A BSON document whose declared length must fit before `limit`.
    fn document(&mut self, limit: usize) -> Result<Document> {
        let avail = limit.saturating_sub(self.pos);
        let len_bytes = self.bytes.get(self.pos..self.pos + 4.min(avail)).unwrap_or(&[]);
        if len_bytes.len() < 4 {
            return Err(Error::protocol("BSON document length is truncated"));
        }
        let len = i32::from_le_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
        if len < 5 || len as usize > avail {
            return Err(Error::protocol(format!(
                "BSON document length {len} overruns the message ({avail} bytes left)"
            )));
        }
        let raw = self.take(len as usize)?;
        // Parsed in place from the bounded slice: `Document::from_reader` would pre-allocate
        // whatever length the bytes declare.
        bson::RawDocument::from_bytes(raw)
            .and_then(Document::try_from)
            .map_err(|e| Error::protocol(format!("invalid BSON document: {e}")))
    }
}

/// Bytes of a complete OP_MSG frame for `msg` (test and tooling helper).
///
/// ```
/// use mongopool::wire::{encode_to_vec, OpMsg};
///
/// let bytes = encode_to_vec(&OpMsg::new(bson::doc! { "ping": 1 }), 3, 0)?;
/// assert_eq!(i32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize, bytes.len());
/// # Ok::<(), mongopool::Error>(())
/// ```
pub fn encode_to_vec(msg: &OpMsg, request_id: i32, response_to: i32) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(HEADER_LEN + 64);
    msg.encode(request_id, response_to, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn body_of(frame: &[u8]) -> &[u8] {
        &frame[HEADER_LEN..]
    }

    #[test]
    fn round_trips_both_section_kinds() {
        let msg = OpMsg {
            flags: MORE_TO_COME,
            body: doc! { "insert": "c", "$db": "test" },
            sequences: vec![DocumentSequence {
                identifier: "documents".into(),
                documents: vec![doc! { "_id": 1 }, doc! { "_id": 2, "x": "y" }],
            }],
        };
        let frame = encode_to_vec(&msg, 7, 0).unwrap();
        let header = MessageHeader::parse(frame[..16].try_into().unwrap());
        assert_eq!(header.message_length as usize, frame.len());
        assert_eq!(header.request_id, 7);
        assert_eq!(header.op_code, 2013);
        assert_eq!(OpMsg::decode(body_of(&frame)).unwrap(), msg);
    }

    #[test]
    fn checksum_is_skipped() {
        let msg = OpMsg::new(doc! { "ok": 1 });
        let mut frame = encode_to_vec(&msg, 1, 0).unwrap();
        frame[16] |= CHECKSUM_PRESENT as u8;
        frame.extend_from_slice(&[1, 2, 3, 4]);
        let decoded = OpMsg::decode(body_of(&frame)).unwrap();
        assert_eq!(decoded.body, msg.body);
    }

    #[test]
    fn rejects_malformed_bodies() {
        let good = encode_to_vec(&OpMsg::new(doc! { "ping": 1 }), 1, 0).unwrap();
        let body = body_of(&good).to_vec();
        // Truncated anywhere.
        for cut in 0..body.len() {
            assert!(OpMsg::decode(&body[..cut]).is_err(), "cut at {cut}");
        }
        // A kind-0 section whose BSON length overruns the message.
        let mut overrun = body.clone();
        overrun[5..9].copy_from_slice(&1_000_000i32.to_le_bytes());
        let err = OpMsg::decode(&overrun).unwrap_err();
        assert!(err.to_string().contains("overruns"), "{err}");
        // Negative BSON length.
        let mut negative = body.clone();
        negative[5..9].copy_from_slice(&(-1i32).to_le_bytes());
        assert!(OpMsg::decode(&negative).is_err());
        // Unknown section kind.
        let mut kind = body.clone();
        kind[4] = 9;
        assert!(OpMsg::decode(&kind).is_err());
        // Unknown required flag bit.
        let mut flags = body.clone();
        flags[0] = 0b100;
        assert!(OpMsg::decode(&flags).is_err());
        // Two bodies.
        let mut two = body.clone();
        two.extend_from_slice(&body[4..]);
        assert!(OpMsg::decode(&two).is_err());
        // A sequence whose size overruns.
        let mut seq = body.clone();
        seq.extend_from_slice(&[1, 0xff, 0xff, 0, 0, b'a', 0]);
        assert!(OpMsg::decode(&seq).is_err());
    }
}
