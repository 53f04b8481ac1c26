//! What a Hyper Protect guest does with its contract at boot: read `user_data`, decrypt the
//! encrypted sections with the image's encryption key, validate the sections, check the
//! `envWorkloadSignature` (and the contract expiry of a certificate `signingKey`), and write
//! the attestation record when an `attestationPublicKey` is given.
//!
//! This is an independent emulation built on the openssl crate: it must not share code with
//! the provider's contract engine, which it exists to test.
//!
//! Console texts follow a genuine HPCR serial log (IBM's on-prem HPCR operator docs quote
//! one); the `# section …`, `# contract …`, `# envWorkloadSignature …`, `# attestation …`
//! and `# WARNING …` lines are the emulator's own detail. One `String` per line, in order,
//! `<…>` filled in, `[…]` only when it applies:
//! ```text
//! # HPL11 build:25.11.0 enabler:25.11.0
//! # <Sat Nov 28 05:30:00 UTC 2026: `now`>
//! # create new root partition...
//! # encrypt root partition...
//! # create root filesystem...
//! # write OS to root disk...
//! # decrypt user-data...
//! # section workload: <decrypted | not encrypted, used as is>
//! # section env: <decrypted | not encrypted, used as is>
//! [# section attestationPublicKey: decrypted]
//! <n> token decrypted, 0 encrypted token ignored
//! # contract validated (workload: <compose|play|confidential-containers>)
//! [# envWorkloadSignature verified with env.signingKey]
//! [# contract expires on <YYYY-MM-DD hh:mm:ss> UTC]          (certificate signingKey)
//! [# WARNING: envWorkloadSignature present without env.signingKey, not checked]
//! # run attestation...
//! [# attestation record written to /var/hyperprotect/se-checksums.txt.enc]
//! # set hostname...
//! # finish root disk setup...
//! # <`now` + 28 s>
//! # HPL11 build:25.11.0 enabler:25.11.0
//! # HPL11099I: bootloader end
//! hpcr-dnslookup[860]: HPL14000I: Network connectivity check completed successfully.
//! hpcr-logging[1123]: Configuring logging ...
//! hpcr-logging[1124]: Sending logging probe to [<https://host:443/logs/ingest | syslog://host:514>] ...
//! hpcr-logging[1124]: HPL01010I: Logging has been setup successfully.
//! hpcr-logging[1123]: Logging has been configured
//! hpcr-catch-success[1421]: VSI has started successfully.
//! hpcr-catch-success[1421]: HPL10001I: Services succeeded -> systemd triggered hpl-catch-success service
//! ```
//! On rejection the lines stop where the check failed and the last line is
//! `HPL11001E INVALID_CONTRACT Unable to parse/decrypt contract: <reason> Boot aborted`
//! (IBM's code and words). Reasons name the section, YAML path or check that failed, never a
//! value (sections carry secrets).
//!
//! Choices where IBM's behaviour is unconfirmed (documented so tests can rely on them):
//! - Passwords are cut like `openssl enc -pass stdin` does: the PBKDF2 password is the RSA
//!   plaintext up to its first 0x0A or 0x00 byte, and nothing else is tried.
//! - The signature input is the `workload` value string followed by the `env` value string
//!   as they stand in `user_data` (token strings for encrypted sections). If that fails and the
//!   values contain CR/LF, the form with every CR/LF removed (IBM's current `tr -d "\n\r"`
//!   command) is also accepted. A signed contract with a YAML-map section is rejected: there is
//!   no value string to sign.
//! - Attestation checksums `contract:<key>` are SHA-256 of the value string of that key as it
//!   stands in `user_data` (the token string for an encrypted section); for a YAML-map section
//!   the map re-serialised by serde_yaml_ng. `cidata/user-data` is SHA-256 of all of `user_data`.
//! - The record ends with a newline after its last line.
//! - `env.signingKey` given as base64 must decode straight to PEM: the doubly encoded form
//!   contract-go produces for certificates is rejected.
//! - `envWorkloadSignature` without `env.signingKey` is not checked (a `# WARNING` line).
//! - Both token prefixes (`hyper-protect-basic`, `contract-basic`) are accepted everywhere.
//! - Section keys outside the schema's list (see `validate_workload`/`validate_env`) are
//!   rejected (the sheet's §8 reading; the JSON schema itself leaves `env` and `logging` open).
//! - Patterns are the ones published in `hpse-contract-schema-1.0.116.json`, with `\d`/`\s`
//!   spelled as the ASCII classes RE2 (Go, which validates the schema in contract-go) gives them.
//! - `contentEncoding: base64` (dct/rhs `publicKey`) is enforced: the value must decode.
//! - An empty `syslog.server` is rejected although the schema's base64 pattern matches "":
//!   it holds no CA certificate, so logging could not be set up and the guest would stop.
//! - `grep11` needs all five of the schema's required keys: address, clientCert, clientKey,
//!   caCert and metadata (with `aesKeyBlob`).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Padding;
use openssl::sign::{Signer, Verifier};
use openssl::symm::Cipher;
use openssl::x509::X509;
use regex::Regex;
use serde_yaml_ng::{Mapping, Value};
use std::sync::OnceLock;

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

/// First line of the attestation record (the runtime version).
pub const ATTESTATION_VERSION: &str = "25.11.0";

/// Prefixes of encrypted tokens the platform decrypts.
const TOKEN_PREFIXES: [&str; 2] = ["hyper-protect-basic.", "contract-basic."];
/// Prefix of the tokens the platform itself produces (the attestation record).
const RECORD_PREFIX: &str = "hyper-protect-basic";
const PBKDF2_ITERATIONS: usize = 10_000;
const SALT_HEADER: &[u8] = b"Salted__";

