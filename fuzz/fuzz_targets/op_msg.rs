//! The wire decoder: a whole frame through `read_frame` (bounds checks before allocation),
//! then the OP_MSG body decoder; and the body decoder on raw bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mongopool::wire::{read_frame, OpCode, OpMsg, DEFAULT_MAX_MESSAGE_SIZE};

fuzz_target!(|data: &[u8]| {
    let mut body = Vec::new();
    if let Ok(frame) = read_frame(&mut &data[..], DEFAULT_MAX_MESSAGE_SIZE, None, &mut body) {
        if frame.op_code == OpCode::Msg {
            let _ = OpMsg::decode(&body);
        }
    }
    let _ = OpMsg::decode(data);
});
