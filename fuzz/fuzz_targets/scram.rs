//! The SCRAM server-message parsers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mongopool::auth::parse_server_first(data);
    let _ = mongopool::auth::parse_server_final(data);
});
