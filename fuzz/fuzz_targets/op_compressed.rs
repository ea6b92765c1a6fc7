//! The OP_COMPRESSED decoder on raw bodies (the bytes after the header): the prefix checks,
//! every compressor (all compiled in here), the bounded output, then the OP_MSG it wraps.
//! `scripts/fuzz` fails any allocation over 64 MiB, so a claimed size or a zstd window that
//! the decoder trusted would show up.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mongopool::wire::{decompress_body, OpMsg, DEFAULT_MAX_MESSAGE_SIZE};

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    if decompress_body(data, DEFAULT_MAX_MESSAGE_SIZE, &mut out).is_ok() {
        let _ = OpMsg::decode(&out);
    }
});
