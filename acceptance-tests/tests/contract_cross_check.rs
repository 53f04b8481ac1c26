//! Cross-implementation tests: contracts written by the provider's contract engine
//! (`hyperprotect::contract`) are booted by mock-cloud's Hyper Protect emulator
//! (`mock_cloud::hpcr::boot`), and the attestation records the emulator writes are audited by
//! the provider's `attestation` module.
//!
//! The two sides share no code, so each assertion here fails if either one gets the token
//! format, the signature input, the expiry dates, the record format or a schema rule wrong.
//! Where they disagree, the contract-format fact sheet decides which side is at fault.

use std::sync::OnceLock;

use acceptance_tests::mock_cloud::hpcr::{boot, AttestationRecord, BootOutcome, BootReport};
use acceptance_tests::mock_cloud::pki::{Pki, PkiOptions, RsaBits};
use hyperprotect::contract::attestation::{self, Finding};
use hyperprotect::contract::document::{
    self, BuiltContract, ContractInput, DocumentError, Encryption, SigningInput, WorkloadInput,
};
use hyperprotect::contract::expiry::{
    issue_signing_certificate, CertificateAuthority, CsrSource, SubjectFields, ValidityDays,
};
use hyperprotect::contract::keys;
use hyperprotect::contract::token::{self, Platform};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Rsa;
use openssl::x509::extension::{BasicConstraints, KeyUsage};
use openssl::x509::{X509NameBuilder, X509};
use time::{Duration, OffsetDateTime};

// ---------------------------------------------------------------------------------------
// Fixtures

const WORKLOAD: &str = "type: workload\ncompose:\n  archive: H4sIAAAAAAAAA+3OMQ6CQBCF4T3KnkBmYWfX81gQG0MIgfvL2liZWEAs/L/mFfNeMuu8jEt/b+dxexqnvrMvmpltWXK2V74lt5IsVLXal1xMzaUk0RCP+OXTMs7t4X3Yr/Lq5fwfp/x1+xH7trzDfmvO87Lrzt/78TR3tgEAAAAAAAAAAADgvAfHYa7bACgAAA==\nvolumes:\n  data:\n    seed: workload-seed-0123456789\n    mount: /mnt/data\n    filesystem: ext4\n";
const PLAY_WORKLOAD: &str = "type: workload\nplay:\n  resources:\n    - apiVersion: v1\n      kind: Pod\n      metadata:\n        name: app\n      spec:\n        containers:\n          - name: app\n            image: us.icr.io/ns/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
const ENV: &str = "type: env\nlogging:\n  logRouter:\n    hostname: logs.example.com\n    iamApiKey: not-a-real-iam-api-key\nvolumes:\n  data:\n    seed: env-seed-0123456789\nenv:\n  REGISTRY: us.icr.io\n";
const LOG_TARGET: &str = "https://logs.example.com:443/logs/ingest";
/// An env with logging only, for appending one more (broken) setting.
const MIN_ENV: &str = "type: env\nlogging:\n  logRouter:\n    hostname: logs.example.com\n    iamApiKey: not-a-real-iam-api-key\n";
const KEY_CRN: &str = "crn:v1:bluemix:public:hs-crypto:us-south:a/0123abcd:0123-abcd:key:0123-4567";

fn rsa(bits: u32) -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(bits).expect("RSA key generation")).expect("PKey from RSA")
}

fn pki_with(bits: RsaBits) -> Pki {
    Pki::generate_in_memory(&PkiOptions {
        ca_bits: RsaBits::Rsa2048,
        encryption_bits: bits,
        attestation_bits: bits,
    })
    .expect("in-memory PKI")
}

/// The platform under test (RSA-2048 for speed).
fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| pki_with(RsaBits::Rsa2048))
}

/// Another platform: a contract encrypted to it is encrypted to the wrong certificate.
fn other_pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| pki_with(RsaBits::Rsa2048))
}

/// The deployer's contract-signing key.
fn signing_key() -> &'static PKey<Private> {
    static KEY: OnceLock<PKey<Private>> = OnceLock::new();
    KEY.get_or_init(|| rsa(2048))
}

/// The auditor's key pair; its public half is the contract's `attestationPublicKey`.
fn auditor_key() -> &'static PKey<Private> {
    static KEY: OnceLock<PKey<Private>> = OnceLock::new();
    KEY.get_or_init(|| rsa(2048))
}

fn auditor_public_pem() -> String {
    keys::public_key_pem(auditor_key()).expect("auditor public key PEM")
}

/// The platform's encryption key, as a deployer gets it: from the certificate's PEM.
fn recipient(pki: &Pki) -> PKey<Public> {
    let pem = pki.encryption_cert.to_pem().expect("encryption cert PEM");
    keys::load_public_key(std::str::from_utf8(&pem).expect("PEM is ASCII"))
        .expect("encryption certificate public key")
}

