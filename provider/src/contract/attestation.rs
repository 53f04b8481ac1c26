//! Auditing an attestation record (sheet §12): decrypting `se-checksums.txt.enc` with the
//! auditor's key, verifying `se-signature.bin` with the attestation certificate, parsing the
//! checksum lines, and comparing them with the deployed contract.
//!
//! Every (name, hash) pair is kept: files with equal contents share a hash, so the record is a
//! list, not a hash → name map (the reference provider's inversion loses entries).

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{HasPublic, PKeyRef, Private};
use openssl::rsa::Padding;
use openssl::sign::Verifier;

use super::document::{self, Contract, DocumentError, Section};
use super::keys::{self, KeyError};
use super::token::{self, TokenError};

/// Name under which the record lists the SHA-256 of the whole `user_data`.
pub const USER_DATA_NAME: &str = "cidata/user-data";

#[derive(Debug, thiserror::Error)]
pub enum AttestationError {
    #[error("the attestation record is encrypted; the auditor's private key is needed to read it")]
    KeyRequired,
    #[error("attestation record: {0}")]
    Token(#[source] TokenError),
    #[error("attestation key: {0}")]
    Key(#[source] KeyError),
    #[error("se-signature does not verify over the decrypted record: the record was altered, or the attestation certificate is not the one for this image version")]
    SignatureMismatch,
    #[error("the attestation record is not UTF-8 text")]
    NotText,
    #[error("contract: {0}")]
    Contract(#[source] DocumentError),
    #[error("OpenSSL failed while {operation}: {source}")]
    Crypto {
        operation: &'static str,
        #[source]
        source: ErrorStack,
    },
}

/// Returns the record bytes: decrypted if `record` is a token (either prefix), else as is.
pub fn decrypt_record(
    record: &[u8],
    key: Option<&PKeyRef<Private>>,
) -> Result<Vec<u8>, AttestationError> {
    let text = std::str::from_utf8(record).ok().map(str::trim);
    match text {
        Some(t) if token::looks_like_token(t) => {
            let key = key.ok_or(AttestationError::KeyRequired)?;
            Ok(token::decrypt(t, key)
                .map_err(AttestationError::Token)?
                .plaintext)
        }
        _ => Ok(record.to_vec()),
    }
}

/// Accepts `se-signature.bin` as raw bytes or as base64 (possibly wrapped) of them.
pub fn decode_signature<T: HasPublic>(signature: &[u8], key: &PKeyRef<T>) -> Vec<u8> {
    let raw_len = key.size();
    if signature.len() == raw_len {
        return signature.to_vec();
    }
    let compact: Vec<u8> = signature
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    STANDARD
        .decode(compact)
        .unwrap_or_else(|_| signature.to_vec())
}

/// Verifies the record signature: RSASSA-PKCS1-v1_5 / SHA-256 over the exact decrypted bytes,
/// with the attestation certificate's public key (load it with [`keys::load_public_key`]).
pub fn verify_record_signature<T: HasPublic>(
    record: &[u8],
    signature: &[u8],
    attestation_key: &PKeyRef<T>,
) -> Result<(), AttestationError> {
    keys::require_rsa(attestation_key).map_err(AttestationError::Key)?;
    let signature = decode_signature(signature, attestation_key);
    let step = "verifying the record signature";
    let mut v = Verifier::new(MessageDigest::sha256(), attestation_key).map_err(|source| {
        AttestationError::Crypto {
            operation: step,
            source,
        }
    })?;
    v.set_rsa_padding(Padding::PKCS1)
        .and_then(|_| v.update(record))
        .map_err(|source| AttestationError::Crypto {
            operation: step,
            source,
        })?;
    match v.verify(&signature) {
        Ok(true) => Ok(()),
        _ => Err(AttestationError::SignatureMismatch),
    }
}

/// One `<sha256> <name>` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChecksumEntry {
    /// The name as written in the record.
    pub name: String,
    /// Lower-case hex.
    pub sha256: String,
}

impl ChecksumEntry {
    /// The contract section this entry is about, for any of the spellings `contract:env`,
    /// `contract: env` and bare `env`.
    pub fn section(&self) -> Option<Section> {
        let name = self.name.trim();
        let name = name
            .strip_prefix("contract:")
            .map(str::trim_start)
            .unwrap_or(name);
        Section::from_key(name)
    }
}

/// A parsed `se-checksums.txt`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChecksumRecord {
    /// First line, when it is a version (`23.3.0`, `0.0.0`, ...).
    pub version: Option<String>,
    /// Other non-checksum lines (machine type, image age, HKD, ...).
    pub info: Vec<String>,
    /// Every checksum line, in order, duplicates and equal hashes included.
    pub entries: Vec<ChecksumEntry>,
}

fn checksum_line(line: &str) -> Option<ChecksumEntry> {
    let hex_part = line.get(..64)?;
    let rest = line.get(64..)?;
    if !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) || !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let name = rest.trim();
    (!name.is_empty()).then(|| ChecksumEntry {
        name: name.to_owned(),
        sha256: hex_part.to_ascii_lowercase(),
    })
}

