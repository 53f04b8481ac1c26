//! Assembling and parsing the contract document (sheet §4–7): the top-level YAML map with
//! `workload`, `env`, `envWorkloadSignature` and `attestationPublicKey`, as it travels in VPC
//! `user_data`.
//!
//! Building supports the two personas: a plaintext workload that we validate and encrypt, or
//! a workload the workload provider already encrypted (sign-only flow: passed through
//! untouched, never encrypted twice). Plaintext sections are schema-checked before encryption
//! because afterwards nobody but the platform can read them.

use std::fmt;

use openssl::hash::{hash, MessageDigest};
use openssl::pkey::{HasPublic, PKeyRef, Private, Public};
use openssl::x509::X509Ref;
use serde_yaml_ng::{Mapping, Value};
use time::OffsetDateTime;

use super::expiry::{self, ExpiryError};
use super::keys::{self, KeyError};
use super::schema::{self, SchemaViolation, SectionKind};
use super::signing::{self, SigningError};
use super::token::{self, Platform, TokenError};

/// VPC `user_data` limit.
pub const USER_DATA_LIMIT: usize = 65_536;

/// A top-level key of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Section {
    Workload,
    Env,
    EnvWorkloadSignature,
    AttestationPublicKey,
}

impl Section {
    pub const ALL: [Section; 4] = [
        Self::Workload,
        Self::Env,
        Self::EnvWorkloadSignature,
        Self::AttestationPublicKey,
    ];

    /// The YAML key.
    pub fn key(self) -> &'static str {
        match self {
            Self::Workload => "workload",
            Self::Env => "env",
            Self::EnvWorkloadSignature => "envWorkloadSignature",
            Self::AttestationPublicKey => "attestationPublicKey",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.key() == key)
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("contract sections fail schema validation:{}", list(.0))]
    Schema(Vec<SchemaViolation>),
    // Only the position: parser messages can quote section content, which may be secret.
    #[error("{section} is not valid YAML (at line {line}, column {column})")]
    SectionYaml {
        section: &'static str,
        line: usize,
        column: usize,
    },
    #[error("{section} is already an encrypted token: it must not be encrypted twice (an encrypted workload is passed as such for the sign-only flow; env must be plaintext so signingKey can be added)")]
    AlreadyEncrypted { section: &'static str },
    #[error("{section} must be a YAML map of settings")]
    SectionNotMap { section: &'static str },
    #[error("the encrypted {section} section is not a valid token: {source}")]
    EncryptedSection {
        section: &'static str,
        #[source]
        source: TokenError,
    },
    #[error("env.signingKey is set but no signing key was given, so envWorkloadSignature would be missing and the contract would not boot")]
    SigningKeyWithoutSignature,
    #[error("attestationPublicKey: {0}")]
    AttestationKey(#[source] KeyError),
    #[error("signing key: {0}")]
    SigningKey(#[source] KeyError),
    #[error("signing certificate: {0}")]
    SigningCertificate(#[source] ExpiryError),
    #[error("envWorkloadSignature: {0}")]
    Signing(#[from] SigningError),
    #[error("encrypting {section}: {source}")]
    Encrypt {
        section: &'static str,
        #[source]
        source: TokenError,
    },
    #[error("the contract is {size} bytes, over the {limit}-byte user_data limit")]
    TooLarge { size: usize, limit: usize },
    #[error("the contract is not valid YAML (at line {line}, column {column})")]
    Yaml { line: usize, column: usize },
    #[error("the contract must be a YAML map with `workload` and `env`")]
    NotAMap,
    #[error("the contract has no `{0}` section")]
    MissingSection(&'static str),
    #[error("the contract has an unknown top-level key `{0}` (expected workload, env, envWorkloadSignature, attestationPublicKey)")]
    UnknownKey(String),
    #[error("the contract's `{0}` must be a string or a map")]
    BadValue(&'static str),
    #[error("cannot serialise {what} as YAML")]
    Emit { what: &'static str },
}

fn list(violations: &[SchemaViolation]) -> String {
    violations.iter().map(|v| format!("\n  - {v}")).collect()
}

fn yaml_position(section: &'static str, e: &serde_yaml_ng::Error) -> DocumentError {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    DocumentError::SectionYaml {
        section,
        line,
        column,
    }
}

fn parse_map(section: &'static str, text: &str) -> Result<Mapping, DocumentError> {
    if token::looks_like_token(text) {
        return Err(DocumentError::AlreadyEncrypted { section });
    }
    match serde_yaml_ng::from_str::<Value>(text) {
        Ok(Value::Mapping(m)) => Ok(m),
        Ok(_) => Err(DocumentError::SectionNotMap { section }),
        Err(e) => Err(yaml_position(section, &e)),
    }
}

/// The `workload` as handed over.
#[derive(Clone)]
pub enum WorkloadInput {
    /// Plaintext YAML, validated then (optionally) encrypted.
    Plaintext(String),
    /// A token made by the workload provider; placed as is and signed (sign-only flow).
    Encrypted(String),
}

/// The deployer's contract-signing key and, for contract expiry, its certificate.
#[derive(Clone, Copy)]
pub struct SigningInput<'a> {
    pub key: &'a PKeyRef<Private>,
    /// If set, it goes into `env.signingKey` instead of the public key, and must certify
    /// `key` and be valid now.
    pub certificate: Option<&'a X509Ref>,
}

/// Whether and to whom sections are encrypted.
#[derive(Clone, Copy)]
pub enum Encryption<'a> {
    Encrypt {
        /// RSA public key of the platform's encryption certificate.
        recipient: &'a PKeyRef<Public>,
        platform: Platform,
        /// Also encrypt `attestationPublicKey` (contract-go does).
        encrypt_attestation_key: bool,
    },
    /// Leave every section in plaintext (testing, or sections encrypted elsewhere).
    Plaintext,
}

impl<'a> Encryption<'a> {
    /// The default: encrypt every section, `attestationPublicKey` included.
    pub fn to(recipient: &'a PKeyRef<Public>, platform: Platform) -> Self {
        Self::Encrypt {
            recipient,
            platform,
            encrypt_attestation_key: true,
        }
    }
}

/// Everything a contract is built from.
#[derive(Clone)]
pub struct ContractInput<'a> {
    pub workload: WorkloadInput,
    /// Plaintext env YAML.
    pub env: &'a str,
    pub signing: Option<SigningInput<'a>>,
    /// PEM (or base64 of PEM) RSA public key that attestation records get encrypted to.
    pub attestation_public_key: Option<&'a str>,
    pub encryption: Encryption<'a>,
}

/// The four top-level values, exactly as they stand in the document. `Debug` shows sizes and
/// hashes only: plaintext sections can hold credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Contract {
    pub workload: String,
    pub env: String,
    pub env_workload_signature: Option<String>,
    pub attestation_public_key: Option<String>,
}

/// A rendered contract and what went into it.
#[derive(Clone)]
pub struct BuiltContract {
    /// The `user_data` text.
    pub yaml: String,
    pub contract: Contract,
    /// notAfter of the signing certificate, if one was used (the contract expiry).
    pub expires: Option<OffsetDateTime>,
}

/// `<N bytes, sha256 abcd1234…>`: identifies a value in debug output without revealing it.
struct Redacted<'a>(&'a str);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digest = sha256_hex(self.0.as_bytes());
        write!(
            f,
            "<{} bytes, sha256 {}…>",
            self.0.len(),
            digest.get(..12).unwrap_or("")
        )
    }
}

