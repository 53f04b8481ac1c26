//! Fuzz target for certificate, CRL and key loading (`contract::certs`, `contract::keys`):
//! every input is tried as a certificate (PEM, base64 of PEM or DER, escaped PEM), as a CRL
//! of the fixture root (PEM or DER), and as a public or private key.

use hyperprotect::contract::certs::{self, Certificate};
use hyperprotect::contract::keys;

use super::fixtures;

/// Passphrase tried on encrypted private keys (the seeds' encrypted key uses it).
const PASSPHRASE: &[u8] = b"fuzz";

/// Oracles: no panic; a parsed certificate's accessors, expiry status, chain and CRL
/// checks all return; its own PEM parses back to the same certificate; an accepted CRL's
/// window contains the fixed clock; a loaded private key's public half loads back from
/// PEM. Accepted when any reading succeeds.
pub(crate) fn certs(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    let now = fixtures::now();
    let mut accepted = false;

    if let Ok(cert) = Certificate::parse(&text) {
        accepted = true;
        let _ = (
            cert.subject(),
            cert.issuer(),
            cert.serial_hex(),
            cert.crl_urls(),
        );
        let pem = cert.to_pem();
        let again = Certificate::parse(&pem).expect("a certificate's own PEM parses");
        assert_eq!(
            again.to_pem(),
            pem,
            "PEM round trip changed the certificate"
        );
        let status = certs::expiry_status(&cert, now);
        let _ = (
            status.status_word(),
            status.days_left(),
            status.require_usable(),
        );
        let _ = cert.check_validity_window(now);
        let root = fixtures::root();
        let _ = certs::verify_chain_at(&cert, &[root], root, now);
        let _ = certs::check_crl(&cert, fixtures::CRL_PEM, root, now);
    }

    if let Ok(check) = certs::check_crl(fixtures::leaf(), data, fixtures::root(), now) {
        accepted = true;
        assert!(check.last_update <= now && now <= check.next_update);
    }

    let _ = (
        keys::pem_label(&text),
        keys::is_encrypted_private_key(&text),
    );
    accepted |= keys::load_certificate(&text).is_ok();
    accepted |= keys::load_public_key(&text).is_ok();
    for passphrase in [None, Some(PASSPHRASE)] {
        if let Ok(key) = keys::load_private_key(&text, passphrase) {
            accepted = true;
            let pem = keys::public_key_pem(&key).expect("a loaded key's public half renders");
            keys::load_public_key(&pem).expect("a rendered public key loads");
        }
    }
    accepted
}