/// The attestation certificate's public key, loaded from its PEM as an auditor would.
fn attestation_cert_key(pki: &Pki) -> PKey<Public> {
    let pem = pki.attestation_cert.to_pem().expect("attestation cert PEM");
    keys::load_public_key(std::str::from_utf8(&pem).expect("PEM is ASCII"))
        .expect("attestation certificate public key")
}

/// The usual deployment: plaintext workload and env, signed, with an attestation key,
/// every section encrypted to `to`.
fn build_encrypted(
    workload: &str,
    to: &PKey<Public>,
    platform: Platform,
) -> Result<BuiltContract, DocumentError> {
    let attestation_pem = auditor_public_pem();
    document::build(&ContractInput {
        workload: WorkloadInput::Plaintext(workload.into()),
        env: ENV,
        signing: Some(SigningInput {
            key: signing_key(),
            certificate: None,
        }),
        attestation_public_key: Some(&attestation_pem),
        encryption: Encryption::to(to, platform),
    })
}

fn boot_now(user_data: &str, pki: &Pki) -> BootReport {
    boot(user_data, pki, OffsetDateTime::now_utc())
}

/// The attestation record of an accepted boot; panics with the console otherwise.
fn accepted(report: &BootReport) -> Option<&AttestationRecord> {
    match &report.outcome {
        BootOutcome::Accepted { attestation } => attestation.as_ref(),
        BootOutcome::Rejected { reason } => panic!(
            "rejected: {reason}\nconsole:\n{}",
            report.console.join("\n")
        ),
    }
}

/// The reason of a rejected boot, checked against the console's last line.
fn rejected(report: &BootReport) -> &str {
    match &report.outcome {
        BootOutcome::Rejected { reason } => {
            let last = report.console.last().expect("console has lines");
            assert_eq!(
                last,
                &format!(
                    "HPL11001E INVALID_CONTRACT Unable to parse/decrypt contract: {reason} Boot aborted"
                )
            );
            reason
        }
        BootOutcome::Accepted { .. } => panic!(
            "accepted, expected a rejection\nconsole:\n{}",
            report.console.join("\n")
        ),
    }
}

fn has_line(report: &BootReport, line: &str) -> bool {
    report.console.iter().any(|l| l == line)
}

fn assert_lines(report: &BootReport, lines: &[&str]) {
    for line in lines {
        assert!(
            has_line(report, line),
            "console lacks {line:?}:\n{}",
            report.console.join("\n")
        );
    }
}

/// A contract document written by hand, the way IBM shows it: literal (`|`) plaintext
/// sections, no signature.
fn literal_contract(workload: &str, env: &str) -> String {
    let block =
        |text: &str| -> String { text.lines().map(|l| format!("  {l}\n")).collect::<String>() };
    format!("workload: |\n{}env: |\n{}", block(workload), block(env))
}

/// Replaces the character at `at` of `s` by another character of the base64 alphabet.
fn change_char(s: &str, at: usize) -> String {
    let mut bytes = s.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("ASCII token")
}