impl fmt::Debug for WorkloadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plaintext(t) => f.debug_tuple("Plaintext").field(&Redacted(t)).finish(),
            Self::Encrypted(t) => f.debug_tuple("Encrypted").field(&Redacted(t)).finish(),
        }
    }
}

impl fmt::Debug for Contract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Contract");
        for section in Section::ALL {
            if let Some(v) = self.get(section) {
                d.field(section.key(), &Redacted(v));
            }
        }
        d.finish()
    }
}

impl fmt::Debug for BuiltContract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuiltContract")
            .field("yaml", &Redacted(&self.yaml))
            .field("contract", &self.contract)
            .field("expires", &self.expires)
            .finish()
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    // SHA-256 through OpenSSL cannot fail short of memory exhaustion; fall back to the
    // (never matching) empty string rather than panicking.
    hash(MessageDigest::sha256(), bytes)
        .map(hex::encode)
        .unwrap_or_default()
}

/// SHA-256 of the whole document, as the attestation record's `cidata/user-data` line.
pub fn document_sha256(yaml: &str) -> String {
    sha256_hex(yaml.as_bytes())
}

impl Contract {
    pub fn get(&self, section: Section) -> Option<&str> {
        match section {
            Section::Workload => Some(&self.workload),
            Section::Env => Some(&self.env),
            Section::EnvWorkloadSignature => self.env_workload_signature.as_deref(),
            Section::AttestationPublicKey => self.attestation_public_key.as_deref(),
        }
    }

