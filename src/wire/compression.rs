//! OP_COMPRESSED (op-compressed.md): the compressors, wrapping an encoded message, and
//! unwrapping a reply with bounded memory.
//!
//! Each compressor is compiled in by its cargo feature (`snappy`, `zlib`, `zstd`). Replies are
//! decoded with whatever compressor their `compressorId` names, if it is compiled in; requests
//! are compressed with the one the handshake negotiated.

use std::fmt;

use super::header::{MessageHeader, OpCode, HEADER_LEN};
use crate::error::{Error, ErrorKind, Result};

/// `originalOpcode`, `uncompressedSize` and `compressorId`.
const PREFIX_LEN: usize = 4 + 4 + 1;

/// A wire compressor (op-compressed.md "Compressor IDs").
///
/// ```
/// use mongopool::wire::Compressor;
/// assert_eq!(Compressor::from_name("ZLIB"), Some(Compressor::Zlib));
/// assert_eq!(Compressor::Zlib.id(), 2);
/// // Whether this build can use it depends on the cargo feature of the same name.
/// assert_eq!(Compressor::Zlib.is_compiled_in(), cfg!(feature = "zlib"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compressor {
    /// `noop` (id 0): the payload is not compressed. Decoded, never negotiated.
    Noop,
    /// `snappy` (id 1), cargo feature `snappy`.
    Snappy,
    /// `zlib` (id 2), cargo feature `zlib`; the level is `zlibCompressionLevel`.
    Zlib,
    /// `zstd` (id 3), cargo feature `zstd`.
    Zstd,
}

impl Compressor {
    /// The compressors this build includes, in the order mongopool prefers them.
    ///
    /// ```
    /// use mongopool::wire::Compressor;
    ///
    /// let available = Compressor::compiled_in();
    /// assert_eq!(available.contains(&Compressor::Zstd), cfg!(feature = "zstd"));
    /// assert!(!available.contains(&Compressor::Noop)); // never offered in a handshake
    /// ```
    pub fn compiled_in() -> Vec<Compressor> {
        [Compressor::Zstd, Compressor::Snappy, Compressor::Zlib]
            .into_iter()
            .filter(|c| c.is_compiled_in())
            .collect()
    }

    /// The `compressorId` of OP_COMPRESSED.
    ///
    /// ```
    /// use mongopool::wire::Compressor;
    ///
    /// let ids: Vec<u8> = [Compressor::Noop, Compressor::Snappy, Compressor::Zlib, Compressor::Zstd].map(Compressor::id).into();
    /// assert_eq!(ids, [0, 1, 2, 3]);
    /// ```
    pub fn id(self) -> u8 {
        match self {
            Compressor::Noop => 0,
            Compressor::Snappy => 1,
            Compressor::Zlib => 2,
            Compressor::Zstd => 3,
        }
    }

    /// The compressor of a `compressorId`; `None` for the reserved ids 4-255.
    ///
    /// ```
    /// use mongopool::wire::Compressor;
    ///
    /// assert_eq!(Compressor::from_id(3), Some(Compressor::Zstd));
    /// assert_eq!(Compressor::from_id(4), None);
    /// ```
    pub fn from_id(id: u8) -> Option<Compressor> {
        match id {
            0 => Some(Compressor::Noop),
            1 => Some(Compressor::Snappy),
            2 => Some(Compressor::Zlib),
            3 => Some(Compressor::Zstd),
            _ => None,
        }
    }