/// Why a contract is rejected. Display is the `<reason>` of the console line.
#[derive(Debug, thiserror::Error)]
enum Reject {
    #[error("no contract: user-data is empty")]
    Empty,
    #[error("user-data is not valid YAML{0}")]
    Yaml(String),
    #[error("user-data must be a YAML map at the top level, found {0}")]
    NotAMap(&'static str),
    #[error("unknown top-level key {0:?} (allowed: workload, env, envWorkloadSignature, attestationPublicKey)")]
    UnknownTopKey(String),
    #[error("missing required top-level key {0}")]
    MissingTopKey(&'static str),
    #[error("section {section}: {reason}")]
    Section {
        section: &'static str,
        reason: String,
    },
    #[error("schema: {path}: {rule}")]
    Schema { path: String, rule: String },
    #[error("env.signingKey: {0}")]
    SigningKey(String),
    #[error("env.signingKey: the contract expired on {0} (signing certificate notAfter)")]
    Expired(String),
    #[error("env.signingKey: the signing certificate is not valid before {0}")]
    NotYetValid(String),
    #[error("envWorkloadSignature: {0}")]
    Signature(String),
    #[error("attestationPublicKey: {0}")]
    AttestationKey(String),
    #[error("internal error: {0}")]
    Internal(String),
}

fn schema(path: impl Into<String>, rule: impl Into<String>) -> Reject {
    Reject::Schema {
        path: path.into(),
        rule: rule.into(),
    }
}

/// Boots a contract (`user_data`) as the platform would, with the platform's keys, at `now`.
pub fn boot(user_data: &str, pki: &Pki, now: time::OffsetDateTime) -> BootReport {
    let build = format!("# HPL11 build:{ATTESTATION_VERSION} enabler:{ATTESTATION_VERSION}");
    let mut console = vec![build.clone(), format!("# {}", console_date(now))];
    console.extend(
        [
            "# create new root partition...",
            "# encrypt root partition...",
            "# create root filesystem...",
            "# write OS to root disk...",
            "# decrypt user-data...",
        ]
        .map(String::from),
    );
    match run(user_data, pki, now, &mut console) {
        Ok(accepted) => {
            console.extend([
                format!("# {}", console_date(now + time::Duration::seconds(28))),
                build,
                "# HPL11099I: bootloader end".into(),
                "hpcr-dnslookup[860]: HPL14000I: Network connectivity check completed successfully."
                    .into(),
                "hpcr-logging[1123]: Configuring logging ...".into(),
                format!(
                    "hpcr-logging[1124]: Sending logging probe to [{}] ...",
                    accepted.logging_target
                ),
                "hpcr-logging[1124]: HPL01010I: Logging has been setup successfully.".into(),
                "hpcr-logging[1123]: Logging has been configured".into(),
                "hpcr-catch-success[1421]: VSI has started successfully.".into(),
                "hpcr-catch-success[1421]: HPL10001I: Services succeeded -> systemd triggered hpl-catch-success service".into(),
            ]);
            BootReport {
                console,
                outcome: BootOutcome::Accepted {
                    attestation: accepted.attestation,
                },
            }
        }
        Err(rejection) => {
            let reason = rejection.to_string();
            console.push(format!(
                "HPL11001E INVALID_CONTRACT Unable to parse/decrypt contract: {reason} Boot aborted"
            ));
            BootReport {
                console,
                outcome: BootOutcome::Rejected { reason },
            }
        }
    }
}

/// `date`-style time for the bootloader's timestamp lines.
fn console_date(t: time::OffsetDateTime) -> String {
    let fmt = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] UTC [year]"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// What an accepted boot hands to the services after the bootloader.
struct Accepted {
    attestation: Option<AttestationRecord>,
    /// Where the logging service sends its probe (no credentials).
    logging_target: String,
}

/// A contract section as found in `user_data`, and its parsed content.
struct Section {
    /// The value as it stands in `user_data`: what is hashed and signed.
    raw: RawValue,
    doc: Mapping,
    encrypted: bool,
}

enum RawValue {
    Str(String),
    Map(Mapping),
}

impl RawValue {
    fn as_str(&self) -> Option<&str> {
        match self {
            RawValue::Str(s) => Some(s),
            RawValue::Map(_) => None,
        }
    }

    fn bytes_for_hash(&self) -> Result<Vec<u8>, Reject> {
        match self {
            RawValue::Str(s) => Ok(s.as_bytes().to_vec()),
            RawValue::Map(m) => serde_yaml_ng::to_string(m)
                .map(String::into_bytes)
                .map_err(|e| Reject::Internal(format!("cannot re-serialise a section: {e}"))),
        }
    }
}

fn run(
    user_data: &str,
    pki: &Pki,
    now: time::OffsetDateTime,
    console: &mut Vec<String>,
) -> Result<Accepted, Reject> {
    if user_data.trim().is_empty() {
        return Err(Reject::Empty);
    }
    let top: Value =
        serde_yaml_ng::from_str(user_data).map_err(|e| Reject::Yaml(yaml_where(&e)))?;
    let top = match top {
        Value::Mapping(m) => m,
        other => return Err(Reject::NotAMap(kind(&other))),
    };
    for key in top.keys() {
        match key.as_str() {
            Some("workload" | "env" | "envWorkloadSignature" | "attestationPublicKey") => {}
            Some(k) => return Err(Reject::UnknownTopKey(shorten(k))),
            None => return Err(Reject::UnknownTopKey(format!("<{} key>", kind(key)))),
        }
    }
    let workload_v = top
        .get("workload")
        .ok_or(Reject::MissingTopKey("workload"))?;
    let env_v = top.get("env").ok_or(Reject::MissingTopKey("env"))?;
    let workload = load_section("workload", workload_v, pki, console)?;
    let env = load_section("env", env_v, pki, console)?;
    let mut tokens = usize::from(workload.encrypted) + usize::from(env.encrypted);
    let attestation_key = match top.get("attestationPublicKey") {
        None => None,
        Some(Value::String(raw)) => {
            let (key, encrypted) = attestation_public_key(raw, pki, console)?;
            tokens += usize::from(encrypted);
            Some((raw.as_str(), key))
        }
        Some(other) => {
            return Err(Reject::AttestationKey(format!(
                "must be a string, found {}",
                kind(other)
            )))
        }
    };
    console.push(format!(
        "{tokens} token decrypted, 0 encrypted token ignored"
    ));

    let workload_kind = validate_workload(&workload.doc)?;
    let logging_target = validate_env(&env.doc)?;
    console.push(format!("# contract validated (workload: {workload_kind})"));

    let signature = match top.get("envWorkloadSignature") {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(other) => {
            return Err(Reject::Signature(format!(
                "must be a base64 string, found {}",
                kind(other)
            )))
        }
    };
    check_signature(&workload, &env, signature, now, console)?;

    console.push("# run attestation...".into());
    let attestation = match attestation_key {
        None => None,
        Some((raw, key)) => {
            let record = attestation_text(user_data, &workload, &env, signature, raw)?;
            let encrypted = encrypt_token(RECORD_PREFIX, record.as_bytes(), &key).map_err(|e| {
                Reject::Internal(format!("cannot encrypt the attestation record: {e}"))
            })?;
            let sig = sign_sha256(&pki.attestation_key, record.as_bytes()).map_err(|e| {
                Reject::Internal(format!("cannot sign the attestation record: {e}"))
            })?;
            console.push(
                "# attestation record written to /var/hyperprotect/se-checksums.txt.enc".into(),
            );
            Some(AttestationRecord {
                record: encrypted,
                signature: B64.encode(sig),
            })
        }
    };
    console.push("# set hostname...".into());
    console.push("# finish root disk setup...".into());
    Ok(Accepted {
        attestation,
        logging_target,
    })
}

/// The location of a YAML error, without its message (which may quote contract text).
fn yaml_where(e: &serde_yaml_ng::Error) -> String {
    match e.location() {
        Some(l) => format!(" (line {}, column {})", l.line(), l.column()),
        None => String::new(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a sequence",
        Value::Mapping(_) => "a map",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Key names are echoed in reasons; a garbage key is cut so a pasted secret is not.
fn shorten(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}…")
    }
}

fn token_prefix(s: &str) -> Option<&'static str> {
    TOKEN_PREFIXES.into_iter().find(|p| s.starts_with(p))
}

fn load_section(
    name: &'static str,
    value: &Value,
    pki: &Pki,
    console: &mut Vec<String>,
) -> Result<Section, Reject> {
    let section_err = |reason: String| Reject::Section {
        section: name,
        reason,
    };
    match value {
        Value::Mapping(m) => {
            console.push(format!("# section {name}: not encrypted, used as is"));
            Ok(Section {
                raw: RawValue::Map(m.clone()),
                doc: m.clone(),
                encrypted: false,
            })
        }
        Value::String(s) => {
            let trimmed = s.trim();
            let encrypted = token_prefix(trimmed).is_some();
            let text = if encrypted {
                let plain = decrypt_token(trimmed, &pki.encryption_key)
                    .map_err(|e| section_err(format!("cannot decrypt: {e}")))?;
                console.push(format!("# section {name}: decrypted"));
                String::from_utf8(plain)
                    .map_err(|_| section_err("decrypted text is not UTF-8".into()))?
            } else {
                if looks_like_token(trimmed) {
                    return Err(section_err(format!(
                        "looks like an encrypted token with an unknown prefix (expected {})",
                        TOKEN_PREFIXES.map(|p| p.trim_end_matches('.')).join(" or ")
                    )));
                }
                console.push(format!("# section {name}: not encrypted, used as is"));
                s.clone()
            };
            let doc: Value = serde_yaml_ng::from_str(&text)
                .map_err(|e| section_err(format!("text is not valid YAML{}", yaml_where(&e))))?;
            match doc {
                Value::Mapping(m) => Ok(Section {
                    raw: RawValue::Str(s.clone()),
                    doc: m,
                    encrypted,
                }),
                other => Err(section_err(format!(
                    "must be a YAML map, found {}",
                    kind(&other)
                ))),
            }
        }
        other => Err(section_err(format!(
            "must be a YAML map, a string holding YAML, or an encrypted token; found {}",
            kind(other)
        ))),
    }
}

/// `word.B64.B64` on one line, long enough to carry an RSA block.
fn looks_like_token(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && s.len() > 300
        && !s.contains(char::is_whitespace)
        && parts[1..].iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        })
}