    /// SHA-256 hex of one section value (what attestation records list as `contract:<key>`).
    pub fn section_sha256(&self, section: Section) -> Option<String> {
        self.get(section).map(|v| sha256_hex(v.as_bytes()))
    }

    /// Renders the document with contract-go's key order and one-line tokens.
    pub fn to_yaml(&self) -> Result<String, DocumentError> {
        let mut map = Mapping::new();
        // contract-go's (alphabetical) order.
        for section in [
            Section::AttestationPublicKey,
            Section::Env,
            Section::EnvWorkloadSignature,
            Section::Workload,
        ] {
            if let Some(v) = self.get(section) {
                map.insert(section.key().into(), v.into());
            }
        }
        serde_yaml_ng::to_string(&map).map_err(|_| DocumentError::Emit {
            what: "the contract",
        })
    }

    /// Reads a contract document. Map-valued sections (allowed by the platform) are turned
    /// into YAML text; their exact original bytes are then not recoverable.
    pub fn parse(yaml: &str) -> Result<Self, DocumentError> {
        let map = match serde_yaml_ng::from_str::<Value>(yaml) {
            Ok(Value::Mapping(m)) => m,
            Ok(_) => return Err(DocumentError::NotAMap),
            Err(e) => {
                let (line, column) = e
                    .location()
                    .map(|l| (l.line(), l.column()))
                    .unwrap_or((0, 0));
                return Err(DocumentError::Yaml { line, column });
            }
        };
        let mut values: [Option<String>; 4] = Default::default();
        for (k, v) in map {
            let key = match k {
                Value::String(s) => s,
                _ => return Err(DocumentError::UnknownKey("(non-string key)".into())),
            };
            let section =
                Section::from_key(&key).ok_or_else(|| DocumentError::UnknownKey(key.clone()))?;
            let text = match v {
                Value::String(s) => s,
                Value::Mapping(_) => serde_yaml_ng::to_string(&v)
                    .map_err(|_| DocumentError::BadValue(section.key()))?,
                _ => return Err(DocumentError::BadValue(section.key())),
            };
            values[section as usize] = Some(text);
        }
        let [workload, env, signature, attestation] = values;
        Ok(Self {
            workload: workload.ok_or(DocumentError::MissingSection("workload"))?,
            env: env.ok_or(DocumentError::MissingSection("env"))?,
            env_workload_signature: signature,
            attestation_public_key: attestation,
        })
    }

    /// Checks `envWorkloadSignature` against the signing public key.
    pub fn verify_signature<T: HasPublic>(&self, key: &PKeyRef<T>) -> Result<(), DocumentError> {
        let sig = self
            .env_workload_signature
            .as_deref()
            .ok_or(DocumentError::MissingSection("envWorkloadSignature"))?;
        Ok(signing::verify(&self.workload, &self.env, sig, key)?)
    }
}

/// What `build` knows before encrypting: the checked env text with `signingKey`, the
/// contract expiry and the attestation key as PEM.
struct Prepared {
    env_text: String,
    expires: Option<OffsetDateTime>,
    attestation_pem: Option<String>,
}

/// Every check `build` makes before encrypting (sections, schema, signing key and
/// certificate, attestation key), and the env text it would encrypt.
fn prepare(input: &ContractInput<'_>) -> Result<Prepared, DocumentError> {
    let mut violations = Vec::new();

    // --- workload ---
    if let WorkloadInput::Plaintext(text) = &input.workload {
        parse_map("workload", text)?;
        if let Err(v) = schema::validate_section(SectionKind::Workload, text) {
            violations.extend(v);
        }
    }
    if let WorkloadInput::Encrypted(t) = &input.workload {
        token::parse(t).map_err(|source| DocumentError::EncryptedSection {
            section: "workload",
            source,
        })?;
    }

    // --- env (with signingKey) ---
    let mut expires = None;
    let env_text = match &input.signing {
        None => {
            if parse_map("env", input.env)?.contains_key("signingKey") {
                return Err(DocumentError::SigningKeyWithoutSignature);
            }
            input.env.to_owned()
        }
        Some(signing) => {
            let mut env = parse_map("env", input.env)?;
            keys::require_rsa(signing.key).map_err(DocumentError::SigningKey)?;
            let signing_key = match signing.certificate {
                Some(cert) => {
                    let not_after = expiry::check_signing_certificate(
                        cert,
                        signing.key,
                        OffsetDateTime::now_utc(),
                    )
                    .map_err(DocumentError::SigningCertificate)?;
                    expires = Some(not_after);
                    let pem = cert.to_pem().map_err(|source| {
                        DocumentError::SigningKey(KeyError::Crypto {
                            operation: "encoding the signing certificate",
                            source,
                        })
                    })?;
                    String::from_utf8(pem).map_err(|_| DocumentError::Emit {
                        what: "the signing certificate",
                    })?
                }
                None => keys::public_key_pem(signing.key).map_err(DocumentError::SigningKey)?,
            };
            // Any user-supplied signingKey is replaced: only the key we sign with can verify.
            env.insert("signingKey".into(), signing_key.into());
            serde_yaml_ng::to_string(&env).map_err(|_| DocumentError::Emit { what: "env" })?
        }
    };
    if let Err(v) = schema::validate_section(SectionKind::Env, &env_text) {
        violations.extend(v);
    }
    if !violations.is_empty() {
        return Err(DocumentError::Schema(violations));
    }

    // --- attestationPublicKey ---
    let attestation_pem = input
        .attestation_public_key
        .map(|text| {
            let key = keys::load_public_key(text).map_err(DocumentError::AttestationKey)?;
            keys::require_rsa(&key).map_err(DocumentError::AttestationKey)?;
            keys::public_key_pem(&key).map_err(DocumentError::AttestationKey)
        })
        .transpose()?;

    Ok(Prepared {
        env_text,
        expires,
        attestation_pem,
    })
}