/// Replaces the value of `key: <one-line value>` in a rendered contract.
fn replace_value(yaml: &str, key: &str, value: &str) -> String {
    let prefix = format!("{key}: ");
    let out: Vec<String> = yaml
        .lines()
        .map(|l| {
            if l.starts_with(&prefix) {
                format!("{prefix}{value}")
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert_ne!(out.join("\n") + "\n", yaml, "{key} not found");
    out.join("\n") + "\n"
}

/// The deployer's own CA for contract expiry (IBM: `openssl req -new -x509`).
fn deployer_ca() -> CertificateAuthority {
    let key = rsa(2048);
    let mut name = X509NameBuilder::new().expect("name builder");
    name.append_entry_by_text("CN", "deployer CA").expect("CN");
    let name = name.build();
    let mut b = X509::builder().expect("X509 builder");
    b.set_version(2).expect("version");
    let mut serial = BigNum::new().expect("bignum");
    serial
        .rand(64, MsbOption::MAYBE_ZERO, false)
        .expect("serial");
    b.set_serial_number(&serial.to_asn1_integer().expect("serial"))
        .expect("serial");
    b.set_subject_name(&name).expect("subject");
    b.set_issuer_name(&name).expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    b.set_not_before(&Asn1Time::days_from_now(0).expect("time"))
        .expect("notBefore");
    b.set_not_after(&Asn1Time::days_from_now(3650).expect("time"))
        .expect("notAfter");
    b.append_extension(BasicConstraints::new().critical().ca().build().expect("bc"))
        .expect("bc");
    b.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()
            .expect("ku"),
    )
    .expect("ku");
    b.sign(&key, MessageDigest::sha256()).expect("self-sign");
    CertificateAuthority::new(b.build(), key).expect("deployer CA")
}

// ---------------------------------------------------------------------------------------
// 1. Built contracts boot, on both token prefixes.

#[test]
fn built_contract_boots_on_hpvs_and_ccrt() {
    let pki = pki();
    for (platform, prefix) in [
        (Platform::Hpvs, "hyper-protect-basic."),
        (Platform::Ccrt, "contract-basic."),
    ] {
        let built = build_encrypted(WORKLOAD, &recipient(pki), platform).expect("build");
        let c = &built.contract;
        for value in [
            &c.workload,
            &c.env,
            c.attestation_public_key.as_ref().unwrap(),
        ] {
            assert!(value.starts_with(prefix), "{platform}: {value:.40}");
        }
        let report = boot_now(&built.yaml, pki);
        let record = accepted(&report);
        assert!(record.is_some(), "{platform}: no attestation record");
        assert_lines(
            &report,
            &[
                "# section workload: decrypted",
                "# section env: decrypted",
                "# section attestationPublicKey: decrypted",
                "3 token decrypted, 0 encrypted token ignored",
                "# contract validated (workload: compose)",
                "# envWorkloadSignature verified with env.signingKey",
                "# attestation record written to /var/hyperprotect/se-checksums.txt.enc",
                &format!("hpcr-logging[1124]: Sending logging probe to [{LOG_TARGET}] ..."),
                "hpcr-catch-success[1421]: VSI has started successfully.",
            ],
        );
        assert!(
            !report.console.iter().any(|l| l.contains("WARNING")),
            "{platform}: {:?}",
            report.console
        );

        // attestationPublicKey left as PEM (encrypt_attestation_key: false).
        let attestation_pem = auditor_public_pem();
        let to = recipient(pki);
        let built = document::build(&ContractInput {
            workload: WorkloadInput::Plaintext(WORKLOAD.into()),
            env: ENV,
            signing: Some(SigningInput {
                key: signing_key(),
                certificate: None,
            }),
            attestation_public_key: Some(&attestation_pem),
            encryption: Encryption::Encrypt {
                recipient: &to,
                platform,
                encrypt_attestation_key: false,
            },
        })
        .expect("build");
        let report = boot_now(&built.yaml, pki);
        let record = accepted(&report).expect("attestation record");
        assert_lines(&report, &["2 token decrypted, 0 encrypted token ignored"]);
        assert!(!has_line(
            &report,
            "# section attestationPublicKey: decrypted"
        ));
        let audit = attestation::audit(
            record.record.as_bytes(),
            Some(auditor_key()),
            Some((record.signature.as_bytes(), &attestation_cert_key(pki))),
            Some(&built.yaml),
        )
        .expect("audit");
        assert_eq!(audit.findings, [], "{platform}: {}", audit.text);
    }
}

// ---------------------------------------------------------------------------------------
// 2. Sign-only flow: the workload provider encrypts, the deployer signs.

#[test]
fn sign_only_flow_with_a_separately_encrypted_workload_boots() {
    let pki = pki();
    let to = recipient(pki);
    let sealed = token::encrypt(PLAY_WORKLOAD.as_bytes(), &to, Platform::Hpvs).expect("encrypt");
    let attestation_pem = auditor_public_pem();
    let built = document::build(&ContractInput {
        workload: WorkloadInput::Encrypted(sealed.clone()),
        env: ENV,
        signing: Some(SigningInput {
            key: signing_key(),
            certificate: None,
        }),
        attestation_public_key: Some(&attestation_pem),
        encryption: Encryption::to(&to, Platform::Hpvs),
    })
    .expect("build");
    assert_eq!(built.contract.workload, sealed, "workload passed through");
    let report = boot_now(&built.yaml, pki);
    let record = accepted(&report).expect("attestation record");
    assert_lines(
        &report,
        &[
            "# section workload: decrypted",
            "# contract validated (workload: play)",
            "# envWorkloadSignature verified with env.signingKey",
        ],
    );
    // The platform measured exactly the token the workload provider produced.
    let audit = attestation::audit(
        record.record.as_bytes(),
        Some(auditor_key()),
        Some((record.signature.as_bytes(), &attestation_cert_key(pki))),
        Some(&built.yaml),
    )
    .expect("audit");
    let workload_hash = audit
        .record
        .entries
        .iter()
        .find(|e| e.name == "contract:workload")
        .expect("contract:workload entry");
    assert_eq!(
        workload_hash.sha256,
        document::sha256_hex(sealed.as_bytes())
    );
    assert_eq!(audit.findings, []);
}

// ---------------------------------------------------------------------------------------
// 3. Contract expiry.

#[test]
fn expiring_contract_boots_until_not_after_and_is_rejected_after() {
    let pki = pki();
    let ca = deployer_ca();
    let days = 30;
    let issued = issue_signing_certificate(
        signing_key(),
        CsrSource::Subject(&SubjectFields::new("deployer")),
        &ca,
        ValidityDays::new(days).expect("days"),
    )
    .expect("signing certificate");
    let to = recipient(pki);
    let built = document::build(&ContractInput {
        workload: WorkloadInput::Plaintext(WORKLOAD.into()),
        env: ENV,
        signing: Some(SigningInput {
            key: signing_key(),
            certificate: Some(&issued.certificate),
        }),
        attestation_public_key: None,
        encryption: Encryption::to(&to, Platform::Hpvs),
    })
    .expect("build");
    let expires = built.expires.expect("expiry date");
    assert_eq!(expires, issued.not_after);
    let lifetime = expires - OffsetDateTime::now_utc();
    assert!(
        (lifetime - Duration::days(days)).abs() < Duration::minutes(5),
        "{lifetime}"
    );

    // Both sides read the same notAfter: the emulator prints it, the provider returned it.
    let shown = expires
        .format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
        ))
        .expect("date format");
    let now = OffsetDateTime::now_utc();
    for at in [now, expires] {
        let report = boot(&built.yaml, pki, at);
        assert!(accepted(&report).is_none(), "no attestation key given");
        assert_lines(
            &report,
            &[
                "# envWorkloadSignature verified with env.signingKey",
                &format!("# contract expires on {shown}"),
            ],
        );
    }
    for at in [
        expires + Duration::seconds(1),
        now + Duration::days(days + 1),
    ] {
        let report = boot(&built.yaml, pki, at);
        assert_eq!(
            rejected(&report),
            format!(
                "env.signingKey: the contract expired on {shown} (signing certificate notAfter)"
            )
        );
    }
    // Before the certificate's notBefore the contract is not valid either.
    let report = boot(&built.yaml, pki, now - Duration::days(1));
    assert!(
        rejected(&report)
            .starts_with("env.signingKey: the signing certificate is not valid before "),
        "{:?}",
        report.outcome
    );
}