/// Decrypts `<prefix>.<B64 RSA(password)>.<B64 Salted__‖salt‖AES-256-CBC>` the way the
/// platform's `openssl pkeyutl -decrypt` + `openssl enc -d -aes-256-cbc -pbkdf2 -pass stdin`
/// would. Errors say which part failed, never what was in it.
fn decrypt_token(token: &str, key: &PKey<Private>) -> Result<Vec<u8>, String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [_, rsa_b64, aes_b64] = parts.as_slice() else {
        return Err(format!(
            "token must have 3 dot-separated parts, found {}",
            parts.len()
        ));
    };
    let rsa_part = B64
        .decode(rsa_b64)
        .map_err(|e| format!("RSA part is not valid base64 ({e})"))?;
    let aes_part = B64
        .decode(aes_b64)
        .map_err(|e| format!("AES part is not valid base64 ({e})"))?;
    let rsa = key
        .rsa()
        .map_err(|_| "the platform's encryption key is not RSA".to_string())?;
    let size = usize::try_from(rsa.size()).unwrap_or(0);
    if rsa_part.len() != size {
        return Err(format!(
            "RSA part is {} bytes but the platform's encryption key takes {size}: \
             encrypted to a different certificate",
            rsa_part.len()
        ));
    }
    let mut buf = vec![0u8; size];
    let n = rsa
        .private_decrypt(&rsa_part, &mut buf, Padding::PKCS1)
        .map_err(|_| {
            "RSA part does not decrypt with the platform's encryption key \
             (encrypted to a different certificate, or not PKCS#1 v1.5)"
                .to_string()
        })?;
    let password = &buf[..n.min(size)];
    let plain = openssl_enc_decrypt(password, &aes_part);
    buf.fill(0);
    plain
}

/// What `openssl enc -pass stdin` uses as password: the bytes before the first newline
/// (the line read) or NUL (C string); a carriage return is kept.
fn openssl_stdin_password(password: &[u8]) -> &[u8] {
    let end = password
        .iter()
        .position(|&b| b == b'\n' || b == 0)
        .unwrap_or(password.len());
    &password[..end]
}

fn derive_key_iv(password: &[u8], salt: &[u8]) -> Result<[u8; 48], String> {
    let mut key_iv = [0u8; 48];
    openssl::pkcs5::pbkdf2_hmac(
        password,
        salt,
        PBKDF2_ITERATIONS,
        MessageDigest::sha256(),
        &mut key_iv,
    )
    .map_err(|e| format!("PBKDF2 failed: {e}"))?;
    Ok(key_iv)
}

fn openssl_enc_decrypt(password: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
    if data.len() < 16 || &data[..8] != SALT_HEADER {
        return Err("AES part lacks the openssl `Salted__` header".into());
    }
    let (salt, ciphertext) = data[8..].split_at(8);
    if ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
        return Err(format!(
            "AES part ciphertext is {} bytes, not a positive multiple of the AES block (16)",
            ciphertext.len()
        ));
    }
    let mut key_iv = derive_key_iv(openssl_stdin_password(password), salt)?;
    let result = openssl::symm::decrypt(
        Cipher::aes_256_cbc(),
        &key_iv[..32],
        Some(&key_iv[32..]),
        ciphertext,
    )
    .map_err(|_| {
        "AES part does not decrypt with the password from the RSA part (bad padding)".to_string()
    });
    key_iv.fill(0);
    result
}

/// Encrypts `plain` to `to` in the token format, with a fresh 32-character printable
/// password (so `-pass stdin` and a byte-exact reader derive the same key).
fn encrypt_token(prefix: &str, plain: &[u8], to: &PKey<Public>) -> Result<String, String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut password = [0u8; 32];
    openssl::rand::rand_bytes(&mut password).map_err(|e| format!("no randomness: {e}"))?;
    // 256 is a multiple of 64: masking keeps the characters uniform.
    for b in password.iter_mut() {
        *b = ALPHABET[usize::from(*b & 63)];
    }
    let rsa = to
        .rsa()
        .map_err(|_| "the public key is not RSA".to_string())?;
    let mut rsa_part = vec![0u8; usize::try_from(rsa.size()).unwrap_or(0)];
    let n = rsa
        .public_encrypt(&password, &mut rsa_part, Padding::PKCS1)
        .map_err(|e| format!("RSA encryption failed: {e}"))?;
    rsa_part.truncate(n);
    let mut salt = [0u8; 8];
    openssl::rand::rand_bytes(&mut salt).map_err(|e| format!("no randomness: {e}"))?;
    let mut key_iv = derive_key_iv(&password, &salt)?;
    let ciphertext = openssl::symm::encrypt(
        Cipher::aes_256_cbc(),
        &key_iv[..32],
        Some(&key_iv[32..]),
        plain,
    )
    .map_err(|e| format!("AES encryption failed: {e}"));
    key_iv.fill(0);
    password.fill(0);
    let mut aes_part = Vec::with_capacity(16 + plain.len() + 16);
    aes_part.extend_from_slice(SALT_HEADER);
    aes_part.extend_from_slice(&salt);
    aes_part.extend_from_slice(&ciphertext?);
    Ok(format!(
        "{prefix}.{}.{}",
        B64.encode(rsa_part),
        B64.encode(aes_part)
    ))
}

fn sign_sha256(key: &PKey<Private>, data: &[u8]) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let mut signer = Signer::new(MessageDigest::sha256(), key)?;
    signer.update(data)?;
    signer.sign_to_vec()
}

