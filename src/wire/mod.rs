//! The MongoDB wire protocol: message header, OP_MSG, OP_COMPRESSED, and reading whole frames
//! from a socket.

mod compression;
mod frame;
mod header;
mod op_msg;

pub use compression::{compress_frame, decompress_body, may_compress, negotiate, Compressor};
pub use frame::{read_frame, Frame};
pub use header::{next_request_id, MessageHeader, OpCode, DEFAULT_MAX_MESSAGE_SIZE, HEADER_LEN, MAX_MESSAGE_SIZE_CAP};
pub(crate) use op_msg::write_document;
pub use op_msg::{encode_to_vec, DocumentSequence, OpMsg, CHECKSUM_PRESENT, EXHAUST_ALLOWED, MORE_TO_COME};
