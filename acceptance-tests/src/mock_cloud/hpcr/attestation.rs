//! The attestation record (`se-checksums.txt`): the `attestationPublicKey` it is encrypted to
//! and its plaintext of checksums over the contract as it stands in `user_data`.

use openssl::pkey::{PKey, Public};

use super::section::Section;
use super::signature::pem_from_text;
use super::token::{decrypt_token, token_prefix};
use super::{Reject, ATTESTATION_VERSION};
use crate::mock_cloud::pki::Pki;

/// The key the record is encrypted to, and whether it came as an encrypted token.
pub(super) fn attestation_public_key(
    raw: &str,
    pki: &Pki,
    console: &mut Vec<String>,
) -> Result<(PKey<Public>, bool), Reject> {
    let trimmed = raw.trim();
    let encrypted = token_prefix(trimmed).is_some();
    let text = if encrypted {
        let plain = decrypt_token(trimmed, &pki.encryption_key).map_err(|e| Reject::Section {
            section: "attestationPublicKey",
            reason: format!("cannot decrypt: {e}"),
        })?;
        console.push("# section attestationPublicKey: decrypted".into());
        String::from_utf8(plain)
            .map_err(|_| Reject::AttestationKey("decrypted text is not UTF-8".into()))?
    } else {
        trimmed.to_string()
    };
    let pem = pem_from_text(&text).map_err(Reject::AttestationKey)?;
    let key = PKey::public_key_from_pem(&pem)
        .map_err(|_| Reject::AttestationKey("is not a PEM PUBLIC KEY".into()))?;
    if key.rsa().is_err() {
        return Err(Reject::AttestationKey("must be an RSA public key".into()));
    }
    Ok((key, encrypted))
}

pub(super) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(openssl::sha::sha256(data))
}

/// The plaintext of `se-checksums.txt`.
pub(super) fn attestation_text(
    user_data: &str,
    workload: &Section,
    env: &Section,
    signature: Option<&str>,
    attestation_key: &str,
) -> Result<String, Reject> {
    let mut lines = vec![
        ATTESTATION_VERSION.to_string(),
        "Machine Type/Plant/Serial: 3932/02/MOCK0".to_string(),
        "Image age: 42 days since creation.".to_string(),
    ];
    // The image's own measurements: fixed values, since the emulator has no image.
    for name in ["root.tar.gz", "baseimage"] {
        lines.push(format!(
            "{} {name}",
            sha256_hex(format!("mock-cloud image {name}").as_bytes())
        ));
    }
    lines.push(format!(
        "{} cidata/user-data",
        sha256_hex(user_data.as_bytes())
    ));
    lines.push(format!(
        "{} contract:workload",
        sha256_hex(&workload.raw.bytes_for_hash()?)
    ));
    lines.push(format!(
        "{} contract:env",
        sha256_hex(&env.raw.bytes_for_hash()?)
    ));
    if let Some(s) = signature {
        lines.push(format!(
            "{} contract:envWorkloadSignature",
            sha256_hex(s.as_bytes())
        ));
    }
    lines.push(format!(
        "{} contract:attestationPublicKey",
        sha256_hex(attestation_key.as_bytes())
    ));
    let mut text = lines.join("\n");
    text.push('\n');
    Ok(text)
}