fn verify_sha256(key: &PKey<Public>, data: &[u8], sig: &[u8]) -> bool {
    Verifier::new(MessageDigest::sha256(), key)
        .and_then(|mut v| {
            v.update(data)?;
            v.verify(sig)
        })
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------------------
// Schema (contract-go schema 1.0.116, the rules the platform enforces at boot).

/// A pattern from the published schema, compiled on first use.
struct Pattern {
    source: &'static str,
    compiled: OnceLock<Option<Regex>>,
}

impl Pattern {
    const fn new(source: &'static str) -> Self {
        Pattern {
            source,
            compiled: OnceLock::new(),
        }
    }

    fn is_match(&self, s: &str) -> Result<bool, Reject> {
        self.compiled
            .get_or_init(|| Regex::new(self.source).ok())
            .as_ref()
            .map(|r| r.is_match(s))
            .ok_or_else(|| {
                Reject::Internal(format!("schema pattern {:?} does not compile", self.source))
            })
    }
}

/// RE2's `\s`: `[\t\n\f\r ]` (no vertical tab, no Unicode spaces).
macro_rules! ws {
    () => {
        r"[\t\n\f\r ]"
    };
}

/// The schema's base64 body: groups of 4, whitespace allowed after each, padded tail.
macro_rules! b64_body {
    () => {
        concat!(
            r"(?:[A-Za-z0-9+/]{4}",
            ws!(),
            r"*)*(?:[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)?"
        )
    };
}

/// `base64cert` (syslog server/cert/key given as base64).
static BASE64_CERT: Pattern = Pattern::new(concat!("^", b64_body!(), "$"));
/// `cacertificate` (syslog server): one or more PEM certificates.
static PEM_CA_CERTS: Pattern = Pattern::new(concat!(
    "^(-----BEGIN CERTIFICATE-----",
    ws!(),
    "+",
    b64_body!(),
    ws!(),
    "+-----END CERTIFICATE-----",
    ws!(),
    "*)+$"
));
/// `certificate` (syslog cert): exactly one PEM certificate.
static PEM_CERT: Pattern = Pattern::new(concat!(
    "^-----BEGIN CERTIFICATE-----",
    ws!(),
    "+",
    b64_body!(),
    ws!(),
    "+-----END CERTIFICATE-----",
    ws!(),
    "*$"
));
/// `privkey` (syslog key): `PRIVATE KEY`, optionally qualified (`RSA`, `EC`, `ENCRYPTED`).
static PEM_PRIVATE_KEY: Pattern = Pattern::new(concat!(
    "^-----BEGIN (?:[A-Z]+",
    ws!(),
    "+)?PRIVATE KEY-----",
    ws!(),
    "+",
    b64_body!(),
    ws!(),
    "+-----END (?:[A-Z]+",
    ws!(),
    "+)?PRIVATE KEY-----",
    ws!(),
    "*$"
));
/// `auths` keys: a registry host name (labels start with a letter) or IPv4 address, each
/// with an optional port, or Docker Hub's legacy key.
static REGISTRY_KEY: Pattern = Pattern::new(concat!(
    r"^(([a-zA-Z]|[a-zA-Z][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*([A-Za-z]|[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9])(:[0-9]+)?$",
    r"|^(([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\.){3}([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])(:[0-9]+)?$",
    r"|^(https://index\.docker\.io/v1/)$"
));
/// `images.dct` keys: `host/namespace/name`, no tag.
static DCT_IMAGE: Pattern = Pattern::new(
    r"^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\-]*[A-Za-z0-9])/[a-z0-9_-]{3,30}/[a-z0-9_-]{2,255}$",
);
/// `images.rhs` keys: `host.domain/path[:tag][@sha256:digest]`.
static RHS_IMAGE: Pattern = Pattern::new(
    r"^([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])(\.([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]{0,61}[a-zA-Z0-9]))+(/[a-z0-9_-]+)+(:[a-zA-Z0-9_][a-zA-Z0-9_.-]{2,127})?(@sha256:[a-f0-9]{64})?$",
);
/// `kms[].crn`: a root key CRN.
static KEY_CRN: Pattern = Pattern::new(
    r"^crn:(v[0-9]+):(bluemix|staging):(public|dedicated|local):([^:]+):([^:]+):([^:]+):([^:]+):key:(.+)$",
);
/// `grep11.address`: `host:port` or `IPv4:port`.
static GREP11_ADDRESS: Pattern = Pattern::new(
    r"^((([a-zA-Z0-9-]+\.)*[a-zA-Z0-9-]+)|((25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})(\.(25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})){3})):[0-9]{1,5}$",
);
/// `base64Material` (GREP11 certificates and keys).
static BASE64_MATERIAL: Pattern = Pattern::new(r"^[A-Za-z0-9+/=]+$");
/// `base64MaterialOrMasked`: the AES key blobs, which the guest overwrites with `*`s.
static BASE64_MATERIAL_OR_MASKED: Pattern = Pattern::new(r"^([A-Za-z0-9+/=]+|\*+)$");
/// Volume names, in `workload.volumes` and `env.volumes`.
static VOLUME_NAME: Pattern = Pattern::new(r"^[a-z_][a-z0-9_-]*$");

/// Every pattern, so a test can prove they all compile.
#[cfg(test)]
static ALL_PATTERNS: &[&Pattern] = &[
    &BASE64_CERT,
    &PEM_CA_CERTS,
    &PEM_CERT,
    &PEM_PRIVATE_KEY,
    &REGISTRY_KEY,
    &DCT_IMAGE,
    &RHS_IMAGE,
    &KEY_CRN,
    &GREP11_ADDRESS,
    &BASE64_MATERIAL,
    &BASE64_MATERIAL_OR_MASKED,
    &VOLUME_NAME,
];

/// A string that must match one of `patterns`; `rule` says which forms are allowed (never
/// the value, which may be a key or certificate).
fn check_pattern(v: &Value, path: &str, patterns: &[&Pattern], rule: &str) -> Result<(), Reject> {
    let s = as_str(v, path)?;
    for p in patterns {
        if p.is_match(s)? {
            return Ok(());
        }
    }
    Err(schema(path, rule))
}

/// A map key that must match `pattern` (the schema's `patternProperties` with
/// `additionalProperties: false`).
fn check_key(key: &str, path: &str, pattern: &Pattern, rule: &str) -> Result<(), Reject> {
    if pattern.is_match(key)? {
        Ok(())
    } else {
        Err(schema(
            join(path, key),
            format!("invalid key: must be {rule}"),
        ))
    }
}

/// `contentEncoding: base64`: standard alphabet, padded, line breaks allowed.
fn check_base64(v: &Value, path: &str) -> Result<(), Reject> {
    let compact: String = as_str(v, path)?
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if compact.is_empty() || B64.decode(compact.as_bytes()).is_err() {
        return Err(schema(path, "must be base64 (standard alphabet, padded)"));
    }
    Ok(())
}

/// `a.b` for identifier-like keys, `a["x.y"]` otherwise, so paths stay unambiguous.
fn join(path: &str, key: &str) -> String {
    if !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        format!("{path}.{key}")
    } else {
        format!("{path}[{:?}]", shorten(key))
    }
}

/// The entries of a map with string keys; any other key is a schema error.
fn entries<'a>(m: &'a Mapping, path: &str) -> Result<Vec<(&'a str, &'a Value)>, Reject> {
    m.iter()
        .map(|(k, v)| match k.as_str() {
            Some(k) => Ok((k, v)),
            None => Err(schema(
                path,
                format!("keys must be strings, found {}", kind(k)),
            )),
        })
        .collect()
}

fn as_map<'a>(v: &'a Value, path: &str) -> Result<&'a Mapping, Reject> {
    match v {
        Value::Mapping(m) => Ok(m),
        other => Err(schema(
            path,
            format!("must be a map, found {}", kind(other)),
        )),
    }
}

fn as_str<'a>(v: &'a Value, path: &str) -> Result<&'a str, Reject> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(schema(
            path,
            format!("must be a string, found {}", kind(other)),
        )),
    }
}

fn as_seq<'a>(v: &'a Value, path: &str) -> Result<&'a [Value], Reject> {
    match v {
        Value::Sequence(s) => Ok(s),
        other => Err(schema(
            path,
            format!("must be a sequence, found {}", kind(other)),
        )),
    }
}

fn only_keys(m: &Mapping, path: &str, allowed: &[&str]) -> Result<(), Reject> {
    for (k, _) in entries(m, path)? {
        if !allowed.contains(&k) {
            return Err(schema(
                join(path, k),
                format!("unknown property (allowed: {})", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

fn required<'a>(m: &'a Mapping, path: &str, key: &str) -> Result<&'a Value, Reject> {
    m.get(key)
        .ok_or_else(|| schema(join(path, key), "required property is missing"))
}

/// Exactly one of `keys` present; returns it.
fn exactly_one<'a>(m: &Mapping, path: &str, keys: &[&'a str]) -> Result<&'a str, Reject> {
    let present: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| m.contains_key(*k))
        .collect();
    match present.as_slice() {
        [one] => Ok(one),
        [] => Err(schema(
            path,
            format!("must have exactly one of {}, found none", keys.join(", ")),
        )),
        many => Err(schema(
            path,
            format!(
                "must have exactly one of {}, found {}",
                keys.join(", "),
                many.join(" and ")
            ),
        )),
    }
}