// ---------------------------------------------------------------------------------------
// 4. Tampering.

#[test]
fn changed_signature_is_rejected() {
    let pki = pki();
    let built = build_encrypted(WORKLOAD, &recipient(pki), Platform::Hpvs).expect("build");
    let sig = built.contract.env_workload_signature.as_ref().unwrap();
    // A character in the middle: still valid base64, a different signature.
    let forged = change_char(sig, sig.len() / 2);
    let report = boot_now(
        &replace_value(&built.yaml, "envWorkloadSignature", &forged),
        pki,
    );
    assert!(
        rejected(&report).starts_with("envWorkloadSignature: does not verify with env.signingKey"),
        "{:?}",
        report.outcome
    );
}

#[test]
fn workload_from_another_contract_is_rejected() {
    let pki = pki();
    let to = recipient(pki);
    let a = build_encrypted(WORKLOAD, &to, Platform::Hpvs).expect("build a");
    let b = build_encrypted(PLAY_WORKLOAD, &to, Platform::Hpvs).expect("build b");
    // Contract b boots on its own: only the swap is wrong.
    accepted(&boot_now(&b.yaml, pki));
    let swapped = replace_value(&a.yaml, "workload", &b.contract.workload);
    let report = boot_now(&swapped, pki);
    // Every section decrypts and validates; the signature is what catches the swap.
    assert_lines(&report, &["# contract validated (workload: play)"]);
    assert!(
        rejected(&report).starts_with("envWorkloadSignature: does not verify with env.signingKey"),
        "{:?}",
        report.outcome
    );
}

#[test]
fn changed_env_token_is_rejected() {
    let pki = pki();
    let built = build_encrypted(WORKLOAD, &recipient(pki), Platform::Hpvs).expect("build");
    let env = &built.contract.env;
    let parts: Vec<&str> = env.split('.').collect();
    let [prefix, rsa_part, _aes_part] = parts.as_slice() else {
        panic!("env token has {} parts", parts.len());
    };

    // One character of the RSA part: the password no longer unwraps.
    let at = prefix.len() + 1 + rsa_part.len() / 2;
    let report = boot_now(
        &replace_value(&built.yaml, "env", &change_char(env, at)),
        pki,
    );
    assert!(
        rejected(&report).starts_with("section env: cannot decrypt: "),
        "{:?}",
        report.outcome
    );

    // One character of the first AES ciphertext block (after `Salted__` and the salt): the
    // last block and its padding are intact, so it decrypts, but its first 16 bytes (which
    // hold `type: env`) become random. Depending on those bytes the text is not UTF-8, not
    // YAML, not a map, or a map without a valid `type`: always a rejection naming env, before
    // the signature is even looked at.
    let aes_start = prefix.len() + 1 + rsa_part.len() + 1;
    let at = aes_start + 28;
    let report = boot_now(
        &replace_value(&built.yaml, "env", &change_char(env, at)),
        pki,
    );
    let reason = rejected(&report);
    assert!(
        reason.starts_with("section env: ") || reason.starts_with("schema: env"),
        "{reason}"
    );
}

