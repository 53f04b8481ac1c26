//! cargo-fuzz binary for the `schema` target; the body and its oracles are in `entry/`.
#![no_main]

#[path = "../entry/mod.rs"]
mod entry;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    entry::contract::schema(data);
});
