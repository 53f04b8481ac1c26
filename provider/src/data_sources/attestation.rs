//! `hyperprotect_attestation` (auditor): decrypts a Hyper Protect attestation record
//! (`se-checksums.txt.enc`) with the auditor's key, verifies `se-signature.bin` with the
//! image's attestation certificate (optionally chained to the platform root), and compares
//! the checksums with the contract that was meant to run.
//!
//! The schema and the whole evaluation ([`block`], [`evaluate`]) take and give plain values,
//! so an ephemeral resource with the same inputs and outputs (which keeps the private key
//! out of state on Terraform ≥ 1.10) can reuse them as they are.

use std::collections::BTreeMap;

use openssl::pkey::{PKey, Private, Public};
use time::OffsetDateTime;

use crate::contract::attestation::{self, AttestationError, Finding};
use crate::contract::certs::{self, Certificate};
use crate::contract::keys::{self, KeyError};
use crate::contract::token::TokenError;
use crate::model;
use crate::runtime::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::runtime::framework::model::{Field, Model};
use crate::runtime::framework::{Ctx, DataSource, Outcome};
use crate::runtime::schema::{Attribute, Block, Schema};
use crate::runtime::value::{Known, ToValue, Type, Value};

/// The `hyperprotect_attestation` data source.
pub struct AttestationDataSource;

model! {
    /// The configuration and result of `hyperprotect_attestation` (data source and ephemeral
    /// resource alike).
    pub struct AttestationModel {
        pub record: Known<String>,
        pub private_key: Known<String> [sensitive],
        pub private_key_passphrase: Known<String> [sensitive],
        pub signature: Known<String>,
        pub attestation_certificate: Known<String>,
        pub ca_certificate: Known<String>,
        pub contract: Known<String>,
        pub fail_on_mismatch: Known<bool>,
        pub checksums: Known<BTreeMap<String, String>>,
        pub findings: Known<Vec<String>>,
        pub verified: Known<bool>,
    }
}

/// The attributes (shared with the ephemeral resource of the same name).
pub fn block() -> Block {
    Block::new(vec![
        Attribute::required("record", Type::String).describe(
            "The attestation record: the content of `se-checksums.txt.enc` (a \
             `hyper-protect-basic.` token, when the contract had an `attestationPublicKey`) or \
             of the plaintext `se-checksums.txt`.",
        ),
        Attribute::optional("private_key", Type::String)
            .sensitive()
            .describe(
                "The auditor's RSA private key (PEM), whose public half was the contract's \
             `attestationPublicKey`. Needed for an encrypted record.",
            ),
        Attribute::optional("private_key_passphrase", Type::String)
            .sensitive()
            .describe("Passphrase of `private_key`, when it is encrypted."),
        Attribute::optional("signature", Type::String).describe(
            "Base64 of `se-signature.bin`, the platform's signature over the decrypted record. \
             Needs `attestation_certificate`.",
        ),
        Attribute::optional("attestation_certificate", Type::String).describe(
            "The image's attestation certificate (PEM, IBM's `…-attestation.crt` of the image \
             version the server booted); its key verifies `signature`.",
        ),
        Attribute::optional("ca_certificate", Type::String).describe(
            "Optional PEM bundle of the CAs that issue the attestation certificate, in any \
             order, up to a self-signed root; when set, the attestation certificate must \
             chain to that root.",
        ),
        Attribute::optional("contract", Type::String).describe(
            "The rendered contract (the server's `user_data`) the record must attest: every \
             `contract:<section>` checksum and `cidata/user-data` must match it.",
        ),
        Attribute::optional("fail_on_mismatch", Type::Bool).describe(
            "Whether a bad signature or a checksum that does not match `contract` is an error \
             (default `true`). With `false` they are reported as warnings, in `findings`, and \
             by `verified = false`.",
        ),
        Attribute::computed("checksums", Type::map(Type::String)).describe(
            "The record's checksums: entry name (e.g. `cidata/user-data`, `contract:workload`) \
             → SHA-256 (lowercase hex).",
        ),
        Attribute::computed("findings", Type::list(Type::String))
            .describe("Every failed check, one line each (empty when `verified`)."),
        Attribute::computed("verified", Type::Bool).describe(
            "True when `signature` verified over the record and, if `contract` is given, every \
             checksum matched it. False without a signature: nothing then proves the record \
             came from the platform.",
        ),
    ])
    .required_with("signature", "attestation_certificate")
    .required_with("ca_certificate", "attestation_certificate")
    .required_with("private_key_passphrase", "private_key")
    .describe(
        "Decrypts and verifies a Hyper Protect attestation record and checks it against the \
         contract that was meant to run.",
    )
}

