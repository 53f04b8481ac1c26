//! cargo-fuzz binary for the `certs` target; the body and its oracles are in `entry/`.
#![no_main]

#[path = "../entry/mod.rs"]
mod entry;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    entry::certs::certs(data);
});
