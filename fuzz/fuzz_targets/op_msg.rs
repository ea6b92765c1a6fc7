//! The wire decoder: a whole frame through `read_frame` (bounds checks before allocation),
//! then the OP_MSG body decoder, or the OP_COMPRESSED decoder and the OP_MSG it wraps; and the
//! body decoder on raw bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mongopool::wire::{decompress_body, read_frame, OpCode, OpMsg, DEFAULT_MAX_MESSAGE_SIZE};

fuzz_target!(|data: &[u8]| {
    let mut body = Vec::new();
    if let Ok(frame) = read_frame(&mut &data[..], DEFAULT_MAX_MESSAGE_SIZE, None, &mut body) {
        match frame.op_code {
            OpCode::Msg => {
                let _ = OpMsg::decode(&body);
            }
            OpCode::Compressed => {
                let mut out = Vec::new();
                if decompress_body(&body, DEFAULT_MAX_MESSAGE_SIZE, &mut out).is_ok() {
                    let _ = OpMsg::decode(&out);
                }
            }
        }
    }
    let _ = OpMsg::decode(data);
});