fn check_type(m: &Mapping, path: &str, expected: &str) -> Result<(), Reject> {
    let t = as_str(required(m, path, "type")?, &join(path, "type"))?;
    if t != expected {
        return Err(schema(
            join(path, "type"),
            format!("must be {expected:?}, found {:?}", shorten(t)),
        ));
    }
    Ok(())
}

fn is_seed(s: &str) -> bool {
    s.chars().count() >= 15
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!@#$%^&*(),.?\":{}|<>_-".contains(c))
}

fn check_seed(v: &Value, path: &str) -> Result<(), Reject> {
    if !is_seed(as_str(v, path)?) {
        return Err(schema(
            path,
            "must be at least 15 characters from [a-zA-Z0-9!@#$%^&*(),.?\":{}|<>_-]",
        ));
    }
    Ok(())
}

/// The schema's `tgz` pattern `^[-A-Za-z0-9+/]*={0,3}$` with minLength 4 (also used for
/// `cacerts` values); `what` names the content in the reason.
fn check_archive_like(v: &Value, path: &str, what: &str) -> Result<(), Reject> {
    let s = as_str(v, path)?;
    let body = s.trim_end_matches('=');
    let ok = s.len() >= 4
        && s.len() - body.len() <= 3
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'-');
    if !ok {
        return Err(schema(
            path,
            format!("must be base64 of {what} (at least 4 characters)"),
        ));
    }
    Ok(())
}

fn check_archive(v: &Value, path: &str) -> Result<(), Reject> {
    check_archive_like(v, path, "a tgz archive")
}

fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn check_port(m: &Mapping, path: &str) -> Result<Option<u64>, Reject> {
    let Some(v) = m.get("port") else {
        return Ok(None);
    };
    let port = match v {
        Value::Number(n) => n.as_u64(),
        _ => None,
    };
    match port {
        Some(p @ 1..=65535) => Ok(Some(p)),
        _ => Err(schema(
            join(path, "port"),
            "must be an integer port (1-65535)",
        )),
    }
}

fn check_env_vars(v: &Value, path: &str) -> Result<(), Reject> {
    for (k, val) in entries(as_map(v, path)?, path)? {
        let valid_name = k
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid_name {
            return Err(schema(
                join(path, k),
                "variable names must match ^[A-Za-z_][A-Za-z0-9_]*$",
            ));
        }
        as_str(val, &join(path, k))?;
    }
    Ok(())
}

fn check_auths(v: &Value, path: &str) -> Result<(), Reject> {
    for (host, cred) in entries(as_map(v, path)?, path)? {
        check_key(
            host,
            path,
            &REGISTRY_KEY,
            "a registry host name or IPv4 address (optionally with :port) or https://index.docker.io/v1/",
        )?;
        let p = join(path, host);
        let cred = as_map(cred, &p)?;
        only_keys(cred, &p, &["username", "password"])?;
        for field in ["username", "password"] {
            let fp = join(&p, field);
            if as_str(required(cred, &p, field)?, &fp)?.chars().count() < 3 {
                return Err(schema(fp, "must be at least 3 characters"));
            }
        }
    }
    Ok(())
}

fn check_images(v: &Value, path: &str) -> Result<(), Reject> {
    let m = as_map(v, path)?;
    only_keys(m, path, &["dct", "rhs"])?;
    if let Some(dct) = m.get("dct") {
        let dp = join(path, "dct");
        for (image, spec) in entries(as_map(dct, &dp)?, &dp)? {
            check_key(
                image,
                &dp,
                &DCT_IMAGE,
                "an image name host/namespace/name (no tag)",
            )?;
            let ip = join(&dp, image);
            let spec = as_map(spec, &ip)?;
            only_keys(spec, &ip, &["notary", "publicKey"])?;
            let np = join(&ip, "notary");
            if !is_uri(as_str(required(spec, &ip, "notary")?, &np)?) {
                return Err(schema(np, "must be a URI (RFC 3986, with a scheme)"));
            }
            check_base64(required(spec, &ip, "publicKey")?, &join(&ip, "publicKey"))?;
        }
    }
    if let Some(rhs) = m.get("rhs") {
        let rp = join(path, "rhs");
        for (image, spec) in entries(as_map(rhs, &rp)?, &rp)? {
            check_key(
                image,
                &rp,
                &RHS_IMAGE,
                "an image reference host.domain/path[:tag][@sha256:digest]",
            )?;
            let ip = join(&rp, image);
            let spec = as_map(spec, &ip)?;
            only_keys(spec, &ip, &["publicKey"])?;
            check_base64(required(spec, &ip, "publicKey")?, &join(&ip, "publicKey"))?;
        }
    }
    Ok(())
}

/// `format: uri`: an RFC 3986 URI, which always has a scheme (`https://…`, `urn:…`). Only the
/// URI character set is checked beyond the scheme; `%` must start a hex escape.
fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
            continue;
        }
        let allowed = b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&b);
        if !allowed {
            return false;
        }
        i += 1;
    }
    scheme_ok
}

/// `play.resources` / `play.templates`: each item is a Kubernetes `Pod` or `ConfigMap` (the
/// schema's `oneOf`; an item without `kind` matches both and so neither).
fn check_k8s_items(v: &Value, path: &str) -> Result<(), Reject> {
    for (i, item) in as_seq(v, path)?.iter().enumerate() {
        let ip = format!("{path}[{i}]");
        let kp = join(&ip, "kind");
        match as_map(item, &ip)?.get("kind") {
            Some(Value::String(k)) if k == "Pod" || k == "ConfigMap" => {}
            Some(_) => return Err(schema(kp, "must be Pod or ConfigMap")),
            None => {
                return Err(schema(
                    kp,
                    "required property is missing (must be Pod or ConfigMap)",
                ))
            }
        }
    }
    Ok(())
}

/// Validates the workload section; returns which kind of workload it runs.
fn validate_workload(m: &Mapping) -> Result<&'static str, Reject> {
    let path = "workload";
    only_keys(
        m,
        path,
        &[
            "type",
            "compose",
            "play",
            "confidential-containers",
            "auths",
            "images",
            "volumes",
            "env",
        ],
    )?;
    check_type(m, path, "workload")?;
    let which = exactly_one(m, path, &["compose", "play", "confidential-containers"])?;
    let wp = join(path, which);
    let spec = as_map(required(m, path, which)?, &wp)?;
    match which {
        "compose" => {
            only_keys(spec, &wp, &["archive"])?;
            check_archive(required(spec, &wp, "archive")?, &join(&wp, "archive"))?;
        }
        "play" => {
            // No `required` and no `oneOf` here in the schema: any combination, even none.
            only_keys(spec, &wp, &["resources", "templates", "archive"])?;
            for list in ["resources", "templates"] {
                if let Some(v) = spec.get(list) {
                    check_k8s_items(v, &join(&wp, list))?;
                }
            }
            if let Some(a) = spec.get("archive") {
                check_archive(a, &join(&wp, "archive"))?;
            }
        }
        _ => {}
    }
    if let Some(v) = m.get("auths") {
        check_auths(v, &join(path, "auths"))?;
    }
    if let Some(v) = m.get("images") {
        check_images(v, &join(path, "images"))?;
    }
    if let Some(v) = m.get("env") {
        check_env_vars(v, &join(path, "env"))?;
    }
    if let Some(v) = m.get("volumes") {
        let vp = join(path, "volumes");
        for (name, vol) in entries(as_map(v, &vp)?, &vp)? {
            let np = join(&vp, name);
            check_volume_name(name, &vp)?;
            let vol = as_map(vol, &np)?;
            only_keys(vol, &np, &["seed", "mount", "filesystem", "previousSeed"])?;
            check_seed(required(vol, &np, "seed")?, &join(&np, "seed"))?;
            if let Some(p) = vol.get("previousSeed") {
                check_seed(p, &join(&np, "previousSeed"))?;
            }
            if let Some(mount) = vol.get("mount") {
                let mp = join(&np, "mount");
                let mount = as_str(mount, &mp)?;
                let ok = mount.starts_with('/') && mount[1..].split('/').all(|c| !c.is_empty());
                if !ok {
                    return Err(schema(mp, "must be an absolute path matching ^(/[^/]+)+$"));
                }
            }
            if let Some(fs) = vol.get("filesystem") {
                let fp = join(&np, "filesystem");
                if !matches!(as_str(fs, &fp)?, "xfs" | "ext4" | "btrfs") {
                    return Err(schema(fp, "must be one of xfs, ext4, btrfs"));
                }
            }
        }
    }
    Ok(match which {
        "compose" => "compose",
        "play" => "play",
        _ => "confidential-containers",
    })
}