    /// The name used in the handshake and in the `compressors` URI option.
    ///
    /// ```
    /// use mongopool::wire::Compressor;
    ///
    /// assert_eq!(Compressor::Snappy.name(), "snappy");
    /// assert_eq!(Compressor::Zlib.to_string(), Compressor::Zlib.name());
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Compressor::Noop => "noop",
            Compressor::Snappy => "snappy",
            Compressor::Zlib => "zlib",
            Compressor::Zstd => "zstd",
        }
    }

    /// The compressor of a handshake name (case-insensitive); `None` for anything else,
    /// including `noop`, which is never negotiated.
    ///
    /// ```
    /// use mongopool::wire::Compressor;
    ///
    /// assert_eq!(Compressor::from_name("Snappy"), Some(Compressor::Snappy));
    /// assert_eq!(Compressor::from_name("noop"), None);
    /// assert_eq!(Compressor::from_name("lz4"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Compressor> {
        [Compressor::Snappy, Compressor::Zlib, Compressor::Zstd]
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }

    /// Whether this build includes the compressor (its cargo feature is on; `noop` always).
    ///
    /// ```
    /// use mongopool::wire::Compressor;
    ///
    /// assert!(Compressor::Noop.is_compiled_in());
    /// assert_eq!(Compressor::Snappy.is_compiled_in(), cfg!(feature = "snappy"));
    /// ```
    pub fn is_compiled_in(self) -> bool {
        match self {
            Compressor::Noop => true,
            Compressor::Snappy => cfg!(feature = "snappy"),
            Compressor::Zlib => cfg!(feature = "zlib"),
            Compressor::Zstd => cfg!(feature = "zstd"),
        }
    }

    /// An [`ErrorKind::InvalidArgument`] error unless the compressor is compiled in.
    pub(crate) fn check_compiled_in(self) -> Result<()> {
        if self.is_compiled_in() {
            Ok(())
        } else {
            Err(Error::invalid_argument(format!(
                "compressor {self} is not compiled in: enable mongopool's cargo feature \"{self}\""
            )))
        }
    }
}

impl fmt::Display for Compressor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The compressor to use: the first of the client's list that the server's hello reply also
/// lists (op-compressed.md: clients MUST use the first compressor in the client's configured
/// list that is also in the server's list). `None` means uncompressed.
///
/// ```
/// use mongopool::wire::{negotiate, Compressor};
///
/// let server = vec!["zlib".to_string(), "snappy".to_string()];
/// let picked = negotiate(&[Compressor::Snappy, Compressor::Zlib], &server);
/// // The client's order wins, among the compressors this build includes.
/// let expected = [Compressor::Snappy, Compressor::Zlib].into_iter().find(|c| c.is_compiled_in());
/// assert_eq!(picked, expected);
/// assert_eq!(negotiate(&[Compressor::Zstd], &server), None);
/// ```
pub fn negotiate(client: &[Compressor], server: &[String]) -> Option<Compressor> {
    client
        .iter()
        .copied()
        .find(|c| c.is_compiled_in() && server.iter().any(|s| s.eq_ignore_ascii_case(c.name())))
}

/// Whether a command may be compressed: op-compressed.md "Messages not allowed to be
/// compressed" lists the handshake and authentication commands, which MUST NOT be. Compared
/// case-insensitively so that no spelling of them slips through.
///
/// ```
/// use mongopool::wire::may_compress;
///
/// assert!(may_compress("find"));
/// assert!(!may_compress("saslStart"));
/// assert!(!may_compress("ISMASTER")); // case-insensitive
/// ```
pub fn may_compress(command_name: &str) -> bool {
    const NEVER: [&str; 11] = [
        "hello",
        "isMaster",
        "saslStart",
        "saslContinue",
        "getnonce",
        "authenticate",
        "createUser",
        "updateUser",
        "copydbSaslStart",
        "copydbgetnonce",
        "copydb",
    ];
    !NEVER.iter().any(|n| n.eq_ignore_ascii_case(command_name))
}

/// Wraps a complete encoded message (`frame`, header included) into an OP_COMPRESSED frame
/// with the same request id and `responseTo`, appended to `out`. `zlib_level` is
/// `zlibCompressionLevel` (-1 or `None`: the library's default).
///
/// ```
/// use mongopool::wire::{compress_frame, encode_to_vec, Compressor, MessageHeader, OpCode, OpMsg};
///
/// let frame = encode_to_vec(&OpMsg::new(bson::doc! { "find": "c", "$db": "test" }), 7, 0)?;
/// let mut out = Vec::new();
/// compress_frame(&frame, Compressor::Noop, None, &mut out)?;
/// let header = MessageHeader::parse(out[..16].try_into()?);
/// assert_eq!((header.op_code, header.request_id), (OpCode::Compressed.code(), 7));
/// assert_eq!(header.message_length as usize, out.len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn compress_frame(frame: &[u8], compressor: Compressor, zlib_level: Option<i32>, out: &mut Vec<u8>) -> Result<()> {
    let head: &[u8; HEADER_LEN] = frame
        .get(..HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| Error::internal("message to compress has no header"))?;
    let header = MessageHeader::parse(head);
    let payload = &frame[HEADER_LEN..];
    let uncompressed =
        i32::try_from(payload.len()).map_err(|_| Error::invalid_argument("message larger than 2 GiB"))?;
    let start = out.len();
    MessageHeader {
        message_length: 0,
        op_code: OpCode::Compressed.code(),
        ..header
    }
    .write(out);
    out.extend_from_slice(&header.op_code.to_le_bytes());
    out.extend_from_slice(&uncompressed.to_le_bytes());
    out.push(compressor.id());
    codec::compress(compressor, zlib_level, payload, out)?;
    let len = i32::try_from(out.len() - start).map_err(|_| Error::invalid_argument("message larger than 2 GiB"))?;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// Unwraps the body of an OP_COMPRESSED frame (the bytes after its header) into `out`