/// The exact size in bytes of the document `build` would render from `input`, found without
/// encrypting or signing (token and signature lengths follow from the key sizes), after the
/// same checks. An over-size contract is the same `TooLarge` error, so a plan can refuse it
/// without paying for the encryption.
pub fn rendered_size(input: &ContractInput<'_>) -> Result<usize, DocumentError> {
    let Prepared {
        env_text,
        attestation_pem,
        ..
    } = prepare(input)?;
    let workload_text = match &input.workload {
        WorkloadInput::Plaintext(t) => t.clone(),
        WorkloadInput::Encrypted(t) => t.trim().to_owned(),
    };
    let (workload, env, attestation_public_key) = match input.encryption {
        Encryption::Plaintext => (workload_text, env_text, attestation_pem),
        Encryption::Encrypt {
            recipient,
            platform,
            encrypt_attestation_key,
        } => {
            let stand_in = |text: &str| token::stand_in(text.len(), recipient.size(), platform);
            let workload = match &input.workload {
                WorkloadInput::Plaintext(t) => stand_in(t),
                WorkloadInput::Encrypted(_) => workload_text,
            };
            let attestation = match attestation_pem {
                Some(pem) if encrypt_attestation_key => Some(stand_in(&pem)),
                other => other,
            };
            (workload, stand_in(&env_text), attestation)
        }
    };
    let env_workload_signature = input.signing.map(|s| "A".repeat(base64_len(s.key.size())));
    let size = Contract {
        workload,
        env,
        env_workload_signature,
        attestation_public_key,
    }
    .to_yaml()?
    .len();
    if size > USER_DATA_LIMIT {
        return Err(DocumentError::TooLarge {
            size,
            limit: USER_DATA_LIMIT,
        });
    }
    Ok(size)
}

