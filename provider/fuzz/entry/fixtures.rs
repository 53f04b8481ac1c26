//! Fixed key material for the fuzz targets (`provider/fuzz/fixtures/`, throwaway test keys
//! made with the `openssl` CLI, see docs/bench/fuzz.md): one RSA key serves as section and
//! record recipient, contract signer, attestation signer and CA key, so committed seeds can
//! carry valid tokens, signatures and CRLs that the fuzzer then mutates.

use std::sync::OnceLock;

use hyperprotect::contract::certs::Certificate;
use hyperprotect::contract::keys;
use openssl::pkey::{PKey, Private, Public};
use time::OffsetDateTime;

const KEY_PEM: &str = include_str!("../fixtures/rsa.pem");
const ROOT_PEM: &str = include_str!("../fixtures/ca.crt");
const LEAF_PEM: &str = include_str!("../fixtures/leaf.crt");
/// Issued by the root; revokes serial 0x2002 (not the leaf's 0x1001).
pub(super) const CRL_PEM: &[u8] = include_bytes!("../fixtures/crl.pem");

pub(super) fn key() -> &'static PKey<Private> {
    static KEY: OnceLock<PKey<Private>> = OnceLock::new();
    KEY.get_or_init(|| keys::load_private_key(KEY_PEM, None).expect("fixture key loads"))
}

pub(super) fn public_key() -> &'static PKey<Public> {
    static PUBLIC: OnceLock<PKey<Public>> = OnceLock::new();
    PUBLIC.get_or_init(|| keys::to_public(key()).expect("fixture public key"))
}

pub(super) fn root() -> &'static Certificate {
    static ROOT: OnceLock<Certificate> = OnceLock::new();
    ROOT.get_or_init(|| Certificate::parse(ROOT_PEM).expect("fixture root parses"))
}

pub(super) fn leaf() -> &'static Certificate {
    static LEAF: OnceLock<Certificate> = OnceLock::new();
    LEAF.get_or_init(|| Certificate::parse(LEAF_PEM).expect("fixture leaf parses"))
}

/// A fixed clock inside every fixture's validity window (2027-06-01T00:00:00Z), so that
/// results do not depend on the day the fuzzer runs.
pub(super) fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_811_808_000).expect("valid timestamp")
}