fn check_volume_name(name: &str, path: &str) -> Result<(), Reject> {
    if VOLUME_NAME.is_match(name)? {
        Ok(())
    } else {
        Err(schema(
            join(path, name),
            "volume names must match ^[a-z_][a-z0-9-_]*$",
        ))
    }
}

/// Validates the env section; returns where logging goes (host and port, no credentials).
fn validate_env(m: &Mapping) -> Result<String, Reject> {
    let path = "env";
    only_keys(
        m,
        path,
        &[
            "type",
            "logging",
            "volumes",
            "signingKey",
            "env",
            "auths",
            "cacerts",
            // Listed (as any map) in schema 1.0.116 for the confidential-containers runtime.
            "confidential-containers",
        ],
    )?;
    check_type(m, path, "env")?;
    if let Some(v) = m.get("confidential-containers") {
        as_map(v, &join(path, "confidential-containers"))?;
    }
    let lp = join(path, "logging");
    let logging = as_map(required(m, path, "logging")?, &lp)?;
    only_keys(logging, &lp, &["logRouter", "syslog"])?;
    let which = exactly_one(logging, &lp, &["logRouter", "syslog"])?;
    let tp = join(&lp, which);
    let target = as_map(required(logging, &lp, which)?, &tp)?;
    if which == "logRouter" {
        only_keys(target, &tp, &["iamApiKey", "hostname", "port"])?;
        let kp = join(&tp, "iamApiKey");
        if as_str(required(target, &tp, "iamApiKey")?, &kp)?.is_empty() {
            return Err(schema(kp, "must not be empty"));
        }
    } else {
        only_keys(target, &tp, &["hostname", "server", "port", "cert", "key"])?;
        let sp = join(&tp, "server");
        let server = required(target, &tp, "server")?;
        if as_str(server, &sp)?.trim().is_empty() {
            return Err(schema(sp, "must hold the server's CA certificate(s)"));
        }
        check_pattern(
            server,
            &sp,
            &[&PEM_CA_CERTS, &BASE64_CERT],
            "must be PEM CA certificate(s) or base64",
        )?;
        if let Some(v) = target.get("cert") {
            check_pattern(
                v,
                &join(&tp, "cert"),
                &[&PEM_CERT, &BASE64_CERT],
                "must be a PEM certificate or base64",
            )?;
        }
        if let Some(v) = target.get("key") {
            check_pattern(
                v,
                &join(&tp, "key"),
                &[&PEM_PRIVATE_KEY, &BASE64_CERT],
                "must be a PEM private key or base64",
            )?;
        }
    }
    let hp = join(&tp, "hostname");
    let hostname = as_str(required(target, &tp, "hostname")?, &hp)?;
    if !is_hostname(hostname) {
        return Err(schema(hp, "must be a hostname"));
    }
    let port = check_port(target, &tp)?;
    let logging_target = if which == "logRouter" {
        format!("https://{hostname}:{}/logs/ingest", port.unwrap_or(443))
    } else {
        format!("syslog://{hostname}:{}", port.unwrap_or(514))
    };

    if let Some(v) = m.get("volumes") {
        let vp = join(path, "volumes");
        for (name, vol) in entries(as_map(v, &vp)?, &vp)? {
            check_volume_name(name, &vp)?;
            check_env_volume(vol, &join(&vp, name))?;
        }
    }
    if let Some(v) = m.get("env") {
        check_env_vars(v, &join(path, "env"))?;
    }
    if let Some(v) = m.get("auths") {
        check_auths(v, &join(path, "auths"))?;
    }
    if let Some(v) = m.get("cacerts") {
        let cp = join(path, "cacerts");
        let items = as_seq(v, &cp)?;
        if items.len() > 1 {
            return Err(schema(cp, "must hold at most 1 entry"));
        }
        for (i, item) in items.iter().enumerate() {
            let ip = format!("{cp}[{i}]");
            // The schema's key pattern `^[a-zA-Z0-9]*` is unanchored at the end, so it
            // matches every name: only the values are checked.
            for (name, cert) in entries(as_map(item, &ip)?, &ip)? {
                check_archive_like(cert, &join(&ip, name), "a CA certificate")?;
            }
        }
    }
    if let Some(v) = m.get("signingKey") {
        as_str(v, &join(path, "signingKey"))?;
    }
    Ok(logging_target)
}

/// `^index-[1-8]$`
fn check_uv_secret_id(v: &Value, path: &str) -> Result<(), Reject> {
    let id = as_str(v, path)?;
    if !matches!(
        id.strip_prefix("index-"),
        Some("1" | "2" | "3" | "4" | "5" | "6" | "7" | "8")
    ) {
        return Err(schema(path, "must match ^index-[1-8]$"));
    }
    Ok(())
}

fn check_min_chars(v: &Value, path: &str, min: usize) -> Result<(), Reject> {
    if as_str(v, path)?.chars().count() < min {
        return Err(schema(path, format!("must be at least {min} characters")));
    }
    Ok(())
}

/// One `env.volumes.<name>` entry (the schema's `envVolume`).
fn check_env_volume(v: &Value, np: &str) -> Result<(), Reject> {
    let vol = as_map(v, np)?;
    only_keys(
        vol,
        np,
        &[
            "seed",
            "uv-secret-id",
            "previousSeed",
            "uv-previous-secret-id",
            "kms",
            "grep11",
            "kmsTimeout",
            "apiKey",
            "volumeName",
            "volumeID",
        ],
    )?;
    match exactly_one(vol, np, &["seed", "uv-secret-id"])? {
        "seed" => check_seed(required(vol, np, "seed")?, &join(np, "seed"))?,
        _ => check_uv_secret_id(
            required(vol, np, "uv-secret-id")?,
            &join(np, "uv-secret-id"),
        )?,
    }
    if let Some(p) = vol.get("previousSeed") {
        check_seed(p, &join(np, "previousSeed"))?;
    }
    if let Some(p) = vol.get("uv-previous-secret-id") {
        let pp = join(np, "uv-previous-secret-id");
        check_uv_secret_id(p, &pp)?;
        // The schema's `if uv-previous-secret-id then uv-secret-id`.
        if !vol.contains_key("uv-secret-id") {
            return Err(schema(pp, "needs uv-secret-id next to it"));
        }
    }
    if let Some(t) = vol.get("kmsTimeout") {
        let tp = join(np, "kmsTimeout");
        let ok = matches!(t, Value::Number(n) if n.as_u64().is_some_and(|n| n <= 20));
        if !ok {
            return Err(schema(tp, "must be an integer from 0 to 20"));
        }
    }
    for (key, min) in [("apiKey", 10), ("volumeName", 1), ("volumeID", 3)] {
        if let Some(x) = vol.get(key) {
            check_min_chars(x, &join(np, key), min)?;
        }
    }
    if let Some(kms) = vol.get("kms") {
        let kp = join(np, "kms");
        let list = as_seq(kms, &kp)?;
        if list.is_empty() || list.len() > 5 {
            return Err(schema(kp, "must hold 1 to 5 entries"));
        }
        for (i, entry) in list.iter().enumerate() {
            let ep = format!("{kp}[{i}]");
            let e = as_map(entry, &ep)?;
            only_keys(e, &ep, &["apiKey", "crn", "type"])?;
            check_min_chars(required(e, &ep, "apiKey")?, &join(&ep, "apiKey"), 10)?;
            check_pattern(
                required(e, &ep, "crn")?,
                &join(&ep, "crn"),
                &[&KEY_CRN],
                "must be a root key CRN crn:v<n>:(bluemix|staging):(public|dedicated|local):<service>:<location>:<scope>:<instance>:key:<id>",
            )?;
            let tp = join(&ep, "type");
            if let Some(t) = e.get("type") {
                if !matches!(as_str(t, &tp)?, "public" | "private") {
                    return Err(schema(tp, "must be public or private"));
                }
            }
        }
    }
    if let Some(g) = vol.get("grep11") {
        check_grep11(g, &join(np, "grep11"))?;
    }
    Ok(())
}