/// Parses checksum lines; tolerates CRLF, blank lines and a missing final newline.
pub fn parse_checksums(text: &str) -> ChecksumRecord {
    let mut record = ChecksumRecord::default();
    for (i, line) in text.lines().map(str::trim).enumerate() {
        if line.is_empty() {
            continue;
        }
        if let Some(entry) = checksum_line(line) {
            record.entries.push(entry);
        } else if i == 0
            && line
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
        {
            record.version = Some(line.to_owned());
        } else {
            record.info.push(line.to_owned());
        }
    }
    record
}

/// One discrepancy between a record and a contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// The record lists `name` with a hash other than the contract's.
    Mismatch {
        name: String,
        expected: String,
        found: String,
    },
    /// The contract has this part but the record does not list it.
    Missing { name: String, expected: String },
    /// The record lists a contract section the contract does not have.
    Unexpected { name: String },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mismatch {
                name,
                expected,
                found,
            } => write!(f, "{name}: record has {found}, contract gives {expected}"),
            Self::Missing { name, expected } => {
                write!(f, "{name}: not in the record (contract gives {expected})")
            }
            Self::Unexpected { name } => {
                write!(f, "{name}: in the record but not in the contract")
            }
        }
    }
}

/// Compares a record with the deployed `user_data`: each contract section against its
/// `contract:<section>` entries, the whole document against `cidata/user-data`. Returns
/// every finding; an empty list means the record attests this contract.
pub fn compare_with_contract(
    record: &ChecksumRecord,
    user_data: &str,
) -> Result<Vec<Finding>, AttestationError> {
    let contract = Contract::parse(user_data).map_err(AttestationError::Contract)?;
    let mut findings = Vec::new();
    fn check(
        findings: &mut Vec<Finding>,
        name: &str,
        expected: String,
        entries: Vec<&ChecksumEntry>,
    ) {
        for e in &entries {
            if e.sha256 != expected {
                findings.push(Finding::Mismatch {
                    name: e.name.clone(),
                    expected: expected.clone(),
                    found: e.sha256.clone(),
                });
            }
        }
        if entries.is_empty() {
            findings.push(Finding::Missing {
                name: name.to_owned(),
                expected,
            });
        }
    }
    for section in Section::ALL {
        let entries: Vec<&ChecksumEntry> = record
            .entries
            .iter()
            .filter(|e| e.section() == Some(section))
            .collect();
        match contract.section_sha256(section) {
            Some(expected) => check(
                &mut findings,
                &format!("contract:{section}"),
                expected,
                entries,
            ),
            None => {
                for e in entries {
                    findings.push(Finding::Unexpected {
                        name: e.name.clone(),
                    });
                }
            }
        }
    }
    let entries = record
        .entries
        .iter()
        .filter(|e| e.name == USER_DATA_NAME)
        .collect();
    check(
        &mut findings,
        USER_DATA_NAME,
        document::document_sha256(user_data),
        entries,
    );
    Ok(findings)
}

