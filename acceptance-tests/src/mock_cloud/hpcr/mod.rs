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

mod attestation;
mod env;
mod patterns;
mod schema;
mod section;
mod signature;
mod token;
mod workload;

#[cfg(test)]
mod tests;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_yaml_ng::Value;

use super::pki::Pki;

use attestation::{attestation_public_key, attestation_text};
use env::validate_env;
use section::load_section;
use signature::check_signature;
use token::{encrypt_token, sign_sha256, RECORD_PREFIX};
use workload::validate_workload;

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
