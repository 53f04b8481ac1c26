//! cargo-fuzz binary for the `msgpack_decode` target; the body and its oracles are in `entry/`.
#![no_main]

#[path = "../entry/mod.rs"]
mod entry;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    entry::codecs::msgpack_decode(data);
});