/// (cleared first) and returns the opcode it wrapped, which must be OP_MSG.
///
/// `uncompressedSize` is checked against `max_size` (the largest whole message) before
/// anything is allocated, and the output grows only as decompressed bytes actually come out,
/// never past `uncompressedSize`: a small frame that claims a huge size, or a decompression
/// bomb, costs no more memory than the bytes it really produces, up to that limit. Every
/// failure is an [`ErrorKind::Compression`] error.
///
/// ```
/// use mongopool::wire::{compress_frame, decompress_body, encode_to_vec, Compressor, OpCode, OpMsg};
/// use mongopool::ErrorKind;
///
/// let msg = OpMsg::new(bson::doc! { "ping": 1, "$db": "admin" });
/// let mut compressed = Vec::new();
/// compress_frame(&encode_to_vec(&msg, 1, 0)?, Compressor::Noop, None, &mut compressed)?;
/// let mut body = Vec::new();
/// assert_eq!(decompress_body(&compressed[16..], 48_000_000, &mut body)?, OpCode::Msg);
/// assert_eq!(OpMsg::decode(&body)?, msg);
/// // A prefix that is cut short is a compression error.
/// let err = decompress_body(&compressed[16..20], 48_000_000, &mut body).unwrap_err();
/// assert!(matches!(err.kind(), ErrorKind::Compression { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decompress_body(body: &[u8], max_size: usize, out: &mut Vec<u8>) -> Result<OpCode> {
    out.clear();
    if body.len() < PREFIX_LEN {
        return Err(compression_error(format!(
            "OP_COMPRESSED body of {} bytes is shorter than its {PREFIX_LEN}-byte prefix",
            body.len()
        )));
    }
    let field = |i: usize| i32::from_le_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
    let original = field(0);
    let size = field(4);
    let id = body[8];
    let data = &body[PREFIX_LEN..];
    if original != OpCode::Msg.code() {
        return Err(compression_error(format!(
            "OP_COMPRESSED wraps opCode {original}; only OP_MSG (2013) is supported"
        )));
    }
    let limit = max_size.saturating_sub(HEADER_LEN);
    let size = usize::try_from(size)
        .ok()
        .filter(|&s| s >= OpCode::Msg.min_message_len() - HEADER_LEN && s <= limit)
        .ok_or_else(|| {
            compression_error(format!(
                "OP_COMPRESSED uncompressedSize {size} is outside [{}, {limit}]",
                OpCode::Msg.min_message_len() - HEADER_LEN
            ))
        })?;
    let compressor = Compressor::from_id(id)
        .ok_or_else(|| compression_error(format!("OP_COMPRESSED has unknown compressorId {id}")))?;
    if !compressor.is_compiled_in() {
        return Err(compression_error(format!(
            "the server replied with compressor {compressor} (id {id}), which this build does not include \
             (mongopool's cargo feature \"{compressor}\")"
        )));
    }
    codec::decompress(compressor, data, size, out)?;
    if out.len() != size {
        return Err(compression_error(format!(
            "{compressor} payload decompressed to {} bytes, uncompressedSize says {size}",
            out.len()
        )));
    }
    Ok(OpCode::Msg)
}

fn compression_error(message: String) -> Error {
    Error::new(ErrorKind::Compression { message })
}

/// The compressors themselves, each behind its feature. Every decoder writes at most
/// `size + 1` bytes (one more than allowed, so that an overlong payload is detected).
mod codec {
    use super::{compression_error, Compressor};
    use crate::error::{Error, Result};