#[test]
fn contract_encrypted_to_another_certificate_is_rejected() {
    let pki = pki();
    let built = build_encrypted(WORKLOAD, &recipient(other_pki()), Platform::Hpvs).expect("build");
    accepted(&boot_now(&built.yaml, other_pki()));
    let report = boot_now(&built.yaml, pki);
    // Same key size, so the RSA part has the right length but does not unwrap.
    assert_eq!(
        rejected(&report),
        "section workload: cannot decrypt: RSA part does not decrypt with the platform's \
         encryption key (encrypted to a different certificate, or not PKCS#1 v1.5)"
    );
}

// ---------------------------------------------------------------------------------------
// 5. Attestation round trip.

#[test]
fn attestation_record_is_audited_by_the_provider() {
    let pki = pki();
    let to = recipient(pki);
    let built = build_encrypted(WORKLOAD, &to, Platform::Hpvs).expect("build");
    let report = boot_now(&built.yaml, pki);
    let record = accepted(&report).expect("attestation record");
    let attestation_key = attestation_cert_key(pki);

    let audit = attestation::audit(
        record.record.as_bytes(),
        Some(auditor_key()),
        Some((record.signature.as_bytes(), &attestation_key)),
        Some(&built.yaml),
    )
    .expect("audit");
    assert!(audit.signature_verified);
    assert_eq!(audit.findings, [], "{}", audit.text);
    assert_eq!(audit.record.version.as_deref(), Some("25.11.0"));
    let mut names: Vec<&str> = audit
        .record
        .entries
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "baseimage",
            "cidata/user-data",
            "contract:attestationPublicKey",
            "contract:env",
            "contract:envWorkloadSignature",
            "contract:workload",
            "root.tar.gz",
        ]
    );

    // The same record against another deployment: every contract part differs, and the
    // attestation key that contract does not have is reported as unexpected.
    let other = document::build(&ContractInput {
        workload: WorkloadInput::Plaintext(WORKLOAD.into()),
        env: ENV,
        signing: Some(SigningInput {
            key: signing_key(),
            certificate: None,
        }),
        attestation_public_key: None,
        encryption: Encryption::to(&to, Platform::Hpvs),
    })
    .expect("build other");
    let findings = attestation::compare_with_contract(&audit.record, &other.yaml).expect("compare");
    let mut mismatched: Vec<&str> = findings
        .iter()
        .filter_map(|f| match f {
            Finding::Mismatch { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    mismatched.sort_unstable();
    assert_eq!(
        mismatched,
        [
            "cidata/user-data",
            "contract:env",
            "contract:envWorkloadSignature",
            "contract:workload",
        ]
    );
    assert!(findings.contains(&Finding::Unexpected {
        name: "contract:attestationPublicKey".into()
    }));
    assert_eq!(findings.len(), 5, "{findings:?}");

    // The wrong image's attestation certificate does not verify the record.
    let err = attestation::verify_record_signature(
        &attestation::decrypt_record(record.record.as_bytes(), Some(auditor_key()))
            .expect("decrypt"),
        record.signature.as_bytes(),
        &attestation_cert_key(other_pki()),
    )
    .unwrap_err();
    assert!(
        matches!(err, attestation::AttestationError::SignatureMismatch),
        "{err}"
    );
    // Nor does another auditor's key decrypt it.
    assert!(attestation::decrypt_record(record.record.as_bytes(), Some(signing_key())).is_err());
}

// ---------------------------------------------------------------------------------------
// 6. Plaintext sections and the schema.

#[test]
fn plaintext_signed_contract_boots_and_attests() {
    let pki = pki();
    let attestation_pem = auditor_public_pem();
    let built = document::build(&ContractInput {
        workload: WorkloadInput::Plaintext(WORKLOAD.into()),
        env: ENV,
        signing: Some(SigningInput {
            key: signing_key(),
            certificate: None,
        }),
        attestation_public_key: Some(&attestation_pem),
        encryption: Encryption::Plaintext,
    })
    .expect("build");
    let report = boot_now(&built.yaml, pki);
    let record = accepted(&report).expect("attestation record");
    assert_lines(
        &report,
        &[
            "# section workload: not encrypted, used as is",
            "# section env: not encrypted, used as is",
            "0 token decrypted, 0 encrypted token ignored",
            "# contract validated (workload: compose)",
            "# envWorkloadSignature verified with env.signingKey",
        ],
    );
    let audit = attestation::audit(
        record.record.as_bytes(),
        Some(auditor_key()),
        Some((record.signature.as_bytes(), &attestation_cert_key(pki))),
        Some(&built.yaml),
    )
    .expect("audit");
    assert_eq!(audit.findings, [], "{}", audit.text);

    // One character of the plaintext env changed (still a valid env): only the signature
    // can tell.
    let tampered = built.yaml.replace("logs.example.com", "logs.exampl3.com");
    assert_ne!(tampered, built.yaml);
    let report = boot_now(&tampered, pki);
    assert_lines(&report, &["# contract validated (workload: compose)"]);
    assert!(
        rejected(&report).starts_with("envWorkloadSignature: does not verify with env.signingKey"),
        "{:?}",
        report.outcome
    );
}

#[test]
fn plaintext_unsigned_contract_boots() {
    let built = document::build(&ContractInput {
        workload: WorkloadInput::Plaintext(PLAY_WORKLOAD.into()),
        env: ENV,
        signing: None,
        attestation_public_key: None,
        encryption: Encryption::Plaintext,
    })
    .expect("build");
    let report = boot_now(&built.yaml, pki());
    assert!(accepted(&report).is_none());
    assert_lines(&report, &["# contract validated (workload: play)"]);
    // The hand-written form of the same sections boots too.
    accepted(&boot_now(&literal_contract(PLAY_WORKLOAD, ENV), pki()));
}

#[test]
fn yaml_map_sections_boot_and_attest() {
    // Sections written as YAML maps rather than strings (the platform takes both, sheet §4):
    // the record then hashes the map as re-serialised, which the provider must reproduce.
    let pki = pki();
    let indent = |text: &str| -> String { text.lines().map(|l| format!("  {l}\n")).collect() };
    let user_data = format!(
        "workload:\n{}env:\n{}attestationPublicKey: {}\n",
        indent(PLAY_WORKLOAD),
        indent(ENV),
        openssl::base64::encode_block(auditor_public_pem().as_bytes()),
    );
    let report = boot_now(&user_data, pki);
    let record = accepted(&report).expect("attestation record");
    assert_lines(
        &report,
        &[
            "# section workload: not encrypted, used as is",
            "# contract validated (workload: play)",
        ],
    );
    let audit = attestation::audit(
        record.record.as_bytes(),
        Some(auditor_key()),
        Some((record.signature.as_bytes(), &attestation_cert_key(pki))),
        Some(&user_data),
    )
    .expect("audit");
    assert_eq!(audit.findings, [], "{}", audit.text);
}

/// Sections that break exactly one schema rule, and the YAML path both sides must name.
fn invalid_sections() -> Vec<(String, String, &'static str)> {
    let w = |s: &str| (s.to_owned(), ENV.to_owned());
    let e = |s: &str| (WORKLOAD.to_owned(), s.to_owned());
    let cases = [
        (w("type: env\ncompose:\n  archive: QUJDRA==\n"), "workload.type"),
        (
            w("type: workload\ncompose:\n  archive: QUJDRA==\nplay:\n  archive: QUJDRA==\n"),
            "workload",
        ),
        (
            w("type: workload\ncompose:\n  archive: 'not base64!'\n"),
            "workload.compose.archive",
        ),
        (
            w("type: workload\ncompose:\n  archive: QUJDRA==\n  file: x\n"),
            "workload.compose.file",
        ),
        (
            w(&WORKLOAD.replace("workload-seed-0123456789", "short-seed")),
            "workload.volumes.data.seed",
        ),
        (
            w(&WORKLOAD.replace("ext4", "ntfs")),
            "workload.volumes.data.filesystem",
        ),
        (
            w(&WORKLOAD.replace("/mnt/data", "mnt/data")),
            "workload.volumes.data.mount",
        ),
        (
            w("type: workload\ncompose:\n  archive: QUJDRA==\nenv:\n  1BAD: x\n"),
            "workload.env.1BAD",
        ),
        (
            w("type: workload\ncompose:\n  archive: QUJDRA==\nauths:\n  us.icr.io:\n    username: iamapikey\n    password: pw\n"),
            "workload.auths[\"us.icr.io\"].password",
        ),
        (e("type: env\n"), "env.logging"),
        (
            e(&ENV.replace("logs.example.com", "not a host")),
            "env.logging.logRouter.hostname",
        ),
        (
            e(&ENV.replace("env-seed-0123456789", "short")),
            "env.volumes.data.seed",
        ),
        (
            e("type: env\nlogging:\n  logRouter:\n    hostname: logs.example.com\n    iamApiKey: k\n  syslog:\n    hostname: logs.example.com\n    server: QUJDRA==\n"),
            "env.logging",
        ),
        (
            e(&format!("{ENV}logDNA:\n  hostname: x\n")),
            "env.logDNA",
        ),
        (w("type: workload\ncompose: {}\n"), "workload.compose.archive"),
        (w("type: workload\n"), "workload"),
        (
            w("type: workload\ncompose:\n  archive: QUJDRA==\nenv:\n  PORT: 8080\n"),
            "workload.env.PORT",
        ),
        (
            e(&ENV.replace("iamApiKey: not-a-real-iam-api-key", "iamApiKey: ''")),
            "env.logging.logRouter.iamApiKey",
        ),
        (
            e("type: env\nlogging:\n  syslog:\n    hostname: logs.example.com\n    server: QUJDRA==\n    port: 70000\n"),
            "env.logging.syslog.port",
        ),
        (
            e("type: env\nlogging:\n  syslog:\n    hostname: logs.example.com\n    server: QUJDRA==\n    port: '514'\n"),
            "env.logging.syslog.port",
        ),
        (
            e(&format!("{MIN_ENV}cacerts:\n  - a: QUJDRA==\n  - b: QUJDRA==\n")),
            "env.cacerts",
        ),
        (
            e(&format!("{MIN_ENV}volumes:\n  data:\n    uv-secret-id: index-9\n")),
            "env.volumes.data.uv-secret-id",
        ),
        (
            e(&format!("{MIN_ENV}volumes:\n  data:\n    seed: env-seed-0123456789\n    uv-secret-id: index-1\n")),
            "env.volumes.data",
        ),
        (
            e(&format!("{MIN_ENV}volumes:\n  data:\n    seed: env-seed-0123456789\n    kmsTimeout: 21\n")),
            "env.volumes.data.kmsTimeout",
        ),
        (
            e(&format!("{MIN_ENV}volumes:\n  data:\n    seed: env-seed-0123456789\n    kms: []\n")),
            "env.volumes.data.kms",
        ),
        (
            e(&format!("{MIN_ENV}volumes:\n  data:\n    seed: env-seed-0123456789\n    kms:\n      - apiKey: short\n        crn: '{KEY_CRN}'\n")),
            "env.volumes.data.kms[0].apiKey",
        ),
        (
            e(&format!("{MIN_ENV}volumes:\n  data:\n    seed: env-seed-0123456789\n    kms:\n      - apiKey: long-enough-key\n        crn: '{KEY_CRN}'\n        type: other\n")),
            "env.volumes.data.kms[0].type",
        ),
    ];
    cases.into_iter().map(|((w, e), p)| (w, e, p)).collect()
}

#[test]
fn schema_invalid_sections_are_refused_by_build_and_by_the_platform_at_the_same_path() {
    let pki = pki();
    let to = recipient(pki);
    for (workload, env, path) in invalid_sections() {
        // The provider refuses before anything is encrypted, whichever way it would be sent.
        for encryption in [Encryption::Plaintext, Encryption::to(&to, Platform::Hpvs)] {
            let err = document::build(&ContractInput {
                workload: WorkloadInput::Plaintext(workload.clone()),
                env: &env,
                signing: None,
                attestation_public_key: None,
                encryption,
            })
            .expect_err(path);
            let DocumentError::Schema(violations) = &err else {
                panic!("{path}: not a schema error: {err}");
            };
            let paths: Vec<&str> = violations.iter().map(|v| v.path.as_str()).collect();
            assert_eq!(paths, [path], "{err}");
            assert!(err.to_string().contains(&format!("  - {path}: ")), "{err}");
        }

        // The platform, given the same sections directly, rejects them at that path.
        let report = boot_now(&literal_contract(&workload, &env), pki);
        let reason = rejected(&report);
        assert!(
            reason.starts_with(&format!("schema: {path}: ")),
            "{path}: platform says {reason:?}"
        );
        // And encrypted (as a deployer bypassing the provider would send them).
        let sealed = format!(
            "workload: {}\nenv: {}\n",
            token::encrypt(workload.as_bytes(), &to, Platform::Hpvs).expect("encrypt"),
            token::encrypt(env.as_bytes(), &to, Platform::Hpvs).expect("encrypt"),
        );
        let report = boot_now(&sealed, pki);
        assert_eq!(rejected(&report), reason, "{path}");
    }
}

// ---------------------------------------------------------------------------------------
// RSA-4096, the size IBM's certificates use.

#[test]
fn rsa_4096_platform_round_trip() {
    let big = pki_with(RsaBits::Rsa4096);
    let built = build_encrypted(WORKLOAD, &recipient(&big), Platform::Hpvs).expect("build");
    // Sheet §2: RSA-4096 gives a 512-byte RSA part, 684 base64 characters.
    let rsa_part = built.contract.env.split('.').nth(1).expect("RSA part");
    assert_eq!(rsa_part.len(), 684);
    let report = boot_now(&built.yaml, &big);
    let record = accepted(&report).expect("attestation record");
    assert_eq!(
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            &record.signature
        )
        .expect("base64 signature")
        .len(),
        512,
        "se-signature.bin of an RSA-4096 attestation key"
    );
    let audit = attestation::audit(
        record.record.as_bytes(),
        Some(auditor_key()),
        Some((record.signature.as_bytes(), &attestation_cert_key(&big))),
        Some(&built.yaml),
    )
    .expect("audit");
    assert_eq!(audit.findings, [], "{}", audit.text);

    // A contract for the RSA-2048 platform does not fit this one's key.
    let small = build_encrypted(WORKLOAD, &recipient(pki()), Platform::Hpvs).expect("build");
    assert_eq!(
        rejected(&boot_now(&small.yaml, &big)),
        "section workload: cannot decrypt: RSA part is 256 bytes but the platform's encryption \
         key takes 512: encrypted to a different certificate"
    );
}

// ---------------------------------------------------------------------------------------
// Former disagreements, now agreements. Each test states what the fact sheet (§8, schema
// 1.0.116, checked against contract-go's `hpse-contract-schema-1.0.116.json`) requires; both
// once failed because of the emulator, which has since been fixed.

/// Sections that break a schema rule the provider enforces and the emulator does not check.
fn rules_the_emulator_misses() -> Vec<(String, String, &'static str)> {
    let w = |s: &str| (s.to_owned(), MIN_ENV.to_owned());
    let e = |s: &str| (WORKLOAD.to_owned(), s.to_owned());
    let syslog = |extra: &str| {
        e(&format!(
            "type: env\nlogging:\n  syslog:\n    hostname: logs.example.com\n    server: QUJDRA==\n{extra}"
        ))
    };
    let cases = [
        (
            e("type: env\nlogging:\n  syslog:\n    hostname: logs.example.com\n    server: not a certificate\n"),
            "env.logging.syslog.server",
        ),
        (syslog("    cert: 'not pem!'\n"), "env.logging.syslog.cert"),
        (syslog("    key: 'not pem!'\n"), "env.logging.syslog.key"),
        (
            w("type: workload\nplay:\n  resources:\n    - apiVersion: v1\n      kind: Deployment\n"),
            "workload.play.resources[0].kind",
        ),
        (
            w("type: workload\ncompose:\n  archive: QUJDRA==\nauths:\n  not a host:\n    username: abc\n    password: abc\n"),
            "workload.auths[\"not a host\"]",
        ),
        (
            w("type: workload\ncompose:\n  archive: QUJDRA==\nimages:\n  dct:\n    app:latest:\n      notary: https://notary.us.icr.io\n      publicKey: QUJDRA==\n"),
            "workload.images.dct[\"app:latest\"]",
        ),
        (
            w("type: workload\ncompose:\n  archive: QUJDRA==\nimages:\n  rhs:\n    us.icr.io/ns/app:\n      publicKey: 'not base64!'\n"),
            "workload.images.rhs[\"us.icr.io/ns/app\"].publicKey",
        ),
        (
            e(&format!("{MIN_ENV}cacerts:\n  - name: 'not base64!'\n")),
            "env.cacerts[0].name",
        ),
        (
            e(&format!("{MIN_ENV}volumes:\n  Data:\n    seed: env-seed-0123456789\n")),
            "env.volumes.Data",
        ),
        (
            e(&format!("{MIN_ENV}volumes:\n  data:\n    seed: env-seed-0123456789\n    kms:\n      - apiKey: long-enough-key\n        crn: 'crn:v1:nowhere:public:kms:x:y:z:key:1'\n")),
            "env.volumes.data.kms[0].crn",
        ),
    ];
    cases.into_iter().map(|((w, e), p)| (w, e, p)).collect()
}

#[test]
fn emulator_rejects_what_the_provider_rejects() {
    let pki = pki();
    let mut missed = Vec::new();
    for (workload, env, path) in rules_the_emulator_misses() {
        let err = document::build(&ContractInput {
            workload: WorkloadInput::Plaintext(workload.clone()),
            env: &env,
            signing: None,
            attestation_public_key: None,
            encryption: Encryption::Plaintext,
        })
        .expect_err(path);
        let DocumentError::Schema(violations) = &err else {
            panic!("{path}: not a schema error: {err}");
        };
        let paths: Vec<&str> = violations.iter().map(|v| v.path.as_str()).collect();
        assert_eq!(paths, [path], "{err}");

        let report = boot_now(&literal_contract(&workload, &env), pki);
        match &report.outcome {
            BootOutcome::Rejected { reason }
                if reason.starts_with(&format!("schema: {path}: ")) => {}
            other => missed.push(format!("{path}: platform {other:?}")),
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

#[test]
fn emulator_accepts_what_the_schema_allows() {
    let pki = pki();
    let pod = "    - apiVersion: v1\n      kind: Pod\n      metadata:\n        name: app\n";
    let cases = [
        (
            format!("type: workload\nplay:\n  resources:\n{pod}  templates:\n{pod}"),
            MIN_ENV.to_owned(),
        ),
        (
            WORKLOAD.to_owned(),
            format!("{MIN_ENV}confidential-containers: {{}}\n"),
        ),
    ];
    let mut refused = Vec::new();
    for (workload, env) in cases {
        let built = document::build(&ContractInput {
            workload: WorkloadInput::Plaintext(workload.clone()),
            env: &env,
            signing: None,
            attestation_public_key: None,
            encryption: Encryption::Plaintext,
        })
        .expect("the provider accepts it");
        if let BootOutcome::Rejected { reason } = boot_now(&built.yaml, pki).outcome {
            refused.push(reason);
        }
    }
    assert!(refused.is_empty(), "{}", refused.join("\n"));
}
