//! The hello-reply parser, on any BSON document. (The document is parsed in place:
//! `Document::from_reader` pre-allocates whatever length the input declares, which the first
//! run of this target found.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use mongopool::HelloReply;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = bson::RawDocument::from_bytes(data).and_then(bson::Document::try_from) {
        let _ = HelloReply::from_document(doc);
    }
});