    pub(super) fn compress(c: Compressor, zlib_level: Option<i32>, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let _ = zlib_level;
        match c {
            Compressor::Noop => {
                out.extend_from_slice(data);
                Ok(())
            }
            #[cfg(feature = "snappy")]
            Compressor::Snappy => snappy::compress(data, out),
            #[cfg(feature = "zlib")]
            Compressor::Zlib => zlib::compress(data, zlib_level, out),
            #[cfg(feature = "zstd")]
            Compressor::Zstd => zstd_codec::compress(data, out),
            #[allow(unreachable_patterns)]
            other => other.check_compiled_in(),
        }
    }

    pub(super) fn decompress(c: Compressor, data: &[u8], size: usize, out: &mut Vec<u8>) -> Result<()> {
        match c {
            Compressor::Noop => {
                // Checked before copying: no allocation beyond what arrived.
                if data.len() != size {
                    return Err(compression_error(format!(
                        "noop payload has {} bytes, uncompressedSize says {size}",
                        data.len()
                    )));
                }
                out.extend_from_slice(data);
                Ok(())
            }
            #[cfg(feature = "snappy")]
            Compressor::Snappy => snappy::decompress(data, size, out),
            #[cfg(feature = "zlib")]
            Compressor::Zlib => zlib::decompress(data, size, out),
            #[cfg(feature = "zstd")]
            Compressor::Zstd => zstd_codec::decompress(data, size, out),
            #[allow(unreachable_patterns)]
            other => Err(Error::internal(format!("{other} is not compiled in"))),
        }
    }

    /// Reads `reader` to its end into `out`, at most `size + 1` bytes; the buffer grows with
    /// the bytes read, not with the size announced.
    #[cfg(any(feature = "zlib", feature = "zstd"))]
    fn read_bounded(c: Compressor, reader: impl std::io::Read, size: usize, out: &mut Vec<u8>) -> Result<()> {
        use std::io::Read;
        reader
            .take(size as u64 + 1)
            .read_to_end(out)
            .map_err(|e| compression_error(format!("invalid {c} payload: {e}")))?;
        Ok(())
    }

    #[cfg(feature = "snappy")]
    mod snappy {
        use super::{compression_error, Compressor};
        use crate::error::Result;

        /// A snappy element of n input bytes yields at most 64/3 output bytes per input byte
        /// (a 3-byte copy of 64 bytes), so a payload claiming more is invalid before any
        /// allocation.
        const MAX_RATIO: usize = 22;

        pub(super) fn compress(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
            let start = out.len();
            out.resize(start + snap::raw::max_compress_len(data.len()), 0);
            let n = snap::raw::Encoder::new()
                .compress(data, &mut out[start..])
                .map_err(|e| compression_error(format!("snappy compression failed: {e}")))?;
            out.truncate(start + n);
            Ok(())
        }

        pub(super) fn decompress(data: &[u8], size: usize, out: &mut Vec<u8>) -> Result<()> {
            let claimed = snap::raw::decompress_len(data)
                .map_err(|e| compression_error(format!("invalid {} payload: {e}", Compressor::Snappy)))?;
            if claimed != size || size > data.len().saturating_mul(MAX_RATIO) {
                return Err(compression_error(format!(
                    "snappy payload of {} bytes claims {claimed} bytes, uncompressedSize says {size}",
                    data.len()
                )));
            }
            out.resize(size, 0);
            let n = snap::raw::Decoder::new()
                .decompress(data, out)
                .map_err(|e| compression_error(format!("invalid snappy payload: {e}")))?;
            out.truncate(n);
            Ok(())
        }
    }

    #[cfg(feature = "zlib")]
    mod zlib {
        use std::io::Write;

        use super::{compression_error, read_bounded, Compressor};
        use crate::error::Result;

        pub(super) fn compress(data: &[u8], level: Option<i32>, out: &mut Vec<u8>) -> Result<()> {
            // zlibCompressionLevel -1 (or unset) is the library's default (op-compressed.md).
            let level = match level {
                Some(l @ 0..=9) => flate2::Compression::new(l as u32),
                _ => flate2::Compression::default(),
            };
            let mut enc = flate2::write::ZlibEncoder::new(out, level);
            enc.write_all(data)
                .and_then(|_| enc.try_finish())
                .map_err(|e| compression_error(format!("zlib compression failed: {e}")))
        }