#[async_trait::async_trait]
impl DataSource for AttestationDataSource {
    fn type_name(&self) -> &'static str {
        "hyperprotect_attestation"
    }

    fn schema(&self) -> Schema {
        Schema::new(0, block())
    }

    fn model(&self) -> Option<Vec<Field>> {
        Some(AttestationModel::fields())
    }

    async fn read(&self, _ctx: &Ctx, config: &Value) -> Outcome {
        match evaluate_now(config).await {
            (Some(state), diags) => Outcome {
                diagnostics: diags,
                ..Outcome::ok(state)
            },
            (None, diags) => Outcome::failed(Value::Null, diags),
        }
    }
}

/// [`evaluate`] at the current time, off the gRPC threads (RSA decryption and PBKDF2 are CPU
/// work). Shared with the ephemeral resource.
pub async fn evaluate_now(config: &Value) -> (Option<Value>, Diagnostics) {
    let config = match AttestationModel::build(config) {
        Ok(c) => c,
        Err(d) => return (None, d),
    };
    match tokio::task::spawn_blocking(move || evaluate(&config, OffsetDateTime::now_utc())).await {
        Ok(result) => result,
        Err(join) => (
            None,
            Diagnostic::error("Attestation check failed", join.to_string()).into(),
        ),
    }
}

fn key_error(e: KeyError) -> Diagnostic {
    let at = match e {
        KeyError::PassphraseRequired | KeyError::WrongPassphrase => "private_key_passphrase",
        _ => "private_key",
    };
    // KeyError messages never contain key bytes or passphrases.
    Diagnostic::error("Invalid auditor private key", e.to_string()).at(AttrPath::attr(at))
}

fn attestation_key(
    config: &AttestationModel,
    now: OffsetDateTime,
) -> Result<Option<PKey<Public>>, Diagnostic> {
    let Known::Value(pem) = &config.attestation_certificate else {
        return Ok(None);
    };
    let at = AttrPath::attr("attestation_certificate");
    let cert = Certificate::parse(pem).map_err(|e| {
        Diagnostic::error("Invalid attestation certificate", e.to_string()).at(at.clone())
    })?;
    if let Known::Value(bundle) = &config.ca_certificate {
        let at_ca = |summary: &str, e: certs::CertError| {
            Diagnostic::error(summary, e.to_string()).at(AttrPath::attr("ca_certificate"))
        };
        let chain = certs::chain_from_bundle(&cert, bundle)
            .map_err(|e| at_ca("Invalid CA certificate bundle", e))?;
        let intermediates: Vec<&Certificate> = chain.intermediates.iter().collect();
        certs::verify_chain_at(&cert, &intermediates, &chain.root, now)
            .map_err(|e| at_ca("Attestation certificate does not chain to the CA", e))?;
    }
    let key = cert
        .x509()
        .public_key()
        .map_err(|e| Diagnostic::error("Invalid attestation certificate", e.to_string()).at(at))?;
    Ok(Some(key))
}

/// The whole audit of `config` at time `now` (for the chain check): the full state, or
/// `None` with the errors. Shared by the data source and the ephemeral resource; the
/// framework checked the declared rules first.
pub fn evaluate(config: &AttestationModel, now: OffsetDateTime) -> (Option<Value>, Diagnostics) {
    let mut diags = Diagnostics::new();
    match audit(config, now, &mut diags) {
        Ok(state) => (Some(state.to_value()), diags),
        Err(d) => {
            diags.push(d);
            (None, diags)
        }
    }
}

