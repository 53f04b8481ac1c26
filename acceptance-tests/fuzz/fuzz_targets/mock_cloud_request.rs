//! cargo-fuzz binary for mock-cloud's request handling; the body and its oracles are in
//! `entry.rs`.
#![no_main]

use std::sync::OnceLock;

#[path = "../entry.rs"]
mod entry;

static EMULATOR: OnceLock<entry::Emulator> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    EMULATOR.get_or_init(entry::Emulator::new).request(data);
});
