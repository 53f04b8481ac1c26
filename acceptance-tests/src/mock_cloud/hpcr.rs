//! What a Hyper Protect guest does with its contract at boot (being written).

use super::pki::Pki;

/// The attestation record a guest writes when the contract has `attestationPublicKey`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttestationRecord {
    /// The record, encrypted to `attestationPublicKey` in the section token format.
    pub record: String,
    /// Standard base64 of `se-signature.bin`.
    pub signature: String,
}

/// What the boot did: serial-console lines, and either the accepted contract's attestation
/// record (if one was asked for) or the reason it was rejected.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BootReport {
    pub console: Vec<String>,
    pub outcome: BootOutcome,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BootOutcome {
    Accepted {
        attestation: Option<AttestationRecord>,
    },
    Rejected {
        reason: String,
    },
}

/// Boots a contract (`user_data`) as the platform would, with the platform's keys, at `now`.
pub fn boot(user_data: &str, pki: &Pki, now: time::OffsetDateTime) -> BootReport {
    let _ = (user_data, pki, now);
    BootReport {
        console: vec![],
        outcome: BootOutcome::Accepted { attestation: None },
    }
}