/// Length of the padded standard base64 of `n` bytes.
pub(crate) fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Builds, signs and renders a contract.
pub fn build(input: &ContractInput<'_>) -> Result<BuiltContract, DocumentError> {
    let Prepared {
        env_text,
        expires,
        attestation_pem,
    } = prepare(input)?;

    // --- encryption ---
    let (workload, env, attestation_public_key) = match input.encryption {
        Encryption::Plaintext => (
            match &input.workload {
                WorkloadInput::Plaintext(t) => t.clone(),
                WorkloadInput::Encrypted(t) => t.trim().to_owned(),
            },
            env_text,
            attestation_pem,
        ),
        Encryption::Encrypt {
            recipient,
            platform,
            encrypt_attestation_key,
        } => {
            let seal = |section: &'static str, text: &str| {
                token::encrypt(text.as_bytes(), recipient, platform)
                    .map_err(|source| DocumentError::Encrypt { section, source })
            };
            let workload = match &input.workload {
                WorkloadInput::Plaintext(t) => seal("workload", t)?,
                WorkloadInput::Encrypted(t) => t.trim().to_owned(),
            };
            let env = seal("env", &env_text)?;
            drop(env_text);
            let attestation = match attestation_pem {
                Some(pem) if encrypt_attestation_key => Some(seal("attestationPublicKey", &pem)?),
                other => other,
            };
            (workload, env, attestation)
        }
    };

    // --- signature ---
    let env_workload_signature = input
        .signing
        .map(|s| signing::sign(&workload, &env, s.key))
        .transpose()?;

    let contract = Contract {
        workload,
        env,
        env_workload_signature,
        attestation_public_key,
    };
    let yaml = contract.to_yaml()?;
    if yaml.len() > USER_DATA_LIMIT {
        return Err(DocumentError::TooLarge {
            size: yaml.len(),
            limit: USER_DATA_LIMIT,
        });
    }
    Ok(BuiltContract {
        yaml,
        contract,
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::expiry::{
        issue_signing_certificate, CertificateAuthority, CsrSource, SubjectFields, ValidityDays,
    };
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use std::sync::OnceLock;

    fn enc_key() -> &'static PKey<Private> {
        static KEY: OnceLock<PKey<Private>> = OnceLock::new();
        KEY.get_or_init(|| PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap())
    }
    fn enc_public() -> PKey<Public> {
        keys::to_public(enc_key()).unwrap()
    }
    fn sign_key() -> &'static PKey<Private> {
        static KEY: OnceLock<PKey<Private>> = OnceLock::new();
        KEY.get_or_init(|| PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap())
    }

    const WORKLOAD: &str = "type: workload\ncompose:\n  archive: QUJDRA==\n";
    // The schema checks that `server` is PEM with a base64 body, not that it is a real
    // certificate.
    const ENV: &str = "type: env\nlogging:\n  syslog:\n    hostname: log.example.com\n    server: |\n      -----BEGIN CERTIFICATE-----\n      QUJDRA==\n      -----END CERTIFICATE-----\n";

    fn input<'a>(recipient: &'a PKeyRef<Public>) -> ContractInput<'a> {
        ContractInput {
            workload: WorkloadInput::Plaintext(WORKLOAD.into()),
            env: ENV,
            signing: Some(SigningInput {
                key: sign_key(),
                certificate: None,
            }),
            attestation_public_key: None,
            encryption: Encryption::to(recipient, Platform::Hpvs),
        }
    }

    #[test]
    fn rendered_size_is_exact_without_encrypting() {
        let recipient = enc_public();
        let attest = keys::public_key_pem(sign_key()).unwrap();
        let token = token::encrypt(WORKLOAD.as_bytes(), &recipient, Platform::Hpvs).unwrap();
        for (encrypted_workload, attestation, encrypt_key) in [
            (false, None, true),
            (false, Some(attest.as_str()), true),
            (true, Some(attest.as_str()), false),
        ] {
            let mut inp = input(&recipient);
            inp.attestation_public_key = attestation;
            inp.encryption = Encryption::Encrypt {
                recipient: &recipient,
                platform: Platform::Hpvs,
                encrypt_attestation_key: encrypt_key,
            };
            if encrypted_workload {
                inp.workload = WorkloadInput::Encrypted(token.clone());
            }
            // (No encryption count here: other tests encrypt concurrently in this process.)
            assert_eq!(
                rendered_size(&inp).unwrap(),
                build(&inp).unwrap().yaml.len()
            );
        }
        let mut big = input(&recipient);
        let env = format!("{ENV}env:\n  BIG: \"{}\"\n", "x".repeat(70_000));
        big.env = &env;
        assert!(matches!(
            rendered_size(&big),
            Err(DocumentError::TooLarge { size, .. }) if size > USER_DATA_LIMIT
        ));
    }

    #[test]
    fn signed_encrypted_contract_round_trip() {
        let recipient = enc_public();
        let attest = keys::public_key_pem(sign_key()).unwrap();
        let mut inp = input(&recipient);
        inp.attestation_public_key = Some(&attest);
        let built = build(&inp).unwrap();
        let lines: Vec<&str> = built.yaml.lines().collect();
        assert_eq!(lines.len(), 4, "{}", built.yaml);
        for (line, key) in lines.iter().zip([
            "attestationPublicKey: hyper-protect-basic.",
            "env: hyper-protect-basic.",
            "envWorkloadSignature: ",
            "workload: hyper-protect-basic.",
        ]) {
            assert!(line.starts_with(key), "{line}");
        }
        let parsed = Contract::parse(&built.yaml).unwrap();
        assert_eq!(parsed, built.contract);
        parsed.verify_signature(sign_key()).unwrap();

        let env = token::decrypt(&parsed.env, enc_key()).unwrap().plaintext;
        let env: Mapping = serde_yaml_ng::from_slice(&env).unwrap();
        let signing_key = env.get("signingKey").unwrap().as_str().unwrap();
        assert!(keys::load_public_key(signing_key)
            .unwrap()
            .public_eq(sign_key()));
        assert_eq!(
            token::decrypt(&parsed.workload, enc_key())
                .unwrap()
                .plaintext,
            WORKLOAD.as_bytes()
        );
        let att = token::decrypt(parsed.attestation_public_key.as_ref().unwrap(), enc_key())
            .unwrap()
            .plaintext;
        assert_eq!(att, attest.as_bytes());
        assert_eq!(
            parsed.section_sha256(Section::Workload).unwrap(),
            sha256_hex(parsed.workload.as_bytes())
        );
        assert_eq!(document_sha256(&built.yaml).len(), 64);
    }

    #[test]
    fn sign_only_flow_keeps_the_encrypted_workload() {
        let recipient = enc_public();
        let sealed = token::encrypt(WORKLOAD.as_bytes(), &recipient, Platform::Hpvs).unwrap();
        let mut inp = input(&recipient);
        inp.workload = WorkloadInput::Encrypted(sealed.clone());
        let built = build(&inp).unwrap();
        assert_eq!(built.contract.workload, sealed);
        built.contract.verify_signature(sign_key()).unwrap();

        inp.workload = WorkloadInput::Encrypted("hyper-protect-basic.abc".into());
        let err = build(&inp).unwrap_err();
        assert!(err.to_string().contains("encrypted workload"), "{err}");
    }

    #[test]
    fn plaintext_contract_and_platform_prefix() {
        let recipient = enc_public();
        let mut inp = input(&recipient);
        inp.encryption = Encryption::Plaintext;
        let built = build(&inp).unwrap();
        let parsed = Contract::parse(&built.yaml).unwrap();
        assert_eq!(parsed.workload, WORKLOAD);
        parsed.verify_signature(sign_key()).unwrap();
        assert!(parsed.env.contains("signingKey"));

        inp.encryption = Encryption::Encrypt {
            recipient: &recipient,
            platform: Platform::Ccrv,
            encrypt_attestation_key: false,
        };
        inp.signing = None;
        let built = build(&inp).unwrap();
        assert!(built.contract.workload.starts_with("contract-basic."));
        assert!(built.contract.env_workload_signature.is_none());
        assert!(!token::decrypt(&built.contract.env, enc_key())
            .unwrap()
            .plaintext
            .windows(10)
            .any(|w| w == b"signingKey"));
    }

    #[test]
    fn expiry_certificate_goes_into_signing_key() {
        let (ca_cert, ca_key) = crate::contract::expiry::tests::make_ca(
            OffsetDateTime::now_utc().unix_timestamp() - 60,
            OffsetDateTime::now_utc().unix_timestamp() + 86_400 * 30,
        );
        let ca = CertificateAuthority::new(ca_cert, ca_key).unwrap();
        let issued = issue_signing_certificate(
            sign_key(),
            CsrSource::Subject(&SubjectFields::new("deployer")),
            &ca,
            ValidityDays::new(5).unwrap(),
        )
        .unwrap();
        let recipient = enc_public();
        let mut inp = input(&recipient);
        inp.signing = Some(SigningInput {
            key: sign_key(),
            certificate: Some(&issued.certificate),
        });
        let built = build(&inp).unwrap();
        assert_eq!(built.expires, Some(issued.not_after));
        let env = token::decrypt(&built.contract.env, enc_key())
            .unwrap()
            .plaintext;
        let env: Mapping = serde_yaml_ng::from_slice(&env).unwrap();
        assert_eq!(env.get("signingKey").unwrap().as_str().unwrap(), issued.pem);

        // The certificate of another key is refused.
        let other = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        inp.signing = Some(SigningInput {
            key: &other,
            certificate: Some(&issued.certificate),
        });
        let err = build(&inp).unwrap_err();
        assert!(
            matches!(
                err,
                DocumentError::SigningCertificate(ExpiryError::CertificateKeyMismatch)
            ),
            "{err}"
        );
    }

    #[test]
    fn expired_signing_certificate_is_refused() {
        // Issued by hand with a past validity window.
        let mut b = openssl::x509::X509::builder().unwrap();
        let mut name = openssl::x509::X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "old").unwrap();
        let name = name.build();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(sign_key()).unwrap();
        let now = OffsetDateTime::now_utc().unix_timestamp();
        b.set_not_before(&openssl::asn1::Asn1Time::from_unix(now - 10 * 86_400).unwrap())
            .unwrap();
        b.set_not_after(&openssl::asn1::Asn1Time::from_unix(now - 86_400).unwrap())
            .unwrap();
        b.sign(sign_key(), MessageDigest::sha256()).unwrap();
        let cert = b.build();
        let recipient = enc_public();
        let mut inp = input(&recipient);
        inp.signing = Some(SigningInput {
            key: sign_key(),
            certificate: Some(&cert),
        });
        let err = build(&inp).unwrap_err();
        assert!(
            matches!(
                err,
                DocumentError::SigningCertificate(ExpiryError::Expired { .. })
            ),
            "{err}"
        );
        assert!(err.to_string().contains("expired on"), "{err}");
    }

    #[test]
    fn oversize_contract_reports_size_and_limit() {
        let recipient = enc_public();
        let mut inp = input(&recipient);
        let big = format!(
            "type: workload\ncompose:\n  archive: {}\n",
            "A".repeat(70_000)
        );
        inp.workload = WorkloadInput::Plaintext(big);
        let err = build(&inp).unwrap_err();
        let DocumentError::TooLarge { size, limit } = err else {
            panic!("unexpected {err}");
        };
        assert!(size > 65_536);
        assert_eq!(limit, 65_536);
        let msg = DocumentError::TooLarge { size, limit }.to_string();
        assert!(
            msg.contains(&size.to_string()) && msg.contains("65536"),
            "{msg}"
        );
    }

    #[test]
    fn section_errors() {
        let recipient = enc_public();
        let mut inp = input(&recipient);
        inp.env = "type: env\n  bad: [";
        let err = build(&inp).unwrap_err();
        assert!(
            matches!(err, DocumentError::SectionYaml { section: "env", .. }),
            "{err}"
        );
        let sealed = token::encrypt(ENV.as_bytes(), &recipient, Platform::Hpvs).unwrap();
        inp.env = &sealed;
        assert!(matches!(
            build(&inp),
            Err(DocumentError::AlreadyEncrypted { section: "env" })
        ));
        let mut twice = input(&recipient);
        twice.workload = WorkloadInput::Plaintext(sealed.clone());
        assert!(matches!(
            build(&twice),
            Err(DocumentError::AlreadyEncrypted {
                section: "workload"
            })
        ));
        inp.env = "- a list";
        assert!(matches!(
            build(&inp),
            Err(DocumentError::SectionNotMap { section: "env" })
        ));
        let mut inp = input(&recipient);
        inp.workload = WorkloadInput::Plaintext("just text with password hunter2".into());
        let err = build(&inp).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");

        let mut inp = input(&recipient);
        inp.signing = None;
        let env_with_key = format!("{ENV}signingKey: abc\n");
        inp.env = &env_with_key;
        assert!(matches!(
            build(&inp),
            Err(DocumentError::SigningKeyWithoutSignature)
        ));

        let mut inp = input(&recipient);
        inp.attestation_public_key = Some("not a key");
        assert!(matches!(build(&inp), Err(DocumentError::AttestationKey(_))));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,400}") {
            let _ = Contract::parse(&s);
        }
    }

    #[test]
    fn debug_output_hides_section_values() {
        let c =
            Contract::parse("workload: |\n  secret-workload\nenv: |\n  apiKey: hunter2\n").unwrap();
        let shown = format!("{c:?} {:?}", WorkloadInput::Plaintext("hunter2".into()));
        assert!(
            !shown.contains("hunter2") && !shown.contains("secret-workload"),
            "{shown}"
        );
        assert!(shown.contains("bytes, sha256"), "{shown}");
    }

    #[test]
    fn parse_errors() {
        assert!(matches!(
            Contract::parse("workload: a\n"),
            Err(DocumentError::MissingSection("env"))
        ));
        assert!(matches!(
            Contract::parse("workload: a\nenv: b\nextra: c\n"),
            Err(DocumentError::UnknownKey(k)) if k == "extra"
        ));
        assert!(matches!(
            Contract::parse("- a"),
            Err(DocumentError::NotAMap)
        ));
        assert!(matches!(
            Contract::parse("workload: [1\n"),
            Err(DocumentError::Yaml { .. })
        ));
        assert!(matches!(
            Contract::parse("workload: [1]\nenv: b\n"),
            Err(DocumentError::BadValue("workload"))
        ));
        let c = Contract::parse("workload:\n  type: workload\nenv: |\n  type: env\n").unwrap();
        assert_eq!(c.env, "type: env\n");
        assert!(c.workload.contains("type: workload"));
        assert!(matches!(
            c.verify_signature(sign_key()),
            Err(DocumentError::MissingSection("envWorkloadSignature"))
        ));
    }

    // --- schema validation of plaintext sections ---

    /// Breaks three workload rules and two env rules at once; the seed is a recognisable
    /// secret that must never show up in the error.
    const BAD_WORKLOAD: &str = "type: workloads\ncompose:\n  archive: QUJDRA==\nvolumes:\n  data:\n    seed: TopSecretSeed\n    filesystem: ntfs\n";
    const BAD_ENV: &str = "type: env\nenv:\n  1BAD: x\nauths:\n  us.icr.io:\n    username: iamapikey\n    password: pw\n";

    fn schema_paths(err: &DocumentError) -> Vec<String> {
        let DocumentError::Schema(violations) = err else {
            panic!("expected a schema error, got {err}");
        };
        let mut paths: Vec<String> = violations.iter().map(|v| v.path.clone()).collect();
        paths.sort();
        paths
    }

    #[test]
    fn build_reports_every_schema_violation_of_both_sections_with_its_path() {
        let recipient = enc_public();
        let mut inp = input(&recipient);
        inp.workload = WorkloadInput::Plaintext(BAD_WORKLOAD.into());
        inp.env = BAD_ENV;
        let expected = [
            "env.auths[\"us.icr.io\"].password",
            "env.env.1BAD",
            "env.logging",
            "workload.type",
            "workload.volumes.data.filesystem",
            "workload.volumes.data.seed",
        ];
        // The same violations whether the sections would be encrypted, left in plaintext,
        // signed (env then also carries the generated signingKey) or not.
        for (encrypt, sign) in [(true, true), (false, true), (true, false), (false, false)] {
            inp.encryption = if encrypt {
                Encryption::to(&recipient, Platform::Hpvs)
            } else {
                Encryption::Plaintext
            };
            inp.signing = sign.then_some(SigningInput {
                key: sign_key(),
                certificate: None,
            });
            let err = build(&inp).unwrap_err();
            assert_eq!(
                schema_paths(&err),
                expected,
                "encrypt={encrypt} sign={sign}"
            );
            let msg = err.to_string();
            for path in expected {
                assert!(
                    msg.lines().any(|l| l.starts_with(&format!("  - {path}: "))),
                    "{path} not listed in {msg}"
                );
            }
            assert!(!msg.contains("TopSecretSeed"), "{msg}");
        }
    }

    #[test]
    fn each_broken_rule_alone_is_refused_and_its_fix_builds() {
        let recipient = enc_public();
        // (workload, env, the one path reported); the first row is the valid control.
        let cases: [(&str, &str, Option<&str>); 6] = [
            (WORKLOAD, ENV, None),
            (
                "type: workload\ncompose:\n  archive: QUJDRA==\nplay:\n  archive: QUJDRA==\n",
                ENV,
                Some("workload"),
            ),
            (
                "type: workload\ncompose:\n  archive: 'not base64!'\n",
                ENV,
                Some("workload.compose.archive"),
            ),
            (
                "type: workload\ncompose:\n  archive: QUJDRA==\n  extra: 1\n",
                ENV,
                Some("workload.compose.extra"),
            ),
            (WORKLOAD, "type: env\n", Some("env.logging")),
            (
                WORKLOAD,
                "type: env\nlogging:\n  logRouter:\n    hostname: not a host\n    iamApiKey: k\n",
                Some("env.logging.logRouter.hostname"),
            ),
        ];
        for (workload, env, path) in cases {
            let mut inp = input(&recipient);
            inp.workload = WorkloadInput::Plaintext(workload.into());
            inp.env = env;
            match (build(&inp), path) {
                (Ok(built), None) => {
                    assert!(built.contract.workload.starts_with("hyper-protect-basic."))
                }
                (Err(err), Some(path)) => assert_eq!(schema_paths(&err), [path], "{err}"),
                (Ok(_), Some(path)) => panic!("{path}: a broken section was accepted"),
                (Err(err), None) => panic!("a valid contract was refused: {err}"),
            }
        }
    }

    #[test]
    fn sign_only_flow_still_validates_the_plaintext_env() {
        // The pre-encrypted workload cannot be read here; env can, and is checked.
        let recipient = enc_public();
        let sealed = token::encrypt(BAD_WORKLOAD.as_bytes(), &recipient, Platform::Hpvs).unwrap();
        let mut inp = input(&recipient);
        inp.workload = WorkloadInput::Encrypted(sealed.clone());
        inp.env = BAD_ENV;
        let err = build(&inp).unwrap_err();
        assert_eq!(
            schema_paths(&err),
            [
                "env.auths[\"us.icr.io\"].password",
                "env.env.1BAD",
                "env.logging"
            ]
        );
        inp.env = ENV;
        assert_eq!(build(&inp).unwrap().contract.workload, sealed);
    }
}