/// `grep11` (the schema's `grep11Endpoint`): an HPCS GREP11 server that unwraps the AES key
/// blob protecting the volume.
fn check_grep11(v: &Value, gp: &str) -> Result<(), Reject> {
    let g = as_map(v, gp)?;
    const FIELDS: [&str; 5] = ["address", "clientCert", "clientKey", "caCert", "metadata"];
    only_keys(g, gp, &FIELDS)?;
    for field in FIELDS {
        required(g, gp, field)?;
    }
    check_pattern(
        required(g, gp, "address")?,
        &join(gp, "address"),
        &[&GREP11_ADDRESS],
        "must be host:port or IPv4:port",
    )?;
    for field in ["clientCert", "clientKey", "caCert"] {
        check_pattern(
            required(g, gp, field)?,
            &join(gp, field),
            &[&BASE64_MATERIAL],
            "must be base64 (A-Z a-z 0-9 + / =)",
        )?;
    }
    let mp = join(gp, "metadata");
    let meta = as_map(required(g, gp, "metadata")?, &mp)?;
    only_keys(meta, &mp, &["aesKeyBlob", "previousaesKeyBlob"])?;
    required(meta, &mp, "aesKeyBlob")?;
    for field in ["aesKeyBlob", "previousaesKeyBlob"] {
        if let Some(blob) = meta.get(field) {
            check_pattern(
                blob,
                &join(&mp, field),
                &[&BASE64_MATERIAL_OR_MASKED],
                "must be base64 (A-Z a-z 0-9 + / =) or a run of *",
            )?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Signature and contract expiry.

/// PEM text from a value that is PEM (possibly with literal `\n` escapes) or base64 of PEM.
fn pem_from_text(s: &str) -> Result<Vec<u8>, String> {
    let unescaped = s.replace("\\n", "\n");
    let t = unescaped.trim();
    if t.starts_with("-----BEGIN") {
        return Ok(t.as_bytes().to_vec());
    }
    let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    let decoded = B64
        .decode(compact)
        .map_err(|_| "is neither PEM nor base64 of PEM".to_string())?;
    let text =
        String::from_utf8(decoded).map_err(|_| "base64 does not decode to PEM text".to_string())?;
    let text = text.replace("\\n", "\n");
    let t = text.trim();
    if t.starts_with("-----BEGIN") {
        Ok(t.as_bytes().to_vec())
    } else {
        Err("base64 does not decode to PEM text".into())
    }
}

struct SigningKey {
    key: PKey<Public>,
    cert: Option<X509>,
}

fn signing_key(s: &str) -> Result<SigningKey, Reject> {
    let pem = pem_from_text(s).map_err(Reject::SigningKey)?;
    let has = |marker: &str| pem.windows(marker.len()).any(|w| w == marker.as_bytes());
    let parsed = if has("-----BEGIN CERTIFICATE-----") {
        let cert = X509::from_pem(&pem)
            .map_err(|_| Reject::SigningKey("the PEM certificate does not parse".into()))?;
        let key = cert.public_key().map_err(|_| {
            Reject::SigningKey("the certificate's public key does not parse".into())
        })?;
        SigningKey {
            key,
            cert: Some(cert),
        }
    } else if has("-----BEGIN PUBLIC KEY-----") {
        let key = PKey::public_key_from_pem(&pem)
            .map_err(|_| Reject::SigningKey("the PEM public key does not parse".into()))?;
        SigningKey { key, cert: None }
    } else {
        return Err(Reject::SigningKey(
            "PEM must be a PUBLIC KEY or a CERTIFICATE".into(),
        ));
    };
    if parsed.key.rsa().is_err() {
        return Err(Reject::SigningKey("must be an RSA key".into()));
    }
    Ok(parsed)
}

fn asn1_to_datetime(t: &Asn1TimeRef) -> Option<time::OffsetDateTime> {
    let epoch = Asn1Time::from_unix(0).ok()?;
    let d = epoch.diff(t).ok()?;
    let secs = i64::from(d.days) * 86_400 + i64::from(d.secs);
    time::OffsetDateTime::from_unix_timestamp(secs).ok()
}

fn show_time(t: &Asn1TimeRef) -> String {
    let fmt =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    asn1_to_datetime(t)
        .and_then(|d| d.format(&fmt).ok())
        .unwrap_or_else(|| t.to_string())
}

fn check_signature(
    workload: &Section,
    env: &Section,
    signature: Option<&str>,
    now: time::OffsetDateTime,
    console: &mut Vec<String>,
) -> Result<(), Reject> {
    let Some(sk) = env.doc.get("signingKey") else {
        if signature.is_some() {
            console.push(
                "# WARNING: envWorkloadSignature present without env.signingKey, not checked"
                    .into(),
            );
        }
        return Ok(());
    };
    let sk = signing_key(as_str(sk, "env.signingKey")?)?;
    if let Some(cert) = &sk.cert {
        let now_asn1 = Asn1Time::from_unix(now.unix_timestamp())
            .map_err(|e| Reject::Internal(format!("clock: {e}")))?;
        if cert.not_after() < now_asn1 {
            return Err(Reject::Expired(show_time(cert.not_after())));
        }
        if cert.not_before() > now_asn1 {
            return Err(Reject::NotYetValid(show_time(cert.not_before())));
        }
    }
    let signature = signature.ok_or_else(|| {
        Reject::Signature(
            "missing, but env.signingKey is set: a signed contract needs envWorkloadSignature"
                .into(),
        )
    })?;
    let compact: String = signature.chars().filter(|c| !c.is_whitespace()).collect();
    let sig = B64
        .decode(compact)
        .map_err(|_| Reject::Signature("is not valid base64".into()))?;
    let (Some(w), Some(e)) = (workload.raw.as_str(), env.raw.as_str()) else {
        return Err(Reject::Signature(
            "workload and env must be strings (encrypted tokens or literal blocks) in a signed \
             contract; a YAML-map section has no value string to sign"
                .into(),
        ));
    };
    let exact = format!("{w}{e}");
    let mut ok = verify_sha256(&sk.key, exact.as_bytes(), &sig);
    if !ok && exact.contains(['\r', '\n']) {
        let stripped: String = exact.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        ok = verify_sha256(&sk.key, stripped.as_bytes(), &sig);
    }
    if !ok {
        return Err(Reject::Signature(
            "does not verify with env.signingKey over the workload value followed by the env \
             value (sections changed after signing, or signed with another key)"
                .into(),
        ));
    }
    console.push("# envWorkloadSignature verified with env.signingKey".into());
    if let Some(cert) = &sk.cert {
        console.push(format!(
            "# contract expires on {}",
            show_time(cert.not_after())
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Attestation.

/// The key the record is encrypted to, and whether it came as an encrypted token.
fn attestation_public_key(
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

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(openssl::sha::sha256(data))
}

/// The plaintext of `se-checksums.txt`.
fn attestation_text(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_password_stops_at_newline_or_nul_and_keeps_cr() {
        assert_eq!(openssl_stdin_password(b"ab\rc\nde"), b"ab\rc");
        assert_eq!(openssl_stdin_password(b"ab\0c\nde"), b"ab");
        assert_eq!(openssl_stdin_password(b"\nabc"), b"");
        assert_eq!(openssl_stdin_password(b"abc"), b"abc");
    }

    #[test]
    fn schema_helpers() {
        assert!(is_seed("abcdefghijklmno"));
        assert!(!is_seed("abcdefghijklmn"));
        assert!(!is_seed("abcdefghijklmno "));
        assert!(is_hostname("logs.eu-gb.logging.cloud.ibm.com"));
        assert!(!is_hostname("-bad.example"));
        assert!(!is_hostname("a..b"));
        assert_eq!(join("env.auths", "us.icr.io"), "env.auths[\"us.icr.io\"]");
        assert_eq!(join("env", "logging"), "env.logging");
    }

    #[test]
    fn every_schema_pattern_compiles() {
        for p in ALL_PATTERNS {
            assert!(p.is_match("").is_ok(), "{}", p.source);
        }
    }

    fn matches(p: &Pattern, s: &str) -> bool {
        p.is_match(s).expect("pattern compiles")
    }

    #[test]
    fn pem_patterns_follow_the_schema() {
        let body = "MIIBszCCAVmgAwIBAgIU\nAbCd+/==";
        let cert = format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n");
        assert!(matches(&PEM_CERT, &cert));
        assert!(matches(&PEM_CA_CERTS, &cert));
        // A bundle is fine for `server`, not for `cert`.
        let bundle = format!("{cert}{cert}");
        assert!(matches(&PEM_CA_CERTS, &bundle));
        assert!(!matches(&PEM_CERT, &bundle));
        // The schema wants whitespace between the armour and the body.
        assert!(!matches(
            &PEM_CERT,
            "-----BEGIN CERTIFICATE-----AAAA\n-----END CERTIFICATE-----"
        ));
        // Leading text, other labels and non-base64 bodies do not match.
        assert!(!matches(&PEM_CA_CERTS, &format!(" {cert}")));
        assert!(!matches(
            &PEM_CERT,
            &cert.replace("CERTIFICATE", "PUBLIC KEY")
        ));
        assert!(!matches(&PEM_CERT, &cert.replace("AbCd", "Ab!d")));
        for label in [
            "PRIVATE KEY",
            "RSA PRIVATE KEY",
            "EC PRIVATE KEY",
            "ENCRYPTED PRIVATE KEY",
        ] {
            let key = format!("-----BEGIN {label}-----\nAAAA\n-----END {label}-----");
            assert!(matches(&PEM_PRIVATE_KEY, &key), "{label}");
        }
        assert!(!matches(
            &PEM_PRIVATE_KEY,
            "-----BEGIN rsa PRIVATE KEY-----\nAAAA\n-----END rsa PRIVATE KEY-----"
        ));
        // Base64 form: groups of four, whitespace only between groups.
        assert!(matches(&BASE64_CERT, "QUJDRA=="));
        assert!(matches(&BASE64_CERT, "QUJD RA=="));
        assert!(!matches(&BASE64_CERT, "QUJ DRA=="));
        assert!(!matches(&BASE64_CERT, "QUJDRA==\n"));
        assert!(!matches(&BASE64_CERT, "not pem!"));
    }

    #[test]
    fn key_patterns_follow_the_schema() {
        for ok in [
            "us.icr.io",
            "localhost:5000",
            "10.0.0.1:443",
            "https://index.docker.io/v1/",
        ] {
            assert!(matches(&REGISTRY_KEY, ok), "{ok}");
        }
        // Host labels start with a letter; octets have no leading zero.
        for bad in [
            "not a host",
            "1abc.io",
            "us.icr.io/",
            "010.0.0.1",
            "https://us.icr.io/v1/",
        ] {
            assert!(!matches(&REGISTRY_KEY, bad), "{bad}");
        }
        assert!(matches(&DCT_IMAGE, "us.icr.io/myns/app"));
        assert!(matches(&DCT_IMAGE, "docker.io/library/busybox"));
        for bad in [
            "app:latest",
            "us.icr.io/ns/app",
            "us.icr.io/myns/app:1",
            "us.icr.io/myns/App",
        ] {
            assert!(!matches(&DCT_IMAGE, bad), "{bad}");
        }
        let digest = "0123456789abcdef".repeat(4);
        assert!(matches(&RHS_IMAGE, "us.icr.io/ns/app"));
        assert!(matches(
            &RHS_IMAGE,
            &format!("us.icr.io/a/b:v1.2@sha256:{digest}")
        ));
        for bad in [
            "localhost/app",
            "us.icr.io",
            "us.icr.io/app:v1:2",
            "us.icr.io/App",
        ] {
            assert!(!matches(&RHS_IMAGE, bad), "{bad}");
        }
        assert!(matches(&VOLUME_NAME, "data_1-x"));
        assert!(matches(&VOLUME_NAME, "_x"));
        assert!(!matches(&VOLUME_NAME, "Data"));
        assert!(!matches(&VOLUME_NAME, "1data"));
    }

    #[test]
    fn value_patterns_follow_the_schema() {
        let crn = "crn:v1:bluemix:public:hs-crypto:us-south:a/0123:inst:key:0123:x";
        assert!(matches(&KEY_CRN, crn));
        assert!(!matches(&KEY_CRN, &crn.replace("bluemix", "nowhere")));
        assert!(!matches(&KEY_CRN, &crn.replace(":key:", ":secret:")));
        assert!(!matches(&KEY_CRN, &crn.replace("v1", "v")));
        assert!(!matches(&KEY_CRN, &format!("{crn}\n")));
        for ok in ["grep11.example.com:9876", "192.168.1.100:9876", "h:1"] {
            assert!(matches(&GREP11_ADDRESS, ok), "{ok}");
        }
        for bad in ["grep11.example.com", "host:123456", "host :1"] {
            assert!(!matches(&GREP11_ADDRESS, bad), "{bad}");
        }
        assert!(matches(&BASE64_MATERIAL, "Q0VSVA=="));
        assert!(!matches(&BASE64_MATERIAL, "Q0VS VA=="));
        assert!(!matches(&BASE64_MATERIAL, "****"));
        assert!(matches(&BASE64_MATERIAL_OR_MASKED, "****"));
        assert!(!matches(&BASE64_MATERIAL_OR_MASKED, "**=="));
    }

    #[test]
    fn uris_need_a_scheme_not_an_authority() {
        for ok in [
            "https://notary.us.icr.io",
            "urn:ietf:rfc:3986",
            "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
            "mailto:a@b.c",
            "https://h/p%20q",
        ] {
            assert!(is_uri(ok), "{ok}");
        }
        for bad in [
            "not a uri",
            "notary.us.icr.io",
            "1https://h",
            "https://h/p q",
            "https://h/%zz",
            ":x",
        ] {
            assert!(!is_uri(bad), "{bad}");
        }
    }

    #[test]
    fn token_roundtrip_with_own_encryption() {
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        let private = PKey::from_rsa(rsa).unwrap();
        let public = PKey::public_key_from_pem(&private.public_key_to_pem().unwrap()).unwrap();
        let token = encrypt_token("hyper-protect-basic", b"type: env\n", &public).unwrap();
        assert!(token.starts_with("hyper-protect-basic."));
        assert_eq!(decrypt_token(&token, &private).unwrap(), b"type: env\n");
        let mut broken = token.clone();
        broken.push_str("AAAA");
        assert!(decrypt_token(&broken, &private).is_err());
    }
}
