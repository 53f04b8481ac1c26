//! The bodies of the provider's fuzz targets, shared by the cargo-fuzz binaries
//! (`fuzz_targets/*.rs`, one line each) and by `provider/tests/fuzz_seeds.rs`, which replays
//! every committed seed (`seeds/<target>/`) through the same functions in the ordinary
//! `cargo test` run, without libFuzzer.
//!
//! Each function panics when one of its oracles fails (libFuzzer records that as a crash)
//! and returns whether the input was accepted all the way (decoded, decrypted, verified,
//! valid). The seed test checks that against the seed's name: `ok-*` seeds must be
//! accepted, all others rejected, so a seed that silently stops reaching the deep code
//! fails the test.
#![allow(dead_code)] // each fuzz binary uses one target

pub(crate) mod certs;
pub(crate) mod codecs;
pub(crate) mod contract;
mod fixtures;

/// A fuzz target body: panics on a broken oracle, returns whether the input was accepted.
pub(crate) type Target = fn(&[u8]) -> bool;

/// Every target, by the name of its binary and seed folder.
pub(crate) const TARGETS: &[(&str, Target)] = &[
    ("msgpack_decode", codecs::msgpack_decode),
    ("json_decode", codecs::json_decode),
    ("token", contract::token),
    ("document", contract::document),
    ("schema", contract::schema),
    ("attestation", contract::attestation),
    ("certs", certs::certs),
];
