//! Signed test contracts: a small compose workload and a given env, signed with a fresh
//! deployer key and encrypted to a platform certificate, built with the provider's contract
//! engine so that mock-cloud's emulated Hyper Protect guest really decrypts and checks them.

use hyperprotect::contract::document::{
    self, ContractInput, Encryption, SigningInput, WorkloadInput,
};
use hyperprotect::contract::keys;
use hyperprotect::contract::token::Platform;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::X509;

/// A plaintext workload section: a compose archive with one small service.
pub const TEST_WORKLOAD: &str = "type: workload\ncompose:\n  archive: H4sIAAAAAAAAA+3OMQ6CQBCF4T3KnkBmYWfX81gQG0MIgfvL2liZWEAs/L/mFfNeMuu8jEt/b+dxexqnvrMvmpltWXK2V74lt5IsVLXal1xMzaUk0RCP+OXTMs7t4X3Yr/Lq5fwfp/x1+xH7trzDfmvO87Lrzt/78TR3tgEAAAAAAAAAAADgvAfHYa7bACgAAA==\n";

/// The contract document (YAML) of [`TEST_WORKLOAD`] and `env`, signed with a fresh
/// RSA-2048 key, every section encrypted to `certificate` (an `hpvs` token).
pub fn signed_contract(certificate: &X509, env: &str) -> String {
    let pem = certificate.to_pem().expect("certificate PEM");
    let recipient = keys::load_public_key(std::str::from_utf8(&pem).expect("PEM is ASCII"))
        .expect("the certificate's public key");
    let signing = PKey::from_rsa(Rsa::generate(2048).expect("RSA key")).expect("key");
    document::build(&ContractInput {
        workload: WorkloadInput::Plaintext(TEST_WORKLOAD.into()),
        env,
        signing: Some(SigningInput {
            key: &signing,
            certificate: None,
        }),
        attestation_public_key: None,
        encryption: Encryption::to(&recipient, Platform::Hpvs),
    })
    .expect("contract")
    .yaml
}
