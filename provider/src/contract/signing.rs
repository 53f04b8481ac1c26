//! `envWorkloadSignature`: RSASSA-PKCS1-v1_5 / SHA-256 over the `workload` value immediately
//! followed by the `env` value, exactly as they stand in the document (sheet §5), as one line
//! of standard base64. Equivalent to `openssl dgst -sha256 -sign key` over the concatenation.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{HasPublic, PKeyRef, Private};
use openssl::rsa::Padding;
use openssl::sign::{Signer, Verifier};

use super::keys::{self, KeyError};

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("signing key: {0}")]
    Key(#[from] KeyError),
    #[error("envWorkloadSignature is not valid base64: {0}")]
    Base64(#[source] base64::DecodeError),
    #[error("envWorkloadSignature does not verify: the workload/env values were changed, or it was made with a different key")]
    Mismatch,
    #[error("OpenSSL failed while {operation}: {source}")]
    Crypto {
        operation: &'static str,
        #[source]
        source: ErrorStack,
    },
}

fn crypto(operation: &'static str) -> impl FnOnce(ErrorStack) -> SigningError {
    move |source| SigningError::Crypto { operation, source }
}

/// Signs `workload ‖ env` (no separator, no newline) and returns one-line base64.
pub fn sign(workload: &str, env: &str, key: &PKeyRef<Private>) -> Result<String, SigningError> {
    keys::require_rsa(key)?;
    let mut signer = Signer::new(MessageDigest::sha256(), key).map_err(crypto("signing"))?;
    signer
        .set_rsa_padding(Padding::PKCS1)
        .map_err(crypto("signing"))?;
    signer
        .update(workload.as_bytes())
        .and_then(|_| signer.update(env.as_bytes()))
        .map_err(crypto("signing"))?;
    let signature = signer.sign_to_vec().map_err(crypto("signing"))?;
    Ok(STANDARD.encode(signature))
}

/// Checks a signature made by [`sign`] (or by `openssl dgst -sha256 -sign`). The base64 may
/// be wrapped over several lines, as `openssl enc -base64` writes it.
pub fn verify<T: HasPublic>(
    workload: &str,
    env: &str,
    signature_b64: &str,
    key: &PKeyRef<T>,
) -> Result<(), SigningError> {
    keys::require_rsa(key)?;
    let compact: String = signature_b64.split_ascii_whitespace().collect();
    let signature = STANDARD.decode(compact).map_err(SigningError::Base64)?;
    let mut verifier =
        Verifier::new(MessageDigest::sha256(), key).map_err(crypto("verification"))?;
    verifier
        .set_rsa_padding(Padding::PKCS1)
        .map_err(crypto("verification"))?;
    verifier
        .update(workload.as_bytes())
        .and_then(|_| verifier.update(env.as_bytes()))
        .map_err(crypto("verification"))?;
    // A malformed signature (wrong length, bad encoding) is a mismatch, not an internal error.
    match verifier.verify(&signature) {
        Ok(true) => Ok(()),
        _ => Err(SigningError::Mismatch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use std::sync::OnceLock;

    fn key() -> &'static PKey<Private> {
        static KEY: OnceLock<PKey<Private>> = OnceLock::new();
        KEY.get_or_init(|| PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap())
    }

    #[test]
    fn sign_verify_round_trip() {
        let sig = sign("hyper-protect-basic.A.B", "hyper-protect-basic.C.D", key()).unwrap();
        assert!(!sig.contains('\n'));
        assert_eq!(STANDARD.decode(&sig).unwrap().len(), 256);
        verify(
            "hyper-protect-basic.A.B",
            "hyper-protect-basic.C.D",
            &sig,
            key(),
        )
        .unwrap();
        // Concatenation without a separator: the split point does not matter.
        verify(
            "hyper-protect-basic.A.Bhyper",
            "-protect-basic.C.D",
            &sig,
            key(),
        )
        .unwrap();
        // Wrapped base64 is accepted.
        let wrapped: String = sig
            .as_bytes()
            .chunks(64)
            .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap()))
            .collect();
        verify(
            "hyper-protect-basic.A.B",
            "hyper-protect-basic.C.D",
            &wrapped,
            key(),
        )
        .unwrap();
    }

    #[test]
    fn signature_is_pkcs1_sha256_over_concatenation() {
        let sig = STANDARD.decode(sign("w", "e", key()).unwrap()).unwrap();
        let mut v = Verifier::new(MessageDigest::sha256(), key()).unwrap();
        v.update(b"we").unwrap();
        assert!(v.verify(&sig).unwrap());
    }

    #[test]
    fn tampered_signature_and_values() {
        let sig = sign("w", "e", key()).unwrap();
        let mut raw = STANDARD.decode(&sig).unwrap();
        raw[10] ^= 1;
        let err = verify("w", "e", &STANDARD.encode(&raw), key()).unwrap_err();
        assert!(matches!(err, SigningError::Mismatch), "{err}");
        assert!(matches!(
            verify("w", "e\n", &sig, key()),
            Err(SigningError::Mismatch)
        ));
        assert!(matches!(
            verify("w", "e", &STANDARD.encode(&raw[..100]), key()),
            Err(SigningError::Mismatch)
        ));
        assert!(matches!(
            verify("w", "e", "not*base64", key()),
            Err(SigningError::Base64(_))
        ));
        let other = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        assert!(matches!(
            verify("w", "e", &sig, &other),
            Err(SigningError::Mismatch)
        ));
    }
}