fn audit(
    config: &AttestationModel,
    now: OffsetDateTime,
    diags: &mut Diagnostics,
) -> Result<AttestationModel, Diagnostic> {
    let fail_on_mismatch = config.fail_on_mismatch.value().unwrap_or(true);
    let record = config.record.as_deref().value().unwrap_or_default();
    let private: Option<PKey<Private>> = config
        .private_key
        .as_deref()
        .value()
        .map(|pem| {
            let pass = config
                .private_key_passphrase
                .as_deref()
                .value()
                .map(str::as_bytes);
            keys::load_rsa_private_key(pem, pass)
        })
        .transpose()
        .map_err(key_error)?;
    let verifier = attestation_key(config, now)?;

    let plain =
        attestation::decrypt_record(record.as_bytes(), private.as_deref()).map_err(|e| {
            // A password that does not decrypt means the wrong key; anything else is the
            // record's own fault.
            let at = match e {
                // `private_key` is unset, so Terraform could not show it: point at the record.
                AttestationError::KeyRequired => "record",
                AttestationError::Token(
                    TokenError::RsaDecrypt(_)
                    | TokenError::ImplausiblePassword { .. }
                    | TokenError::NotRsa { .. },
                ) => "private_key",
                _ => "record",
            };
            Diagnostic::error("Cannot read the attestation record", e.to_string())
                .at(AttrPath::attr(at))
        })?;

    let mut findings: Vec<String> = Vec::new();
    let mut signature_ok = false;
    if let (Known::Value(sig), Some(key)) = (&config.signature, verifier.as_ref()) {
        match attestation::verify_record_signature(&plain, sig.trim().as_bytes(), key) {
            Ok(()) => signature_ok = true,
            Err(e) => {
                let d = Diagnostic::error("Attestation signature does not verify", e.to_string())
                    .at(AttrPath::attr("signature"));
                if fail_on_mismatch {
                    return Err(d);
                }
                findings.push(format!("signature: {e}"));
                diags
                    .push(Diagnostic::warning(d.summary, d.detail).at(AttrPath::attr("signature")));
            }
        }
    }

    let text_record = String::from_utf8(plain).map_err(|_| {
        Diagnostic::error(
            "Cannot read the attestation record",
            AttestationError::NotText.to_string(),
        )
        .at(AttrPath::attr("record"))
    })?;
    let parsed = attestation::parse_checksums(&text_record);
    if parsed.entries.is_empty() {
        // Every record the platform writes has checksum lines; without one, this is not a
        // record (a truncated token, a wrong file) and nothing could be attested.
        return Err(Diagnostic::error(
            "Cannot read the attestation record",
            "The record holds no checksum line (`<sha256 hex>  <name>`): it is not an \
             attestation record, or it is a truncated or damaged one.",
        )
        .at(AttrPath::attr("record")));
    }
    if let Known::Value(contract) = &config.contract {
        let found: Vec<Finding> =
            attestation::compare_with_contract(&parsed, contract).map_err(|e| {
                Diagnostic::error("Invalid contract", e.to_string()).at(AttrPath::attr("contract"))
            })?;
        if !found.is_empty() {
            let lines: Vec<String> = found.iter().map(|f| f.to_string()).collect();
            let detail = format!(
                "The attestation record does not attest this contract:\n  - {}",
                lines.join("\n  - ")
            );
            if fail_on_mismatch {
                return Err(Diagnostic::error(
                    "Attestation record does not match the contract",
                    detail,
                )
                .at(AttrPath::attr("contract")));
            }
            diags.push(
                Diagnostic::warning("Attestation record does not match the contract", detail)
                    .at(AttrPath::attr("contract")),
            );
            findings.extend(lines);
        }
    }

    let mut checksums: BTreeMap<String, String> = BTreeMap::new();
    for entry in &parsed.entries {
        checksums
            .entry(entry.name.clone())
            .or_insert_with(|| entry.sha256.clone());
    }
    let verified = signature_ok && findings.is_empty();
    Ok(AttestationModel {
        checksums: Known::Value(checksums),
        findings: Known::Value(findings),
        verified: Known::Value(verified),
        ..config.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::token::{self, Platform};
    use crate::runtime::framework::plan::get;
    use crate::runtime::schema::rules;
    use openssl::hash::MessageDigest;
    use openssl::rsa::Rsa;
    use openssl::sign::Signer;
    use openssl::symm::Cipher;

    const PASSPHRASE: &str = "s3cret-passphrase";

    fn rsa() -> PKey<Private> {
        PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
    }

    /// A self-signed attestation certificate for `key`.
    fn cert_for(key: &PKey<Private>) -> String {
        let mut b = openssl::x509::X509::builder().unwrap();
        let mut n = openssl::x509::X509Name::builder().unwrap();
        n.append_entry_by_text("CN", "attestation").unwrap();
        let n = n.build();
        b.set_subject_name(&n).unwrap();
        b.set_issuer_name(&n).unwrap();
        b.set_pubkey(key).unwrap();
        b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(9).unwrap())
            .unwrap();
        b.sign(key, MessageDigest::sha256()).unwrap();
        String::from_utf8(b.build().to_pem().unwrap()).unwrap()
    }

    struct Fixture {
        config: BTreeMap<String, Value>,
        key_pem: String,
    }

    fn fixture() -> Fixture {
        let auditor = rsa();
        let platform = rsa();
        let contract = "env: hyper-protect-basic.AA.BB\nworkload: hyper-protect-basic.CC.DD\n";
        let parsed = crate::contract::document::Contract::parse(contract).unwrap();
        let record = format!(
            "1.0.0\n{} cidata/user-data\n{} contract:workload\n{} contract:env\n",
            crate::contract::document::document_sha256(contract),
            parsed
                .section_sha256(crate::contract::document::Section::Workload)
                .unwrap(),
            parsed
                .section_sha256(crate::contract::document::Section::Env)
                .unwrap(),
        );
        let public = keys::to_public(&auditor).unwrap();
        let encrypted = token::encrypt(record.as_bytes(), &public, Platform::Hpvs).unwrap();
        let mut signer = Signer::new(MessageDigest::sha256(), &platform).unwrap();
        signer.update(record.as_bytes()).unwrap();
        let signature = openssl::base64::encode_block(&signer.sign_to_vec().unwrap());
        let key_pem = String::from_utf8(
            auditor
                .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), PASSPHRASE.as_bytes())
                .unwrap(),
        )
        .unwrap();
        let mut config: BTreeMap<String, Value> = block()
            .attributes
            .iter()
            .map(|a| (a.name.clone(), Value::Null))
            .collect();
        for (k, v) in [
            ("record", encrypted),
            ("private_key", key_pem.clone()),
            ("private_key_passphrase", PASSPHRASE.to_string()),
            ("signature", signature),
            ("attestation_certificate", cert_for(&platform)),
            ("contract", contract.to_string()),
        ] {
            config.insert(k.into(), Value::string(v));
        }
        Fixture { config, key_pem }
    }

    fn run(config: &BTreeMap<String, Value>) -> (Option<Value>, Diagnostics) {
        let config = Value::Object(config.clone());
        let broken = rules::check(&block(), &config, &AttrPath::root());
        if broken.has_errors() {
            return (None, broken);
        }
        evaluate(
            &AttestationModel::build(&config).unwrap(),
            OffsetDateTime::now_utc(),
        )
    }

    #[test]
    fn secrets_are_sensitive_and_never_in_diagnostics() {
        let b = block();
        for name in ["private_key", "private_key_passphrase"] {
            assert!(b.attribute(name).unwrap().sensitive, "{name}");
        }
        assert!(b.attributes.iter().all(|a| !a.description.is_empty()));

        let f = fixture();
        let (state, diags) = run(&f.config);
        assert!(diags.is_empty(), "{diags:?}");
        let state = state.unwrap();
        assert_eq!(get(&state, "verified").as_bool(), Some(true));
        assert_eq!(get(&state, "checksums").as_entries().unwrap().len(), 3);

        let mut wrong = f.config.clone();
        wrong.insert("private_key_passphrase".into(), Value::string("not-it"));
        let mut corrupt = f.config.clone();
        let broken = f.key_pem.replace("MII", "MIJ");
        corrupt.insert("private_key".into(), Value::string(broken));
        for (config, at) in [
            (wrong, "private_key_passphrase"),
            (corrupt, "private_key_passphrase"),
        ] {
            let (state, diags) = run(&config);
            assert!(state.is_none());
            let d = &diags.0[0];
            assert_eq!(d.path, Some(AttrPath::attr(at)));
            let shown = format!("{} {}", d.summary, d.detail);
            assert!(
                !shown.contains(PASSPHRASE) && !shown.contains("not-it"),
                "{shown}"
            );
            assert!(
                !shown.contains("BEGIN") && !shown.contains("MII"),
                "{shown}"
            );
        }
    }

    #[test]
    fn mismatches_are_errors_or_reported_when_lenient() {
        let f = fixture();
        let mut other = f.config.clone();
        other.insert(
            "contract".into(),
            Value::string("env: hyper-protect-basic.XX.YY\nworkload: hyper-protect-basic.CC.DD\n"),
        );
        let (state, diags) = run(&other);
        assert!(state.is_none());
        assert_eq!(diags.0[0].path, Some(AttrPath::attr("contract")));
        assert!(
            diags.0[0].detail.contains("contract:env"),
            "{}",
            diags.0[0].detail
        );
        assert!(!diags.0[0].detail.contains("contract:workload"));

        other.insert("fail_on_mismatch".into(), Value::bool(false));
        let (state, diags) = run(&other);
        let state = state.unwrap();
        assert_eq!(get(&state, "verified").as_bool(), Some(false));
        assert_eq!(get(&state, "findings").as_elements().unwrap().len(), 2);
        assert!(!diags.has_errors() && !diags.is_empty());

        // Without a signature nothing proves the record's origin: not verified, no error.
        let mut unsigned = f.config.clone();
        unsigned.insert("signature".into(), Value::Null);
        let (state, diags) = run(&unsigned);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(get(&state.unwrap(), "verified").as_bool(), Some(false));

        // A signature needs the certificate (checked at validate too).
        let mut no_cert = f.config.clone();
        no_cert.insert("attestation_certificate".into(), Value::Null);
        let (state, diags) = run(&no_cert);
        assert!(state.is_none());
        assert_eq!(diags.0[0].path, Some(AttrPath::attr("signature")));

        // An encrypted record without the auditor's key.
        let mut keyless = f.config.clone();
        keyless.insert("private_key".into(), Value::Null);
        keyless.insert("private_key_passphrase".into(), Value::Null);
        let (state, diags) = run(&keyless);
        assert!(state.is_none());
        assert_eq!(diags.0[0].path, Some(AttrPath::attr("record")));
        assert!(diags.0[0].detail.contains("private key is needed"));
    }
}
