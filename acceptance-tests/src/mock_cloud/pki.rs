//! The emulator's PKI (being written).

use std::path::Path;

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

/// Certificates and keys a Hyper Protect platform holds, persisted as PEM under `DIR/pki/`.
pub struct Pki {
    pub root: X509,
    pub intermediate: X509,
    pub encryption_cert: X509,
    pub encryption_key: PKey<Private>,
    pub attestation_cert: X509,
    pub attestation_key: PKey<Private>,
}

#[derive(Debug, thiserror::Error)]
#[error("PKI: {0}")]
pub struct PkiError(pub String);

impl Pki {
    /// Loads `dir/pki/*.pem`, creating what is missing (keeping a user-provided
    /// `encryption.crt` + `encryption.key`).
    pub fn load_or_create(dir: &Path) -> Result<Pki, PkiError> {
        let _ = dir;
        Err(PkiError("not yet written".into()))
    }
}
