//! The MongoDB wire protocol: message header, OP_MSG, OP_COMPRESSED, and reading whole frames
//! from a socket.
//!
//! ```
//! use mongopool::wire::{encode_to_vec, read_frame, OpCode, OpMsg, DEFAULT_MAX_MESSAGE_SIZE};
//!
//! let request = OpMsg::new(bson::doc! { "ping": 1, "$db": "admin" });
//! let bytes = encode_to_vec(&request, 1, 0)?;
//! // Reading it back as a socket reader would.
//! let mut body = Vec::new();
//! let frame = read_frame(&mut &bytes[..], DEFAULT_MAX_MESSAGE_SIZE, None, &mut body)?;
//! assert_eq!(frame.op_code, OpCode::Msg);
//! assert_eq!(OpMsg::decode(&body)?, request);
//! # Ok::<(), mongopool::Error>(())
//! ```

mod compression;
mod frame;
mod header;
mod op_msg;

pub use compression::{compress_frame, decompress_body, may_compress, negotiate, Compressor};
pub use frame::{read_frame, Frame};
pub use header::{next_request_id, MessageHeader, OpCode, DEFAULT_MAX_MESSAGE_SIZE, HEADER_LEN, MAX_MESSAGE_SIZE_CAP};
pub(crate) use op_msg::write_document;
pub use op_msg::{encode_to_vec, DocumentSequence, OpMsg, CHECKSUM_PRESENT, EXHAUST_ALLOWED, MORE_TO_COME};