/// The whole audit: decrypt (if needed), verify the signature (if given), parse and compare
/// (if the contract is given).
pub struct Audit {
    /// The decrypted record text.
    pub text: String,
    pub record: ChecksumRecord,
    /// Whether a signature was checked (it is an error if it does not verify).
    pub signature_verified: bool,
    pub findings: Vec<Finding>,
}

/// Runs every check whose inputs are present. `signature` needs `attestation_key`.
pub fn audit<T: HasPublic>(
    record: &[u8],
    auditor_key: Option<&PKeyRef<Private>>,
    signature: Option<(&[u8], &PKeyRef<T>)>,
    user_data: Option<&str>,
) -> Result<Audit, AttestationError> {
    let bytes = decrypt_record(record, auditor_key)?;
    if let Some((sig, key)) = signature {
        verify_record_signature(&bytes, sig, key)?;
    }
    let text = String::from_utf8(bytes).map_err(|_| AttestationError::NotText)?;
    let parsed = parse_checksums(&text);
    let findings = user_data
        .map(|ud| compare_with_contract(&parsed, ud))
        .transpose()?
        .unwrap_or_default();
    Ok(Audit {
        text,
        record: parsed,
        signature_verified: signature.is_some(),
        findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::document::sha256_hex;
    use crate::contract::token::Platform;
    use openssl::pkey::{PKey, Public};
    use openssl::rsa::Rsa;
    use openssl::sign::Signer;
    use std::sync::OnceLock;

    fn key() -> &'static PKey<Private> {
        static KEY: OnceLock<PKey<Private>> = OnceLock::new();
        KEY.get_or_init(|| PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap())
    }
    fn public() -> PKey<Public> {
        keys::to_public(key()).unwrap()
    }
    fn sign(data: &[u8]) -> Vec<u8> {
        let mut s = Signer::new(MessageDigest::sha256(), key()).unwrap();
        s.update(data).unwrap();
        s.sign_to_vec().unwrap()
    }

    const USER_DATA: &str =
        "env: hyper-protect-basic.AAAA.BBBB\nworkload: hyper-protect-basic.CCCC.DDDD\n";

    fn record_for(user_data: &str, style: &str) -> String {
        let c = Contract::parse(user_data).unwrap();
        let w = c.section_sha256(Section::Workload).unwrap();
        let e = c.section_sha256(Section::Env).unwrap();
        let same = "ab".repeat(32);
        format!(
            "25.11.0\nMachine Type/Plant/Serial: 8561/02/5C5E8\nImage age: 12 days\n\
             {same} root.tar.gz\n{same} baseimage\n{} {USER_DATA_NAME}\n\
             {w} {style}workload\n{e} {style}env",
            sha256_hex(user_data.as_bytes())
        )
    }

    #[test]
    fn parses_lines_and_keeps_equal_hashes() {
        let text = record_for(USER_DATA, "contract:");
        let r = parse_checksums(&text);
        assert_eq!(r.version.as_deref(), Some("25.11.0"));
        assert_eq!(r.info.len(), 2);
        assert_eq!(r.entries.len(), 5);
        assert_eq!(r.entries[0].sha256, r.entries[1].sha256);
        assert_eq!(r.entries[4].name, "contract:env");
        // Upper-case hex and CRLF are normalised; a bad line is info, not an entry.
        let r = parse_checksums(&format!("{} file\r\nnot a checksum\r\n", "AB".repeat(32)));
        assert_eq!(r.entries[0].sha256, "ab".repeat(32));
        assert_eq!(r.entries[0].name, "file");
        assert_eq!(r.info, ["not a checksum"]);
        assert_eq!(
            parse_checksums(&format!("{}x name", "a".repeat(63)))
                .entries
                .len(),
            0
        );
    }

    #[test]
    fn section_name_spellings() {
        for style in ["contract:", "contract: ", ""] {
            let text = record_for(USER_DATA, style);
            let r = parse_checksums(&text);
            assert_eq!(r.entries[3].section(), Some(Section::Workload), "{style}");
            let findings = compare_with_contract(&r, USER_DATA).unwrap();
            assert!(findings.is_empty(), "{style}: {findings:?}");
        }
    }

    #[test]
    fn reports_every_mismatch_and_missing_entry() {
        let text = record_for(USER_DATA, "contract:");
        let other = USER_DATA.replace("CCCC", "EEEE");
        let r = parse_checksums(&text);
        let findings = compare_with_contract(&r, &other).unwrap();
        let names: Vec<String> = findings
            .iter()
            .map(|f| match f {
                Finding::Mismatch { name, .. } => format!("mismatch {name}"),
                Finding::Missing { name, .. } => format!("missing {name}"),
                Finding::Unexpected { name } => format!("unexpected {name}"),
            })
            .collect();
        assert_eq!(
            names,
            ["mismatch contract:workload", "mismatch cidata/user-data"]
        );

        let without_env: String = text
            .lines()
            .filter(|l| !l.ends_with("contract:env"))
            .map(|l| format!("{l}\n"))
            .collect();
        let findings = compare_with_contract(&parse_checksums(&without_env), USER_DATA).unwrap();
        assert!(
            matches!(&findings[..], [Finding::Missing { name, .. }] if name == "contract:env"),
            "{findings:?}"
        );
        assert!(findings[0].to_string().contains("not in the record"));

        let with_extra = format!(
            "{text}\n{} contract:attestationPublicKey\n",
            "cd".repeat(32)
        );
        let findings = compare_with_contract(&parse_checksums(&with_extra), USER_DATA).unwrap();
        assert!(
            matches!(&findings[..], [Finding::Unexpected { .. }]),
            "{findings:?}"
        );
    }

    #[test]
    fn encrypted_signed_record_audit() {
        let text = record_for(USER_DATA, "contract:");
        let token = token::encrypt(text.as_bytes(), &public(), Platform::Hpvs).unwrap();
        let sig = sign(text.as_bytes());
        let audit = audit(
            token.as_bytes(),
            Some(key()),
            Some((&sig, &public())),
            Some(USER_DATA),
        )
        .unwrap();
        assert!(audit.signature_verified && audit.findings.is_empty());
        assert_eq!(audit.text, text);
        // base64 signature works too.
        let b64 = STANDARD.encode(&sig);
        verify_record_signature(text.as_bytes(), b64.as_bytes(), &public()).unwrap();
        // Encrypted record without key.
        assert!(matches!(
            decrypt_record(token.as_bytes(), None),
            Err(AttestationError::KeyRequired)
        ));
        // Plaintext record passes through.
        assert_eq!(
            decrypt_record(text.as_bytes(), None).unwrap(),
            text.as_bytes()
        );
    }

    proptest::proptest! {
        #[test]
        fn checksum_parser_keeps_every_entry(
            entries in proptest::collection::vec(("[0-9a-f]{64}", "[a-z/:._-]{1,20}"), 0..20),
            noise in "\\PC{0,200}",
        ) {
            let mut text = format!("0.0.0\n{noise}\n");
            for (hash, name) in &entries {
                text.push_str(&format!("{hash} {name}\n"));
            }
            let r = parse_checksums(text.trim_end());
            let noise_entries = parse_checksums(&noise).entries.len();
            proptest::prop_assert_eq!(r.entries.len(), entries.len() + noise_entries);
            let tail = &r.entries[noise_entries..];
            for (e, (hash, name)) in tail.iter().zip(&entries) {
                proptest::prop_assert_eq!(&e.sha256, hash);
                proptest::prop_assert_eq!(&e.name, name);
            }
        }
    }

    #[test]
    fn tampered_record_or_wrong_certificate() {
        let text = record_for(USER_DATA, "contract:");
        let sig = sign(text.as_bytes());
        let tampered = text.replace("25.11.0", "25.11.1");
        assert!(matches!(
            verify_record_signature(tampered.as_bytes(), &sig, &public()),
            Err(AttestationError::SignatureMismatch)
        ));
        let other = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let err = verify_record_signature(text.as_bytes(), &sig, &other).unwrap_err();
        assert!(err.to_string().contains("attestation certificate"), "{err}");
        assert!(matches!(
            verify_record_signature(text.as_bytes(), b"garbage", &public()),
            Err(AttestationError::SignatureMismatch)
        ));
    }
}