        pub(super) fn decompress(data: &[u8], size: usize, out: &mut Vec<u8>) -> Result<()> {
            read_bounded(Compressor::Zlib, flate2::read::ZlibDecoder::new(data), size, out)
        }
    }

    #[cfg(feature = "zstd")]
    mod zstd_codec {
        use super::{compression_error, read_bounded, Compressor};
        use crate::error::Result;

        /// The decoder's window is its own allocation, sized by the frame header, not by the
        /// output: it is capped at what `uncompressedSize` bytes can need, within these bounds.
        /// 2^20: compressors may use a window larger than a small input, and 1 MiB is cheap.
        /// 2^24: zstd levels 1-19 never use a window over 2^23 (larger only with --ultra), so a
        /// hostile frame costs at most 16 MiB whatever size it claims.
        const MIN_WINDOW_LOG: u32 = 20;
        const MAX_WINDOW_LOG: u32 = 24;

        pub(super) fn compress(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
            let compressed = zstd::bulk::compress(data, zstd::DEFAULT_COMPRESSION_LEVEL)
                .map_err(|e| compression_error(format!("zstd compression failed: {e}")))?;
            out.extend_from_slice(&compressed);
            Ok(())
        }

        pub(super) fn decompress(data: &[u8], size: usize, out: &mut Vec<u8>) -> Result<()> {
            let invalid = |e: std::io::Error| compression_error(format!("invalid zstd payload: {e}"));
            let mut decoder = zstd::stream::read::Decoder::with_buffer(data).map_err(invalid)?;
            let window_log = usize::BITS - size.next_power_of_two().leading_zeros() - 1;
            decoder
                .window_log_max(window_log.clamp(MIN_WINDOW_LOG, MAX_WINDOW_LOG))
                .map_err(invalid)?;
            read_bounded(Compressor::Zstd, decoder, size, out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{encode_to_vec, OpMsg};
    use bson::doc;

    #[test]
    fn names_and_ids() {
        for c in [Compressor::Snappy, Compressor::Zlib, Compressor::Zstd] {
            assert_eq!(Compressor::from_name(c.name()), Some(c));
            assert_eq!(Compressor::from_id(c.id()), Some(c));
        }
        assert_eq!(Compressor::from_name("noop"), None);
        assert_eq!(Compressor::from_name("lz4"), None);
        assert_eq!(Compressor::from_id(4), None);
        assert!(Compressor::compiled_in().iter().all(|c| c.is_compiled_in()));
    }

    #[test]
    fn the_first_client_compressor_the_server_lists_wins() {
        let compiled = Compressor::compiled_in();
        let server: Vec<String> = ["zlib", "snappy", "zstd"].iter().map(|s| s.to_string()).collect();
        assert_eq!(negotiate(&compiled, &server), compiled.first().copied());
        assert_eq!(negotiate(&compiled, &[]), None);
        assert_eq!(negotiate(&[], &server), None);
        if cfg!(all(feature = "zlib", feature = "snappy")) {
            let client = [Compressor::Zlib, Compressor::Snappy];
            assert_eq!(negotiate(&client, &server[1..]), Some(Compressor::Snappy));
            assert_eq!(negotiate(&client, &server), Some(Compressor::Zlib));
        }
    }

    #[test]
    fn handshake_and_auth_commands_are_never_compressed() {
        for name in ["hello", "isMaster", "ismaster", "saslStart", "saslContinue", "getnonce"] {
            assert!(!may_compress(name), "{name}");
        }
        for name in [
            "authenticate",
            "createUser",
            "updateUser",
            "copydbSaslStart",
            "copydbgetnonce",
            "copydb",
        ] {
            assert!(!may_compress(name), "{name}");
        }
        assert!(may_compress("ping"));
        assert!(may_compress("find"));
    }

    fn frame() -> Vec<u8> {
        let body = doc! { "find": "c", "filter": { "x": "y".repeat(300) }, "$db": "d" };
        encode_to_vec(&OpMsg::new(body), 42, 7).unwrap()
    }

    /// Wraps `frame` and unwraps it again, checking the header fields on the way.
    fn round_trip(c: Compressor, level: Option<i32>) -> Vec<u8> {
        let plain = frame();
        let mut wrapped = Vec::new();
        compress_frame(&plain, c, level, &mut wrapped).unwrap();
        let header = MessageHeader::parse(wrapped[..HEADER_LEN].try_into().unwrap());
        assert_eq!(header.message_length as usize, wrapped.len());
        assert_eq!((header.request_id, header.response_to, header.op_code), (42, 7, 2012));
        assert_eq!(wrapped[HEADER_LEN + 8], c.id());
        let mut out = Vec::new();
        assert_eq!(
            decompress_body(&wrapped[HEADER_LEN..], 1 << 20, &mut out).unwrap(),
            OpCode::Msg
        );
        assert_eq!(out, plain[HEADER_LEN..]);
        wrapped
    }

    #[test]
    fn every_compiled_compressor_round_trips_and_shrinks_repetitive_data() {
        assert_eq!(round_trip(Compressor::Noop, None).len(), frame().len() + PREFIX_LEN);
        for c in Compressor::compiled_in() {
            let wrapped = round_trip(c, None);
            assert!(wrapped.len() < frame().len() / 2, "{c}: {} bytes", wrapped.len());
        }
        if cfg!(feature = "zlib") {
            let stored = round_trip(Compressor::Zlib, Some(0));
            let best = round_trip(Compressor::Zlib, Some(9));
            assert!(stored.len() > frame().len(), "level 0 stores: {}", stored.len());
            assert!(best.len() < frame().len() / 2);
        }
    }

    fn body(original: i32, size: i32, id: u8, data: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&original.to_le_bytes());
        b.extend_from_slice(&size.to_le_bytes());
        b.push(id);
        b.extend_from_slice(data);
        b
    }

    fn kind_of(err: Error) -> ErrorKind {
        err.kind().clone()
    }

    #[test]
    fn bad_prefixes_are_compression_errors_without_allocation() {
        let mut out = Vec::new();
        let cases = [
            body(2013, 100, 0, &[]),      // noop, too short
            body(2013, -1, 0, &[0; 5]),   // negative size
            body(2013, i32::MAX, 0, &[]), // 2 GiB claimed
            body(2013, 4, 0, &[0; 4]),    // below the OP_MSG minimum
            body(2004, 5, 0, &[0; 5]),    // OP_QUERY inside
            body(2012, 5, 0, &[0; 5]),    // OP_COMPRESSED inside
            body(2013, 5, 9, &[0; 5]),    // reserved compressor id
            vec![0; 8],                   // no room for the prefix
        ];
        for case in cases {
            let err = decompress_body(&case, 48_000_000, &mut out).unwrap_err();
            assert!(matches!(kind_of(err), ErrorKind::Compression { .. }));
            assert_eq!(out.capacity(), 0, "nothing allocated for a rejected prefix");
        }
        // Exactly at the limit is fine for noop; one over is not.
        let limit = 1000 - HEADER_LEN;
        let mut payload = vec![0u8; limit];
        payload[..5].copy_from_slice(&[0, 0, 0, 0, 0]);
        assert!(decompress_body(&body(2013, limit as i32, 0, &payload), 1000, &mut out).is_ok());
        let mut over = Vec::new();
        payload.push(0);
        let err = decompress_body(&body(2013, limit as i32 + 1, 0, &payload), 1000, &mut over).unwrap_err();
        assert!(err.to_string().contains("uncompressedSize"), "{err}");
        assert_eq!(over.capacity(), 0);
    }

    #[test]
    fn corrupt_payloads_are_compression_errors() {
        let mut out = Vec::new();
        for c in Compressor::compiled_in() {
            let err = decompress_body(&body(2013, 100, c.id(), &[0xff; 32]), 1 << 20, &mut out).unwrap_err();
            assert!(matches!(kind_of(err), ErrorKind::Compression { .. }), "{c}");
            // A valid payload whose size disagrees with uncompressedSize.
            let mut wrapped = Vec::new();
            compress_frame(&frame(), c, None, &mut wrapped).unwrap();
            let real = frame().len() - HEADER_LEN;
            for wrong in [real - 1, real + 1] {
                wrapped[HEADER_LEN + 4..HEADER_LEN + 8].copy_from_slice(&(wrong as i32).to_le_bytes());
                let err = decompress_body(&wrapped[HEADER_LEN..], 1 << 20, &mut out).unwrap_err();
                assert!(matches!(kind_of(err), ErrorKind::Compression { .. }), "{c} {wrong}");
            }
        }
    }

    #[test]
    fn a_bomb_costs_no_more_than_the_size_it_claims() {
        // 512 KiB of zeros compresses to a few KiB; claiming 1000 bytes must stop the decoder
        // after 1001 bytes of output.
        for c in Compressor::compiled_in() {
            let mut bomb = vec![0u8; HEADER_LEN];
            bomb[12..16].copy_from_slice(&OpCode::Msg.code().to_le_bytes());
            bomb.extend(std::iter::repeat_n(0u8, 512 << 10));
            let mut wrapped = Vec::new();
            compress_frame(&bomb, c, None, &mut wrapped).unwrap();
            assert!(wrapped.len() < 32 * 1024, "{c}: {}", wrapped.len());
            wrapped[HEADER_LEN + 4..HEADER_LEN + 8].copy_from_slice(&1000i32.to_le_bytes());
            let mut out = Vec::new();
            let err = decompress_body(&wrapped[HEADER_LEN..], 48_000_000, &mut out).unwrap_err();
            assert!(err.to_string().contains(c.name()), "{c}: {err}");
            if c != Compressor::Snappy {
                // Snappy's own length header gives the lie away before decoding.
                assert!(err.to_string().contains("decompressed to 1001 bytes"), "{c}: {err}");
            }
            assert!(out.capacity() < 64 * 1024, "{c}: capacity {}", out.capacity());
        }
    }

    /// A zstd frame without a content size: `blocks` RLE blocks of 128 KiB of 'a', with a
    /// window of 2^`window_log` declared in its header.
    #[cfg(feature = "zstd")]
    fn zstd_rle_frame(window_log: u8, blocks: usize) -> Vec<u8> {
        let mut f = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, (window_log - 10) << 3];
        for i in 0..blocks {
            let last = u32::from(i + 1 == blocks);
            let header = last | (1 << 1) | ((128 * 1024) << 3);
            f.extend_from_slice(&header.to_le_bytes()[..3]);
            f.push(b'a');
        }
        f
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_windows_are_capped_at_16_mib() {
        let mut out = Vec::new();
        // 16 MiB in a 16 MiB window decodes: the frame is valid.
        let ok = body(2013, 16 << 20, Compressor::Zstd.id(), &zstd_rle_frame(24, 128));
        decompress_body(&ok, 64 << 20, &mut out).unwrap();
        assert_eq!(out.len(), 16 << 20);
        // 32 MiB in a 32 MiB window is refused before the decoder allocates the window, even
        // though the size claimed is within maxMessageSizeBytes.
        let big = body(2013, 32 << 20, Compressor::Zstd.id(), &zstd_rle_frame(25, 256));
        let mut out = Vec::new();
        let err = decompress_body(&big, 64 << 20, &mut out).unwrap_err();
        assert!(matches!(kind_of(err), ErrorKind::Compression { .. }));
        assert!(out.capacity() < 1 << 20, "capacity {}", out.capacity());
        // A real compressor's frame for a large message uses a smaller window and decodes.
        let text: Vec<u8> = (0..24u32 << 20)
            .map(|i| b"mongopool "[(i % 10) as usize] ^ (i >> 20) as u8)
            .collect();
        let mut frame = vec![0u8; HEADER_LEN];
        frame[12..16].copy_from_slice(&OpCode::Msg.code().to_le_bytes());
        frame.extend_from_slice(&text);
        let mut wrapped = Vec::new();
        compress_frame(&frame, Compressor::Zstd, None, &mut wrapped).unwrap();
        decompress_body(&wrapped[HEADER_LEN..], 48_000_000, &mut out).unwrap();
        assert!(out == text);
    }

    #[test]
    fn a_compressor_that_is_not_compiled_in_is_named_in_the_error() {
        let missing = [Compressor::Snappy, Compressor::Zlib, Compressor::Zstd]
            .into_iter()
            .filter(|c| !c.is_compiled_in());
        for c in missing {
            let mut out = Vec::new();
            let err = decompress_body(&body(2013, 5, c.id(), &[0; 5]), 1 << 20, &mut out).unwrap_err();
            assert!(err.to_string().contains(c.name()), "{err}");
            assert!(compress_frame(&frame(), c, None, &mut out).is_err());
        }
    }
}
